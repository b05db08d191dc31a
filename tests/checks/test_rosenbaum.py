"""Rosenbaum bounds for the signed-rank test: a published example, scipy at Gamma = 1,
monotonicity, pairs from a fitted Matching, refusals and the plot."""

from __future__ import annotations

import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paribus import Matching
from paribus.checks.rosenbaum import RosenbaumBounds, rosenbaum_bounds
from paribus.errors import DataError, NotFittedError, ParameterError

matplotlib.use("Agg")

# Blood lead (ug/dl) of 33 children of battery-factory workers and of 33 matched
# controls (same age and neighbourhood): Morton et al. (1982), Am. J. Epidemiology
# 115, analysed in Rosenbaum (2002), Observational Studies, Sec. 4.3.3; values as
# printed in D. Small's Stat 921 Notes 16 (Wharton), which report V = 499.
EXPOSED = [38, 23, 41, 18, 37, 36, 23, 62, 31, 34, 24, 14, 21, 17, 16, 20, 15, 10,
           45, 39, 22, 35, 49, 48, 44, 35, 43, 39, 34, 13, 73, 25, 27]  # fmt: skip
CONTROL = [16, 18, 18, 24, 19, 11, 10, 15, 16, 18, 18, 13, 19, 10, 16, 16, 24, 13, 9,
           14, 21, 19, 7, 18, 19, 12, 11, 22, 25, 16, 13, 11, 13]  # fmt: skip
LEAD = np.subtract(EXPOSED, CONTROL)


def test_lead_example_loses_significance_between_4_25_and_4_5():
    res = rosenbaum_bounds(LEAD, gamma=[1, 2, 3, 4, 4.25, 4.5, 5])
    assert res.statistic == 499  # the signed-rank statistic the notes report
    assert res.n_pairs == 32 and res.n_zero == 1
    # Rosenbaum (2002, Sec. 4.3.3): the signed-rank test stays significant at 0.05
    # up to Gamma = 4.25 and not at 4.5
    assert 4.25 < res.gamma_critical < 4.5
    p_upper = dict(zip(res.gamma, res.p_upper, strict=True))
    assert p_upper[4.25] < 0.05 < p_upper[4.5]
    assert p_upper[4.0] == pytest.approx(0.0367, abs=5e-4)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("correction", [False, True])
def test_gamma_one_is_scipy_wilcoxon_normal_approximation(seed, correction):
    rng = np.random.default_rng(seed)
    diff = np.round(rng.normal(0.3, 1, size=60), 1)  # rounding makes ties and zeros
    diff[:3] = 0.0
    ref = stats.wilcoxon(
        diff, alternative="greater", method="approx", zero_method="wilcox", correction=correction
    )
    res = rosenbaum_bounds(diff, gamma=[1.0], correction=correction)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p_upper[0] == pytest.approx(ref.pvalue, rel=1e-10)
    assert res.p_lower[0] == pytest.approx(ref.pvalue, rel=1e-10)
    less = rosenbaum_bounds(diff, gamma=[1.0], alternative="less", correction=correction)
    ref_less = stats.wilcoxon(
        diff, alternative="less", method="approx", zero_method="wilcox", correction=correction
    )
    assert less.p_upper[0] == pytest.approx(ref_less.pvalue, rel=1e-10)


def test_bounds_are_monotone_in_gamma_and_bracket_the_critical_value():
    grid = np.linspace(1, 8, 40)
    res = rosenbaum_bounds(LEAD, gamma=grid)
    assert np.all(np.diff(res.p_upper) > 0) and np.all(np.diff(res.p_lower) < 0)
    assert all(lo <= hi for lo, hi in zip(res.p_lower, res.p_upper, strict=True))
    at = rosenbaum_bounds(LEAD, gamma=[res.gamma_critical])
    assert at.p_upper[0] == pytest.approx(0.05, abs=1e-8)


def test_not_significant_without_bias_gives_gamma_one():
    res = rosenbaum_bounds([1.0, -2.0, 3.0, -4.0, 0.5, -0.7])
    assert res.gamma_critical == 1.0


def test_result_is_frozen_printable_and_serialises():
    res = rosenbaum_bounds(LEAD)
    with pytest.raises(AttributeError):
        res.alpha = 0.1  # type: ignore[misc]
    frame = res.to_frame()
    assert list(frame.columns) == ["p_lower", "p_upper"] and len(frame) == 9
    assert "Gamma" in str(res) and "4.4" in str(res)
    json.dumps(res.to_dict())
    assert isinstance(res, RosenbaumBounds)
    ax = res.plot()
    assert ax.get_xlabel() == "Gamma"
    plt.close("all")


def _matched_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(1.5 - 0.5 * x))).astype(float)
    y = 1.0 * t + x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "t": t, "y": y})


def test_pairs_from_one_to_one_matching_without_replacement():
    frame = _matched_frame()
    m = Matching(estimand="ATT", n_neighbors=1, replace=False, random_state=0)
    m.fit(frame, "t", "y", ["x"])
    res = rosenbaum_bounds(m, data=frame, treatment="t", outcome="y")
    treated = np.flatnonzero(frame["t"].to_numpy() == 1)
    control = m.matches_[treated, 0]
    y = frame["y"].to_numpy()
    by_hand = rosenbaum_bounds(y[treated] - y[control])
    assert res == by_hand
    assert np.mean(y[treated] - y[control]) == pytest.approx(m.result_.estimate)


def test_refusals():
    with pytest.raises(ParameterError, match="gamma"):
        rosenbaum_bounds(LEAD, gamma=[0.5, 1])
    with pytest.raises(ParameterError, match="gamma"):
        rosenbaum_bounds(LEAD, gamma=[])
    with pytest.raises(ParameterError, match="alpha"):
        rosenbaum_bounds(LEAD, alpha=0.7)
    with pytest.raises(ParameterError, match="alternative"):
        rosenbaum_bounds(LEAD, alternative="two-sided")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="NaN"):
        rosenbaum_bounds([1.0, np.nan, 2.0])
    with pytest.raises(DataError, match="one-dimensional"):
        rosenbaum_bounds(np.ones((3, 2)))
    with pytest.raises(DataError, match="nonzero"):
        rosenbaum_bounds([0.0, 0.0, 1.0])
    frame = _matched_frame()
    with pytest.raises(NotFittedError):
        rosenbaum_bounds(Matching(n_neighbors=1), data=frame, treatment="t", outcome="y")
    m2 = Matching(estimand="ATT", n_neighbors=2).fit(frame, "t", "y", ["x"])
    with pytest.raises(ParameterError, match="n_neighbors"):
        rosenbaum_bounds(m2, data=frame, treatment="t", outcome="y")
    rep = Matching(estimand="ATT", n_neighbors=1, replace=True).fit(frame, "t", "y", ["x"])
    if len(np.unique(rep.matches_[rep.matches_[:, 0] >= 0, 0])) < (rep.matches_[:, 0] >= 0).sum():
        with pytest.raises(ParameterError, match="more than one matched pair"):
            rosenbaum_bounds(rep, data=frame, treatment="t", outcome="y")
    ok = Matching(estimand="ATT", n_neighbors=1, replace=False).fit(frame, "t", "y", ["x"])
    with pytest.raises(ParameterError, match="data="):
        rosenbaum_bounds(ok)
    with pytest.raises(DataError, match="rows"):
        rosenbaum_bounds(ok, data=frame.iloc[:-1], treatment="t", outcome="y")
