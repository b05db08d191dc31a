"""CausalModel: model -> identify -> estimate -> refute on simulated data with a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from paribus import CausalModel, Logit
from paribus.errors import ParameterError


def confounded(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Z confounds X and Y; M is a mediator; C is a collider; true ATE of X on Y = 2."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    x = (rng.random(n) < 1 / (1 + np.exp(-1.2 * z))).astype(float)
    m = x + rng.normal(size=n)
    y = 2 * m + 1.5 * z + rng.normal(size=n)
    c = x + y + rng.normal(size=n)
    return pd.DataFrame({"z": z, "x": x, "m": m, "y": y, "c": c})


GRAPH = "z -> x; z -> y; x -> m -> y; x -> c; y -> c"


def test_full_workflow_recovers_the_effect_and_passes_refuters():
    model = CausalModel(confounded(), GRAPH)
    identified = model.identify("x", "y")
    assert identified.estimand.adjustment_set == {"z"}  # not the mediator, not the collider
    estimated = identified.estimate(
        "aipw", outcome_model=LinearRegression(), propensity_model=Logit(), random_state=0
    )
    effect = estimated.effect
    assert abs(effect.estimate - 2.0) < 3 * effect.std_error
    checked = estimated.refute(n_repeats=20, random_state=0)
    assert [r.refuter for r in checked.refutations] == [
        "placebo_treatment",
        "random_common_cause",
        "data_subset",
    ]
    assert checked.passed, checked.summary()
    assert "every refuter passed" in checked.summary()
    assert estimated.effect is effect  # refuting never changes the estimate


def test_placebo_refuter_fails_a_null_effect():
    frame = confounded(seed=1)
    frame["y"] = 1.5 * frame["z"] + np.random.default_rng(2).normal(size=len(frame))
    estimated = CausalModel(frame, GRAPH).identify("x", "y").estimate("regression")
    checked = estimated.refute(refuters=["placebo_treatment"], n_repeats=20, random_state=0)
    assert not checked.passed


def test_latent_nodes_are_projected_out():
    frame = confounded().drop(columns="z")
    model = CausalModel(frame, GRAPH)
    assert model.latent == ("z",)
    identified = model.identify("x", "y")
    assert identified.estimand.strategy == "frontdoor"
    effect = identified.estimate(n_bootstrap=50, random_state=0).effect
    assert abs(effect.estimate - 2.0) < 3 * effect.std_error


def test_method_names_are_checked():
    identified = CausalModel(confounded(500), GRAPH).identify("x", "y")
    with pytest.raises(ParameterError, match="does not fit a backdoor estimand; valid methods"):
        identified.estimate("frontdoor")
    with pytest.raises(ParameterError, match="no data column"):
        CausalModel(confounded(500).drop(columns="z"), GRAPH).identify("z", "y")


def test_instrument_found_in_the_graph_is_used_by_the_iv_methods():
    # u confounds x and y (unobserved); z is an instrument given c
    rng = np.random.default_rng(3)
    n = 3000
    c, u = rng.normal(size=n), rng.normal(size=n)
    z = (rng.random(n) < 1 / (1 + np.exp(-c))).astype(float)
    x = (0.8 * z + 0.5 * c + u + rng.normal(size=n) > 0.7).astype(float)
    y = 2.0 * x + c + 1.5 * u + rng.normal(size=n)
    frame = pd.DataFrame({"z": z, "c": c, "x": x, "y": y})
    model = CausalModel(frame, "z -> x -> y; c -> z; c -> x; c -> y; u -> x; u -> y")
    identified = model.identify("x", "y")
    assert identified.estimand.strategy == "iv"
    assert identified.methods() == ("dml-pliv", "dml-iivm")
    pliv = identified.estimate(random_state=0)
    assert pliv.effect.method == "dml-pliv" and pliv.covariates == ["c"]
    assert abs(pliv.effect.estimate - 2.0) < 3 * pliv.effect.std_error
    late = identified.estimate("dml-iivm", random_state=0).effect
    assert late.estimand == "LATE" and abs(late.estimate - 2.0) < 3 * late.std_error
    with pytest.raises(ParameterError, match="first-stage diagnostics"):
        pliv.refute()
    with pytest.raises(ParameterError, match="first-stage diagnostics"):
        model.refute(pliv)
