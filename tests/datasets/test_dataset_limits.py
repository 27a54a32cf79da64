"""Parse limits, streaming and the stop flag of the CSV and IDX readers and converters."""

import gzip
import struct
import threading

import numpy as np
import pytest

from hanami.datasets import (
    CsvReader,
    DatasetError,
    IdxReader,
    InputTooLarge,
    ParseLimits,
    ParseStopped,
    convert_csv,
    convert_mnist,
    open_dataset,
    read_csv,
    read_idx,
)


def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def header_row(columns: int) -> bytes:
    return ",".join(f"c{i}" for i in range(columns)).encode() + b"\n"


# --------------------------------------------------------------------------- CSV


def test_csv_column_limit():
    limits = ParseLimits(max_columns=3)
    assert read_csv(b"a,b,c\n1,2,3\n", limits=limits).columns == ("a", "b", "c")
    with pytest.raises(DatasetError, match="<bytes>: 4 columns; at most 3 are allowed"):
        read_csv(b"a,b,c,d\n1,2,3,4\n", limits=limits)


def test_csv_row_longer_than_the_limit_is_refused_before_it_is_split():
    limits = ParseLimits(max_columns=10)  # rows of at most 320 characters
    wide = header_row(1_000_000)
    with pytest.raises(DatasetError, match="row 1 is longer than 320 characters") as info:
        read_csv(wide, limits=limits)
    assert len(str(info.value)) < 200
    # A quoted field spanning lines counts for the record it belongs to.
    with pytest.raises(DatasetError, match="row 2 is longer than 320 characters"):
        read_csv(b'a\n"' + b"1\n" * 400 + b'"\n', limits=limits)


def test_csv_row_limit():
    limits = ParseLimits(max_rows=2)
    assert read_csv(b"a\n1\n2\n", limits=limits).data.shape == (2, 1)
    with pytest.raises(DatasetError, match="more than 2 data rows are not allowed"):
        read_csv(b"a\n1\n2\n3\n", limits=limits)


def test_csv_byte_limit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a\n" + b"1\n" * 100)
    with pytest.raises(InputTooLarge, match=r"big\.csv: more than 100 bytes"):
        read_csv(path, limits=ParseLimits(max_bytes=100))
    with pytest.raises(InputTooLarge):
        read_csv(path.read_bytes(), limits=ParseLimits(max_bytes=100))


def test_csv_duplicate_and_long_names_give_short_messages():
    name = "x" * 100_000
    with pytest.raises(DatasetError, match=r"header names column 'x{60}'\.\.\. twice") as info:
        read_csv(f"{name},a,{name}\n1,2,3\n".encode())
    assert len(str(info.value)) < 200
    with pytest.raises(DatasetError, match=r"value 'y{60}'\.\.\. is not a number"):
        read_csv(f"a\n{'y' * 100_000}\n".encode())


def test_csv_wide_header_parses_in_linear_time():
    columns = 200_000  # the quadratic duplicate check took minutes for this
    content = header_row(columns) + b"0," * (columns - 1) + b"1\n"
    table = read_csv(content, limits=ParseLimits(max_columns=columns))
    assert table.data.shape == (1, columns) and table.data[0, -1] == 1


def test_csv_chunks_and_stop_flag():
    rows = 70_000  # more than one chunk of 65536 cells
    content = b"a\n" + b"".join(b"%d\n" % i for i in range(rows))
    with CsvReader(content) as reader:
        chunks = list(reader.chunks())
    assert len(chunks) == 2
    np.testing.assert_array_equal(np.concatenate(chunks)[:, 0], np.arange(rows))

    stop = threading.Event()
    with CsvReader(content, stop=stop) as reader:
        stream = reader.chunks()
        next(stream)
        stop.set()
        with pytest.raises(ParseStopped):
            next(stream)


def test_convert_csv_streams_through_a_spill_file(tmp_path):
    rows = 70_000
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n" + b"".join(b"%d,-%d\n" % (i, i) for i in range(rows)))
    dataset = convert_csv(source, tmp_path / "ds", name="wide")
    assert (dataset.rows, dataset.columns) == (rows, 2)
    np.testing.assert_array_equal(open_dataset(tmp_path / "ds").column("b")[:, 0], -np.arange(rows))

    bad = tmp_path / "bad.csv"
    bad.write_bytes(source.read_bytes() + b"1,x\n")
    with pytest.raises(DatasetError, match=f"row {rows + 2}, column 'b'"):
        convert_csv(bad, tmp_path / "ds2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "ds", "in.csv"]


# --------------------------------------------------------------------------- IDX


def test_idx_header_limits_are_checked_before_the_data():
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 1000, 30, 30)
    with pytest.raises(DatasetError, match="900 columns; at most 899"):
        IdxReader(header, limits=ParseLimits(max_columns=899))
    with pytest.raises(DatasetError, match="more than 999 data rows"):
        IdxReader(header, limits=ParseLimits(max_rows=999))
    with pytest.raises(InputTooLarge, match="more than 900015 bytes"):
        IdxReader(header, limits=ParseLimits(max_bytes=900_015))
    with IdxReader(header, limits=ParseLimits(max_bytes=900_016)) as reader:
        assert (reader.shape, reader.row_bytes) == ((1000, 30, 30), 900)


def test_gzip_bomb_is_refused_by_its_header_and_by_counting():
    declared = gzip.compress(idx(np.zeros((65536, 1024), np.uint8)), compresslevel=9)
    assert len(declared) < 100_000
    with pytest.raises(InputTooLarge, match="more than 16777216 bytes"):
        read_idx(declared, limits=ParseLimits(max_bytes=1 << 24))
    # A valid small header followed by decompressed bytes past the cap.
    trailing = gzip.compress(idx(np.zeros(10, np.uint8)) + bytes(1 << 25), compresslevel=9)
    with pytest.raises(InputTooLarge, match="more than 4194304 bytes"):
        read_idx(trailing, limits=ParseLimits(max_bytes=1 << 22))


def test_idx_chunks_and_stop_flag(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (3000, 80, 80), dtype=np.uint8)
    path = tmp_path / "img.gz"
    path.write_bytes(gzip.compress(idx(images), compresslevel=1))
    with IdxReader(path) as reader:
        chunks = list(reader.chunks())
    assert [len(c) for c in chunks] == [1310, 1310, 380]  # 8 MiB chunks of 6400-byte rows
    np.testing.assert_array_equal(np.concatenate(chunks), images)

    stop = threading.Event()
    stop.set()
    with pytest.raises(ParseStopped):
        convert_mnist(path, idx(np.zeros(3000, np.uint8)), tmp_path / "ds", stop=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.gz"]


def test_convert_mnist_truncated_images_leave_nothing(tmp_path):
    images = idx(np.zeros((5000, 28, 28), np.uint8))[:-1]
    with pytest.raises(DatasetError, match="<image file>: truncated IDX data"):
        convert_mnist(images, idx(np.zeros(5000, np.uint8)), tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []
