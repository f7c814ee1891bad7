"""Series input: formats, frequency, bad input naming series and row, scaling, windows without leaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.series import Scaler, SeriesError, calendar, check_lengths, load_series, windows


def long_table(n: int = 30) -> pd.DataFrame:
    times = pd.date_range("2020-01-01", periods=n, freq="MS")
    a = pd.DataFrame({"series_id": "a", "timestamp": times, "value": np.arange(n, dtype=float)})
    b = pd.DataFrame({"series_id": "b", "timestamp": times[:20], "value": 100 + np.arange(20.0),
                      "price": np.ones(20)})
    return pd.concat([a.assign(price=2.0), b], ignore_index=True)


def test_long_dataframe_csv_and_parquet_agree(tmp_path):
    table = long_table()
    table.to_csv(tmp_path / "s.csv", index=False)
    sources = [table, tmp_path / "s.csv"]
    try:
        table.to_parquet(tmp_path / "s.parquet")          # needs pyarrow (the forecast extra)
        sources.append(tmp_path / "s.parquet")
    except ImportError:
        pass
    for source in sources:
        panel = load_series(source)
        assert panel.ids == ["a", "b"] and panel.freq == "MS"
        assert [len(v) for v in panel.values] == [30, 20]
        assert panel.covariate_names == ("price",) and panel.covariates[1].shape == (20, 1)
        np.testing.assert_array_equal(panel.values[1], 100 + np.arange(20.0))
    assert list(load_series(table).future_times(1, 2)) == list(pd.to_datetime(["2021-09-01", "2021-10-01"]))


def test_single_series_csv_and_given_frequency(tmp_path):
    (tmp_path / "air.csv").write_text("timestamp,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n")
    panel = load_series(tmp_path / "air.csv")
    assert panel.ids == ["series"] and panel.freq == "D"
    assert load_series(tmp_path / "air.csv", freq="D").freq == "D"
    with pytest.raises(SeriesError, match="irregular spacing at row 1"):
        load_series(tmp_path / "air.csv", freq="2D")


def test_integer_timestamps():
    panel = load_series(pd.DataFrame({"timestamp": [1990, 1991, 1992], "value": [1.0, 2.0, 3.0]}))
    assert panel.freq == "int" and list(panel.future_times(0, 2)) == [1993, 1994]


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.assign(timestamp=t.timestamp.where(t.index != 34, t.timestamp[33])),
     r"series 'b': duplicate timestamp .* at row 34"),
    (lambda t: t.iloc[[*range(33), 34, 33, *range(35, 50)]].reset_index(drop=True),
     r"series 'b': decreasing timestamp .* at row 34"),
    (lambda t: t.drop(index=40).reset_index(drop=True),
     r"series 'b': irregular spacing at row 40: timestamp 2020-12-01"),
    (lambda t: t.assign(value=t.value.where(t.index != 5)), r"series 'a': value is missing \(NaN\) at row 5"),
    (lambda t: t.astype({"value": object}).assign(value=lambda d: d.value.where(d.index != 7, "n/a")),
     r"series 'a': value 'n/a' at row 7 is not a number"),
    (lambda t: t.assign(price=t.price.where(t.index != 45)), r"series 'b': price is missing \(NaN\) at row 45"),
    (lambda t: t.astype({"timestamp": object}).assign(timestamp=lambda d: d.timestamp.where(d.index != 3, "x")),
     r"timestamp 'x' at row 3 is not a date"),
])
def test_bad_input_names_series_and_row(edit, message):
    with pytest.raises(SeriesError, match=message):
        load_series(edit(long_table()))


def test_fill_policy_and_mixed_frequencies():
    table = long_table()
    table.loc[5, "value"] = np.nan
    assert load_series(table, missing="ffill").values[0][5] == 4.0
    assert load_series(table, missing="interpolate").values[0][5] == 5.0
    days = pd.DataFrame({"series_id": "c", "timestamp": pd.date_range("2020", periods=5, freq="D"), "value": 1.0})
    with pytest.raises(SeriesError, match="different frequencies"):
        load_series(pd.concat([long_table()[["series_id", "timestamp", "value"]], days]))


def test_short_series_are_named_never_dropped():
    panel = load_series(long_table())
    check_lengths(panel, 20)
    with pytest.raises(SeriesError, match=r"1 series are shorter than .* = 21: 'b' \(20 points\)"):
        check_lengths(panel, 21)


@pytest.mark.parametrize("kind", ["standard", "mean", "none"])
def test_scaling_round_trips(kind):
    rng = np.random.default_rng(0)
    values = [rng.normal(50, 10, 40), rng.normal(-3, 0.01, 7), np.full(5, 2.5)]
    scaler = Scaler.fit(values, kind)
    back = scaler.inverse(scaler.transform(values))
    for v, b in zip(values, back):
        np.testing.assert_allclose(b, v, rtol=1e-14, atol=1e-12)
    if kind == "standard":
        z = scaler.transform(values)[0]
        assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12
    assert np.allclose(scaler.inverse([np.zeros(2)], index=[1])[0], scaler.shift[1])


@pytest.mark.parametrize("kind", ["standard", "mean"])
def test_scaling_huge_values_neither_overflows_nor_zeroes_the_series(kind):
    values = [np.array([1.0, 2.0, 3e200, 4.0, 5e200])]          # squares overflow float64 above ~1e154
    scaler = Scaler.fit(values, kind)
    z = scaler.transform(values)[0]
    assert np.isfinite(scaler.scale).all() and np.isfinite(z).all() and np.ptp(z) > 1
    np.testing.assert_allclose(scaler.inverse([z])[0], values[0], rtol=1e-12, atol=1e-12 * 5e200)   # float64 spacing
    if kind == "standard":
        assert abs(z.std() - 1) < 1e-12


def test_windows_never_read_past_the_cutoff():
    values = [np.arange(20.0), np.arange(100.0, 112.0)]
    ends = [14, 9]                                         # held-out parts start here
    poisoned = [v.copy() for v in values]
    for v, e in zip(poisoned, ends):
        v[e:] = np.nan                                     # any read of a held-out point would show
    x, y, owner = windows(poisoned, input_size=4, horizon=3, ends=ends)
    assert np.isfinite(x).all() and np.isfinite(y).all()
    assert list(np.bincount(owner)) == [14 - 7 + 1, 9 - 7 + 1]
    np.testing.assert_array_equal(x[0, :, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(y[7], [11, 12, 13])      # the last training target ends at point 13
    assert y[owner == 1].max() == 108.0


def test_calendar_features():
    monthly = calendar(pd.date_range("2020-01-01", periods=12, freq="MS"), "MS")
    assert monthly.shape == (12, 2) and np.abs(monthly).max() <= 1
    assert calendar(pd.date_range("2020", periods=48, freq="h"), "h").shape == (48, 6)
    assert calendar(pd.date_range("2020", periods=3, freq="YS"), "YS").shape == (3, 0)
