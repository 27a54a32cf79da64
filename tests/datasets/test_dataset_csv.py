"""Strict CSV reading: what the original silently turned into 0 is either parsed or reported."""

import numpy as np
import pytest

from hanami.datasets import DatasetError, read_csv


def test_header_and_values(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("input,output\n1,2\n3.5,-4\n")
    table = read_csv(path)
    assert table.columns == ("input", "output")
    assert table.data.dtype == np.float32
    np.testing.assert_array_equal(table.data, [[1, 2], [3.5, -4]])
    assert table.description == {
        "input": {"column_start": 0, "column_end": 1},
        "output": {"column_start": 1, "column_end": 2},
    }


def test_quotes_crlf_exponents_spaces_booleans():
    content = (
        b'\xef\xbb\xbf"a", b ,"c,d"\r\n"1e-3", .5 ,+1\r\n-2E2,"  7  ",TRUE\r\nfalse,1.,0\r\n\r\n'
    )
    table = read_csv(content)
    assert table.columns == ("a", "b", "c,d")
    np.testing.assert_allclose(table.data, [[1e-3, 0.5, 1], [-200, 7, 1], [0, 1, 0]])


def test_one_column_file_is_read():
    np.testing.assert_array_equal(read_csv(b"x\n1\n2\n").data, [[1], [2]])


def test_blank_lines_skipped_and_row_numbers_follow_the_file():
    with pytest.raises(DatasetError, match=r"data\.csv: row 5, column 'y': value 'abc' is not"):
        read_csv(b"x,y\n1,2\n\n3,4\n5,abc\n", name="data.csv")


@pytest.mark.parametrize("cell", ["", "null", "nan", "inf", "1_000", "0x10", "1e", "--1", "١"])
def test_bad_cells(cell):
    with pytest.raises(DatasetError, match=f"row 3, column 'b': value '{cell}' is not a number"):
        read_csv(f"a,b\n1,2\n3,{cell}\n".encode())


def test_float32_overflow():
    with pytest.raises(
        DatasetError, match="row 2, column 'a': value '1e39' is outside the float32"
    ):
        read_csv(b"a\n1e39\n")


def test_multiline_quoted_field_reports_starting_row():
    with pytest.raises(DatasetError, match="row 3, column 'b'"):
        read_csv(b'a,b\n1,2\n3,"4\n5"\n')


def test_ragged_rows():
    with pytest.raises(DatasetError, match="row 3 has 3 fields but the header has 2 columns"):
        read_csv(b"a,b\n1,2\n1,2,3\n")
    with pytest.raises(DatasetError, match="row 2 has 1 fields but the header has 2 columns"):
        read_csv(b"a,b\n1\n")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.csv: the file is empty"):
        read_csv(path)
    with pytest.raises(DatasetError, match="the file is empty"):
        read_csv(b"\n\r\n")


def test_header_without_rows():
    with pytest.raises(DatasetError, match="header but no data rows"):
        read_csv(b"a,b\n")


def test_bad_header_names():
    with pytest.raises(DatasetError, match="header column 2 has an empty name"):
        read_csv(b"a, ,c\n1,2,3\n")
    with pytest.raises(DatasetError, match="header names column 'a' twice"):
        read_csv(b"a,a\n1,2\n")


def test_malformed_quoting():
    with pytest.raises(DatasetError, match="malformed CSV at row 2"):
        read_csv(b'a,b\n"1"x,2\n')


def test_not_utf8():
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        read_csv(b"a\n\xff\n")


def test_not_utf8_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("größe\n1\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"latin1\.csv: not UTF-8 text"):
        read_csv(path)
