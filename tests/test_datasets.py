"""Shipped datasets load offline with the documented shapes, dtypes and no NaN; each has its
README with source and licence; the text corpus comes from the running interpreter."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import rnnkit.datasets as ds
from rnnkit.metrics import guess_seasonal_period

DATA = pathlib.Path(ds.__file__).parent / "data"


@pytest.mark.parametrize("loader,n,first,last", [
    (ds.load_co2, 526, "1958-03", "2001-12"),
    (ds.load_elnino, 732, "1950-01", "2010-12"),
])
def test_monthly_series(loader, n, first, last):
    values, months = loader()
    assert values.shape == (n,) and values.dtype == np.float64
    assert months.dtype == np.dtype("datetime64[M]")
    assert (str(months[0]), str(months[-1])) == (first, last)
    assert np.all(np.diff(months).astype(int) == 1), "one row per month, no gaps"
    assert np.all(np.isfinite(values))
    assert guess_seasonal_period(values) == 12


def test_co2_values_are_plausible():
    values, _ = ds.load_co2()
    assert 310 < values[0] < 320 and 365 < values[-1] < 375
    assert values[-24:].mean() > values[:24].mean() + 50


def test_monthly_series_as_pandas():
    pd = pytest.importorskip("pandas")
    s = ds.load_co2(as_frame=True)
    assert isinstance(s, pd.Series) and s.name == "co2" and len(s) == 526
    assert s.index.freqstr == "MS" and str(s.index[0].date()) == "1958-03-01"
    with pytest.raises(TypeError, match="as_frame"):
        ds.load_elnino(as_frame="yes")


def test_italy_power_demand():
    X_tr, y_tr, X_te, y_te = ds.load_italy_power_demand()
    assert X_tr.shape == (67, 24, 1) and X_te.shape == (1029, 24, 1)
    assert X_tr.dtype == np.float64 and y_tr.dtype == np.int64
    assert set(np.unique(y_tr)) == {0, 1} and np.bincount(y_te).tolist() == [513, 516]
    assert np.all(np.isfinite(X_tr)) and np.all(np.isfinite(X_te))
    np.testing.assert_allclose(X_tr.mean(axis=1), 0, atol=1e-6)  # z-normalised per series


def test_japanese_vowels():
    X_tr, y_tr, X_te, y_te = ds.load_japanese_vowels()
    assert len(X_tr) == 270 and len(X_te) == 370
    assert all(x.ndim == 2 and x.shape[1] == 12 and 7 <= x.shape[0] <= 29 for x in X_tr + X_te)
    assert np.bincount(y_tr).tolist() == [30] * 9 and y_te.max() == 8
    assert all(np.all(np.isfinite(x)) for x in X_tr)


def test_text_corpus_is_read_from_the_interpreter():
    text = ds.load_text_corpus()
    assert len(text) > 100_000
    assert text.startswith("# ===== module: textwrap =====")
    assert "def " in text and "import " in text
    short = ds.load_text_corpus(max_chars=500)
    assert short == text[:500]
    assert ds.load_text_corpus(modules=["bisect"]).count("# ===== module:") == 1
    assert ds.load_text_corpus(modules=["no_such_module_xyz", "bisect"]).startswith("# ===== module: bisect")


def test_text_corpus_bad_arguments():
    with pytest.raises(ValueError, match="max_chars"):
        ds.load_text_corpus(max_chars=0)
    with pytest.raises(ValueError, match="no_such_module_xyz"):
        ds.load_text_corpus(modules=["no_such_module_xyz"])
    with pytest.raises(TypeError, match=r"modules=\['bisect'\]"):
        ds.load_text_corpus(modules="bisect")


def test_every_shipped_file_is_small_and_documented():
    folders = [p for p in DATA.iterdir() if p.is_dir()]
    assert len(folders) >= 3
    for folder in folders:
        readme = folder / "README.md"
        assert readme.is_file(), f"{folder.name} has no README.md"
        text = readme.read_text().lower()
        assert "source" in text and "licen" in text, f"{readme} must give the source and the licence"
        for f in folder.iterdir():
            assert f.stat().st_size < 400_000, f"{f} is too big to ship"
