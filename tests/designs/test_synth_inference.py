"""Synthetic-control inference: in-space and in-time placebos, leave-one-out, conformal.

Each fast kernel is checked against a slow, obvious reimplementation through the
public API; the conformal intervals against a simulation with a known effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus.designs.synth._data import wide_to_long
from paribus.designs.synth.adh import SyntheticControl, simplex_lstsq
from paribus.designs.synth.inference import (
    conformal_att,
    conformal_intervals,
    conformal_pvalue,
    in_time_placebo,
    leave_one_out,
    placebo_test,
)
from paribus.errors import DataError, ParameterError

PROP99_FIT = dict(
    outcome="packs", unit="state", time="Year", treated_unit="California", treatment_start=1989
)


@pytest.fixture(scope="module")
def prop99(shared_datasets):
    wide = pd.read_csv(shared_datasets / "prop99_california_wide.csv")
    return wide_to_long(wide, time="Year", outcome="packs", unit="state")


@pytest.fixture(scope="module")
def fit(prop99):
    return SyntheticControl(inference=None).fit(prop99, **PROP99_FIT)


@pytest.fixture(scope="module")
def placebo(fit):
    return placebo_test(fit, n_jobs=1)


def test_placebo_matches_refits_by_hand(prop99, fit, placebo):
    controls = prop99[prop99["state"] != "California"]
    for donor in ["Utah", "Missouri", "Texas"]:
        by_hand = SyntheticControl(inference=None).fit(
            controls, **{**PROP99_FIT, "treated_unit": donor}
        )
        np.testing.assert_allclose(placebo.gaps[donor], by_hand.gaps_, atol=1e-9)
        row = placebo.table.loc[donor]
        assert row["pre_rmspe"] == pytest.approx(by_hand.pre_rmspe_, rel=1e-9)
        assert row["ratio"] == pytest.approx(by_hand.post_rmspe_ / by_hand.pre_rmspe_, rel=1e-9)


def test_placebo_p_value_is_rank_of_ratio(placebo):
    table = placebo.table
    assert table.shape[0] == 39 and table.index[0] == "California"
    ratios = table["ratio"].to_numpy()
    rank = int(np.sum(ratios >= ratios[0]))
    assert rank == 3  # outcome-only fit: Missouri and Virginia rank above California
    assert placebo.p_value == pytest.approx(rank / 39)


def test_placebo_exclusion(fit, placebo):
    cut = np.sqrt(5.0)  # ADH 2010 Figure 6: pre-MSPE above 5 times California's
    res = placebo_test(fit, exclude_above=cut, n_jobs=1)
    keep = placebo.table["pre_rmspe"] <= cut * placebo.table["pre_rmspe"].iloc[0]
    np.testing.assert_array_equal(res.table["included"], keep)
    ratios = placebo.table.loc[keep, "ratio"]
    assert res.p_value == pytest.approx(np.mean(ratios >= ratios.iloc[0]))
    assert keep.sum() == 32


def test_placebo_parallel_equals_serial(fit, placebo):
    res = placebo_test(fit, n_jobs=2)
    pd.testing.assert_frame_equal(res.gaps, placebo.gaps)


def test_placebo_inference_in_fit(prop99, placebo):
    est = SyntheticControl(inference="placebo", n_jobs=1).fit(prop99, **PROP99_FIT)
    assert est.result_.p_value == pytest.approx(placebo.p_value)
    assert est.result_.std_error == pytest.approx(placebo.table["att"].iloc[1:].std(ddof=1))


def test_in_time_placebo(prop99, fit):
    fake = in_time_placebo(fit, prop99, fake_start=1980)
    assert fake.panel_.times.max() == 1988
    assert fake.result_.inference == "none"
    # no treatment before 1989: the placebo "effect" is small next to the real one
    assert abs(fake.result_.estimate) < 0.25 * abs(fit.result_.estimate)
    by_hand = SyntheticControl(inference=None).fit(
        prop99[prop99["Year"] < 1989], **{**PROP99_FIT, "treatment_start": 1980}
    )
    assert fake.result_.estimate == pytest.approx(by_hand.result_.estimate, rel=1e-12)


def test_leave_one_out_matches_refits(prop99, fit):
    res = leave_one_out(fit, n_jobs=1)
    assert set(res.table.index) == set(fit.weights_[fit.weights_ > 1e-6].index)
    pool = [s for s in fit.weights_.index]
    for dropped in ["Utah", "Nevada"]:
        by_hand = SyntheticControl(inference=None).fit(
            prop99, **PROP99_FIT, donors=[s for s in pool if s != dropped]
        )
        assert res.table.loc[dropped, "att"] == pytest.approx(by_hand.result_.estimate, rel=1e-9)
        np.testing.assert_allclose(res.synthetic[dropped], by_hand.synthetic_, atol=1e-9)


def slow_conformal_pvalue(y1, y0, n_post, theta, q=1.0):
    """Moving-block permutation p-value written out shift by shift (CWZ 2021, eq. 7)."""
    y = y1.astype(float).copy()
    y[-n_post:] -= theta
    u = y - y0 @ simplex_lstsq(y0, y)
    stat = lambda r: (np.sum(np.abs(r[-n_post:]) ** q) / np.sqrt(n_post)) ** (1 / q)  # noqa: E731
    observed = stat(u)
    return np.mean([stat(np.roll(u, -j)) >= observed - 1e-12 for j in range(u.size)])


@pytest.mark.parametrize("theta", [-40.0, -20.0, -5.0, 0.0, 10.0])
@pytest.mark.parametrize("q", [1.0, 2.0])
def test_conformal_pvalue_matches_slow(fit, theta, q):
    panel = fit.panel_
    got = conformal_pvalue(panel.y1, panel.y0, 12, theta, q=q)
    assert got == pytest.approx(slow_conformal_pvalue(panel.y1, panel.y0, 12, theta, q), abs=1e-12)


def test_conformal_intervals_are_test_inversions(fit):
    table = conformal_intervals(fit, level=0.9)
    assert list(table.index) == list(range(1989, 2001))
    panel = fit.panel_
    pre = np.flatnonzero(panel.pre)
    for year in (1989, 1995, 2000):
        t = int(np.flatnonzero(panel.times == year)[0])
        keep = np.append(pre, t)
        lo, hi = table.loc[year, ["ci_lower", "ci_upper"]]
        y1, y0 = panel.y1[keep], panel.y0[keep]
        assert conformal_pvalue(y1, y0, 1, lo + 1e-6 * (hi - lo)) > 0.1
        assert conformal_pvalue(y1, y0, 1, lo - 1e-3 * (hi - lo)) <= 0.1
        assert conformal_pvalue(y1, y0, 1, hi + 1e-3 * (hi - lo)) <= 0.1
    # by the late 1990s the no-effect null is rejected in every year
    assert (table.loc[1993:, "ci_upper"] < 0).all()


def test_conformal_iid_reproducible(prop99):
    seeded = SyntheticControl(inference=None, random_state=7).fit(prop99, **PROP99_FIT)
    a = conformal_att(seeded, permutation="iid", n_permutations=99)
    b = conformal_att(seeded, permutation="iid", n_permutations=99)
    assert a == b
    assert a.p_value == pytest.approx(0.01)  # no random permutation beats the observed S


def _sim(seed, effect, n_pre=40, n_post=5, n_donors=15):
    rng = np.random.default_rng(seed)
    t = n_pre + n_post
    factors = rng.normal(size=(t, 2)).cumsum(axis=0) * 0.3
    load = rng.uniform(0.5, 1.5, size=(n_donors, 2))
    y0 = factors @ load.T + rng.normal(size=(t, n_donors))
    y1 = factors @ (rng.dirichlet(np.ones(3)) @ load[:3]) + rng.normal(size=t)
    y1[n_pre:] += effect
    wide = pd.DataFrame(np.column_stack([y1, y0]), columns=["T", *map(str, range(n_donors))])
    wide["t"] = np.arange(t)
    df = wide_to_long(wide, time="t", outcome="y", unit="unit")
    fit_args = dict(outcome="y", unit="unit", time="t", treated_unit="T", treatment_start=n_pre)
    return df, fit_args


def test_conformal_att_covers_known_effect():
    covered, rejected = 0, 0
    for seed in range(10):
        df, args = _sim(seed, effect=3.0)
        est = SyntheticControl(level=0.9).fit(df, **args)
        covered += est.result_.ci_lower <= 3.0 <= est.result_.ci_upper
        rejected += est.result_.p_value <= 0.1  # effect 3 against unit-variance noise
    assert covered >= 8  # 90% intervals (the slow study finds 93.5% coverage)
    assert rejected >= 8


@pytest.mark.slow
def test_conformal_coverage_simulation():
    hits_att, hits_t, n = 0, 0, 200
    for seed in range(n):
        df, args = _sim(seed, effect=2.0)
        est = SyntheticControl(level=0.9).fit(df, **args)
        hits_att += est.result_.ci_lower <= 2.0 <= est.result_.ci_upper
        per = conformal_intervals(est, level=0.9)
        hits_t += bool((per["ci_lower"].iloc[0] <= 2.0) & (2.0 <= per["ci_upper"].iloc[0]))
    print(f"conformal coverage at 90%: ATT {hits_att / n:.3f}, first period {hits_t / n:.3f}")
    assert 0.85 <= hits_att / n <= 0.96
    assert 0.85 <= hits_t / n <= 0.96


def test_refusals(prop99, fit):
    with pytest.raises(ParameterError, match=r"exclude_above=0\.5 is invalid"):
        placebo_test(fit, exclude_above=0.5)
    with pytest.raises(ParameterError, match="q=0 is invalid"):
        conformal_att(fit, q=0)
    with pytest.raises(ParameterError, match="permutation='random' is unknown"):
        conformal_intervals(fit, permutation="random")
    with pytest.raises(ParameterError, match=r"level=1\.5 is invalid"):
        conformal_att(fit, level=1.5)
    with pytest.raises(ParameterError, match="must precede the real treatment start"):
        in_time_placebo(fit, prop99, fake_start=1990)
    with pytest.raises(DataError, match="not in the donor pool"):
        leave_one_out(fit, donors=["California"])
