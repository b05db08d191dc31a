"""Tests of paribus.scm.model.StructuralCausalModel: fit, sample, do, effects, counterfactuals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from paribus.errors import DataError, GraphError, NotFittedError, ParameterError, ParibusWarning
from paribus.scm.mechanisms import AdditiveNoiseModel, ClassifierMechanism
from paribus.scm.model import StructuralCausalModel

GRAPH = "X -> T; T -> M; M -> Y; T -> Y; X -> Y"
DATA = Path(__file__).parent / "data"


def linear_data(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """X -> T -> M -> Y, T -> Y, X -> Y; the total effect of T on Y is 0.7 + 0.8 * 1.5 = 1.9."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = 0.5 * x + rng.normal(size=n)
    m = 0.8 * t + rng.normal(size=n)
    y = 1.5 * m + 0.7 * t + 0.3 * x + rng.normal(size=n)
    return pd.DataFrame({"X": x, "T": t, "M": m, "Y": y})


def linear_mechanisms() -> dict[str, AdditiveNoiseModel]:
    return {v: AdditiveNoiseModel(LinearRegression()) for v in ("T", "M", "Y")}


def ols(y: pd.Series, x: pd.DataFrame) -> pd.Series:
    return sm.OLS(y, sm.add_constant(x)).fit().params


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return linear_data()


@pytest.fixture(scope="module")
def model(data: pd.DataFrame) -> StructuralCausalModel:
    return StructuralCausalModel(GRAPH, linear_mechanisms(), random_state=1).fit(data)


@pytest.fixture(scope="module")
def fitted_total(data: pd.DataFrame) -> float:
    """The total effect implied by the OLS coefficients: c' + a * b."""
    a = ols(data["M"], data[["T"]])["T"]
    out = ols(data["Y"], data[["M", "T", "X"]])
    return float(out["T"] + a * out["M"])


# -- structure -------------------------------------------------------------------------------


def test_fitted_structure(model: StructuralCausalModel) -> None:
    assert model.nodes_ == ["X", "T", "M", "Y"]
    assert model.parents_ == {"X": [], "T": ["X"], "M": ["T"], "Y": ["M", "T", "X"]}
    report = model.fit_report()
    assert list(report["node"]) == model.nodes_
    assert report.loc[report["node"] == "X", "mechanism"].item() == "empirical"
    assert bool(report["invertible"].all())


def test_auto_selection_picks_linear_for_linear_nodes(data: pd.DataFrame) -> None:
    auto = StructuralCausalModel(GRAPH, random_state=2).fit(data)
    report = auto.fit_report().set_index("node")
    for v in ("T", "M", "Y"):
        scores = report.loc[v, "candidates"]
        assert report.loc[v, "metric"] == "cv_r2"
        # the linear fit is within 0.005 of the best cross-validated R²
        assert scores["linear"] >= max(scores.values()) - 0.005
    # R² of Y given its parents: 1 - 1 / Var(Y), Var(Y) from the simulated coefficients
    assert report.loc["Y", "score"] == pytest.approx(1 - 1 / np.var(data["Y"]), abs=0.02)


# -- interventions ---------------------------------------------------------------------------


def test_shift_effect_equals_fitted_coefficients_exactly(
    model: StructuralCausalModel, fitted_total: float
) -> None:
    # linear mechanisms + shared noise: every simulated unit's difference is c' + a b
    eff = model.effect("T", "Y", shift=1.0, n=2000)
    assert eff.estimate == pytest.approx(fitted_total, abs=1e-10)
    eff2 = model.effect("T", "Y", shift=2.5, n=500)
    assert eff2.estimate == pytest.approx(2.5 * fitted_total, abs=1e-10)
    assert math.isnan(eff.std_error) and eff.inference == "none"
    assert eff.diagnostics["monte_carlo_se"] < 1e-10


def test_hard_effect_equals_fitted_and_true_total(
    model: StructuralCausalModel, fitted_total: float
) -> None:
    eff = model.effect("T", "Y", values=(-1.0, 2.0), n=500)
    assert eff.estimate == pytest.approx(3 * fitted_total, abs=1e-10)
    # the truth 3 * 1.9: OLS error of c' + a b at n=5000 is about 0.02 per unit shift
    assert eff.estimate == pytest.approx(3 * 1.9, abs=3 * 3 * 0.02)


def test_interventional_mean_to_monte_carlo_error(
    model: StructuralCausalModel, data: pd.DataFrame
) -> None:
    draws = model.do({"T": 1.0}, 100_000, random_state=3)
    assert np.all(draws["T"] == 1.0)
    a = ols(data["M"], data[["T"]])
    b = ols(data["Y"], data[["M", "T", "X"]])
    e_m = a["const"] + a["T"] * 1.0
    e_y = b["const"] + b["M"] * e_m + b["T"] * 1.0 + b["X"] * data["X"].mean()
    mc = draws["Y"].std() / np.sqrt(len(draws))
    assert abs(draws["Y"].mean() - e_y) < 4 * mc
    # the truth: E[Y | do(T=1)] = 1.9 (all intercepts 0, E[X] = 0)
    assert draws["Y"].mean() == pytest.approx(1.9, abs=0.08)


def test_soft_intervention_applies_to_the_natural_value(model: StructuralCausalModel) -> None:
    natural = model.sample(300, random_state=4)
    shifted = model.do({"T": lambda v: v * 1.05}, 300, random_state=4)
    np.testing.assert_allclose(shifted["T"], natural["T"] * 1.05, atol=1e-12)
    np.testing.assert_allclose(shifted["X"], natural["X"], atol=0)


def test_parallel_fit_and_bootstrap_equal_serial(data: pd.DataFrame) -> None:
    import paribus

    def run(n_jobs: int) -> tuple[pd.DataFrame, float]:
        scm = StructuralCausalModel(GRAPH, random_state=5, n_jobs=n_jobs).fit(data.head(800))
        eff = scm.effect("T", "Y", n=200, n_bootstrap=4)
        return scm.fit_report(), eff.std_error

    serial = run(1)
    with paribus.config(backend="threading"):
        parallel = run(2)
    pd.testing.assert_frame_equal(serial[0], parallel[0])
    assert serial[1] == parallel[1]


def test_same_seed_same_draws(model: StructuralCausalModel) -> None:
    pd.testing.assert_frame_equal(
        model.sample(50, random_state=7), model.sample(50, random_state=7)
    )


def test_conditional_effect_with_an_interaction() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.normal(size=n)
    t = 0.5 * x + rng.normal(size=n)
    y = t * x + x + rng.normal(size=n)
    df = pd.DataFrame({"X": x, "T": t, "Y": y})
    inter = make_pipeline(PolynomialFeatures(2, interaction_only=True), LinearRegression())
    scm = StructuralCausalModel(
        "X -> T; X -> Y; T -> Y",
        {"T": AdditiveNoiseModel(LinearRegression()), "Y": AdditiveNoiseModel(inter)},
        random_state=6,
    ).fit(df)
    eff = scm.effect("T", "Y", condition=lambda d: d["X"] > 1, n=50_000)
    truth = float(np.exp(-0.5) / np.sqrt(2 * np.pi) / (1 - 0.8413447460685429))  # E[X | X > 1]
    assert eff.estimand == "conditional ACE"
    # OLS error of the interaction at n=20,000 (~0.007 x 1.5) plus Monte Carlo (~0.005)
    assert eff.estimate == pytest.approx(truth, abs=0.04)
    assert scm.effect("T", "Y", n=50_000).estimate == pytest.approx(0.0, abs=0.03)


def test_bootstrap_se_matches_ols_standard_error() -> None:
    rng = np.random.default_rng(8)
    n = 2000
    x = rng.normal(size=n)
    t = 0.5 * x + rng.normal(size=n)
    y = 2.0 * t + x + rng.normal(size=n)
    df = pd.DataFrame({"X": x, "T": t, "Y": y})
    scm = StructuralCausalModel(
        "X -> T; X -> Y; T -> Y", linear_mechanisms_for("T", "Y"), random_state=9
    ).fit(df)
    eff = scm.effect("T", "Y", values=(0.0, 1.0), n=200, n_bootstrap=200)
    fit = sm.OLS(df["Y"], sm.add_constant(df[["T", "X"]])).fit(cov_type="HC0")
    assert eff.estimate == pytest.approx(fit.params["T"], abs=1e-10)
    # the bootstrap SE of a coefficient estimates its HC0 SE; B=200 gives ~5% relative error
    assert 0.8 < eff.std_error / fit.bse["T"] < 1.25
    assert eff.inference == "bootstrap"
    assert eff.ci_lower < fit.params["T"] < eff.ci_upper
    assert eff.diagnostics["n_bootstrap"] == 200


def linear_mechanisms_for(*nodes: str) -> dict[str, AdditiveNoiseModel]:
    return {v: AdditiveNoiseModel(LinearRegression()) for v in nodes}


def test_invariance_to_translation_and_row_order(data: pd.DataFrame, fitted_total: float) -> None:
    moved = data.assign(Y=data["Y"] + 10.0).sample(frac=1.0, random_state=0)
    scm = StructuralCausalModel(GRAPH, linear_mechanisms(), random_state=1).fit(moved)
    assert scm.effect("T", "Y", n=300).estimate == pytest.approx(fitted_total, abs=1e-9)


# -- counterfactuals -------------------------------------------------------------------------


def test_abduct_then_propagate_reproduces_the_data(
    model: StructuralCausalModel, data: pd.DataFrame
) -> None:
    units = data.head(200)
    noise = model.abduct(units)
    back = model.propagate(noise)
    np.testing.assert_allclose(back.to_numpy(), units[model.nodes_].to_numpy(), atol=1e-10)


def test_counterfactual_is_exact_for_linear_mechanisms(
    model: StructuralCausalModel, data: pd.DataFrame, fitted_total: float
) -> None:
    units = data.head(100)
    cf = model.counterfactual(units, {"T": 0.0})
    a = ols(data["M"], data[["T"]])["T"]
    np.testing.assert_allclose(cf["X"], units["X"], atol=1e-12)
    np.testing.assert_allclose(cf["M"], units["M"] - a * units["T"], atol=1e-10)
    np.testing.assert_allclose(cf["Y"], units["Y"] - fitted_total * units["T"], atol=1e-10)
    # against the true equations (coefficients known): within the OLS error
    np.testing.assert_allclose(cf["Y"], units["Y"] - 1.9 * units["T"], atol=0.15)
    assert list(cf.index) == list(units.index)


def test_counterfactual_is_exact_for_post_nonlinear_mechanisms() -> None:
    from paribus.scm.mechanisms import PostNonlinearModel

    rng = np.random.default_rng(12)
    x = rng.normal(size=1000)
    y = np.exp(0.2 + 0.5 * x + 0.3 * rng.normal(size=1000))
    df = pd.DataFrame({"X": x, "Y": y})
    scm = StructuralCausalModel("X -> Y", {"Y": PostNonlinearModel(LinearRegression(), "exp")})
    scm.fit(df)
    slope = sm.OLS(np.log(y), sm.add_constant(x)).fit().params[1]
    cf = scm.counterfactual(df.head(50), {"X": lambda v: v + 1.0})
    np.testing.assert_allclose(cf["Y"], df["Y"].head(50) * np.exp(slope), rtol=1e-10)


# -- categorical nodes -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def categorical_model() -> tuple[StructuralCausalModel, pd.DataFrame]:
    rng = np.random.default_rng(10)
    n = 1500
    t = rng.normal(size=n)
    c = np.where(t + rng.normal(size=n) > 0, "hi", "lo")
    y = 2.0 * (c == "hi") + t + rng.normal(size=n)
    df = pd.DataFrame({"T": t, "C": c, "Y": y})
    scm = StructuralCausalModel("T -> C; C -> Y; T -> Y", random_state=11).fit(df)
    return scm, df


def test_categorical_node_gets_a_classifier_and_labels(categorical_model) -> None:
    scm, df = categorical_model
    assert scm.categorical_ == frozenset({"C"})
    assert isinstance(scm.mechanisms_["C"], ClassifierMechanism)
    draws = scm.sample(500, random_state=0)
    assert set(draws["C"]) <= {"hi", "lo"}
    assert set(scm.do({"C": "hi"}, 100)["C"]) == {"hi"}
    # abduction samples noise consistent with the observed class
    back = scm.propagate(scm.abduct(df.head(300), random_state=1))
    assert list(back["C"]) == list(df["C"].head(300))


def test_effect_of_a_categorical_treatment(categorical_model) -> None:
    scm, _ = categorical_model
    eff = scm.effect("C", "Y", values=("lo", "hi"), n=20_000)
    # the truth is 2; the fitted Y mechanism's error at n=1500 is about 0.06
    assert eff.estimate == pytest.approx(2.0, abs=0.2)
    with pytest.raises(ParameterError, match="treatment 'C' has non-numeric categories"):
        scm.effect("C", "Y", shift=1.0)


def test_counterfactual_through_a_classifier_warns(categorical_model) -> None:
    scm, df = categorical_model
    with pytest.warns(ParibusWarning, match="non-invertible mechanism"):
        cf = scm.counterfactual(df.head(20), {"T": 5.0})
    assert set(cf["C"]) <= {"hi", "lo"}


def test_categorical_refusals(categorical_model) -> None:
    scm, df = categorical_model
    with pytest.raises(ParameterError, match="'zz' is not one of its categories"):
        scm.do({"C": "zz"}, 10)
    with pytest.raises(ParameterError, match="outcome 'C' has non-numeric categories"):
        scm.effect("T", "C")
    with pytest.raises(DataError, match="not seen in fitting"):
        scm.abduct(df.head(3).assign(C=["hi", "mid", "lo"]))


# -- validation ------------------------------------------------------------------------------


def test_validate_reports_falsification_and_fit(data: pd.DataFrame) -> None:
    wrong = StructuralCausalModel("X -> T; T -> Y", linear_mechanisms_for("T", "Y")).fit(data)
    report = wrong.validate(n_permutations=0)
    # Y depends on X beyond T (coefficient 0.3 + ...): X _||_ Y | T is rejected
    assert report.falsification.n_rejected == 1
    assert list(report.fit["node"]) == ["X", "T", "Y"]
    assert "Mechanisms" in report.summary()


# -- refusals --------------------------------------------------------------------------------


def test_refusals(data: pd.DataFrame, model: StructuralCausalModel) -> None:
    with pytest.raises(GraphError, match="needs a DAG, but the graph has bidirected edges"):
        StructuralCausalModel("X -> Y; X <-> Y")
    with pytest.raises(GraphError, match="directed cycle"):
        StructuralCausalModel("X -> Y; Y -> X")
    with pytest.raises(GraphError, match="'Z' not among the data columns"):
        StructuralCausalModel("X -> Z").fit(data)
    with pytest.raises(DataError, match="column 'T' has 1 missing values"):
        StructuralCausalModel(GRAPH).fit(data.assign(T=data["T"].where(data.index != 3)))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        StructuralCausalModel(GRAPH).sample(5)
    with pytest.raises(ParameterError, match=r"mechanisms\['Y'\] is a LinearRegression"):
        StructuralCausalModel(GRAPH, {"Y": LinearRegression()})  # type: ignore[dict-item]
    with pytest.raises(GraphError, match="mechanisms key 'Q' not in the graph"):
        StructuralCausalModel(GRAPH, {"Q": AdditiveNoiseModel()})
    with pytest.raises(ParameterError, match="cv=1 is invalid"):
        StructuralCausalModel(GRAPH, cv=1)
    with pytest.raises(ParameterError, match="n=0 is invalid"):
        model.sample(0)
    with pytest.raises(ParameterError, match="n_bootstrap=-1 is invalid"):
        model.effect("T", "Y", n_bootstrap=-1)
    with pytest.raises(ParameterError, match=r"values=.* is invalid; expected a pair"):
        model.effect("T", "Y", values=(0, 1, 2))  # type: ignore[arg-type]
    with pytest.raises(GraphError, match="intervened node 'Q'"):
        model.do({"Q": 1.0}, 10)
    with pytest.raises(ParameterError, match="intervention on 'T' gives shape"):
        model.do({"T": np.ones(3)}, 10)
    with pytest.raises(DataError, match="noise has no column for node 'Y'"):
        model.propagate(pd.DataFrame({"X": [0.0], "T": [0.0], "M": [0.0]}))
    with pytest.raises(ParameterError, match="condition holds for none"):
        model.effect("T", "Y", n=50, condition=lambda d: d["X"] > 100)


# -- DoWhy gcm reference ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def gcm_reference() -> dict:
    return json.loads((DATA / "gcm_reference.json").read_text())


def quadratic() -> AdditiveNoiseModel:
    return AdditiveNoiseModel(make_pipeline(PolynomialFeatures(2), LinearRegression()))


def test_matches_dowhy_gcm_on_a_nonlinear_scm(gcm_reference: dict) -> None:
    ref = gcm_reference
    df = pd.DataFrame(ref["data"])
    mechs = {v: quadratic() for v in ("T", "M", "Y")}
    scm = StructuralCausalModel(ref["graph"], mechs, random_state=3).fit(df)
    n_ref = ref["n_draws"]
    # DoWhy draws each arm separately: its Monte Carlo SE is about sqrt(2) sd / sqrt(n)
    mc_ref = math.sqrt(2) * ref["sd_y_do_t1"] / math.sqrt(n_ref)
    for key, kwargs in (("ace_hard", {"values": (0.0, 1.0)}), ("ace_shift", {"shift": 1.0})):
        eff = scm.effect("T", "Y", n=100_000, **kwargs)
        tol = 4 * math.hypot(mc_ref, eff.diagnostics["monte_carlo_se"])
        assert abs(eff.estimate - ref[key]) < tol, (key, eff.estimate, ref[key], tol)
    draws = scm.do({"T": 1.0}, 100_000, random_state=4)["Y"]
    tol = 4 * math.hypot(ref["sd_y_do_t1"] / math.sqrt(n_ref), draws.std() / math.sqrt(1e5))
    assert abs(draws.mean() - ref["mean_y_do_t1"]) < tol
    # counterfactuals are deterministic (invertible mechanisms, same fitted equations)
    cf = scm.counterfactual(df.head(10), {"T": lambda t: t + 1.0})
    np.testing.assert_allclose(cf["Y"], ref["counterfactual_y"], atol=1e-8)


def test_auto_selection_agrees_with_dowhy_auto(gcm_reference: dict) -> None:
    ref = gcm_reference
    df = pd.DataFrame(ref["data"])
    scm = StructuralCausalModel(ref["graph"], random_state=3).fit(df)
    report = scm.fit_report().set_index("node")
    for v in ("T", "M", "Y"):
        assert set(report.loc[v, "candidates"]) == {"linear", "quadratic", "boosting"}
    assert set(report.loc[["T", "M", "Y"], "mechanism"]) == {
        "additive noise (PolynomialFeatures+LinearRegression)"
    }
    eff = scm.effect("T", "Y", values=(0.0, 1.0), n=100_000)
    # both choose degree-2 polynomial fits: they differ by Monte Carlo error only
    mc_ref = math.sqrt(2) * ref["sd_y_do_t1"] / math.sqrt(ref["n_draws"])
    assert abs(eff.estimate - ref["auto_ace_hard"]) < 4 * math.hypot(
        mc_ref, eff.diagnostics["monte_carlo_se"]
    )


# -- slow: coverage --------------------------------------------------------------------------


@pytest.mark.slow
def test_bootstrap_interval_coverage() -> None:
    """95% bootstrap intervals of the ACE in a linear SCM cover the truth ~95% of the time."""
    reps, hits, biases = 200, 0, []
    for r in range(reps):
        df = linear_data(n=500, seed=1000 + r)
        scm = StructuralCausalModel(GRAPH, linear_mechanisms(), random_state=r).fit(df)
        eff = scm.effect("T", "Y", n=100, n_bootstrap=100)
        hits += eff.ci_lower <= 1.9 <= eff.ci_upper
        biases.append(eff.estimate - 1.9)
    coverage = hits / reps
    print(f"coverage {coverage:.3f}, mean bias {np.mean(biases):.4f} (sd {np.std(biases):.4f})")
    assert 0.90 <= coverage <= 0.99
    assert abs(np.mean(biases)) < 3 * np.std(biases) / math.sqrt(reps)
