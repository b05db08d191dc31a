"""RegressionDiscontinuity: published Senate numbers, refusals, invariances, truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus.designs.rdd import MassPointsWarning, RegressionDiscontinuity
from paribus.errors import DataError, DataWarning, NotFittedError, ParameterError


def simulate_rd(
    n: int = 600,
    seed: int = 0,
    *,
    mass: bool = False,
    fuzzy: bool = False,
    effect: float = 1.0,
    kink: float = 0.0,
) -> pd.DataFrame:
    """Running variable on [-1, 1], cutoff 0, cubic outcome, two covariates, 40 clusters.

    ``effect`` is the jump (the LATE for fuzzy designs: take-up 0.2 -> 0.8) and
    ``kink`` the jump in the slope.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    if mass:
        x = np.round(x * 20) / 20
    z1 = rng.normal(size=n) + 0.5 * x
    z2 = rng.normal(size=n)
    above = (x >= 0).astype(float)
    t = above
    if fuzzy:
        t = (rng.uniform(size=n) < np.where(x >= 0, 0.8, 0.2)).astype(float)
    y = (
        0.5
        + effect * t
        + x
        + kink * x * above
        + 0.8 * x**2
        - 0.5 * x**3
        + 0.3 * z1
        + 0.2 * z2
        + rng.normal(scale=0.5, size=n)
    )
    g = rng.integers(0, 40, n)
    return pd.DataFrame({"x": x, "y": y, "t": t, "z1": z1, "z2": z2, "g": g})


@pytest.fixture(scope="module")
def senate(shared_datasets):
    return pd.read_csv(shared_datasets / "senate_rd_cft2015.csv")


def test_senate_published_numbers(senate):
    # rdrobust(vote, margin) defaults; Cattaneo, Idrobo & Titiunik (2020), datasets README s.6
    with pytest.warns(DataWarning, match="dropped 93 rows"):
        fit = RegressionDiscontinuity().fit(senate, outcome="vote", running="margin", dropna=True)
    e = fit.result_
    assert e.estimate == pytest.approx(7.414, abs=1e-3)
    assert e.std_error == pytest.approx(1.459, abs=1e-3)
    assert e.diagnostics["h"] == pytest.approx([17.754, 17.754], abs=1e-3)
    assert e.ci_lower == pytest.approx(4.094, abs=1e-3)
    assert e.ci_upper == pytest.approx(10.919, abs=1e-3)
    assert e.n_obs == 1297
    assert tuple(e.diagnostics["n_effective"]) == (360, 323)
    text = str(fit.summary())
    assert "Robust" in text and "[4.094, 10.919]" in text and "17.754" in text


def test_missing_values_refused_with_fix(senate):
    with pytest.raises(DataError, match=r"'vote' \(93\).*dropna=True"):
        RegressionDiscontinuity().fit(senate, outcome="vote", running="margin")


def test_recovers_known_jump():
    d = simulate_rd(n=4000, seed=3, effect=1.0)
    e = RegressionDiscontinuity().fit(d, outcome="y", running="x").result_
    assert abs(e.estimate - 1.0) < 3 * e.std_error
    assert e.ci_lower < 1.0 < e.ci_upper


def test_fuzzy_recovers_late():
    d = simulate_rd(n=4000, seed=4, fuzzy=True, effect=2.0)
    e = RegressionDiscontinuity().fit(d, outcome="y", running="x", treatment="t").result_
    assert e.estimand.startswith("LATE")
    assert abs(e.estimate - 2.0) < 3 * e.std_error
    assert e.diagnostics["first_stage"] == pytest.approx(0.6, abs=0.15)


def test_translation_and_permutation_invariance():
    d = simulate_rd(n=800, seed=5)
    base = RegressionDiscontinuity(cutoff=0.0).fit(d, outcome="y", running="x").result_
    shifted = d.assign(x=d.x + 10.0, y=d.y + 3.0).sample(frac=1.0, random_state=1)
    moved = RegressionDiscontinuity(cutoff=10.0).fit(shifted, outcome="y", running="x").result_
    assert moved.estimate == pytest.approx(base.estimate, rel=1e-6)
    assert moved.std_error == pytest.approx(base.std_error, rel=1e-6)
    assert moved.diagnostics["h"] == pytest.approx(base.diagnostics["h"], rel=1e-6)


def test_mass_points_warn_and_adjust():
    d = simulate_rd(n=600, mass=True)
    with pytest.warns(MassPointsWarning, match="mass points"):
        e = RegressionDiscontinuity().fit(d, outcome="y", running="x").result_
    assert e.diagnostics["n_unique"][0] < 30


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"kernel": "gaussian"}, "kernel"),
        ({"bwselect": "ik"}, "bwselect"),
        ({"p": -1}, "p="),
        ({"p": 1, "q": 0}, "q=0"),
        ({"p": 1, "q": 1}, "q=1 is not above p=1"),
        ({"p": 1, "q": 3}, "needs fixed bandwidths"),
        ({"p": 0, "q": 2, "bwselect": "msetwo"}, "needs fixed bandwidths"),
        ({"p": 2, "q": 4, "b": 0.5}, "needs fixed bandwidths"),
        ({"deriv": 2}, "deriv=2"),
        ({"h": -1.0}, "h="),
        ({"level": 95}, "level"),
        ({"vce": "hc9"}, "vce"),
    ],
)
def test_bad_settings(settings, match):
    d = simulate_rd(n=200)
    with pytest.raises(ParameterError, match=match):
        RegressionDiscontinuity(**settings).fit(d, outcome="y", running="x")


def test_bad_data():
    d = simulate_rd(n=300)
    est = RegressionDiscontinuity()
    with pytest.raises(DataError, match="no observations at or above"):
        est.fit(d[d.x < 0], outcome="y", running="x")
    with pytest.raises(DataError, match="Did you mean 'x'"):
        est.fit(d, outcome="y", running="xx")
    with pytest.raises(DataError, match="distinct values"):
        est.fit(pd.concat([d[d.x < 0], d[d.x >= 0].head(3)]), outcome="y", running="x")
    with pytest.raises(DataError, match="constant"):
        est.fit(d.assign(t=1.0), outcome="y", running="x", treatment="t")
    with pytest.raises(DataError, match="does not jump"):
        flat = d.assign(t=(d.x.abs() < 0.3).astype(float))  # no take-up change near 0
        RegressionDiscontinuity(h=0.2).fit(flat, outcome="y", running="x", treatment="t")
    with pytest.raises(DataError, match="collinear"):
        est.fit(d.assign(z3=2 * d.z1), outcome="y", running="x", covariates=["z1", "z3"])
    with pytest.raises(DataError, match="numeric"):
        est.fit(d.assign(y="a"), outcome="y", running="x")
    with pytest.raises(ParameterError, match="clusters"):
        RegressionDiscontinuity(vce="hc2").fit(d, outcome="y", running="x", clusters="g")


def test_not_fitted():
    with pytest.raises(NotFittedError):
        _ = RegressionDiscontinuity().result_


@pytest.mark.parametrize("vce", ["nn", "hc0", "hc1", "hc2", "hc3"])
@pytest.mark.parametrize(
    ("p", "fuzzy", "mass"), [(0, False, False), (1, True, True), (2, False, True)]
)
def test_moment_sums_match_design_matrices(vce, p, fuzzy, mass):
    # without clusters and covariates the fits and the selector run on fused moment
    # sums; they must reproduce the design-matrix computations up to rounding
    from paribus.designs.rdd.bandwidth import _terms, _terms_general
    from paribus.designs.rdd.inference import combine
    from paribus.designs.rdd.local_poly import SideData, fit_side

    d = simulate_rd(n=700, seed=3, mass=mass, fuzzy=fuzzy).sort_values("x")
    cols = ["y", "t"] if fuzzy else ["y"]
    below = d.x.to_numpy() < 0
    sides = [SideData(d.x.to_numpy()[m], d[cols].to_numpy()[m], None) for m in (below, ~below)]
    n_out = len(cols)
    for kernel in ("triangular", "uniform", "epanechnikov"):
        fits = {
            fast: [fit_side(s, 0.45, 0.7, p, p + 1, kernel, vce, 3, moments=fast) for s in sides]
            for fast in (False, True)
        }
        slow = combine(fits[False][0], fits[False][1], n_out, 0)
        fast = combine(fits[True][0], fits[True][1], n_out, 0)
        for field in ("tau_cl", "tau_bc", "se_cl", "se_rb"):
            assert getattr(fast, field) == pytest.approx(getattr(slow, field), rel=1e-10)
        opts = {"kernel": kernel, "vce": vce, "nnmatch": 3, "n_out": n_out}
        for s in sides:
            want = _terms_general(s, p + 1, p + 1, p + 2, 0.5, 0.8, 1.0, **opts, cache={})
            got = _terms(s, p + 1, p + 1, p + 2, 0.5, 0.8, 1.0, **opts, cache={})
            assert [got.v, got.b, got.r] == pytest.approx([want.v, want.b, want.r], rel=1e-9)
