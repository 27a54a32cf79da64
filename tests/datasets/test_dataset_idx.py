"""IDX reading: round trips for every type code, raw and gzip, and each malformed case."""

import gzip
import struct

import numpy as np
import pytest

from hanami.datasets import DatasetError, ParseLimits, mnist_to_columns, read_idx

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}


def idx_bytes(array: np.ndarray, code: int | None = None) -> bytes:
    code = CODES[array.dtype.type] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path, dtype, compress):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype is np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    content = idx_bytes(array)
    path = tmp_path / "data.idx"
    path.write_bytes(gzip.compress(content) if compress else content)

    result = read_idx(path)

    assert result.shape == (2, 3, 4)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_reads_bytes_and_float64():
    array = np.array([1.5, -2.25, 1e-300])
    np.testing.assert_array_equal(read_idx(idx_bytes(array, 0x0E)), array)


def test_truncated_data_names_file_and_byte_counts(tmp_path):
    path = tmp_path / "images.idx"
    path.write_bytes(idx_bytes(np.zeros((3, 2, 2), np.uint8))[:-1])
    with pytest.raises(DatasetError, match=r"images\.idx: truncated IDX data") as info:
        read_idx(path)
    assert "needs 12 bytes after the 16-byte header, found 11" in str(info.value)


def test_truncated_gzip_data():
    content = gzip.compress(idx_bytes(np.zeros(100, np.uint8))[:-10])
    with pytest.raises(DatasetError, match="needs 100 bytes after the 8-byte header, found 90"):
        read_idx(content, name="labels.gz")


def test_truncated_gzip_stream():
    with pytest.raises(DatasetError, match=r"labels\.gz: damaged gzip stream"):
        read_idx(gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:-12], name="labels.gz")


def test_truncated_header():
    with pytest.raises(DatasetError, match="expected 12 bytes of dimension sizes, found 5"):
        read_idx(bytes([0, 0, 8, 3, 0, 0, 0, 1, 0]))
    with pytest.raises(DatasetError, match="expected 4 magic bytes, found 2"):
        read_idx(b"\0\0")


def test_wrong_magic():
    with pytest.raises(
        DatasetError, match="not an IDX file: magic must start with 00 00, found 50 4b"
    ):
        read_idx(b"PK\x03\x04" + bytes(20))


def test_unsupported_dtype():
    with pytest.raises(DatasetError, match=r"unsupported IDX data type 0x0A \(supported: 0x08"):
        read_idx(bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 7]))


def test_zero_dimensions():
    with pytest.raises(DatasetError, match="declares 0 dimensions"):
        read_idx(bytes([0, 0, 8, 0]))


def test_trailing_bytes():
    with pytest.raises(DatasetError, match="3 trailing bytes after the 4 data bytes"):
        read_idx(idx_bytes(np.zeros(4, np.uint8)) + b"abc")


def test_lying_header_does_not_allocate():
    # 2^32-1 cubed bytes declared, 10 present: must fail fast, not try to allocate.
    header = bytes([0, 0, 8, 3]) + b"\xff" * 12
    with pytest.raises(DatasetError, match="more than 10000000 data rows are not allowed"):
        read_idx(header + bytes(10))  # the default limits refuse the header at once
    unlimited = ParseLimits(max_columns=2**64, max_rows=2**32, max_bytes=2**100)
    with pytest.raises(DatasetError, match="truncated IDX data"):
        read_idx(header + bytes(10), limits=unlimited)


def test_mnist_to_columns():
    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2)
    inputs, labels = mnist_to_columns(images, np.array([9, 0, 3], np.uint8))
    assert inputs.dtype == np.uint8 and inputs.shape == (3, 4)
    np.testing.assert_array_equal(inputs[2], [8, 9, 10, 11])
    assert labels.dtype == np.uint8 and labels.shape == (3, 10)
    np.testing.assert_array_equal(labels.argmax(axis=1), [9, 0, 3])
    assert labels.sum() == 3


def test_mnist_label_out_of_range_names_row():
    images = np.zeros((4, 2, 2), np.uint8)
    with pytest.raises(DatasetError, match=r"label 10 at row 2 \(0-based\) is out of range"):
        mnist_to_columns(images, np.array([1, 9, 10, 200], np.uint8))


def test_mnist_count_mismatch():
    with pytest.raises(DatasetError, match="holds 4 images but the label file 3 labels"):
        mnist_to_columns(np.zeros((4, 2, 2), np.uint8), np.zeros(3, np.uint8))


def test_mnist_rejects_non_byte_images():
    with pytest.raises(DatasetError, match="must be unsigned bytes"):
        mnist_to_columns(np.zeros((4, 2, 2), np.float32), np.zeros(4, np.uint8))


def test_mnist_empty():
    inputs, labels = mnist_to_columns(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    assert inputs.shape == (0, 784) and labels.shape == (0, 10)
