"""CSV records that a quote runs over several lines: the error names the line the record starts
on and says what most likely happened (a quote never closed), not the line the reader stopped at."""

from __future__ import annotations

import pytest

from rnnkit.data import read_csv_wide
from rnnkit.data.errors import DataFileError


def _read(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return read_csv_wide(str(path))


def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path):
    with pytest.raises(DataFileError, match=r"line 3, column 'b'.*quote \(\"\) not closed") as err:
        _read(tmp_path, 'a,b\n1,2\n3,"4\n5,6\n7,8\n')
    assert "line 5" not in str(err.value)


def test_a_record_with_too_many_fields_over_several_lines_names_its_first_line(tmp_path):
    with pytest.raises(DataFileError, match=r"line 3.*expected 2 fields.*quote \(\"\) not closed"):
        _read(tmp_path, 'a,b\n1,2\n3,"4\n5",6\n7,8\n')


def test_lines_count_blank_lines_and_single_line_quotes_read_as_values(tmp_path):
    with pytest.raises(DataFileError, match=r"line 5, column 'b': expected a number, got 'x'\. Fix") as err:
        _read(tmp_path, 'a,b\n\n1,"2"\n\n3,x\n')
    assert "quote" not in str(err.value)
    series = _read(tmp_path, 'a,b\n1,"2"\n3,"4.5"\n')
    assert series.values.tolist() == [[1.0, 2.0], [3.0, 4.5]]
