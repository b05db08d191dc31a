"""Tests of paribus.scm.mediation: natural, controlled and path-specific effects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from paribus.errors import ParameterError
from paribus.results import EffectTable
from paribus.scm.mechanisms import AdditiveNoiseModel, ClassifierMechanism
from paribus.scm.mediation import (
    controlled_direct_effect,
    natural_effects,
    path_decomposition,
    path_specific_effect,
)
from paribus.scm.model import StructuralCausalModel

GRAPH = "X -> T; T -> M; M -> Y; T -> Y; X -> Y"
DATA = Path(__file__).parent / "data"


def linear() -> AdditiveNoiseModel:
    return AdditiveNoiseModel(LinearRegression())


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """Linear SCM: a = 0.8 (T -> M), b = 1.5 (M -> Y), c' = 0.7 (T -> Y)."""
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.normal(size=n)
    t = 0.5 * x + rng.normal(size=n)
    m = 0.8 * t + rng.normal(size=n)
    y = 1.5 * m + 0.7 * t + 0.3 * x + rng.normal(size=n)
    return pd.DataFrame({"X": x, "T": t, "M": m, "Y": y})


@pytest.fixture(scope="module")
def model(data: pd.DataFrame) -> StructuralCausalModel:
    mechs = {v: linear() for v in ("T", "M", "Y")}
    return StructuralCausalModel(GRAPH, mechs, random_state=1).fit(data)


@pytest.fixture(scope="module")
def product_of_coefficients(data: pd.DataFrame) -> dict[str, float]:
    """Baron & Kenny's regressions: a from M ~ T (+ X), b and c' from Y ~ M + T + X."""
    a = sm.OLS(data["M"], sm.add_constant(data[["T"]])).fit().params["T"]
    out = sm.OLS(data["Y"], sm.add_constant(data[["M", "T", "X"]])).fit().params
    return {"a": float(a), "b": float(out["M"]), "c": float(out["T"])}


def test_linear_natural_effects_equal_product_of_coefficients(
    model: StructuralCausalModel, product_of_coefficients: dict[str, float]
) -> None:
    pc = product_of_coefficients
    table = natural_effects(model, "T", "M", "Y", n=1000)
    assert isinstance(table, EffectTable)
    assert table.labels == ("NDE", "NIE", "TE", "NDE (treated)", "NIE (control)")
    # linear mechanisms, shared noise: every unit's contrast is the coefficient product
    assert table["NDE"].estimate == pytest.approx(pc["c"], abs=1e-10)
    assert table["NIE"].estimate == pytest.approx(pc["a"] * pc["b"], abs=1e-10)
    assert table["TE"].estimate == pytest.approx(pc["c"] + pc["a"] * pc["b"], abs=1e-10)
    assert table["NDE (treated)"].estimate == pytest.approx(pc["c"], abs=1e-10)
    assert table["NIE (control)"].estimate == pytest.approx(pc["a"] * pc["b"], abs=1e-10)
    # the truth: NDE 0.7, NIE 1.2; OLS errors at n=5000 are ~0.015 and ~0.025
    assert table["NDE"].estimate == pytest.approx(0.7, abs=0.05)
    assert table["NIE"].estimate == pytest.approx(1.2, abs=0.08)


def test_effects_scale_with_the_contrast(
    model: StructuralCausalModel, product_of_coefficients: dict[str, float]
) -> None:
    pc = product_of_coefficients
    table = natural_effects(model, "T", "M", "Y", values=(1.0, -1.0), n=200)
    assert table["NIE"].estimate == pytest.approx(-2 * pc["a"] * pc["b"], abs=1e-10)


def test_model_method_wraps_natural_effects(model: StructuralCausalModel) -> None:
    table = model.mediation("T", "M", "Y", n=200)
    assert table["TE"].estimate == pytest.approx(model.effect("T", "Y", n=200).estimate)


def test_path_specific_effects_recover_the_natural_ones(model: StructuralCausalModel) -> None:
    nat = natural_effects(model, "T", "M", "Y", n=300)
    direct = path_specific_effect(model, "T", "Y", [("T", "Y")], n=300)
    through = path_specific_effect(model, "T", "Y", "T -> M; M -> Y", n=300)
    every = path_specific_effect(model, "T", "Y", list(model.graph.directed_edges), n=300)
    assert direct.estimate == pytest.approx(nat["NDE"].estimate, abs=1e-10)
    assert through.estimate == pytest.approx(nat["NIE (control)"].estimate, abs=1e-10)
    assert every.estimate == pytest.approx(nat["TE"].estimate, abs=1e-10)
    # an edge the treatment's effect cannot use on its own: T -> M without M -> Y
    assert path_specific_effect(model, "T", "Y", "T -> M", n=300).estimate == pytest.approx(0.0)


def test_path_decomposition_sums_to_the_total_effect(model: StructuralCausalModel) -> None:
    paths = path_decomposition(model, "T", "Y")
    assert list(paths["path"]) == ["T -> Y", "T -> M -> Y"]
    total = model.effect("T", "Y", n=200).estimate
    assert paths["contribution"].sum() == pytest.approx(total, abs=1e-10)
    assert paths["share"].sum() == pytest.approx(1.0)
    nat = natural_effects(model, "T", "M", "Y", n=200)
    assert paths.loc[1, "contribution"] == pytest.approx(nat["NIE"].estimate, abs=1e-10)


@pytest.fixture(scope="module")
def interaction_data() -> pd.DataFrame:
    """M = T + N, Y = T + M + 0.5 T M + N: CDE(m) = 1 + 0.5 m, NDE = 1, NIE = 1.5."""
    rng = np.random.default_rng(3)
    n = 20_000
    t = rng.normal(size=n)
    m = t + rng.normal(size=n)
    y = t + m + 0.5 * t * m + rng.normal(size=n)
    return pd.DataFrame({"T": t, "M": m, "Y": y})


@pytest.fixture(scope="module")
def interaction(interaction_data: pd.DataFrame) -> StructuralCausalModel:
    inter = make_pipeline(PolynomialFeatures(2, interaction_only=True), LinearRegression())
    mechs = {"M": linear(), "Y": AdditiveNoiseModel(inter)}
    scm = StructuralCausalModel("T -> M; T -> Y; M -> Y", mechs, random_state=4)
    return scm.fit(interaction_data)


def test_controlled_direct_effect_with_interaction(
    interaction: StructuralCausalModel, interaction_data: pd.DataFrame
) -> None:
    df = interaction_data
    fit = sm.OLS(df["Y"], sm.add_constant(np.column_stack([df["M"], df["T"], df["M"] * df["T"]])))
    p = fit.fit().params.to_numpy()
    for m in (-1.0, 0.0, 2.0):
        cde = controlled_direct_effect(interaction, "T", "M", "Y", m, n=100)
        assert cde.estimate == pytest.approx(p[2] + p[3] * m, abs=1e-8)
        assert cde.estimate == pytest.approx(1 + 0.5 * m, abs=0.06)


def test_natural_effects_with_interaction_to_monte_carlo_error(
    interaction: StructuralCausalModel,
) -> None:
    table = natural_effects(interaction, "T", "M", "Y", n=100_000)
    for label, truth in (("NDE", 1.0), ("NIE", 1.5), ("NDE (treated)", 1.5), ("TE", 2.5)):
        eff = table[label]
        # estimation error of the fitted coefficients (~0.01) plus Monte Carlo error
        assert abs(eff.estimate - truth) < 0.04 + 4 * eff.diagnostics["monte_carlo_se"], label
    # an edge-based check of the nonlinear case: same seed, same noise, same numbers
    nat = natural_effects(interaction, "T", "M", "Y", n=2000, random_state=5)
    pse = path_specific_effect(interaction, "T", "Y", "T -> Y", n=2000, random_state=5)
    assert pse.estimate == pytest.approx(nat["NDE"].estimate, abs=1e-12)


def test_bootstrap_interval_for_mediation(model: StructuralCausalModel) -> None:
    table = natural_effects(model, "T", "M", "Y", n=100, n_bootstrap=60, random_state=2)
    nie = table["NIE"]
    assert nie.inference == "bootstrap"
    # delta-method (Sobel) SE of a b: sqrt(b² se_a² + a² se_b²) ~ 0.025 here
    assert 0.012 < nie.std_error < 0.05
    assert nie.ci_lower < 1.2 < nie.ci_upper


# -- against statsmodels' Mediation (nonlinear: logistic outcome) ---------------------------


def simulate_binary(n: int = 3000, seed: int = 21) -> pd.DataFrame:
    """The data of make_statsmodels_mediation.py (same seed, same draws)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-0.5 * x))).astype(int)
    m = 0.5 + 1.0 * t + 0.5 * x + rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-1 + 0.8 * t + 0.7 * m + 0.3 * x)))
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"X": x, "T": t, "M": m, "Y": y})


def test_matches_statsmodels_mediation_with_a_logistic_outcome() -> None:
    ref = json.loads((DATA / "statsmodels_mediation.json").read_text())
    df = simulate_binary()
    for c, total in ref["column_sums"].items():
        assert df[c].sum() == pytest.approx(total, rel=1e-12)
    mechs = {
        "M": linear(),
        "Y": ClassifierMechanism(LogisticRegression(C=np.inf, max_iter=1000)),
    }
    scm = StructuralCausalModel(
        "X -> T; X -> M; T -> M; M -> Y; T -> Y; X -> Y", mechs, random_state=0
    ).fit(df)
    table = natural_effects(scm, "T", "M", "Y", n=200_000)
    pairs = {
        "NDE": "ADE (control)",
        "NIE": "ACME (treated)",
        "NDE (treated)": "ADE (treated)",
        "NIE (control)": "ACME (control)",
        "TE": "Total effect",
    }
    for ours, theirs in pairs.items():
        eff = table[ours]
        their_mc = ref["draws_sd"][theirs] / math.sqrt(ref["n_rep"])
        tol = 4 * math.hypot(eff.diagnostics["monte_carlo_se"], their_mc)
        assert abs(eff.estimate - ref["estimate"][theirs]) < tol, (ours, eff.estimate, tol)


# -- refusals --------------------------------------------------------------------------------


def test_refusals(model: StructuralCausalModel) -> None:
    with pytest.raises(ParameterError, match="mediator 'X' is not a descendant of treatment"):
        natural_effects(model, "T", "X", "Y")
    with pytest.raises(ParameterError, match="outcome 'M' is not a descendant of mediator 'Y'"):
        natural_effects(model, "T", "Y", "M")
    with pytest.raises(ParameterError, match="contains the treatment or the outcome"):
        natural_effects(model, "T", ["M", "T"], "Y")
    with pytest.raises(ParameterError, match=r"values=.* is invalid"):
        natural_effects(model, "T", "M", "Y", values=(0,))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="treatment and outcome are both"):
        natural_effects(model, "T", "M", "T")
    with pytest.raises(ParameterError, match="edges Y -> T are not edges of the graph"):
        path_specific_effect(model, "T", "Y", [("Y", "T")])
    with pytest.raises(ParameterError, match="no value for"):
        controlled_direct_effect(model, "T", "M", "Y", {"Q": 1.0})
    with pytest.raises(ParameterError, match="no directed path from 'Y' to 'T'"):
        path_decomposition(model, "Y", "T")


def test_decomposition_refuses_nonlinear_mechanisms(interaction: StructuralCausalModel) -> None:
    with pytest.raises(ParameterError, match=r"needs linear additive mechanisms.*node 'Y'"):
        path_decomposition(interaction, "T", "Y")


@pytest.mark.slow
def test_bootstrap_coverage_of_natural_effects() -> None:
    """95% bootstrap intervals of NDE and NIE in a linear SCM: coverage near 95%."""
    reps, hits = 150, {"NDE": 0, "NIE": 0}
    truth = {"NDE": 0.7, "NIE": 1.2}
    for r in range(reps):
        rng = np.random.default_rng(5000 + r)
        n = 400
        x = rng.normal(size=n)
        t = 0.5 * x + rng.normal(size=n)
        m = 0.8 * t + rng.normal(size=n)
        y = 1.5 * m + 0.7 * t + 0.3 * x + rng.normal(size=n)
        df = pd.DataFrame({"X": x, "T": t, "M": m, "Y": y})
        mechs = {v: linear() for v in ("T", "M", "Y")}
        scm = StructuralCausalModel(GRAPH, mechs, random_state=r).fit(df)
        table = natural_effects(scm, "T", "M", "Y", n=50, n_bootstrap=100)
        for k in hits:
            hits[k] += table[k].ci_lower <= truth[k] <= table[k].ci_upper
    coverage = {k: v / reps for k, v in hits.items()}
    print(f"coverage {coverage}")
    assert all(0.89 <= c <= 0.99 for c in coverage.values())
