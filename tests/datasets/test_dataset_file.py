"""The dataset file: layout, memmap reads, atomic streaming writes, and corrupt files."""

import json
import struct
import zlib

import numpy as np
import pytest

from hanami.datasets import (
    FORMAT_VERSION,
    ColumnNotFoundError,
    DatasetError,
    DatasetWriter,
    open_dataset,
    read_dataset_header,
    write_dataset,
)

GROUPS = {"x": {"column_start": 0, "column_end": 3}, "y": {"column_start": 3, "column_end": 5}}


def sample(rows: int = 4) -> np.ndarray:
    return np.arange(rows * 5, dtype=np.float32).reshape(rows, 5) / 4


def temp_files(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_write_and_read(tmp_path):
    path = tmp_path / "ds"
    written = write_dataset(path, sample(), GROUPS, name="train")
    dataset = open_dataset(path)
    for ds in (written, dataset):
        assert (ds.rows, ds.columns, ds.name) == (4, 5, "train")
        assert ds.version == FORMAT_VERSION == "v2.0"
        assert ds.dtype == np.float32
        assert ds.description == GROUPS
        assert isinstance(ds.data, np.memmap)
        np.testing.assert_array_equal(ds.data, sample())
        np.testing.assert_array_equal(ds.column("y"), sample()[:, 3:5])
    assert "rows=4" in repr(dataset)
    header = read_dataset_header(path)
    assert header == ("train", "v2.0", GROUPS, 4, 5)


READERS = pytest.mark.parametrize("read", [open_dataset, read_dataset_header])


def test_layout_is_documented_one(tmp_path):
    path = tmp_path / "ds"
    write_dataset(
        path,
        np.arange(6, dtype=np.uint8).reshape(2, 3),
        {"a": {"column_start": 0, "column_end": 3}},
        name="n",
    )
    raw = path.read_bytes()
    assert raw[0:8] == b"hanami\0\0" and raw[8:16] == b"data-set"
    assert raw[40:42] == b"v2" and raw[48:49] == b"0"
    assert raw[56:58] == bytes([1, 1])
    desc_len, file_size, rows, columns = struct.unpack_from("<IQQQ", raw, 60)
    assert (file_size, rows, columns) == (len(raw), 2, 3)
    assert raw[88:89] == b"n" and raw[343] == 1
    (offset,) = struct.unpack_from("<Q", raw, 344)
    assert offset == 8192 and len(raw) == 8192 + 6
    assert json.loads(raw[4096 : 4096 + desc_len]) == {"a": {"column_start": 0, "column_end": 3}}
    assert raw[offset:] == bytes(range(6))


def test_description_returns_a_copy(tmp_path):
    dataset = write_dataset(tmp_path / "ds", sample(), GROUPS)
    dataset.description["x"]["column_end"] = 99
    assert dataset.column("x").shape == (4, 3)


def test_memmap_is_read_only(tmp_path):
    dataset = write_dataset(tmp_path / "ds", sample(), GROUPS)
    with pytest.raises(ValueError, match="read-only"):
        dataset.data[0, 0] = 1


def test_unknown_column_is_a_key_error(tmp_path):
    dataset = write_dataset(tmp_path / "ds", sample(), GROUPS)
    with pytest.raises(ColumnNotFoundError, match="no column group 'z' \\(has 'x', 'y'\\)") as info:
        dataset.column("z")
    assert isinstance(info.value, KeyError) and isinstance(info.value, DatasetError)


def test_read_rows_bounds(tmp_path):
    dataset = write_dataset(tmp_path / "ds", sample(), GROUPS)
    rows = dataset.read_rows("y", 2, 2)
    assert rows.dtype == np.float32 and not isinstance(rows, np.memmap)
    np.testing.assert_array_equal(rows, sample()[2:4, 3:5])
    for offset, count in [(3, 2), (-1, 1), (0, 0), (4, 1)]:
        with pytest.raises(DatasetError, match="but the dataset has 4 rows"):
            dataset.read_rows("y", offset, count)


def test_zero_rows(tmp_path):
    dataset = write_dataset(tmp_path / "ds", np.zeros((0, 5), np.float32), GROUPS)
    assert dataset.column("x").shape == (0, 3)
    assert open_dataset(tmp_path / "ds").rows == 0


def test_streaming_writer_is_atomic(tmp_path):
    path = tmp_path / "ds"
    writer = DatasetWriter(path, GROUPS, rows=4, dtype="float32", name="up")
    assert not path.exists()
    assert writer.temp_path.parent == tmp_path and temp_files(tmp_path) == [writer.temp_path.name]
    writer.write_rows(2, sample()[2:])
    writer.write_rows(0, sample()[0])  # one row as a 1-D array
    assert writer.rows_written == 3
    with pytest.raises(
        DatasetError, match=r"1 of 4 rows were never written \(first gap: rows 1..1\)"
    ):
        writer.commit()
    assert not path.exists()
    writer.write_rows(0, sample()[:2])  # re-sent chunk overlaps
    dataset = writer.commit()
    assert temp_files(tmp_path) == []
    np.testing.assert_array_equal(dataset.data, sample())
    writer.abort()  # no-op after commit
    assert path.exists()


def test_commit_replaces_existing_file(tmp_path):
    path = tmp_path / "ds"
    write_dataset(path, sample(), GROUPS)
    write_dataset(path, sample(2) + 1, GROUPS)
    np.testing.assert_array_equal(open_dataset(path).data, sample(2) + 1)


def test_abort_removes_temp_and_leaves_old_file(tmp_path):
    path = tmp_path / "ds"
    write_dataset(path, sample(), GROUPS)
    writer = DatasetWriter(path, GROUPS, rows=4, dtype=np.float32)
    writer.write_rows(0, sample() * 0)
    writer.abort()
    writer.abort()
    assert temp_files(tmp_path) == []
    np.testing.assert_array_equal(open_dataset(path).data, sample())
    with pytest.raises(DatasetError, match="already committed or aborted"):
        writer.write_rows(0, sample())


def test_with_block_aborts_on_error_and_without_commit(tmp_path):
    path = tmp_path / "ds"
    with pytest.raises(RuntimeError), DatasetWriter(path, GROUPS, 4, "float32") as writer:
        writer.write_rows(0, sample())
        raise RuntimeError
    with DatasetWriter(path, GROUPS, 4, "float32") as writer:
        writer.write_rows(0, sample())
    assert list(tmp_path.iterdir()) == []


def test_garbage_collected_writer_removes_temp(tmp_path):
    writer = DatasetWriter(tmp_path / "ds", GROUPS, 4, "float32")
    del writer
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("start", "rows", "message"),
    [
        (3, sample(2), "cannot write 2 rows at row 3: the dataset has 4 rows"),
        (-1, sample(1), "cannot write 1 rows at row -1"),
        (True, sample(1), "cannot write 1 rows at row True"),
        (0, sample()[:, :4], r"rows must have shape \[k, 5\], got \(4, 4\)"),
        (0, np.full((1, 5), np.nan), "NaN, infinity or a value outside the float32 range"),
        (0, np.full((1, 5), 1e300), "NaN, infinity or a value outside the float32 range"),
        (0, np.array([["a"] * 5]), "takes real numbers"),
    ],
)
def test_write_rows_checks(tmp_path, start, rows, message):
    with (
        DatasetWriter(tmp_path / "ds", GROUPS, 4, "float32") as writer,
        pytest.raises(DatasetError, match=message),
    ):
        writer.write_rows(start, rows)


def test_uint8_writer_checks(tmp_path):
    groups = {"a": {"column_start": 0, "column_end": 2}}
    with DatasetWriter(tmp_path / "ds", groups, 1, "uint8") as writer:
        with pytest.raises(DatasetError, match="takes integer rows"):
            writer.write_rows(0, [[0.5, 1.0]])
        with pytest.raises(DatasetError, match="takes values 0-255"):
            writer.write_rows(0, [[0, 256]])
        writer.write_rows(0, np.array([[0, 255]], dtype=np.int64))
        assert writer.commit().data.tolist() == [[0, 255]]


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ({}, "non-empty object"),
        ({"a": {"column_start": 0}}, "exactly column_start and column_end"),
        ({"a": {"column_start": 2, "column_end": 2}}, "0 <= column_start < column_end"),
        ({"a": {"column_start": -1, "column_end": 2}}, "0 <= column_start < column_end"),
        ({"a": {"column_start": 0.0, "column_end": 2}}, "0 <= column_start < column_end"),
        ({"": {"column_start": 0, "column_end": 2}}, "non-empty strings"),
    ],
)
def test_bad_descriptions(tmp_path, description, message):
    with pytest.raises(DatasetError, match=message):
        DatasetWriter(tmp_path / "ds", description, 1, "float32")
    assert list(tmp_path.iterdir()) == []


def test_bad_writer_arguments(tmp_path):
    with pytest.raises(DatasetError, match="must be uint8 or float32, got float64"):
        DatasetWriter(tmp_path / "ds", GROUPS, 1, "float64")
    with pytest.raises(DatasetError, match="non-negative integer"):
        DatasetWriter(tmp_path / "ds", GROUPS, -1, "float32")
    with pytest.raises(DatasetError, match="at most 254"):
        DatasetWriter(tmp_path / "ds", GROUPS, 1, "float32", name="é" * 128)
    assert list(tmp_path.iterdir()) == []


def test_overlapping_groups_and_uncovered_columns_are_allowed(tmp_path):
    groups = {
        "all": {"column_start": 0, "column_end": 3},
        "last": {"column_start": 2, "column_end": 3},
    }
    dataset = write_dataset(tmp_path / "ds", np.eye(3, dtype=np.float32), groups)
    assert dataset.column("last").tolist() == [[0], [0], [1]]


# --- corrupt and foreign files -------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "ds"
    write_dataset(path, sample(), GROUPS, name="good")
    return path


def patch(path, offset, data):
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))


@READERS
def test_corrupt_header_fails_checksum(good_file, read):
    patch(good_file, 72, struct.pack("<Q", 3))  # row count
    with pytest.raises(DatasetError, match="header checksum mismatch"):
        read(good_file)


@READERS
def test_corrupt_description_fails_checksum(good_file, read):
    patch(good_file, 4096, b"[")
    with pytest.raises(DatasetError, match="header checksum mismatch"):
        read(good_file)


@READERS
def test_truncated_data(good_file, read):
    good_file.write_bytes(good_file.read_bytes()[:-4])
    with pytest.raises(DatasetError, match="need 80 data bytes from offset 8192, found 76"):
        read(good_file)


@READERS
def test_trailing_data(good_file, read):
    good_file.write_bytes(good_file.read_bytes() + b"\0")
    with pytest.raises(DatasetError, match="found 81"):
        read(good_file)


@READERS
def test_truncated_header(good_file, read):
    good_file.write_bytes(good_file.read_bytes()[:100])
    with pytest.raises(DatasetError, match="truncated header: expected 4096 bytes, found 100"):
        read(good_file)


def test_foreign_file(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG" + bytes(5000))
    with pytest.raises(DatasetError, match="not a hanami dataset file"):
        open_dataset(path)


def test_unknown_version(good_file):
    patch(good_file, 40, b"v3")
    with pytest.raises(DatasetError, match=r"unsupported dataset format version v3\.0 "):
        open_dataset(good_file)


def test_bad_dtype(good_file):
    patch(good_file, 56, bytes([2, 2]))
    with pytest.raises(DatasetError, match="bad data type 2"):
        open_dataset(good_file)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_dataset(tmp_path / "nope")


def resign(path):
    """Recompute the CRC after a deliberate edit, to reach the checks behind it."""
    raw = bytearray(path.read_bytes())
    (desc_len,) = struct.unpack_from("<I", raw, 60)
    raw[352:356] = bytes(4)
    crc = zlib.crc32(bytes(raw[4096 : 4096 + desc_len]), zlib.crc32(bytes(raw[:4096])))
    raw[352:356] = struct.pack("<I", crc)
    path.write_bytes(bytes(raw))


def test_description_outside_columns(good_file):
    patch(good_file, 80, struct.pack("<Q", 4))
    patch(good_file, 64, struct.pack("<Q", 8192 + 64))
    good_file.write_bytes(good_file.read_bytes()[: 8192 + 64])
    resign(good_file)
    with pytest.raises(DatasetError, match="'y' ends at column 5, but there are only 4 columns"):
        open_dataset(good_file)


def test_rewritten_row_count_with_stale_file_size(good_file):
    good_file.write_bytes(good_file.read_bytes()[:-20])
    patch(good_file, 72, struct.pack("<Q", 3))
    resign(good_file)
    with pytest.raises(DatasetError, match="records a file size of 8272"):
        open_dataset(good_file)


# --- the original v1.0alpha format (read only, for migration) ------------------------------


def v1_file(path, data: np.ndarray, description: dict, name: str) -> None:
    desc = json.dumps(description).encode()
    header = bytearray(4096)
    code = 1 if data.dtype == np.uint8 else 4
    struct.pack_into(
        "<8s32s8s8sBB2xIQQQ255sB", header, 0, b"hanami", b"data-set", b"v1", b"0alpha",
        code, code, len(desc), 4096 + len(desc) + data.nbytes, *data.shape, name.encode(),
        len(name),
    )  # fmt: skip
    path.write_bytes(bytes(header) + desc + data.astype(data.dtype.newbyteorder("<")).tobytes())


def test_reads_original_v1_files(tmp_path):
    path = tmp_path / "old"
    data = np.arange(15, dtype=np.float32).reshape(3, 5)
    v1_file(path, data, GROUPS, "mnist_old")
    dataset = open_dataset(path)
    assert dataset.version == "v1.0alpha" and dataset.name == "mnist_old"
    np.testing.assert_array_equal(dataset.column("y"), data[:, 3:])


def test_v1_file_still_being_written_is_rejected(tmp_path):
    path = tmp_path / "old"
    v1_file(path, np.zeros((3, 5), np.float32), GROUPS, "r")
    path.write_bytes(path.read_bytes() + bytes(20))  # a row appended, header not yet rewritten
    with pytest.raises(DatasetError, match="size mismatch"):
        open_dataset(path)


def test_open_dataset_keeps_reading_the_file_it_opened(tmp_path):
    path = tmp_path / "ds"
    dataset = write_dataset(path, sample(), GROUPS)
    write_dataset(path, sample() + 100, GROUPS)  # a later commit replaces the name
    np.testing.assert_array_equal(dataset.data, sample())
    np.testing.assert_array_equal(open_dataset(path).data, sample() + 100)
