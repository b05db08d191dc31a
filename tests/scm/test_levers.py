"""Lever ranking against the effects of a linear SCM."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from paribus.errors import NotFittedError, ParameterError
from paribus.scm.levers import Lever, rank_levers
from paribus.scm.mechanisms import AdditiveNoiseModel
from paribus.scm.model import StructuralCausalModel


@pytest.fixture(scope="module")
def model() -> StructuralCausalModel:
    # Y = 2 X + 0.5 Z + N, X = Z + N, W unrelated to Y (W <- Y)
    rng = np.random.default_rng(0)
    n = 20_000
    z = rng.normal(size=n)
    x = z + rng.normal(size=n)
    y = 2 * x + 0.5 * z + rng.normal(size=n)
    w = y + rng.normal(size=n)
    data = pd.DataFrame({"Z": z, "X": x, "Y": y, "W": w})
    linear = {v: AdditiveNoiseModel(LinearRegression()) for v in ("X", "Y", "W")}
    return StructuralCausalModel("Z -> X -> Y -> W; Z -> Y", linear, random_state=0).fit(data)


def test_effects_match_linear_truth_and_ranking(model: StructuralCausalModel) -> None:
    table = rank_levers(
        model,
        "Y",
        [
            ("X", 1.0),  # +2
            ("Z", 1.0, 1.0),  # total effect 2.5, net 1.5
            Lever("X", value=0.0, label="X off"),  # E[Y|do(X=0)] - E[Y] = -2 E[X] ~ 0
            ("W", 5.0),  # a descendant: no effect
            ("X", lambda v: 1.5 * v),  # 2 * 0.5 E[X] ~ 0
        ],
        n_samples=20_000,
        random_state=1,
    ).set_index("lever")
    assert abs(table.loc["X + 1", "effect"] - 2.0) < 0.05
    assert abs(table.loc["Z + 1", "effect"] - 2.5) < 0.05
    assert abs(table.loc["Z + 1", "net"] - 1.5) < 0.05
    assert table.loc["W + 5", "effect"] == 0.0
    assert abs(table.loc["X off", "effect"]) < 0.1
    assert list(table.index[:2]) == ["X + 1", "Z + 1"]
    assert table.loc["X + 1", "rank"] == 1
    # a shift of a linear model has no Monte Carlo error at all
    assert table.loc["X + 1", "std_error"] < 1e-8


def test_bootstrap_interval_covers_truth(model: StructuralCausalModel) -> None:
    table = rank_levers(
        model, "Y", [("X", 1.0), ("Z", 1.0)], n_samples=2000, n_bootstrap=20, random_state=2
    ).set_index("lever")
    assert (table["inference"] == "bootstrap").all()
    assert table.loc["X + 1", "ci_lower"] < 2.0 < table.loc["X + 1", "ci_upper"]
    assert table.loc["Z + 1", "ci_lower"] < 2.5 < table.loc["Z + 1", "ci_upper"]
    assert 0 < table.loc["X + 1", "std_error"] < 0.05  # ~ sd/sqrt(n) of the slope


def test_refusals(model: StructuralCausalModel) -> None:
    with pytest.raises(ParameterError, match="exactly one of shift, value and func"):
        Lever("X", shift=1.0, value=2.0)
    with pytest.raises(ParameterError, match=r"candidates\[0\]"):
        rank_levers(model, "Y", [("X", "up")])
    with pytest.raises(ParameterError, match="lever node='Q' is not a node"):
        rank_levers(model, "Y", [("Q", 1.0)])
    with pytest.raises(ParameterError, match="candidates is empty"):
        rank_levers(model, "Y", [])
    with pytest.raises(ParameterError, match="labels must be unique"):
        rank_levers(model, "Y", [("X", 1.0), ("X", 1.0, 2.0)])
    with pytest.raises(NotFittedError, match=r"call \.fit"):
        rank_levers(StructuralCausalModel("X -> Y"), "Y", [("X", 1.0)])


def test_subscription_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "subscription_scm.py"
    module = runpy.run_path(str(path))
    module["main"](n=1500, seed=1)
    out = capsys.readouterr().out
    assert "Why did mean LTV drop" in out
    assert "Fairness audit of discount" in out


def test_subscription_generator_refusals() -> None:
    from paribus.scm.examples import subscription_business

    sim = subscription_business(200, 0, period=1)
    assert list(sim.data.columns) == list(sim.equations)
    with pytest.raises(ParameterError, match="period must be 0 or 1"):
        subscription_business(10, 0, period=2)
    with pytest.raises(ParameterError, match="n must be a positive integer"):
        subscription_business(0)


def test_model_methods_are_the_functions(model: StructuralCausalModel) -> None:
    from paribus.scm import attribute_anomaly, fairness_audit, intrinsic_causal_influence

    pd.testing.assert_frame_equal(
        model.rank_levers("Y", [("X", 1.0)], n_samples=2000, random_state=1),
        rank_levers(model, "Y", [("X", 1.0)], n_samples=2000, random_state=1),
    )
    row = model.sample(1, random_state=3).assign(X=6.0)
    a = model.attribute_anomaly(row, "Y", n_samples=500, random_state=2)
    b = attribute_anomaly(model, row, "Y", n_samples=500, random_state=2)
    pd.testing.assert_frame_equal(a.contributions, b.contributions)
    pd.testing.assert_frame_equal(
        model.intrinsic_causal_influence("Y", n_samples=2000, random_state=4),
        intrinsic_causal_influence(model, "Y", n_samples=2000, random_state=4),
    )
    old = model.sample(3000, random_state=5)
    new = old.assign(Y=old["Y"] + 1.0)
    change = model.attribute_change(old, new, "Y", n_samples=2000, random_state=6)
    assert change.new_value - change.old_value == pytest.approx(1.0, abs=1e-9)
    assert change.change == pytest.approx(1.0, abs=0.25)  # modelled, Monte Carlo
    assert change.contributions["node"].iloc[0] == "Y"  # Y's own mechanism shifted
    audit = model.fairness_audit(
        protected="Z", decision="Y", levels=(0.0, 1.0), n_samples=2000, random_state=7
    )
    direct = fairness_audit(
        model, protected="Z", decision="Y", levels=(0.0, 1.0), n_samples=2000, random_state=7
    )
    pd.testing.assert_frame_equal(audit.effects, direct.effects)
