"""MNIST and Fashion-MNIST: find, verify and parse the official IDX files.

Shapes returned by the loaders (``n = 60000`` train / ``10000`` test examples):

* images ``X: (n, 784)`` float32 in ``[0, 1]`` (or ``(n, 28, 28)`` with ``flatten=False``);
* labels ``y: (n,)`` int64 class indices in ``0..9`` (names in ``MNIST_CLASSES`` /
  ``FASHION_MNIST_CLASSES``).

Where the files come from, in this order:

1. the directory named by the ``MLDERIVE_DATA`` environment variable (or the ``data_dir``
   argument), laid out as ``<dir>/mnist/<file>.gz`` and ``<dir>/fashion-mnist/<file>.gz``
   (an uncompressed ``<file>`` is accepted too);
2. a per-user cache, ``$XDG_CACHE_HOME/mlderive`` or ``~/.cache/mlderive`` (or the
   ``cache_dir`` argument), with the same layout;
3. a download from the official mirrors into that cache.

Every file is checked against the published size and MD5 of its uncompressed IDX content.
A file that is present but wrong raises :class:`DataFileError`; it is never skipped,
overwritten or deleted. Downloads go to a temporary file that is renamed into place only
after its checksum is verified, so an interrupted download never leaves a partial file.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .validation import ArgumentTypeError

__all__ = [
    "DataFile",
    "DataFileError",
    "DatasetSpec",
    "FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "MNIST",
    "MNIST_CLASSES",
    "data_status",
    "default_cache_dir",
    "download_atomically",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "remove_stale_parts",
    "resolve_cache_dir",
    "resolve_data_dir",
]

DATA_ENV_VAR = "MLDERIVE_DATA"
DOWNLOAD_TIMEOUT = 30.0  # seconds, per connection attempt
FILE_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


class DataFileError(OSError):
    """A data file is missing, truncated or corrupt; the message says which and how to fix it."""


# --------------------------------------------------------------------------- the IDX format

# IDX dtype code (third byte of the magic number) -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into an array of shape ``dims``.

    Layout: two zero bytes, a dtype code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions ``d``,
    then ``d`` big-endian uint32 sizes, then the values in C order, big-endian.
    MNIST images are ``(n, 28, 28)`` uint8, labels ``(n,)`` uint8.

    The result has native byte order; for uint8 it is a read-only view of ``raw``.
    ``source`` names the file in error messages. Raises :class:`DataFileError`.
    """
    fix = "Delete the file so it is downloaded again, or re-copy it from the official source."

    def fail(what: str, expected: str, found: str) -> DataFileError:
        return DataFileError(f"{source}: {what}: expected {expected}, found {found}. {fix}")

    raw = memoryview(raw).cast("B")
    if len(raw) < 4:
        raise fail("not an IDX file", "a 4-byte header", f"{len(raw)} bytes")
    if raw[0] != 0 or raw[1] != 0:
        raise fail("bad IDX magic number", "first two bytes 00 00", f"{bytes(raw[:4]).hex(' ')}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise fail("unknown IDX dtype code", f"one of {known}", f"0x{code:02X}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise fail("truncated IDX header", f"{header} bytes for {ndim} dims", f"{len(raw)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header + dtype.itemsize * math.prod(dims)
    if len(raw) != expected:
        problem = "truncated IDX data" if len(raw) < expected else "IDX file too long"
        raise fail(
            problem,
            f"{expected} bytes for shape {dims} of {dtype.name}",
            f"{len(raw)} bytes",
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    if not dtype.isnative:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


# --------------------------------------------------------------------- declarative specs


@dataclass(frozen=True)
class DataFile:
    """One official file: ``name`` without ``.gz``; ``md5``/``nbytes`` of the uncompressed IDX."""

    name: str
    md5: str
    nbytes: int


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: four :class:`DataFile` under ``files`` (keys ``train_images``,
    ``train_labels``, ``test_images``, ``test_labels``), stored in ``<dir>/<subdir>/``, and
    the base URLs it can be downloaded from (tried in order; ``<mirror><name>.gz``)."""

    name: str
    subdir: str
    files: dict[str, DataFile]
    mirrors: tuple[str, ...]

    def __post_init__(self):
        if sorted(self.files) != sorted(FILE_KEYS):
            raise ValueError(f"files must have keys {FILE_KEYS}, got {tuple(self.files)}.")


def _idx_files(train_images, train_labels, test_images, test_labels, n_train, n_test):
    """The four standard (n, 28, 28) / (n,) uint8 files given their uncompressed md5s."""
    return {
        "train_images": DataFile("train-images-idx3-ubyte", train_images, 16 + n_train * 784),
        "train_labels": DataFile("train-labels-idx1-ubyte", train_labels, 8 + n_train),
        "test_images": DataFile("t10k-images-idx3-ubyte", test_images, 16 + n_test * 784),
        "test_labels": DataFile("t10k-labels-idx1-ubyte", test_labels, 8 + n_test),
    }


MNIST = DatasetSpec(
    name="MNIST",
    subdir="mnist",
    files=_idx_files(
        "6bbc9ace898e44ae57da46a324031adb",
        "a25bea736e30d166cdddb491f175f624",
        "2646ac647ad5339dbf082846283269ea",
        "27ae3e4e09519cfbb04c329615203637",
        n_train=60000,
        n_test=10000,
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://yann.lecun.com/exdb/mnist/",
    ),
)

FASHION_MNIST = DatasetSpec(
    name="Fashion-MNIST",
    subdir="fashion-mnist",
    files=_idx_files(
        "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "9018921c3c673c538a1fc5bad174d6f9",
        "8181f5470baa50b63fa0f6fddb340f0a",
        "15d484375f8d13e6eb1aabb0c3f46965",
        n_train=60000,
        n_test=10000,
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
)

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


# ------------------------------------------------------------------ locating and verifying


def resolve_data_dir(data_dir) -> Path | None:
    """The ``data_dir`` argument, else ``$MLDERIVE_DATA``, else None."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_ENV_VAR) or None
    return None if data_dir is None else Path(data_dir).expanduser()


def _home() -> Path:
    """The user's home folder: ``$HOME`` if it is an absolute path, else the account's entry."""
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return Path(home)
    try:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, AttributeError):
        home = os.path.expanduser("~") if "HOME" not in os.environ else ""
    if not os.path.isabs(home) or home == os.sep:
        raise DataFileError(
            "cannot find a home folder for the download cache ($HOME is empty or relative). "
            "Set XDG_CACHE_HOME or HOME to an absolute path, or pass cache_dir=..."
        )
    return Path(home)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mlderive`` if that variable is an absolute path, else
    ``~/.cache/mlderive`` (never a folder at the filesystem root or relative to the current
    folder: an empty ``$HOME`` falls back to the account's home folder)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else _home() / ".cache"
    return base / "mlderive"


def resolve_cache_dir(cache_dir) -> Path:
    """The ``cache_dir`` argument, else :func:`default_cache_dir`."""
    return default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()


def _find(folders: list[Path], f: DataFile) -> Path | None:
    """The first ``<folder>/<name>.gz`` or ``<folder>/<name>`` that exists, else None."""
    for folder in folders:
        for candidate in (folder / f"{f.name}.gz", folder / f.name):
            if candidate.is_file():
                return candidate
    return None


def _fix_hint(f: DataFile, mirrors: tuple[str, ...]) -> str:
    source = " or ".join(f"{m}{f.name}.gz" for m in mirrors) or "the official source"
    return f"Delete the file so it is downloaded again, or re-copy it from {source}."


def _read_verified(path: Path, f: DataFile, mirrors: tuple[str, ...], gz: bool | None = None):
    """Return the uncompressed bytes of ``path`` after checking their size and MD5."""
    if gz is None:
        gz = path.name.endswith(".gz")
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as fh:
            raw = fh.read(f.nbytes + 1)  # one extra byte detects a too-long file
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataFileError(
            f"{path}: cannot decompress ({type(exc).__name__}: {exc}); expected a complete gzip "
            f"file holding {f.nbytes} bytes of IDX data. The file is truncated or corrupt. "
            + _fix_hint(f, mirrors)
        ) from exc
    found_md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if len(raw) != f.nbytes or found_md5 != f.md5:
        found_size = f"{len(raw)} bytes" if len(raw) <= f.nbytes else f"over {f.nbytes} bytes"
        raise DataFileError(
            f"{path}: checksum mismatch for {f.name}: expected md5 {f.md5} ({f.nbytes} bytes "
            f"uncompressed), found md5 {found_md5} ({found_size}). " + _fix_hint(f, mirrors)
        )
    return raw


# ------------------------------------------------------------------------------- download


def download_atomically(url: str, dest: Path, max_bytes: int, verify) -> None:
    """Fetch ``url`` to ``dest`` through a temporary file in the same folder.

    ``verify(path)`` must raise if the downloaded file is not the expected one; only a file
    that passes is renamed to ``dest``. On any failure (network, size over ``max_bytes``,
    verification, interruption) the temporary file is deleted and ``dest`` is untouched.
    """
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(dest.parent)
    tmp = tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, prefix=".part-")
    try:
        with tmp, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
            total = 0
            while chunk := resp.read(1 << 20):
                total += len(chunk)
                if total > max_bytes:
                    raise DataFileError(f"{url}: response larger than {max_bytes} bytes")
                tmp.write(chunk)
        verify(Path(tmp.name))
        os.replace(tmp.name, dest)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        for folder in created:  # the folders this call made, innermost first, if still empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


STALE_PART_SECONDS = 3600.0  # a live download's temp file is written every few seconds


def remove_stale_parts(folder: Path) -> list[Path]:
    """Delete ``.part-*`` temp files in ``folder`` left by a download that was killed
    (SIGKILL, power loss): those not modified for ``STALE_PART_SECONDS``. A download in
    progress in another process keeps writing to its file, so it is left alone. Returns the
    deleted paths."""
    removed = []
    now = time.time()
    for part in Path(folder).glob(".part-*"):
        try:
            if now - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
                removed.append(part)
        except OSError:  # gone already, or not ours to delete
            continue
    return removed


def _download(url: str, dest: Path, f: DataFile, mirrors: tuple[str, ...]) -> None:
    """Fetch ``url`` (a .gz) to ``dest`` atomically; verified before it is renamed into place."""
    limit = f.nbytes + max(f.nbytes // 50, 1 << 16)  # a gzip is never much larger than its data
    download_atomically(url, dest, limit, lambda path: _read_verified(path, f, mirrors, gz=True))


def _missing_error(spec, missing, data_dir, cache_dir, attempts, skipped) -> DataFileError:
    names = "".join(f"\n    {f.name}.gz" for f in missing)
    if data_dir is not None:
        note = "" if data_dir.is_dir() else ", which does not exist"
        where_data = f"{data_dir / spec.subdir}/  ({DATA_ENV_VAR} or data_dir is {data_dir}{note})"
    else:
        where_data = f"$MLDERIVE_DATA/{spec.subdir}/  (after: export {DATA_ENV_VAR}=/some/dir)"
    if attempts:
        tried = "".join(f"\n    {url}: {reason}" for url, reason in attempts)
        if skipped:
            tried += "\n    (unreachable mirrors were not asked for the remaining files)"
    else:
        tried = "\n    (none: download=False)"
    return DataFileError(
        f"{spec.name}: {len(missing)} data file(s) not found and not downloaded:{names}\n"
        f"Place these files (the official .gz files, or uncompressed) in either\n"
        f"    {where_data}\n"
        f"or  {cache_dir / spec.subdir}/  (the per-user cache)\n"
        f"Mirrors tried:{tried}"
    )


def _locate(spec, data_dir, cache_dir, download) -> dict[str, Path]:
    """Path of each of the four files, downloading missing ones into ``cache_dir``."""
    folders = [d / spec.subdir for d in (data_dir, cache_dir) if d is not None]
    if (cache_dir / spec.subdir).is_dir():
        remove_stale_parts(cache_dir / spec.subdir)
    paths, missing = {}, []
    for key in FILE_KEYS:
        f = spec.files[key]
        found = _find(folders, f)
        if found is None:
            missing.append(key)
        else:
            paths[key] = found
    attempts: list[tuple[str, str]] = []
    unreachable: set[str] = set()  # mirrors with a network-level failure are not retried
    skipped = False
    for key in list(missing) if download else []:
        f = spec.files[key]
        dest = cache_dir / spec.subdir / f"{f.name}.gz"
        for mirror in spec.mirrors:
            url = f"{mirror}{f.name}.gz"
            if mirror in unreachable:
                skipped = True
                continue
            print(f"mlderive: downloading {url} -> {dest}", file=sys.stderr)
            try:
                _download(url, dest, f, spec.mirrors)
            except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad checksum
                attempts.append((url, f"{type(exc).__name__}: {exc}"))
                no_answer = isinstance(exc, urllib.error.URLError | ConnectionError | TimeoutError)
                if no_answer and not isinstance(exc, urllib.error.HTTPError):
                    unreachable.add(mirror)
                continue
            paths[key] = dest
            missing.remove(key)
            break
    if missing:
        missing_files = [spec.files[k] for k in missing]
        raise _missing_error(spec, missing_files, data_dir, cache_dir, attempts, skipped)
    return paths


# -------------------------------------------------------------------------------- loading


@functools.lru_cache(maxsize=4)
def _load_uint8(entries: tuple, mirrors: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Verified, parsed, read-only arrays for ``entries = ((path, DataFile, stat_key), ...)``.

    ``stat_key = (size, mtime)`` makes a file that was replaced on disk miss the cache.
    """
    out = []
    for path, f, _stat_key in entries:
        arr = read_idx(_read_verified(Path(path), f, mirrors), source=path)
        arr.flags.writeable = False
        out.append(arr)
    return tuple(out)


def _check_spec(spec) -> None:
    if not isinstance(spec, DatasetSpec):
        names = "mlderive.data.MNIST or mlderive.data.FASHION_MNIST"
        raise ArgumentTypeError(
            f"spec must be a DatasetSpec such as {names}, got {type(spec).__name__} "
            f"{spec!r:.40} (or call load_mnist() / load_fashion_mnist())."
        )


def load_dataset(
    spec: DatasetSpec,
    *,
    flatten: bool = True,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load ``spec`` as ``(X_train, y_train, X_test, y_test)``.

    Images are float32 in ``[0, 1]`` (uint8 / 255) of shape ``(n, rows * cols)`` when
    ``flatten`` else ``(n, rows, cols)``; labels are int64 ``(n,)``. ``data_dir`` defaults to
    ``$MLDERIVE_DATA``, ``cache_dir`` to :func:`default_cache_dir`; with ``download=False``
    missing files raise instead of being fetched. The parsed files are cached in-process;
    the returned arrays are always new, so callers may modify them.

    Raises :class:`DataFileError` if a file is missing, corrupt, or the shapes disagree.
    """
    _check_spec(spec)
    data_dir, cache_dir = resolve_data_dir(data_dir), resolve_cache_dir(cache_dir)
    paths = _locate(spec, data_dir, cache_dir, download)
    entries = []
    for key in FILE_KEYS:
        st = paths[key].stat()
        entries.append((str(paths[key].resolve()), spec.files[key], (st.st_size, st.st_mtime_ns)))
    arrays = dict(zip(FILE_KEYS, _load_uint8(tuple(entries), spec.mirrors), strict=True))

    out = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        img_path, lab_path = paths[f"{split}_images"], paths[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise DataFileError(
                f"{spec.name} {split}: expected images (n, rows, cols) and labels (n,), found "
                f"{images.shape} in {img_path} and {labels.shape} in {lab_path}. "
                "Re-copy both files from the official source."
            )
        if images.shape[0] != labels.shape[0]:
            raise DataFileError(
                f"{spec.name} {split}: {images.shape[0]} images in {img_path} but "
                f"{labels.shape[0]} labels in {lab_path}; expected equal counts. "
                "Re-copy both files from the official source."
            )
        x = images.astype(np.float32)
        x /= np.float32(255)
        if flatten:
            x = x.reshape(x.shape[0], -1)
        out += [x, labels.astype(np.int64)]
    return tuple(out)


def load_mnist(*, flatten: bool = True, **kw):
    """MNIST digits: ``(X_train (60000, 784), y_train (60000,), X_test (10000, 784),
    y_test (10000,))``; see :func:`load_dataset` for the options and the file locations."""
    return load_dataset(MNIST, flatten=flatten, **kw)


def load_fashion_mnist(*, flatten: bool = True, **kw):
    """Fashion-MNIST, same shapes as :func:`load_mnist`; class names in
    ``FASHION_MNIST_CLASSES``. See :func:`load_dataset` for the options."""
    return load_dataset(FASHION_MNIST, flatten=flatten, **kw)


def data_status(spec: DatasetSpec, *, data_dir=None, cache_dir=None) -> str:
    """One line per file saying where it would be loaded from (not verified) or that it is
    missing; nothing is downloaded."""
    _check_spec(spec)
    data_dir, cache_dir = resolve_data_dir(data_dir), resolve_cache_dir(cache_dir)
    folders = [d / spec.subdir for d in (data_dir, cache_dir) if d is not None]
    lines = [f"{spec.name}:"]
    for key in FILE_KEYS:
        f = spec.files[key]
        found = _find(folders, f)
        lines.append(f"  {f.name}: {found if found else 'missing (will be downloaded)'}")
    return "\n".join(lines)
