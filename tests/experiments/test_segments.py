"""Segment effects: scipy/statsmodels references, heterogeneity test and refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests

from paribus.errors import DataError, ParameterError
from paribus.experiments.segments import CORRECTIONS, heterogeneity_test, segment_effects
from paribus.results import EffectTable


def _data(effects: dict[str, float], n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for k, (seg, tau) in enumerate(effects.items()):
        t = rng.integers(0, 2, n)
        y = 1.0 + k + tau * t + rng.normal(scale=1.0 + 0.3 * k, size=n)
        frames.append(pd.DataFrame({"t": t, "y": y, "seg": seg}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("correction", ["holm", "bonferroni", "fdr_bh", "hommel", "none"])
def test_matches_welch_and_multipletests(correction: str) -> None:
    df = _data({"ios": 0.2, "android": 0.0, "web": 0.1, "tv": -0.05})
    table = segment_effects(df, treatment="t", outcome="y", segment="seg", correction=correction)
    assert isinstance(table, EffectTable)
    assert table.labels == ("android", "ios", "tv", "web")  # sorted
    raw = []
    for label, eff in zip(table.labels, table, strict=True):
        sub = df[df.seg == label]
        yt, yc = sub.y[sub.t == 1], sub.y[sub.t == 0]
        ref = stats.ttest_ind(yt, yc, equal_var=False)
        assert eff.estimate == pytest.approx(yt.mean() - yc.mean(), abs=1e-12)
        assert eff.p_value == pytest.approx(ref.pvalue, rel=1e-8)
        assert eff.diagnostics["share"] == pytest.approx(len(sub) / len(df))
        raw.append(ref.pvalue)
    expected = raw if correction == "none" else multipletests(raw, method=correction)[1]
    got = [e.diagnostics["p_adjusted"] for e in table]
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    assert all(e.diagnostics["correction"] == correction for e in table)


def test_cochran_q_matches_statsmodels() -> None:
    df = _data({"a": 0.5, "b": 0.0, "c": 0.2, "d": 0.1, "e": 0.3}, seed=3)
    table = segment_effects(df, treatment="t", outcome="y", segment="seg")
    het = heterogeneity_test(table)
    est = np.array([e.estimate for e in table])
    var = np.array([e.std_error for e in table]) ** 2
    ref = combine_effects(est, var, method_re="chi2")
    assert het.statistic == pytest.approx(ref.q, rel=1e-8)
    assert het.i_squared == pytest.approx(max(0.0, ref.i2), abs=1e-8)
    assert het.pooled == pytest.approx(ref.mean_effect_fe, rel=1e-8)
    assert het.df == 4
    assert het.p_value == pytest.approx(stats.chi2.sf(ref.q, 4), rel=1e-10)
    assert "Cochran's Q" in str(het)


def test_heterogeneity_detected_and_null_calibrated() -> None:
    strong = segment_effects(
        _data({"a": 1.0, "b": 0.0, "c": -0.5}, n=800), treatment="t", outcome="y", segment="seg"
    )
    assert heterogeneity_test(strong).p_value < 1e-6
    # equal effects: Q ~ chi2(S-1), so its p-values are ~uniform over replications
    pvals = [
        heterogeneity_test(
            segment_effects(
                _data({"a": 0.3, "b": 0.3, "c": 0.3}, n=300, seed=s),
                treatment="t",
                outcome="y",
                segment="seg",
            )
        ).p_value
        for s in range(60)
    ]
    assert stats.kstest(pvals, "uniform").pvalue > 0.001


def test_invariant_to_row_order_and_outcome_shift() -> None:
    df = _data({"a": 0.2, "b": 0.1})
    base = segment_effects(df, treatment="t", outcome="y", segment="seg")
    shuffled = df.sample(frac=1.0, random_state=1).assign(y=lambda d: d.y + 100.0)
    other = segment_effects(shuffled, treatment="t", outcome="y", segment="seg")
    for a, b in zip(base, other, strict=True):
        assert a.estimate == pytest.approx(b.estimate, abs=1e-9)
        assert a.std_error == pytest.approx(b.std_error, rel=1e-9)


def test_numeric_segments_sorted_numerically() -> None:
    df = _data({"x": 0.1, "y": 0.1, "z": 0.1})
    df["seg"] = df.seg.map({"x": 10, "y": 2, "z": 1})
    table = segment_effects(df, treatment="t", outcome="y", segment="seg")
    assert table.labels == ("1", "2", "10")


def test_refusals() -> None:
    df = _data({"a": 0.1, "b": 0.2})
    with pytest.raises(ParameterError, match="correction must be one of"):
        segment_effects(df, treatment="t", outcome="y", segment="seg", correction="tukey")
    with pytest.raises(DataError, match="segment column 'region' is not in the data"):
        segment_effects(df, treatment="t", outcome="y", segment="region")
    tiny = pd.concat([df, pd.DataFrame({"t": [1, 0], "y": [1.0, 2.0], "seg": "c"})])
    with pytest.raises(DataError, match="seg=c: each arm needs at least 2 units"):
        segment_effects(tiny, treatment="t", outcome="y", segment="seg")
    missing = df.assign(seg=df.seg.where(df.index > 0))
    with pytest.raises(DataError, match="1 missing values"):
        segment_effects(missing, treatment="t", outcome="y", segment="seg")
    table = segment_effects(df, treatment="t", outcome="y", segment="seg")
    with pytest.raises(DataError, match="at least 2 segment effects"):
        heterogeneity_test(table[:1])
    assert "none" in CORRECTIONS


@pytest.mark.parametrize("seed", range(5))
def test_hand_holm_equals_statsmodels(seed: int) -> None:
    from paribus.experiments.segments import adjust_pvalues

    rng = np.random.default_rng(seed)
    p = rng.uniform(size=12) ** 3
    p[3] = p[7]  # a tie
    np.testing.assert_allclose(
        adjust_pvalues(p, "holm"), multipletests(p, method="holm")[1], rtol=1e-12, atol=0
    )
