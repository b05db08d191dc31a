"""Fairness audit against a linear SCM with known direct and indirect effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from paribus.errors import NotFittedError, ParameterError
from paribus.scm.fairness import fairness_audit
from paribus.scm.mechanisms import AdditiveNoiseModel
from paribus.scm.model import StructuralCausalModel


def data(n: int, seed: int, direct: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n).astype(float)
    m = 0.5 * a + rng.normal(size=n)
    q = rng.normal(size=n)
    d = direct * a + 2 * m + q + rng.normal(size=n)
    approve = (d + rng.logistic(size=n) > 1).astype(int)
    return pd.DataFrame({"A": a, "M": m, "Q": q, "D": d, "approve": approve})


def linear_model(graph: str, frame: pd.DataFrame) -> StructuralCausalModel:
    nodes = [v for v in frame.columns if v not in ("A", "Q", "approve")]
    mechs = {v: AdditiveNoiseModel(LinearRegression()) for v in nodes if v in graph}
    return StructuralCausalModel(graph, mechs, random_state=0).fit(frame)


def test_effects_and_counterfactual_change_match_truth() -> None:
    frame = data(20_000, 0)
    model = linear_model("A -> M -> D; A -> D; Q -> D", frame)
    audit = fairness_audit(model, protected="A", decision="D", data=frame.head(500))
    eff = audit.effects["estimate"]
    # D = A + 2 M + Q + N, M = 0.5 A + N: TE = 2, NDE = 1, NIE = 1
    assert abs(eff["total"] - 2.0) < 0.06
    assert abs(eff["natural_direct"] - 1.0) < 0.06
    assert abs(eff["natural_indirect"] - 1.0) < 0.06
    assert audit.levels == (0.0, 1.0)
    # linear model: every unit's decision moves by the total effect
    assert audit.share_changed == 1.0
    assert abs(audit.mean_change - eff["total"]) < 1e-8
    assert not audit.counterfactually_fair
    assert "counterfactual fairness" in str(audit)


def test_no_path_means_counterfactually_fair() -> None:
    frame = data(5000, 1)
    model = linear_model("A -> M; Q -> D", frame)
    audit = fairness_audit(model, protected="A", decision="D", n_samples=2000, random_state=0)
    assert audit.share_changed == 0.0
    assert audit.counterfactually_fair
    assert audit.effects["estimate"].abs().max() == 0.0


def test_binary_decision_share_changed_is_a_probability() -> None:
    frame = data(20_000, 2)
    model = StructuralCausalModel(
        "A -> M -> D -> approve; A -> D; Q -> D",
        {v: AdditiveNoiseModel(LinearRegression()) for v in ("M", "D")},
        random_state=0,
    ).fit(frame)
    audit = fairness_audit(
        model, protected="A", decision="approve", data=frame.head(2000), random_state=0
    )
    # P(approve | do(A=1)) - P(approve | do(A=0)) from the true model by simulation
    rng = np.random.default_rng(9)
    n = 400_000
    m0 = rng.normal(size=n)
    q, e, u = rng.normal(size=n), rng.normal(size=n), rng.logistic(size=n)
    p0 = np.mean(2 * m0 + q + e + u > 1)
    p1 = np.mean(1 + 2 * (0.5 + m0) + q + e + u > 1)
    assert abs(audit.effects.loc["total", "estimate"] - (p1 - p0)) < 0.03
    assert 0 < audit.share_changed < 1
    assert audit.effects.loc["natural_direct", "estimate"] == 0.0  # A is not a parent


def test_refusals() -> None:
    frame = data(500, 3)
    model = linear_model("A -> M -> D; A -> D; Q -> D", frame)
    with pytest.raises(ParameterError, match="same node"):
        fairness_audit(model, protected="D", decision="D")
    with pytest.raises(ParameterError, match="exactly two observed levels"):
        fairness_audit(model, protected="Q", decision="D")
    with pytest.raises(ParameterError, match="two different values"):
        fairness_audit(model, protected="A", decision="D", levels=(1.0, 1.0))
    with pytest.raises(ParameterError, match="decision='Z' is not a node"):
        fairness_audit(model, protected="A", decision="Z")
    with pytest.raises(NotFittedError, match=r"call \.fit"):
        fairness_audit(StructuralCausalModel("A -> D"), protected="A", decision="D")
