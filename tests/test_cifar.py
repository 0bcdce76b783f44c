"""Tests for the CIFAR-10 binary loader, on tiny generated archives (3 records per file)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlderive import cifar
from mlderive.cifar import (
    FOLDER,
    RECORD_BYTES,
    TEST_FILE,
    TRAIN_FILES,
    load_cifar10,
    read_cifar_batch,
)
from mlderive.data import DataFileError

RECORDS = 3
NAMES = (*TRAIN_FILES, TEST_FILE)


def batch_bytes(file_index: int, records: int = RECORDS) -> bytes:
    """Records whose label is ``(file_index + r) % 10`` and whose channel c pixels are all
    ``10 * file_index + c`` except pixel (row 1, column 2), which is ``200 + r``."""
    out = bytearray()
    for r in range(records):
        image = np.zeros((3, 32, 32), dtype=np.uint8)
        for c in range(3):
            image[c] = 10 * file_index + c
        image[:, 1, 2] = 200 + r
        out += bytes([(file_index + r) % 10]) + image.tobytes()
    return bytes(out)


def make_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def official_members() -> dict[str, bytes]:
    return {f"{FOLDER}/{name}": batch_bytes(i) for i, name in enumerate(NAMES)}


def spec_for(path: Path) -> cifar.CifarSpec:
    data = path.read_bytes()
    return replace(
        cifar.CIFAR10,
        md5=hashlib.md5(data).hexdigest(),
        nbytes=len(data),
        records_per_file=RECORDS,
        url="https://example.invalid/cifar-10-binary.tar.gz",
    )


@pytest.fixture
def archive_dir(tmp_path):
    folder = tmp_path / "data" / "cifar-10"
    folder.mkdir(parents=True)
    path = make_archive(folder / "cifar-10-binary.tar.gz", official_members())
    return tmp_path / "data", spec_for(path)


def test_read_cifar_batch_layout():
    images, labels = read_cifar_batch(batch_bytes(2))
    assert images.shape == (RECORDS, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [2, 3, 4])
    assert images[0, 1, 0, 0] == 21 and images[0, 2, 5, 5] == 22  # channel-major order
    np.testing.assert_array_equal(images[:, 0, 1, 2], [200, 201, 202])


def test_load_from_the_archive(archive_dir, tmp_path):
    data_dir, spec = archive_dir
    X, y, X_test, y_test = load_cifar10(data_dir=data_dir, cache_dir=tmp_path / "c", spec=spec)
    assert X.shape == (5 * RECORDS, 3072) and X.dtype == np.float32
    assert X_test.shape == (RECORDS, 3072) and y.dtype == np.int64
    np.testing.assert_array_equal(y[:RECORDS], [0, 1, 2])
    np.testing.assert_array_equal(y_test, [5, 6, 7])
    assert X[RECORDS, 1024] == pytest.approx(11 / 255)  # file 1, green channel, first pixel
    assert 0 <= X.min() and X.max() <= 1
    images = load_cifar10(data_dir=data_dir, spec=spec, flatten=False, download=False)[0]
    assert images.shape == (5 * RECORDS, 3, 32, 32)
    assert not (tmp_path / "c").exists()  # nothing was downloaded or extracted


def test_load_from_an_extracted_folder(tmp_path):
    folder = tmp_path / "cifar-10" / FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate(NAMES):
        (folder / name).write_bytes(batch_bytes(i))
    spec = replace(cifar.CIFAR10, records_per_file=RECORDS)
    _, y, _, y_test = load_cifar10(data_dir=tmp_path, download=False, spec=spec)
    assert len(y) == 5 * RECORDS and len(y_test) == RECORDS


def test_truncated_batch_file_names_file_and_size(tmp_path):
    folder = tmp_path / "cifar-10" / FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate(NAMES):
        (folder / name).write_bytes(batch_bytes(i)[: -1 if i == 2 else None])
    spec = replace(cifar.CIFAR10, records_per_file=RECORDS)
    with pytest.raises(
        DataFileError, match=rf"data_batch_3\.bin: expected {RECORDS * RECORD_BYTES}"
    ):
        load_cifar10(data_dir=tmp_path, download=False, spec=spec)


def test_bad_label_is_reported():
    raw = bytearray(batch_bytes(0))
    raw[RECORD_BYTES] = 10  # the second record's label
    with pytest.raises(DataFileError, match="record 1 has label 10"):
        read_cifar_batch(bytes(raw), "x.bin")
    with pytest.raises(DataFileError, match="whole number"):
        read_cifar_batch(bytes(raw[:-5]), "x.bin")


def test_archive_checksum_mismatch(archive_dir):
    data_dir, spec = archive_dir
    with pytest.raises(DataFileError, match="checksum mismatch: expected md5 0{32}"):
        load_cifar10(data_dir=data_dir, download=False, spec=replace(spec, md5="0" * 32))


def test_archive_without_the_expected_members(tmp_path):
    folder = tmp_path / "cifar-10"
    folder.mkdir()
    members = official_members()
    members.pop(f"{FOLDER}/{TEST_FILE}")
    members["../outside.bin"] = batch_bytes(0)  # never read, never extracted
    path = make_archive(folder / "cifar-10-binary.tar.gz", members)
    with pytest.raises(DataFileError, match="lacks test_batch.bin"):
        load_cifar10(data_dir=tmp_path, download=False, spec=spec_for(path))
    assert not (tmp_path / "outside.bin").exists()


def test_missing_everything_without_download(tmp_path):
    with pytest.raises(DataFileError, match=r"not found and not downloaded \(download=False\)"):
        load_cifar10(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", download=False)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_verified_and_atomic(archive_dir, tmp_path, monkeypatch):
    _, spec = archive_dir
    good = (archive_dir[0] / "cifar-10" / spec.archive).read_bytes()
    cache = tmp_path / "cache"

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(good[:-10]))
    with pytest.raises(DataFileError, match="checksum mismatch"):
        load_cifar10(data_dir=tmp_path / "none", cache_dir=cache, spec=spec)
    assert not (cache / "cifar-10").exists()  # no partial file, no empty folder left behind

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(good))
    _, y, _, _ = load_cifar10(data_dir=tmp_path / "none", cache_dir=cache, spec=spec)
    assert len(y) == 5 * RECORDS
    assert [p.name for p in (cache / "cifar-10").iterdir()] == [spec.archive]
