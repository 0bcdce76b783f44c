"""CIFAR-10 from its official *binary* archive (never the pickled "python version").

The book's chapters do not need CIFAR-10 (the build machines cannot download it), but the
report behind the CNN chapter used it, so a reader can rerun that chapter's network on it:
``small_cnn(input_shape=(3, 32, 32))`` takes the rows returned here.

Format (``cifar-10-binary.tar.gz``, from the dataset's authors): the members
``cifar-10-batches-bin/data_batch_1.bin`` ... ``data_batch_5.bin`` (training) and
``test_batch.bin``, each 10,000 records of 3,073 bytes: one label byte in ``0..9``, then
1,024 red, 1,024 green and 1,024 blue pixel bytes of a 32x32 image, row by row.

Where the data come from, in this order (like :mod:`mlderive.data`):

1. ``<dir>/cifar-10/`` with ``<dir>`` from ``MLDERIVE_DATA`` (or ``data_dir``), holding
   either the archive or its extracted folder ``cifar-10-batches-bin/``;
2. the same under the per-user cache (``~/.cache/mlderive``, or ``cache_dir``);
3. a download of the archive into that cache: to a temporary file, renamed into place only
   after its size and MD5 match the published ones.

The archive is read in place: only the six expected regular members are read, nothing is
extracted, and no pickle is ever loaded. Extracted batch files are checked for their exact
size and for labels in ``0..9``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import (
    DataFileError,
    download_atomically,
    remove_stale_parts,
    resolve_cache_dir,
    resolve_data_dir,
)

RECORD_BYTES = 1 + 3 * 32 * 32
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


@dataclass(frozen=True)
class CifarSpec:
    """Where CIFAR-10 lives and how to recognise it: the archive's name, URL, size and MD5,
    the sub-folder of the data directories, and the number of records per batch file."""

    archive: str = "cifar-10-binary.tar.gz"
    url: str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    md5: str = "c32a1d4ab5d03f1284b67883e8d87530"
    nbytes: int = 170_052_171
    subdir: str = "cifar-10"
    records_per_file: int = 10_000


CIFAR10 = CifarSpec()


def read_cifar_batch(raw: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Parse one batch file: ``images (n, 3, 32, 32)`` uint8 and ``labels (n,)`` int64."""
    if len(raw) == 0 or len(raw) % RECORD_BYTES:
        raise DataFileError(
            f"{source}: expected a whole number of {RECORD_BYTES}-byte CIFAR-10 records, found "
            f"{len(raw)} bytes. The file is truncated or not a CIFAR-10 binary batch; re-copy "
            "it from the official binary archive."
        )
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise DataFileError(
            f"{source}: record {bad} has label {labels[bad]}; CIFAR-10 labels are 0..9. The "
            "file is corrupt or not a CIFAR-10 binary batch; re-copy it."
        )
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _check_records(raw: bytes, source: str, spec: CifarSpec) -> bytes:
    expected = spec.records_per_file * RECORD_BYTES
    if len(raw) != expected:
        raise DataFileError(
            f"{source}: expected {expected} bytes ({spec.records_per_file} records), found "
            f"{len(raw)}. The file is truncated or corrupt; re-copy it from the official "
            f"binary archive ({spec.url})."
        )
    return raw


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_archive(path: Path, spec: CifarSpec) -> None:
    size, md5 = path.stat().st_size, _md5_of(path)
    if size != spec.nbytes or md5 != spec.md5:
        raise DataFileError(
            f"{path}: checksum mismatch: expected md5 {spec.md5} ({spec.nbytes} bytes), found "
            f"md5 {md5} ({size} bytes). Delete the file so it is downloaded again, or re-copy "
            f"it from {spec.url}."
        )


def _read_archive(path: Path, spec: CifarSpec) -> dict[str, bytes]:
    """The six batch files' bytes, read from the (verified) archive without extracting it."""
    _verify_archive(path, spec)
    wanted = {f"{FOLDER}/{name}": name for name in (*TRAIN_FILES, TEST_FILE)}
    found: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if member.name in wanted and member.isreg():
                source = f"{path}:{member.name}"
                data = archive.extractfile(member).read()
                found[wanted[member.name]] = _check_records(data, source, spec)
    missing = sorted(set(wanted.values()) - set(found))
    if missing:
        raise DataFileError(
            f"{path}: the archive lacks {', '.join(missing)} under {FOLDER}/. It is not the "
            f"official CIFAR-10 binary archive; re-download it from {spec.url}."
        )
    return found


def _read_folder(folder: Path, spec: CifarSpec) -> dict[str, bytes]:
    found = {}
    for name in (*TRAIN_FILES, TEST_FILE):
        path = folder / name
        if not path.is_file():
            raise DataFileError(
                f"{folder}: {name} is missing (the folder must hold data_batch_1.bin ... "
                f"data_batch_5.bin and test_batch.bin). Re-extract the official archive, or "
                f"place {spec.archive} next to the folder instead."
            )
        found[name] = _check_records(path.read_bytes(), str(path), spec)
    return found


def _download(spec: CifarSpec, dest: Path) -> None:
    """Fetch the archive to ``dest`` atomically: verified before it is renamed into place."""
    download_atomically(spec.url, dest, spec.nbytes, lambda path: _verify_archive(path, spec))


def _batches(spec: CifarSpec, data_dir, cache_dir, download: bool) -> dict[str, bytes]:
    folders = [d / spec.subdir for d in (data_dir, cache_dir) if d is not None]
    if (cache_dir / spec.subdir).is_dir():
        remove_stale_parts(cache_dir / spec.subdir)  # left by a download that was killed
    for folder in folders:
        if (folder / FOLDER).is_dir():
            return _read_folder(folder / FOLDER, spec)
        if (folder / spec.archive).is_file():
            return _read_archive(folder / spec.archive, spec)
    if not download:
        reason = "download=False"
    else:
        dest = cache_dir / spec.subdir / spec.archive
        print(f"mlderive: downloading {spec.url} -> {dest}", file=sys.stderr)
        try:
            _download(spec, dest)
            return _read_archive(dest, spec)
        except (OSError, ValueError) as exc:
            if isinstance(exc, DataFileError) and dest.exists():
                raise
            reason = f"{type(exc).__name__}: {exc}"
    places = "\n".join(f"    {folder}/" for folder in folders)
    raise DataFileError(
        f"CIFAR-10 not found and not downloaded ({reason}). Place {spec.archive} (from "
        f"{spec.url}), or its extracted folder {FOLDER}/, in one of\n{places}"
    )


def load_cifar10(
    *,
    flatten: bool = True,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
    spec: CifarSpec = CIFAR10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_test, y_test)``: 50,000 and 10,000 images.

    Images are float32 in ``[0, 1]``, ``(n, 3072)`` rows in channel, row, column order (what
    ``small_cnn(input_shape=(3, 32, 32))`` expects), or ``(n, 3, 32, 32)`` without
    ``flatten``; labels are int64 ``(n,)`` (names in ``CIFAR10_CLASSES``). Raises
    :class:`~mlderive.data.DataFileError` if the data are missing, truncated or corrupt.
    """
    batches = _batches(spec, resolve_data_dir(data_dir), resolve_cache_dir(cache_dir), download)
    out = []
    for names in (TRAIN_FILES, (TEST_FILE,)):
        parts = [read_cifar_batch(batches[name], name) for name in names]
        images = np.concatenate([images for images, _ in parts]).astype(np.float32)
        images /= np.float32(255)
        if flatten:
            images = images.reshape(images.shape[0], -1)
        out += [images, np.concatenate([labels for _, labels in parts])]
    return tuple(out)


__all__ = ["CIFAR10", "CIFAR10_CLASSES", "CifarSpec", "load_cifar10", "read_cifar_batch"]
