"""EstimatedEffect.check: the CausalModel workflow runs the standard battery (paribus.check)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus import CausalModel
from paribus.checks.battery import CheckReport, check
from paribus.errors import ParameterError

GRAPH = "z -> x; z -> y; x -> m -> y; x -> c; y -> c"


def confounded(n: int, seed: int) -> pd.DataFrame:
    """Z confounds X and Y; M is a mediator; C is a collider; true ATE of X on Y = 2."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    x = (rng.random(n) < 1 / (1 + np.exp(-1.2 * z))).astype(float)
    m = x + rng.normal(size=n)
    y = 2 * m + 1.5 * z + rng.normal(size=n)
    c = x + y + rng.normal(size=n)
    return pd.DataFrame({"z": z, "x": x, "m": m, "y": y, "c": c})


@pytest.fixture(scope="module")
def estimated():
    model = CausalModel(confounded(n=1500, seed=1), GRAPH)
    return model.identify("x", "y").estimate("regression")


def test_check_runs_the_battery_on_the_models_data_and_roles(estimated):
    checks = ("placebo_treatment", "data_subset", "overlap")
    report = estimated.check(checks=checks, n_repeats=5, random_state=0)
    assert isinstance(report, CheckReport)
    assert [c.name for c in report.checks] == list(checks)
    assert report.effect == estimated.effect
    direct = check(
        estimated.estimator,
        estimated.identified.model.data,
        "x",
        "y",
        ["z"],
        checks=checks,
        n_repeats=5,
        random_state=0,
    )
    assert report.to_frame().equals(direct.to_frame())
    assert report.passed, report.to_frame()


def test_check_default_battery_and_refute_unchanged(estimated):
    report = estimated.check(n_repeats=3, random_state=0)
    assert {"placebo_treatment", "overlap", "linear_specification"} <= {
        c.name for c in report.checks
    }
    assert np.isfinite(report["placebo_treatment"].statistic)
    refuted = estimated.refute(refuters=["placebo_treatment"], n_repeats=20, random_state=0)
    assert [r.refuter for r in refuted.refutations] == ["placebo_treatment"]


def test_check_refuses_unknown_checks(estimated):
    with pytest.raises(ParameterError, match="unknown check"):
        estimated.check(checks=["placebo"])


def test_model_refute_runs_the_battery_and_refuses_foreign_effects(estimated):
    model = estimated.identified.model
    checks = ("placebo_treatment", "data_subset")
    report = model.refute(estimated, checks=checks, n_repeats=5, random_state=0)
    same = estimated.check(checks=checks, n_repeats=5, random_state=0)
    assert report.to_dict() == same.to_dict()
    from_identified = model.refute(
        model.identify("x", "y"), checks=("data_subset",), n_repeats=5, random_state=0
    )
    assert from_identified.effect.method == "aipw"  # the default method was estimated
    other = CausalModel(model.data, GRAPH)
    with pytest.raises(ParameterError, match="another CausalModel"):
        other.refute(estimated)
    with pytest.raises(ParameterError, match="EstimatedEffect or IdentifiedEffect"):
        model.refute(estimated.effect)
