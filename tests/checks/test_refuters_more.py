"""Dummy outcome, negative controls and bootstrap refuters: each passes an honest estimate
and flags a known-bad one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from paribus import RegressionAdjustment
from paribus.checks.refuters_more import (
    IntervalRefutation,
    bootstrap_refuter,
    dummy_outcome,
    negative_control_exposure,
    negative_control_outcome,
)
from paribus.data import CausalData
from paribus.errors import ParameterError
from paribus.results import Effect


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Linear confounding through x0; ``nco`` shares it and is unaffected by t."""
    rng = np.random.default_rng(3)
    n = 3_000
    x0, x1, u = rng.standard_normal((3, n))
    t = (rng.random(n) < expit(0.8 * x0)).astype(int)
    y = 1.0 * t + x0 + 0.5 * x1 + rng.standard_normal(n)
    nco = x0 + rng.standard_normal(n)
    nce = (rng.random(n) < expit(1.5 * x0)).astype(int)
    t2 = (rng.random(n) < expit(1.5 * (x0**2 - 1))).astype(int)  # selected on x0^2
    nonlin = 2 * x0**2 + rng.standard_normal(n)  # no effect of t2; a line in x0 misses it
    noise = rng.standard_normal(n)
    return pd.DataFrame(
        {
            "x0": x0,
            "x1": x1,
            "u": u,
            "t": t,
            "y": y,
            "nco": nco,
            "nce": nce,
            "yq": nonlin,
            "t2": t2,
            "noise": noise,
        }
    )


class _Overconfident(RegressionAdjustment):
    """Reports a standard error five times too small (a known-bad interval)."""

    def _estimate(self, data: CausalData) -> Effect:
        eff = super()._estimate(data)
        return Effect.from_normal(
            estimand=eff.estimand,
            estimate=eff.estimate,
            std_error=eff.std_error / 5,
            level=eff.level,
            n_obs=eff.n_obs,
            method=eff.method,
            inference=eff.inference,
        )


def test_dummy_outcome_passes_a_right_model(frame: pd.DataFrame) -> None:
    ra = RegressionAdjustment().fit(frame, "t", "y", ["x0", "x1"])
    before = ra.result_
    r = dummy_outcome(ra, frame, "t", "y", n_repeats=3, random_state=0, n_jobs=1)
    assert isinstance(r, IntervalRefutation) and r.passed and len(r.estimates) == 3
    assert r.interval[0] < 0 < r.interval[1]
    assert ra.result_ is before  # the original is untouched
    assert "interval" in r.to_dict() and "interval" in str(r)


def test_dummy_outcome_flags_a_linear_model_of_a_nonlinear_outcome(frame: pd.DataFrame) -> None:
    ra = RegressionAdjustment().fit(frame, "t2", "yq", ["x0"])
    r = dummy_outcome(ra, frame, "t2", "yq", n_repeats=3, random_state=0, n_jobs=1)
    assert not r.passed and r.statistic > 3


def test_negative_control_outcome(frame: pd.DataFrame) -> None:
    good = RegressionAdjustment().fit(frame, "t", "y", ["x0", "x1"])
    assert negative_control_outcome(good, frame, "t", "nco").passed
    bad = RegressionAdjustment().fit(frame, "t", "y", ["x1"])  # omits the confounder x0
    r = negative_control_outcome(bad, frame, "t", "nco")
    assert not r.passed and r.estimates[0] > 0


def test_negative_control_exposure(frame: pd.DataFrame) -> None:
    good = RegressionAdjustment().fit(frame, "t", "y", ["x0", "x1"])
    assert negative_control_exposure(good, frame, "nce", "y").passed
    bad = RegressionAdjustment().fit(frame, "t", "y", ["x1"])
    assert not negative_control_exposure(bad, frame, "nce", "y").passed


def test_bootstrap_flags_an_overconfident_interval(frame: pd.DataFrame) -> None:
    honest = RegressionAdjustment().fit(frame, "t", "y", ["x0", "x1"])
    r = bootstrap_refuter(honest, frame, "t", "y", n_repeats=40, random_state=0, n_jobs=1)
    assert r.passed, r.rule
    bad = _Overconfident().fit(frame, "t", "y", ["x0", "x1"])
    r = bootstrap_refuter(bad, frame, "t", "y", n_repeats=40, random_state=0, n_jobs=1)
    assert not r.passed and r.statistic > 3
    assert dataclasses.is_dataclass(r)


def test_refusals(frame: pd.DataFrame) -> None:
    ra = RegressionAdjustment().fit(frame, "t", "y", ["x0"])
    with pytest.raises(ParameterError, match="n_repeats"):
        dummy_outcome(ra, frame, "t", "y", n_repeats=1)
    with pytest.raises(ParameterError, match="se_ratio_bounds"):
        bootstrap_refuter(ra, frame, "t", "y", se_ratio_bounds=(1.2, 2.0))
