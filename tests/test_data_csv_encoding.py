"""CSV text that is not UTF-8, and streams: the error names the line and the byte where the file
is read by its path (also past the reader's first chunk), and a stream that yields text is read
whatever its ``mode`` says (codecs' readers say 'rb')."""

from __future__ import annotations

import codecs
import io

import pytest

from rnnkit.cli.main import main
from rnnkit.data import read_csv_wide
from rnnkit.data.errors import DataFileError


def _latin1_file(tmp_path, rows):
    path = tmp_path / "l1.csv"
    path.write_bytes(("time,v\n" + "".join(f"{i},{i}.5\n" for i in range(rows)) + f"{rows},caf\xe9\n")
                     .encode("latin-1"))
    return path


def test_a_byte_that_is_not_utf8_far_into_the_file_is_named_with_its_line(tmp_path):
    path = _latin1_file(tmp_path, 3000)  # about 33 kB: past the decoder's first chunk
    offset = path.read_bytes().index(b"\xe9")
    with pytest.raises(DataFileError, match=rf"line 3002: byte 0xe9 \(offset {offset}\) is not UTF-8 text"):
        read_csv_wide(str(path), time_column="time")


def test_the_command_line_names_the_same_line(tmp_path, capsys):
    path = _latin1_file(tmp_path, 3000)
    code = main(["forecast", "fit", str(path), "--target", "v", "--time", "time", "--horizon", "2",
                 "--out", str(tmp_path / "out")])
    assert code != 0
    assert "line 3002: byte 0xe9" in capsys.readouterr().err


def test_a_codecs_reader_is_a_text_stream(tmp_path):
    path = tmp_path / "l1.csv"
    path.write_bytes("time,v\n1,2.5\n2,3.5\n".encode("latin-1"))
    with codecs.open(str(path), "r", encoding="latin-1") as f:
        series = read_csv_wide(f, time_column="time")
    assert series.values.ravel().tolist() == [2.5, 3.5]


def test_a_binary_stream_is_refused_whatever_its_class(tmp_path):
    class Reader:  # not an io class: only what it yields tells
        def __init__(self):
            self.f = io.BytesIO(b"a,b\n1,2\n")

        def read(self, *args):
            return self.f.read(*args)

        def __iter__(self):
            return iter(self.f)

    for stream in (io.BytesIO(b"a,b\n1,2\n"), Reader()):
        with pytest.raises(TypeError, match="Expected a text stream, got a binary one"):
            read_csv_wide(stream)
