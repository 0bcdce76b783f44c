"""Tests for mlderive.data: the IDX parser, file lookup, verification and (file://) downloads.

All but the last test build tiny IDX datasets in ``tmp_path``; the last loads the real
MNIST / Fashion-MNIST files when ``MLDERIVE_DATA`` is set.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlderive import data
from mlderive.data import (
    FASHION_MNIST,
    FASHION_MNIST_CLASSES,
    MNIST,
    MNIST_CLASSES,
    DataFile,
    DataFileError,
    DatasetSpec,
    data_status,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)

REAL_DATA = os.environ.get("MLDERIVE_DATA")  # read before any test changes the environment
CODES = {np.uint8: 0x08, np.int8: 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


# ------------------------------------------------------------------------------ helpers


def idx_bytes(arr, dtype=np.uint8) -> bytes:
    """The IDX encoding of ``arr`` stored as ``dtype`` (a key of CODES)."""
    arr = np.asarray(arr)
    header = bytes([0, 0, CODES[dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(dtype).tobytes()


def make_raws(n_train=5, n_test=3, rows=4, cols=3, seed=0):
    """Random uint8 arrays and their IDX bytes, keyed like DatasetSpec.files."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, rows, cols), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, rows, cols), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays["train_images"][0, 0, :2] = (0, 255)  # both ends of the range occur
    return arrays, {k: idx_bytes(a) for k, a in arrays.items()}


def make_spec(raws, mirrors=(), subdir="toy") -> DatasetSpec:
    """A spec whose checksums match ``raws`` (official file names, tiny contents)."""
    files = {
        key: DataFile(
            MNIST.files[key].name, hashlib.md5(raw, usedforsecurity=False).hexdigest(), len(raw)
        )
        for key, raw in raws.items()
    }
    return DatasetSpec("Toy", subdir, files, tuple(mirrors))


def write_files(folder: Path, spec: DatasetSpec, raws, gz=True) -> dict[str, Path]:
    """Write ``raws`` as ``<folder>/<name>.gz`` (or uncompressed ``<name>``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, raw in raws.items():
        name = spec.files[key].name
        path = folder / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
        paths[key] = path
    return paths


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the real MLDERIVE_DATA or ~/.cache, or another test's in-process cache."""
    monkeypatch.delenv("MLDERIVE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    data._load_uint8.cache_clear()
    yield
    data._load_uint8.cache_clear()


@pytest.fixture
def toy(tmp_path):
    """(spec, arrays, raws, data_dir) with the gzipped files in ``data_dir/toy/``."""
    arrays, raws = make_raws()
    spec = make_spec(raws)
    data_dir = tmp_path / "data"
    write_files(data_dir / spec.subdir, spec, raws)
    return spec, arrays, raws, data_dir


# ------------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("dtype", list(CODES))
def test_read_idx_round_trip_every_dtype(dtype):
    arr = np.arange(-12, 12).reshape(2, 3, 4) % (128 if dtype in (np.uint8, np.int8) else 10**6)
    out = read_idx(idx_bytes(arr, dtype), "x")
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, arr.astype(dtype))


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)))
def test_read_idx_round_trip_any_shape(arr):
    out = read_idx(idx_bytes(arr), "x")
    assert out.shape == arr.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


@given(st.binary(max_size=40))
def test_read_idx_garbage_raises_only_data_file_error(raw):
    try:
        read_idx(raw, "garbage.idx")
    except DataFileError as exc:
        assert "garbage.idx" in str(exc)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"\x00\x00", "4-byte header"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x07", "magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x07", "dtype code"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "header"),
        (idx_bytes(np.zeros((3, 2), np.uint8))[:-1], "truncated"),
        (idx_bytes(np.zeros((3, 2), np.uint8)) + b"\x00", "too long"),
        (idx_bytes(np.zeros(3, np.int32), ">i4")[:-2], "truncated"),
    ],
)
def test_read_idx_malformed(raw, fragment):
    with pytest.raises(DataFileError, match=fragment) as info:
        read_idx(raw, "some/file-idx1-ubyte")
    message = str(info.value)
    assert "some/file-idx1-ubyte" in message
    assert "expected" in message and "found" in message
    assert "Delete the file" in message


# --------------------------------------------------------------------------- loading files


def test_spec_constants():
    assert MNIST.subdir == "mnist" and FASHION_MNIST.subdir == "fashion-mnist"
    assert MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert MNIST.files["train_images"] == DataFile(
        "train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb", 47040016
    )
    assert FASHION_MNIST.files["test_labels"].md5 == "15d484375f8d13e6eb1aabb0c3f46965"
    assert len(MNIST_CLASSES) == len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[9] == "Ankle boot"
    with pytest.raises(ValueError, match="keys"):
        DatasetSpec("bad", "bad", {"train_images": MNIST.files["train_images"]}, ())


@pytest.mark.parametrize("flatten", [True, False])
def test_load_round_trip(toy, flatten):
    spec, arrays, _, data_dir = toy
    X, y, Xt, yt = load_dataset(spec, flatten=flatten, data_dir=data_dir, download=False)
    if flatten:
        assert X.shape == (5, 12) and Xt.shape == (3, 12)
    else:
        assert X.shape == (5, 4, 3) and Xt.shape == (3, 4, 3)
    for x, a in [(X, arrays["train_images"]), (Xt, arrays["test_images"])]:
        assert x.dtype == np.float32
        assert x.min() == 0.0 and x.max() <= 1.0
        np.testing.assert_allclose(x.reshape(a.shape), a / 255.0, rtol=1e-6)
    assert X.max() == 1.0
    for lab, a in [(y, arrays["train_labels"]), (yt, arrays["test_labels"])]:
        assert lab.dtype == np.int64 and lab.shape == a.shape
        np.testing.assert_array_equal(lab, a)


def test_uncompressed_file_accepted(tmp_path):
    arrays, raws = make_raws()
    spec = make_spec(raws)
    write_files(tmp_path / "d" / spec.subdir, spec, raws, gz=False)
    _, y, _, _ = load_dataset(spec, data_dir=tmp_path / "d", download=False)
    np.testing.assert_array_equal(y, arrays["train_labels"])


def test_returns_fresh_arrays_and_caches_parsing(toy, monkeypatch):
    spec, arrays, _, data_dir = toy
    calls = []
    real = data._read_verified
    monkeypatch.setattr(data, "_read_verified", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = load_dataset(spec, data_dir=data_dir)
    assert len(calls) == 4
    for a in first:
        a[...] = 7  # the caller may modify the arrays
    second = load_dataset(spec, data_dir=data_dir, flatten=False)
    assert len(calls) == 4  # parsed once, served from the in-process cache
    np.testing.assert_array_equal(second[1], arrays["train_labels"])
    np.testing.assert_allclose(second[0], arrays["train_images"] / 255.0, rtol=1e-6)


def test_truncated_gz(toy):
    spec, _, _, data_dir = toy
    path = data_dir / spec.subdir / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataFileError, match="decompress") as info:
        load_dataset(spec, data_dir=data_dir, download=False)
    assert str(path) in str(info.value)
    assert "Delete the file" in str(info.value)
    assert path.exists()  # user files are never deleted


def test_not_gzip_at_all(toy):
    spec, _, _, data_dir = toy
    path = data_dir / spec.subdir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DataFileError, match="train-labels-idx1-ubyte.gz"):
        load_dataset(spec, data_dir=data_dir, download=False)


def test_bad_checksum_names_expected_and_found(toy):
    spec, _, raws, data_dir = toy
    path = data_dir / spec.subdir / "train-images-idx3-ubyte.gz"
    bad = bytearray(raws["train_images"])
    bad[-1] ^= 1
    path.write_bytes(gzip.compress(bytes(bad)))
    with pytest.raises(DataFileError, match="checksum mismatch") as info:
        load_dataset(spec, data_dir=data_dir, download=False)
    message = str(info.value)
    assert str(path) in message
    assert spec.files["train_images"].md5 in message
    assert hashlib.md5(bytes(bad)).hexdigest() in message
    assert path.exists()


def test_wrong_magic_number(tmp_path):
    arrays, raws = make_raws()
    raws["test_labels"] = b"\x08\x00" + raws["test_labels"][2:]  # checksum matches the spec
    spec = make_spec(raws)
    write_files(tmp_path / "d" / spec.subdir, spec, raws)
    with pytest.raises(DataFileError, match="magic") as info:
        load_dataset(spec, data_dir=tmp_path / "d", download=False)
    assert "t10k-labels-idx1-ubyte" in str(info.value)


def test_image_label_count_mismatch(tmp_path):
    arrays, raws = make_raws()
    raws["train_labels"] = idx_bytes(arrays["train_labels"][:-1])
    spec = make_spec(raws)
    write_files(tmp_path / "d" / spec.subdir, spec, raws)
    with pytest.raises(DataFileError, match="5 images .* but 4 labels"):
        load_dataset(spec, data_dir=tmp_path / "d", download=False)


def test_env_var_takes_precedence_over_cache(toy, tmp_path, monkeypatch):
    spec, arrays, raws, data_dir = toy
    cache = tmp_path / "cache"
    for path in write_files(cache / spec.subdir, spec, raws).values():
        path.write_bytes(b"corrupt")  # would fail if the cache were used
    monkeypatch.setenv("MLDERIVE_DATA", str(data_dir))
    _, y, _, _ = load_dataset(spec, cache_dir=cache, download=False)
    np.testing.assert_array_equal(y, arrays["train_labels"])


def test_bad_file_in_data_dir_does_not_fall_through_to_cache(toy, tmp_path, monkeypatch):
    spec, _, raws, data_dir = toy
    cache = tmp_path / "cache"
    write_files(cache / spec.subdir, spec, raws)  # a good copy in the cache
    bad = data_dir / spec.subdir / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(b"nonsense"))
    monkeypatch.setenv("MLDERIVE_DATA", str(data_dir))
    with pytest.raises(DataFileError, match="checksum mismatch") as info:
        load_dataset(spec, cache_dir=cache, download=False)
    assert str(bad) in str(info.value)


def test_cache_used_and_data_dir_argument_beats_env(toy, tmp_path, monkeypatch):
    spec, arrays, raws, data_dir = toy
    monkeypatch.setenv("MLDERIVE_DATA", str(tmp_path / "empty"))
    _, y, _, _ = load_dataset(spec, data_dir=data_dir, download=False)
    np.testing.assert_array_equal(y, arrays["train_labels"])
    # Files only in the default cache ($XDG_CACHE_HOME/mlderive) are found there.
    write_files(tmp_path / "xdg-cache" / "mlderive" / spec.subdir, spec, raws)
    _, y, _, _ = load_dataset(spec, download=False)
    np.testing.assert_array_equal(y, arrays["train_labels"])


def test_data_status(toy, tmp_path):
    spec, _, _, data_dir = toy
    status = data_status(spec, data_dir=data_dir)
    assert str(data_dir / spec.subdir / "train-images-idx3-ubyte.gz") in status
    assert "missing" in data_status(spec, data_dir=tmp_path / "nowhere")


# ------------------------------------------------------------------------------ downloads


def no_part_files(root: Path) -> bool:
    return not any(p.name.startswith(".part-") for p in root.rglob("*"))


def test_download_from_second_mirror_into_cache(tmp_path):
    arrays, raws = make_raws()
    server = tmp_path / "server"
    spec = make_spec(raws, mirrors=("file:///nonexistent/", server.as_uri() + "/"))
    write_files(server, spec, raws)
    cache = tmp_path / "cache"
    X, y, Xt, yt = load_dataset(spec, cache_dir=cache, flatten=False)
    np.testing.assert_array_equal(yt, arrays["test_labels"])
    np.testing.assert_allclose(Xt, arrays["test_images"] / 255.0, rtol=1e-6)
    landed = sorted(p.name for p in (cache / spec.subdir).iterdir())
    assert landed == sorted(f"{f.name}.gz" for f in spec.files.values())
    assert no_part_files(tmp_path)
    # Now the cache is complete: no mirror is needed.
    spec_offline = make_spec(raws, mirrors=("file:///nonexistent/",))
    data._load_uint8.cache_clear()
    _, y2, _, _ = load_dataset(spec_offline, cache_dir=cache)
    np.testing.assert_array_equal(y2, arrays["train_labels"])


def test_download_with_wrong_checksum_leaves_nothing(tmp_path):
    arrays, raws = make_raws()
    server = tmp_path / "server"
    spec = make_spec(raws, mirrors=(server.as_uri() + "/",))
    tampered = dict(raws, test_images=idx_bytes(arrays["test_images"] // 2))
    write_files(server, spec, tampered)
    cache = tmp_path / "cache"
    with pytest.raises(DataFileError, match="checksum mismatch") as info:
        load_dataset(spec, cache_dir=cache)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert spec.files["test_images"].md5 in message
    assert not (cache / spec.subdir / "t10k-images-idx3-ubyte.gz").exists()
    assert no_part_files(tmp_path)
    # The three good files were downloaded and kept.
    assert len(list((cache / spec.subdir).iterdir())) == 3


def test_no_network_no_files_lists_what_to_put_where(tmp_path, monkeypatch):
    _, raws = make_raws()
    spec = make_spec(raws, mirrors=("file:///nonexistent/",))
    monkeypatch.setenv("MLDERIVE_DATA", str(tmp_path / "mydata"))
    cache = tmp_path / "cache"
    with pytest.raises(DataFileError) as info:
        load_dataset(spec, cache_dir=cache)
    message = str(info.value)
    for f in spec.files.values():
        assert f"{f.name}.gz" in message
    assert str(tmp_path / "mydata" / spec.subdir) in message
    assert str(cache / spec.subdir) in message
    assert "file:///nonexistent/train-images-idx3-ubyte.gz" in message
    assert no_part_files(tmp_path)


def test_download_false_never_downloads(tmp_path):
    _, raws = make_raws()
    server = tmp_path / "server"
    spec = make_spec(raws, mirrors=(server.as_uri() + "/",))
    write_files(server, spec, raws)
    with pytest.raises(DataFileError, match="download=False"):
        load_dataset(spec, cache_dir=tmp_path / "cache", download=False)
    assert not (tmp_path / "cache").exists()


# ------------------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def real_datasets():
    if not REAL_DATA:
        pytest.skip("set MLDERIVE_DATA to the folder holding mnist/ and fashion-mnist/")
    return {
        "mnist": load_mnist(data_dir=REAL_DATA, download=False),
        "fashion": load_fashion_mnist(data_dir=REAL_DATA, download=False),
    }


@pytest.mark.parametrize(
    "which, first_test_labels, mean",
    [("mnist", [7, 2, 1, 0, 4], 0.1307), ("fashion", [9, 2, 1, 1, 6], 0.2860)],
)
def test_real_data(real_datasets, which, first_test_labels, mean):
    X, y, Xt, yt = real_datasets[which]
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert y.shape == (60000,) and yt.shape == (10000,)
    for x in (X, Xt):
        assert x.dtype == np.float32
        assert x.min() == 0.0 and x.max() == 1.0
    for lab in (y, yt):
        assert lab.dtype == np.int64
        assert set(np.unique(lab).tolist()) == set(range(10))
    assert yt[:5].tolist() == first_test_labels
    assert abs(float(X.mean()) - mean) < 1e-4
    if which == "fashion":
        assert np.bincount(yt).tolist() == [1000] * 10
    else:
        assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
