"""Targeting policies, profit curves and off-policy evaluation (IPW / doubly robust)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from paribus.errors import DataError, ParameterError
from paribus.uplift.metrics import uplift_curve
from paribus.uplift.policy import (
    budget_policy,
    cost_aware_policy,
    dr_rewards,
    policy_difference,
    policy_value,
    profit_curve,
    treat_if_positive,
)


def test_policies() -> None:
    tau = np.array([0.5, -0.2, 0.1, 0.0, 0.3, 0.1])
    np.testing.assert_array_equal(treat_if_positive(tau), [1, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(budget_policy(tau, 2), [1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(budget_policy(tau, 0.5), [1, 0, 0, 0, 1, 1])  # tie: later row
    np.testing.assert_array_equal(budget_policy(tau, 1.0), [1, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(budget_policy(tau, 6, only_positive=False), np.ones(6))
    np.testing.assert_array_equal(cost_aware_policy(tau, 10.0, 2.0), [1, 0, 0, 0, 1, 0])
    with pytest.raises(ParameterError, match=r"budget=1\.5"):
        budget_policy(tau, 1.5)
    with pytest.raises(ParameterError, match="budget=7"):
        budget_policy(tau, 7)
    with pytest.raises(ParameterError, match="value_per_conversion"):
        cost_aware_policy(tau, 0.0, 1.0)
    with pytest.raises(ParameterError, match="cost_per_treatment"):
        cost_aware_policy(tau, 1.0, -1.0)
    with pytest.raises(DataError, match="missing or infinite"):
        treat_if_positive([np.nan, 1.0])


def _rct(seed: int, n: int = 4000):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    t = (rng.uniform(size=n) < 0.4).astype(int)
    tau = x  # treat if x > 0 is optimal
    y = 1 + 0.5 * x + t * tau + rng.normal(size=n)
    return x, t, y, tau


def test_treat_all_and_none_are_arm_means() -> None:
    _, t, y, _ = _rct(0)
    ones, zeros = np.ones_like(y), np.zeros_like(y)
    all_ = policy_value(ones, y, t)
    none = policy_value(zeros, y, t)
    assert all_.estimate == pytest.approx(y[t == 1].mean(), abs=1e-12)
    assert none.estimate == pytest.approx(y[t == 0].mean(), abs=1e-12)
    diff = policy_difference(ones, y, t, baseline="treat_none")
    assert diff.estimate == pytest.approx(y[t == 1].mean() - y[t == 0].mean(), abs=1e-12)
    e = t.mean()
    psi = t * y / e
    assert all_.std_error == pytest.approx(psi.std(ddof=1) / np.sqrt(y.size), rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert all_.ci_lower == pytest.approx(all_.estimate - z * all_.std_error, rel=1e-12)


@pytest.mark.parametrize("method", ["ipw", "dr"])
def test_policy_value_near_truth(method: str) -> None:
    x, t, y, tau = _rct(1)
    pi = treat_if_positive(x)
    kw = {} if method == "ipw" else {"mu0": 1 + 0.5 * x, "mu1": 1 + 1.5 * x}
    res = policy_value(pi, y, t, method=method, **kw)  # type: ignore[arg-type]
    truth = np.mean(1 + 0.5 * x + pi * tau)  # E[Y(pi)] given the sample's x
    assert abs(res.estimate - truth) < 3 * res.std_error
    gain = policy_difference(pi, y, t, baseline="treat_all", method=method, **kw)  # type: ignore[arg-type]
    assert abs(gain.estimate - np.mean((pi - 1) * tau)) < 3 * gain.std_error
    assert gain.estimate > 0  # not treating x < 0 avoids harm


def test_doubly_robust_under_confounding_with_right_outcome_model() -> None:
    rng = np.random.default_rng(2)
    n = 5000
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-1.5 * x))
    t = (rng.uniform(size=n) < e).astype(int)
    y = x + t * (0.5 - x) + rng.normal(size=n)
    pi = (x < 0.5).astype(float)
    truth = np.mean(x + pi * (0.5 - x))
    naive = y[(t == pi)].mean()
    res = policy_value(pi, y, t, propensity=e, mu0=x, mu1=0.5 + 0 * x, method="dr")
    wrong_e = policy_value(pi, y, t, propensity=0.5, mu0=x, mu1=0.5 + 0 * x, method="dr")
    assert abs(res.estimate - truth) < 3 * res.std_error
    assert abs(wrong_e.estimate - truth) < 3 * wrong_e.std_error  # outcome model right
    assert abs(naive - truth) > 2 * res.std_error
    ipw = policy_value(pi, y, t, propensity=e)
    assert abs(ipw.estimate - truth) < 3 * ipw.std_error
    # stochastic policy: the mix of the two values
    half = policy_value(np.full(n, 0.5), y, t, propensity=e)
    r = dr_rewards(y, t, propensity=e)
    assert half.estimate == pytest.approx(r.mean(axis=0).mean(), abs=1e-12)


def test_profit_curve() -> None:
    x, t, y, _ = _rct(3, n=1000)
    table = profit_curve(y, t, x, value=10.0, cost=2.0)
    xs, g = uplift_curve(y, t, x)
    np.testing.assert_allclose(table["profit"], 10 * g - 2 * xs, atol=1e-12)
    best = int(table["n_targeted"][table["profit"].idxmax()])
    assert 0 < best < 1000
    with pytest.raises(ParameterError, match="value=nan"):
        profit_curve(y, t, x, value=float("nan"), cost=1.0)


def test_policy_value_refusals() -> None:
    x, t, y, _ = _rct(4, n=100)
    pi = treat_if_positive(x)
    with pytest.raises(ParameterError, match="needs outcome predictions"):
        policy_value(pi, y, t, method="dr")
    with pytest.raises(ParameterError, match="method='dr' only"):
        policy_value(pi, y, t, mu0=x, mu1=x)
    with pytest.raises(ParameterError, match="method="):
        policy_value(pi, y, t, method="snips")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="treatment probabilities"):
        policy_value(pi * 2, y, t)
    with pytest.raises(DataError, match="shape"):
        policy_value(pi[:-1], y, t)
    with pytest.raises(ParameterError, match="baseline="):
        policy_difference(pi, y, t, baseline="treat_some")
    with pytest.raises(ParameterError, match="level="):
        policy_value(pi, y, t, level=95)


def test_nsw_example_runs() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "nsw_uplift.py"
    spec = importlib.util.spec_from_file_location("nsw_uplift", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(fast=True)
    assert {"by_decile", "policy_value", "tree"} <= set(out)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ipw", "dr"])
def test_policy_value_coverage(method: str) -> None:
    """95% intervals of V(pi) for pi = 1{x > 0} under confounding (known propensity).

    x ~ U(-1, 1), tau(x) = 0.5 + x, so V = E[x] + P(x > 0) (0.5 + E[x | x > 0]) = 0.5.
    """
    reps, covered, n = 1000, 0, 2000
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        x = rng.uniform(-1, 1, n)
        e = 1 / (1 + np.exp(-x))
        t = (rng.uniform(size=n) < e).astype(int)
        y = x + t * (0.5 + x) + rng.normal(size=n)
        pi = (x > 0).astype(float)
        kw = {} if method == "ipw" else {"mu0": x, "mu1": 0.5 + 2 * x}
        res = policy_value(pi, y, t, propensity=e, method=method, **kw)  # type: ignore[arg-type]
        covered += res.ci_lower <= 0.5 <= res.ci_upper
    share = covered / reps
    print(f"{method} policy value coverage: {share:.3f} over {reps} replications")
    assert 0.93 <= share <= 0.97
