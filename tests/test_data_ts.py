"""UCR/UEA .ts reader: univariate / multivariate, equal / unequal length, labels, targets,
missing values, gzip, and clear errors naming the file and line for malformed files."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest

from rnnkit.data import DataFileError, read_ts

UNIVARIATE = """# A comment
#   spanning two lines
@problemName Tiny
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 4
@classLabel true up down
@data
1,2,3,4:up
4,3,2,1:down
0.5,1.5,2.5,3.5:up
"""

MULTIVARIATE = """@problemname Motion
@univariate false
@dimensions 2
@equallength false
@classlabel true a b c
@data
1,2,3:10,20,30:b
4,5:40,50:c
"""


def write(tmp_path, text, name="x.ts"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_univariate_equal_length_with_labels(tmp_path):
    ts = read_ts(write(tmp_path, UNIVARIATE))
    assert isinstance(ts.X, np.ndarray) and ts.X.shape == (3, 4, 1) and ts.X.dtype == np.float64
    np.testing.assert_array_equal(ts.X[1, :, 0], [4, 3, 2, 1])
    assert list(ts.y) == ["up", "down", "up"]
    assert ts.class_labels == ["up", "down"]
    np.testing.assert_array_equal(ts.encoded_labels(), [0, 1, 0])
    np.testing.assert_array_equal(ts.lengths, [4, 4, 4])
    assert ts.header["problemname"] == "Tiny" and ts.header["serieslength"] == 4
    assert ts.header["univariate"] is True


def test_multivariate_unequal_length_tags_are_case_insensitive(tmp_path):
    ts = read_ts(write(tmp_path, MULTIVARIATE))
    assert isinstance(ts.X, list) and [x.shape for x in ts.X] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(ts.X[0][:, 1], [10, 20, 30])  # dimension 1 is channel 1
    np.testing.assert_array_equal(ts.encoded_labels(), [1, 2])
    np.testing.assert_array_equal(ts.lengths, [3, 2])


def test_regression_targets_no_labels_and_streams(tmp_path):
    ts = read_ts(io.StringIO("@problemName R\n@univariate true\n@targetLabel true\n@data\n1,2:0.5\n3,4:1.5\n"))
    assert ts.y.dtype == np.float64 and list(ts.y) == [0.5, 1.5]
    assert ts.class_labels is None
    with pytest.raises(ValueError, match="no class labels"):
        ts.encoded_labels()
    ts = read_ts(io.StringIO("@univariate true\n@classLabel false\n@data\n1,2,3\n"))
    assert ts.y is None and ts.X.shape == (1, 3, 1)


def test_gzip_files_and_unknown_tags(tmp_path):
    path = tmp_path / "x.ts.gz"
    with gzip.open(path, "wt") as f:
        f.write(UNIVARIATE.replace("@data", "@source somewhere\n@data"))
    ts = read_ts(str(path))
    assert ts.X.shape == (3, 4, 1) and ts.header["source"] == "somewhere"


def test_missing_values_refused_or_filled(tmp_path):
    text = UNIVARIATE.replace("@missing false", "@missing true").replace("4,3,2,1:down", "4,?,2,?:down")
    with pytest.raises(DataFileError, match=r"x.ts', line 12, column 'dimension 0': missing value '\?'.*fill="):
        read_ts(write(tmp_path, text))
    ts = read_ts(write(tmp_path, text), fill="interpolate")
    np.testing.assert_array_equal(ts.X[1, :, 0], [4, 3, 2, 2])
    ts = read_ts(write(tmp_path, text), fill="ffill")
    np.testing.assert_array_equal(ts.X[1, :, 0], [4, 4, 2, 2])


@pytest.mark.parametrize("text,line,match", [
    (UNIVARIATE.split("@data")[0], None, "no @data line"),
    (UNIVARIATE.split("@data")[0] + "@data\n", None, "no cases after @data"),
    (UNIVARIATE.replace("@univariate true", "@univariate maybe"), 6, "@univariate must be 'true' or 'false'"),
    (UNIVARIATE.replace("@seriesLength 4", "@seriesLength four"), 8, "@serieslength must be a positive integer"),
    (UNIVARIATE.replace("@classLabel true up down", "@classLabel true"), 9, "must list the class labels"),
    (UNIVARIATE.replace("@problemName Tiny", "@problemName Tiny\n@problemName Again"), 4, "appears twice"),
    (UNIVARIATE.replace("@problemName Tiny", "problemName Tiny"), 3, "expected a header line starting with '@'"),
    (UNIVARIATE.replace("4,3,2,1:down", "4,3,2,1:sideways"), 12, "class label 'sideways' is not among"),
    (UNIVARIATE.replace("4,3,2,1:down", "4,3,x,1:down"), 12, "value 2 is 'x', not a number"),
    (UNIVARIATE.replace("4,3,2,1:down", "4,3,2:down"), 12, "has 3 time steps, but the header declares equal lengths"),
    (UNIVARIATE.replace("4,3,2,1:down", "4,3,2,1:5,6,7,8:down"), 12, r"expected 1 dimension\(s\)"),
    (UNIVARIATE.replace("@timeStamps false", "@timeStamps true"), 10, "timestamped"),
    (UNIVARIATE.replace("@univariate true", "@univariate true\n@dimensions 3"), 11, "contradicts"),
    (MULTIVARIATE.replace("4,5:40,50:c", "4,5:40:c"), 8, "has 1 values but dimension 0 has 2"),
    (MULTIVARIATE.replace("4,5:40,50:c", "4,5:c"), 8, r"expected 2 dimension\(s\)"),
    ("@univariate true\n@data\n1,2,3:up\n", 3, "declare it with '@classLabel true"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, match):
    with pytest.raises(DataFileError, match=match) as info:
        read_ts(write(tmp_path, text, "bad.ts"))
    assert info.value.line == line
    assert "bad.ts" in str(info.value)
    if line is not None:
        assert f"line {line}" in str(info.value)


def test_missing_file_and_bad_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ts"):
        read_ts(str(tmp_path / "nope.ts"))
    with pytest.raises(TypeError, match="path or a text stream"):
        read_ts(42)


def test_a_tab_after_a_header_tag_separates_it_from_its_value(tmp_path):
    ts = read_ts(io.StringIO("@problemName\tT\n@univariate\ttrue\n@classLabel\ttrue 1 2\n@data\n1,2,3:1\n"))
    assert ts.class_labels == ["1", "2"] and ts.header["univariate"] is True and ts.header["problemname"] == "T"


def test_a_dimension_with_no_values_gets_ts_advice_under_fill():
    text = "@problemName T\n@univariate false\n@dimensions 2\n@classLabel true a\n@data\n1,2:3,4:a\n1,2:?,?:a\n"
    with pytest.raises(DataFileError, match=r"line 7, column 'dimension 1': every value of this dimension is "
                                            r"missing .*fill='ffill' has nothing to fill it from.*remove the case"):
        read_ts(io.StringIO(text), fill="ffill")
