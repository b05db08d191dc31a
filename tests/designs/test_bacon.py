"""Goodman-Bacon (2021) decomposition: exactness against TWFE, weights, refusals."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from paribus.designs.did.bacon import bacon_decomposition
from paribus.designs.did.twfe import TWFE
from paribus.errors import DataError


def _panel(cohorts, n_periods=8, seed=0):
    """Balanced panel; cohort 1 = treated from the first period (always treated), inf never."""
    rng = np.random.default_rng(seed)
    g = np.asarray(cohorts, dtype=float)
    unit = np.repeat(np.arange(g.size), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), g.size)
    d = (t >= g[unit]).astype(float)
    exposure = np.where(d == 1, t - np.where(np.isfinite(g[unit]), g[unit], 0), 0.0)
    y = rng.normal(size=g.size)[unit] + 0.2 * t + d * (1 + 0.3 * exposure) + rng.normal(size=t.size)
    return pd.DataFrame({"unit": unit, "t": t, "d": d, "y": y})


def _twfe(df, **kw):
    return TWFE().fit(df, outcome="y", treatment="d", unit="unit", time="t", **kw).result_.estimate


@pytest.mark.parametrize(
    "groups",
    [
        [3, 5, np.inf],  # timing groups and never treated
        [3, 5, 6],  # timing groups only
        [1, 3, 6, np.inf],  # always treated too
        [1, 4],  # always treated and one timing group
    ],
)
def test_weighted_sum_equals_twfe_exactly(groups):
    rng = np.random.default_rng(len(groups))
    df = _panel(rng.choice(groups, size=90), seed=len(groups))
    res = bacon_decomposition(df, outcome="y", treatment="d", unit="unit", time="t")
    assert res.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (res.table["weight"] >= 0).all()
    assert res.twfe == pytest.approx(_twfe(df), abs=1e-10)


def test_mpdta_decomposition(shared_datasets):
    df = pd.read_csv(shared_datasets / "mpdta.csv")
    df["d"] = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).astype(float)
    kw = {"outcome": "lemp", "treatment": "d", "unit": "countyreal", "time": "year"}
    res = bacon_decomposition(df, **kw)
    twfe = TWFE().fit(df, **kw).result_.estimate
    assert res.twfe == pytest.approx(twfe, abs=1e-10)
    # 3 timing groups + never treated: 3 treated-vs-never and 3 pairs x 2 timing 2x2s
    assert res.table["type"].value_counts().to_dict() == {
        "treated vs never treated": 3,
        "earlier vs later treated": 3,
        "later vs earlier treated": 3,
    }
    forbidden = res.table.loc[res.table["type"] == "later vs earlier treated", "weight"].sum()
    assert res.forbidden_weight == pytest.approx(forbidden, abs=1e-15)
    assert f"{res.forbidden_weight:.1%}" in res.summary()


def test_two_by_two_estimates_by_hand():
    """One early and one late group: each 2x2 is a difference of cell-mean changes."""
    df = _panel(np.repeat([3.0, 6.0], 20), n_periods=8, seed=5)
    res = bacon_decomposition(df, outcome="y", treatment="d", unit="unit", time="t")
    m = df.groupby([df["unit"] >= 20, "t"])["y"].mean().unstack()  # rows: False=early, True=late
    early, late = m.loc[False], m.loc[True]
    t = m.columns.to_numpy()
    win = t < 6
    pre, post = win & (t < 3), win & (t >= 3)
    want = (early[post].mean() - early[pre].mean()) - (late[post].mean() - late[pre].mean())
    row = res.table[res.table["type"] == "earlier vs later treated"].iloc[0]
    assert row["estimate"] == pytest.approx(want, abs=1e-12)
    win = t >= 3
    pre, post = win & (t < 6), t >= 6
    want = (late[post].mean() - late[pre].mean()) - (early[post].mean() - early[pre].mean())
    row = res.table[res.table["type"] == "later vs earlier treated"].iloc[0]
    assert row["estimate"] == pytest.approx(want, abs=1e-12)
    # equal group sizes: weights from Goodman-Bacon eq. 10b/10c, D_k = 6/8, D_l = 3/8
    dk, dl = 6 / 8, 3 / 8
    wk = (1 - dl) ** 2 * 0.25 * (dk - dl) / (1 - dl) * (1 - dk) / (1 - dl)
    wl = dk**2 * 0.25 * (dl / dk) * (dk - dl) / dk
    assert res.table["weight"].to_numpy() == pytest.approx([wk / (wk + wl), wl / (wk + wl)])


def test_plot_returns_axes():
    df = _panel(np.random.default_rng(1).choice([3, 5, np.inf], size=60))
    res = bacon_decomposition(df, outcome="y", treatment="d", unit="unit", time="t")
    ax = res.plot()
    assert ax.get_xlabel() == "weight"
    assert len(ax.collections) == res.table["type"].nunique()
    plt.close("all")


def test_refusals():
    df = _panel(np.random.default_rng(2).choice([3, 5, np.inf], size=40))
    kw = {"outcome": "y", "treatment": "d", "unit": "unit", "time": "t"}
    with pytest.raises(DataError, match="needs a balanced panel"):
        bacon_decomposition(df.iloc[1:], **kw)
    off = df.assign(d=np.where((df["t"] == 8) & (df["d"] == 1), 0.0, df["d"]))
    with pytest.raises(DataError, match="switches off"):
        bacon_decomposition(off, **kw)
    with pytest.raises(DataError, match="at least two timing groups"):
        bacon_decomposition(_panel(np.full(10, 4.0)), **kw)
    with pytest.raises(DataError, match="not found"):
        bacon_decomposition(df, outcome="nope", treatment="d", unit="unit", time="t")
