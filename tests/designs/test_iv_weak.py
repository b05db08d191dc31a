"""Weak-instrument-robust inference (Anderson-Rubin, CLR) and the plausibly-exogenous bounds."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paribus.designs.iv import IV2SLS, plausibly_exogenous
from paribus.errors import ParameterError, WeakInstrumentWarning

WEAK_OK = pytest.mark.filterwarnings("ignore::paribus.errors.WeakInstrumentWarning")


def _design(n, pi, seed, q=2, rho=0.8, beta=1.0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, q))
    err = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    d = z @ np.full(q, pi) + err[:, 1]
    y = beta * d + err[:, 0]
    frame = pd.DataFrame(z, columns=[f"z{j}" for j in range(q)])
    return frame.assign(y=y, d=d), [f"z{j}" for j in range(q)]


def _fit(frame, instruments, cov_type="unadjusted"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakInstrumentWarning)
        return (
            IV2SLS()
            .fit(frame, outcome="y", endogenous="d", instruments=instruments, cov_type=cov_type)
            .result_
        )


@pytest.mark.parametrize("cov_type", ["unadjusted", "robust"])
def test_ar_statistic_is_the_wald_test_of_the_instruments_in_y_minus_b_d(cov_type):
    frame, instr = _design(400, 0.3, seed=1)
    res = _fit(frame, instr, cov_type)
    beta0 = 0.7
    # by hand: regress y - beta0 d on [1, Z]; Wald of Z's coefficients (HC0 or s^2 / n)
    x = np.column_stack([np.ones(len(frame)), frame[instr]])
    u = frame.y - beta0 * frame.d
    coef, *_ = np.linalg.lstsq(x, u, rcond=None)
    e = u - x @ coef
    xx_inv = np.linalg.inv(x.T @ x)
    if cov_type == "robust":
        cov = xx_inv @ (x.T * e.to_numpy() ** 2) @ x @ xx_inv
    else:
        cov = (e @ e / len(e)) * xx_inv
    wald = coef[1:] @ np.linalg.solve(cov[1:, 1:], coef[1:])
    test = res.ar_test(beta0)
    assert test.statistic == pytest.approx(wald, rel=1e-9)
    assert test.p_value == pytest.approx(stats.chi2.sf(wald, 2), rel=1e-9)


def test_ar_set_is_bounded_under_strong_instruments_and_brackets_the_truth():
    frame, instr = _design(1000, 0.5, seed=2)
    res = _fit(frame, instr)
    ar = res.anderson_rubin(0.95)
    assert ar.bounded and len(ar.intervals) == 1
    lo, hi = ar.intervals[0]
    assert lo < 1.0 < hi
    crit = stats.chi2.ppf(0.95, 2)
    assert res.ar_test(lo).statistic == pytest.approx(crit, rel=1e-8)
    assert res.ar_test(hi).statistic == pytest.approx(crit, rel=1e-8)
    assert "Anderson-Rubin" in res.summary()


def test_ar_set_is_unbounded_when_instruments_are_irrelevant():
    frame, instr = _design(300, 0.0, seed=3)
    ar = _fit(frame, instr).anderson_rubin(0.95)
    assert not ar.bounded
    assert ar.intervals[0][0] == -math.inf or ar.intervals[-1][1] == math.inf
    assert ar.to_dict()["intervals"]  # JSON-safe ("inf" strings)


def test_ar_set_can_be_two_rays():
    # one instrument, first stage detectable at 95%: the set is a bounded interval when
    # the first-stage Wald exceeds 3.84 and two rays (or the line) otherwise
    for seed in range(40):
        frame, instr = _design(200, 0.08, seed=seed, q=1)
        res = _fit(frame, instr)
        ar = res.anderson_rubin(0.95)
        first = res.first_stage[0].wald.statistic
        if first < stats.chi2.ppf(0.95, 1):
            assert not ar.bounded
            if len(ar.intervals) == 2:
                (a, b), (c, d) = ar.intervals
                assert a == -math.inf and d == math.inf and b < c
                return
        else:
            assert ar.bounded
    pytest.fail("no two-ray Anderson-Rubin set in 40 seeds")


def test_clr_equals_ar_with_one_instrument_and_is_a_probability():
    frame, instr = _design(500, 0.2, seed=4, q=1)
    res = _fit(frame, instr)
    clr, ar = res.clr_test(0.5), res.ar_test(0.5)
    # with one instrument LR = AR; the CLR's Omega has divisor n - L (here 500 - 2)
    assert clr.statistic * 500 / 498 == pytest.approx(ar.statistic, rel=1e-10)
    assert clr.p_value == pytest.approx(stats.chi2.sf(clr.statistic, 1), rel=1e-10)
    frame, instr = _design(500, 0.2, seed=4, q=4)
    res = _fit(frame, instr)
    for beta0 in (-1.0, 0.0, 1.0, 3.0):
        assert 0.0 <= res.clr_test(beta0).p_value <= 1.0


def test_clr_p_value_matches_monte_carlo_of_its_conditional_law():
    from paribus.designs.iv.weak import clr_p_value

    rng = np.random.default_rng(0)
    q, qt, lr = 4, 6.0, 3.0
    a = rng.chisquare(1, size=400_000)
    b = rng.chisquare(q - 1, size=400_000)
    sim = 0.5 * (a + b - qt + np.sqrt((a + b + qt) ** 2 - 4 * qt * b))
    assert clr_p_value(lr, qt, q) == pytest.approx(np.mean(sim > lr), abs=3e-3)


def test_weak_robust_inference_needs_one_endogenous_regressor():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(300, 5)), columns=["y", "d1", "d2", "z1", "z2"])
    frame["d1"] += frame.z1
    frame["d2"] += frame.z2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeakInstrumentWarning)
        res = (
            IV2SLS()
            .fit(frame, outcome="y", endogenous=["d1", "d2"], instruments=["z1", "z2"])
            .result_
        )
    with pytest.raises(ParameterError, match="one endogenous regressor"):
        res.anderson_rubin()


# -- Conley, Hansen & Rossi (2012) ---------------------------------------------------------


@WEAK_OK
def test_plausibly_exogenous_at_zero_is_the_iv_interval_and_widens():
    frame, instr = _design(600, 0.4, seed=5)
    kw = {"outcome": "y", "endogenous": "d", "instruments": instr}
    res = IV2SLS().fit(frame, **kw).result_
    at_zero = plausibly_exogenous(IV2SLS(), frame, gamma=(0.0, 0.0), **kw)
    ci = res.conf_int(0.95).loc["d"]
    assert at_zero.bounds.loc["d", "lower"] == pytest.approx(ci["lower"], rel=1e-12)
    assert at_zero.bounds.loc["d", "upper"] == pytest.approx(ci["upper"], rel=1e-12)
    wide = plausibly_exogenous(IV2SLS(), frame, gamma=(-0.1, 0.1), grid=5, **kw)
    assert wide.bounds.loc["d", "lower"] < ci["lower"]
    assert wide.bounds.loc["d", "upper"] > ci["upper"]
    # a known direct effect gamma0 shifts y by Z gamma0: the shifted data recover it
    shifted = frame.assign(y=frame.y + 0.2 * frame.z0)
    at_truth = plausibly_exogenous(IV2SLS(), shifted, gamma={"z0": (0.2, 0.2), "z1": (0, 0)}, **kw)
    assert at_truth.bounds.loc["d", "lower"] == pytest.approx(ci["lower"], rel=1e-9)
    assert "plausibly exogenous" in str(wide)
    with pytest.raises(ParameterError, match="every instrument"):
        plausibly_exogenous(IV2SLS(), frame, gamma={"z0": (0, 1)}, **kw)


# -- coverage (slow) -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("pi", "label"), [(0.03, "weak"), (0.5, "strong")])
def test_wald_versus_anderson_rubin_coverage(pi, label):
    """2SLS Wald intervals undercover with weak instruments; AR sets keep 95%."""
    reps, beta = 1000, 1.0
    wald_hits = ar_hits = 0
    for seed in range(reps):
        frame, instr = _design(200, pi, seed=1000 + seed, q=3, rho=0.9, beta=beta)
        res = _fit(frame, instr, "robust")
        ci = res.conf_int(0.95).loc["d"]
        wald_hits += ci["lower"] <= beta <= ci["upper"]
        ar_hits += res.ar_test(beta).p_value > 0.05
    wald_cov, ar_cov = wald_hits / reps, ar_hits / reps
    print(f"{label}: Wald coverage {wald_cov:.3f}, AR coverage {ar_cov:.3f}")
    se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(ar_cov - 0.95) < 4 * se + 0.01  # robust AR: chi2 approximation at n=200
    if label == "weak":
        assert wald_cov < 0.85
    else:
        assert abs(wald_cov - 0.95) < 4 * se + 0.01
