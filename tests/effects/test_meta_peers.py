"""Meta-learners against EconML 0.17.0 and CausalML 0.15.5 on identical data and learners.

The peers are not test dependencies: their numbers were computed once by
``.venv-bench/bin/python bench/reference_meta.py`` and stored in
``data/meta_peers.json`` (with the versions and the command). Both sides rebuild the
same designs from ``tests/_meta_designs.py`` (a binary treatment, n = 2000, and a
three-level one, n = 3000; nonlinear confounding, heterogeneous effects) and use the
same deterministic learners (``LinearRegression``, ``paribus.Logit``, a fixed-seed
``DecisionTreeRegressor``, ``KNeighborsClassifier``) and the same explicit folds.

Tolerances
----------
``EXACT = 1e-6`` (absolute; the effects are of order 1, their errors of order 0.1) where
both libraries compute the same numbers from the same fits: the estimators are the
same functions of the data once the learners and folds are fixed, so only floating-point
summation order differs (observed differences are below 1e-13). Everything else says
why it is not exact and how far apart the two may be.

Conventions that differ legitimately (documented where checked):

* EconML's linear final stages (``LinearDML``, ``LinearDRLearner``) report HC1 errors by
  default (``inference="auto"`` is ``StatsModelsInference(cov_type="HC1")``); paribus
  reports HC0. The reference file holds both; paribus equals HC0 exactly, and
  HC1 = HC0 * sqrt(n / (n - k)) with k final-stage coefficients.
* EconML's ``ate_inference().stderr_mean`` treats the sample's covariates as fixed: the
  error of ``mean_i [1, x_i] beta`` from beta alone. paribus's ATE error is that of the
  population ATE: its influence values add the spread of the CATE over the sample,
  ``phi_i = (tau_i - mean tau) + coefficient part``. The coefficient part alone
  reproduces EconML's HC0 number exactly.
* EconML's bootstrap ATE intervals also hold the covariates fixed; paribus's bootstrap
  averages the CATE over each resample. Only the pointwise bootstrap errors are
  compared.
* CausalML's ATE intervals for the S/T/X/R regressors come from plug-in formulas of
  outcome-residual variances, not from refits; they are kept in the reference file for
  the record and not compared.
* CausalML's DR-learner splits the rows into thirds (propensity, outcome, final stage,
  rotated) and averages three final-stage fits; paribus cross-fits and fits the final
  stage once on all rows. With the same thirds as folds the pseudo-outcomes agree
  exactly; the two CATE fits then differ by less than sampling error.
* CausalML's S-learner with several levels fits each level against control on those
  rows only (a different model), and its R- and DR-learners with several levels use
  pairwise propensities; these are compared on the binary design only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.tree import DecisionTreeRegressor

from _meta_designs import DESIGNS, Design, fingerprint, kfold, make_design, rotating_thirds
from paribus import DRLearner, Logit, RLearner, SLearner, TLearner, XLearner
from paribus.effects.dml import PLR

REF: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "meta_peers.json").read_text())
EXACT = 1e-6
Z = stats.norm.ppf(0.975)


def ols() -> LinearRegression:
    return LinearRegression()


def ols_interact() -> Any:
    """The S-learners' model: least squares with all pairwise (treatment x covariate) terms."""
    return make_pipeline(
        PolynomialFeatures(degree=2, interaction_only=True, include_bias=False), LinearRegression()
    )


def tree() -> DecisionTreeRegressor:
    return DecisionTreeRegressor(max_depth=3, min_samples_leaf=50, random_state=0)


@pytest.fixture(scope="module", params=DESIGNS)
def design(request: pytest.FixtureRequest) -> Design:
    return make_design(request.param)


@pytest.fixture(scope="module")
def binary() -> Design:
    return make_design("binary")


def peer(d: Design, name: str) -> dict[str, Any]:
    return REF[d.name]["peers"][name]


def fit(est: Any, d: Design) -> Any:
    return est.fit(d.frame, treatment="t", outcome="y", covariates=d.covariates)


def levels(d: Design) -> list[float]:
    return [float(k) for k in REF[d.name]["levels"]]


def cate(est: Any, d: Design) -> np.ndarray:
    """(50, K) CATEs at the evaluation points, one column per treated level."""
    return np.column_stack([est.effect(d.X_eval, treatment=k) for k in levels(d)])


def ates(est: Any, d: Design) -> np.ndarray:
    return np.array([est.ate(treatment=k).estimate for k in levels(d)])


def pointwise_se(est: Any, d: Design) -> np.ndarray:
    """Standard errors behind ``effect_interval`` (normal intervals at 95%)."""
    out = []
    for k in levels(d):
        lo, hi = est.effect_interval(d.X_eval, level=0.95, treatment=k)
        out.append((hi - lo) / (2 * Z))
    return np.column_stack(out)


def assert_exact(got: Any, want: Any, what: str) -> None:
    np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=0, atol=EXACT, err_msg=what)


def assert_same_estimates(est: Any, d: Design, name: str) -> None:
    ref = peer(d, name)
    assert_exact(cate(est, d), ref["cate_eval"], f"{name}: CATE at the evaluation points")
    assert_exact(ates(est, d), ref["ate"], f"{name}: ATE (mean CATE over the sample)")


# -- the data --------------------------------------------------------------------------------


def test_designs_are_the_ones_the_references_were_computed_on(design: Design) -> None:
    """Guards every check below: a changed generator (or numpy's streams) fails here first."""
    got, want = fingerprint(design), REF[design.name]["fingerprint"]
    assert got == pytest.approx(want, rel=1e-12, abs=1e-9)
    assert "econml" in REF["_about"]["versions"] and "causalml" in REF["_about"]["versions"]


# -- S-, T- and X-learners (no cross-fitting: identical fits give identical numbers) -----------


def test_s_learner_equals_econml_and_causalml(design: Design) -> None:
    """Same model (OLS on covariates, treatment dummies and all pairwise interactions).

    EconML adds a control dummy (collinear with the intercept) and CausalML puts the
    treatment column first: the same column space, so the same least-squares fit. Exact.
    CausalML only for the binary design (with three levels it fits each level against
    control on those rows alone).
    """
    est = fit(SLearner(outcome_model=ols_interact(), n_bootstrap=0), design)
    assert_same_estimates(est, design, "econml_SLearner")
    if design.name == "binary":
        assert_same_estimates(est, design, "causalml_BaseSRegressor")


def test_t_learner_equals_econml_and_causalml(design: Design) -> None:
    """One OLS per arm; tau_k = mu_k - mu_0. Exact, both designs, both peers."""
    est = fit(TLearner(outcome_model=ols(), n_bootstrap=0), design)
    assert_same_estimates(est, design, "econml_TLearner")
    assert_same_estimates(est, design, "causalml_BaseTRegressor")


def test_x_learner_equals_econml_and_causalml(design: Design) -> None:
    """OLS outcome models, tree effect models, Logit propensity of each pair of levels.

    Checks the weighting convention ``tau = g tau_0 + (1 - g) tau_1`` (the effect model
    fitted on the controls weighted by the propensity): EconML and CausalML use the same
    one (Kunzel et al. 2019, with g the propensity). CausalML is handed the same propensities
    (Logit on each pair's rows, at the sample and at the evaluation points). Exact.
    """
    est = fit(
        XLearner(outcome_model=ols(), effect_model=tree(), propensity_model=Logit(), n_bootstrap=0),
        design,
    )
    assert_same_estimates(est, design, "econml_XLearner")
    assert_same_estimates(est, design, "causalml_BaseXRegressor")
    # the blend is not the T-learner's difference: the trees and weights matter here
    t_learner = fit(TLearner(outcome_model=ols(), n_bootstrap=0), design)
    assert np.abs(cate(est, design) - cate(t_learner, design)).max() > 0.05


def test_t_learner_bootstrap_errors_match_econml(binary: Design) -> None:
    """Pointwise bootstrap standard errors: stratified resamples, normal intervals.

    EconML ``BootstrapInference(500, bootstrap_type="normal")`` against
    ``TLearner(n_bootstrap=500)``: different random resamples, so Monte Carlo tolerance.
    Each error from B = 500 refits has a relative Monte Carlo SD of about
    1/sqrt(2(B - 1)) = 3.2%, a ratio of two about 4.5%: every point within 20% (4.4 SD)
    and the median ratio over the 50 points within 10%. (The points' errors come from
    the same refits, so the median is hardly less noisy than one point.) A different
    convention (percentile intervals, unstratified draws of a small arm, a missing
    sqrt(n)) would show as a far larger gap.
    """
    ref = peer(binary, "econml_TLearner")
    est = fit(TLearner(outcome_model=ols(), n_bootstrap=ref["n_bootstrap"], random_state=0), binary)
    ratio = pointwise_se(est, binary) / np.asarray(ref["boot_stderr_eval"])
    assert np.all(np.abs(ratio - 1) < 0.20), ratio.ravel()
    assert abs(np.median(ratio) - 1) < 0.10


# -- DR-learner ------------------------------------------------------------------------------


def dr_linear(d: Design, clip: float = 0.01) -> DRLearner:
    """OLS per arm; Logit (binary) or 100-NN (three levels) propensity; 5 explicit folds.

    With k-NN, the one-vs-rest class shares paribus normalises are the multinomial shares
    EconML uses, so the three-level propensities agree exactly too.
    """
    propensity = Logit() if len(levels(d)) == 1 else KNeighborsClassifier(n_neighbors=100)
    return fit(
        DRLearner(
            outcome_model=ols(), propensity_model=propensity, folds=kfold(len(d.y)), clip=clip
        ),
        d,
    )


def coefficient_part_se(est: Any, d: Design, k: float) -> float:
    """The ATE error with the covariates held fixed: influence values less the CATE spread."""
    tau = est.effect(d.X, treatment=k)
    scores = est.ate(treatment=k).scores
    return float(np.sqrt(np.sum((scores - (tau - tau.mean())) ** 2)) / len(d.y))


def check_linear_final_stage(est: Any, d: Design, name: str, n_coef: int) -> None:
    ref = peer(d, name)
    assert_same_estimates(est, d, name)
    se = pointwise_se(est, d)
    np.testing.assert_allclose(se, ref["stderr_eval_HC0"], rtol=EXACT, err_msg="HC0 errors")
    n = len(d.y)  # EconML's default HC1 is HC0 with the factor n / (n - k)
    np.testing.assert_allclose(
        np.asarray(ref["stderr_eval_HC1"]), se * np.sqrt(n / (n - n_coef)), rtol=EXACT
    )
    for j, k in enumerate(levels(d)):
        part = coefficient_part_se(est, d, k)
        assert part == pytest.approx(ref["ate_stderr_mean_HC0"][j], rel=EXACT)
        assert est.ate(treatment=k).std_error > part  # paribus adds the CATE's spread


def test_dr_learner_linear_equals_econml_linear_dr_learner(design: Design) -> None:
    """``LinearDRLearner`` with the same folds, per-arm OLS outcome models, the same
    propensity and ``min_propensity = clip = 0.01``: CATE, ATE, pointwise HC0 errors and
    the coefficient part of the ATE error exact (module docstring for HC1 and the ATE
    error's covariate part). Both designs (three levels: both treated levels)."""
    est = dr_linear(design)
    check_linear_final_stage(est, design, "econml_LinearDRLearner", n_coef=design.X.shape[1] + 1)
    # the DR-learner's ATE error is AIPW's: the coefficient part plus the fitted CATE's spread
    tau = est.effect(design.X, treatment=levels(design)[0])
    spread = np.sum((tau - tau.mean()) ** 2) / len(design.y) ** 2
    want = np.sqrt(peer(design, "econml_LinearDRLearner")["ate_stderr_mean_HC0"][0] ** 2 + spread)
    assert est.ate(treatment=levels(design)[0]).std_error == pytest.approx(want, rel=EXACT)


@pytest.mark.parametrize("name", ["binary", "multi"])
def test_dr_learner_clipping_convention_equals_econml(name: str) -> None:
    """A clip that binds (binary: 0.1 on Logit scores down to 0.02; three levels: 0.05 on
    k-NN shares down to 0.02). EconML clips every level's propensity into
    ``[min_propensity, 1 - min_propensity]`` without renormalising; with two levels that is
    clipping ``e`` into ``[clip, 1 - clip]`` as paribus's AIPW and DRLearner do (three
    levels here: no share exceeds 1 - 0.05, so only the lower bound binds)."""
    d = make_design(name)
    ref = peer(d, "econml_LinearDRLearner_clip")
    est = dr_linear(d, clip=ref["min_propensity"])
    assert est.ate(treatment=levels(d)[0]).diagnostics["share_clipped"] > 0
    check_linear_final_stage(est, d, "econml_LinearDRLearner_clip", n_coef=d.X.shape[1] + 1)


def test_dr_learner_tree_final_stage_equals_econml(binary: Design) -> None:
    """Any regressor as the final stage (``DRLearner(model_final=tree)``): exact."""
    est = fit(
        DRLearner(
            outcome_model=ols(),
            propensity_model=Logit(),
            final_model=tree(),
            folds=kfold(len(binary.y)),
            n_bootstrap=0,
        ),
        binary,
    )
    assert_same_estimates(est, binary, "econml_DRLearner_tree")


def test_dr_learner_against_causalml_rotating_thirds(binary: Design) -> None:
    """CausalML's ``BaseDRRegressor`` (its thirds as paribus's folds, OLS, the same
    cross-fitted Logit propensities passed as ``p``; no clipping on either side).

    1. The pseudo-outcomes are the same: refitting CausalML's final stage (one OLS per
       third, predictions averaged) on paribus's ``nuisance_["phi"]`` gives CausalML's
       CATEs exactly.
    2. paribus's own final stage (one OLS on all rows) is a different fit of the same
       pseudo-outcomes; the two differ by a term of smaller order than the sampling error,
       so each CATE and the ATE must agree within half of paribus's standard error
       (observed: at most 0.27 and 0.18 SE).
    """
    ref = peer(binary, "causalml_BaseDRRegressor")
    thirds = rotating_thirds(len(binary.y))
    est = fit(
        DRLearner(outcome_model=ols(), propensity_model=Logit(), folds=thirds, clip=0), binary
    )
    phi = est.nuisance_["phi"][:, 0]
    causalml_final = np.mean(
        [ols().fit(binary.X[test], phi[test]).predict(binary.X_eval) for _, test in thirds], axis=0
    )
    assert_exact(causalml_final, np.asarray(ref["cate_eval"])[:, 0], "pseudo-outcomes")
    gap = np.abs(cate(est, binary)[:, 0] - np.asarray(ref["cate_eval"])[:, 0])
    assert np.all(gap < 0.5 * pointwise_se(est, binary)[:, 0])
    assert abs(est.ate().estimate - ref["ate"][0]) < 0.5 * est.ate().std_error


# -- R-learner and the partially linear model -------------------------------------------------


def r_learner(d: Design, final_model: Any = "linear") -> RLearner:
    """OLS ``m(x)``, Logit ``e(x)`` on 5 explicit folds. ``clip=0``: neither EconML's
    ``LinearDML``/``NonParamDML`` nor CausalML's R-learner clips the propensity."""
    return fit(
        RLearner(
            outcome_model=ols(),
            propensity_model=Logit(),
            final_model=final_model,
            folds=kfold(len(d.y)),
            clip=0,
            n_bootstrap=0,
        ),
        d,
    )


def test_r_learner_linear_equals_econml_linear_dml(binary: Design) -> None:
    """``LinearDML(discrete_treatment=True, cv=<the folds>)`` with CATE linear in all the
    covariates: least squares of ``Y - m`` on ``(T - e) [1, X]``. CATE, ATE, pointwise HC0
    errors and the coefficient part of the ATE error exact."""
    est = r_learner(binary)
    check_linear_final_stage(est, binary, "econml_LinearDML", n_coef=binary.X.shape[1] + 1)


def test_r_learner_equals_causalml(binary: Design) -> None:
    """CausalML's ``BaseRRegressor(n_fold=5, random_state=7)`` draws exactly these folds
    (``KFold(5, shuffle=True, random_state=7)``) and was handed paribus's out-of-fold Logit
    propensities. Its final stage fits ``(Y - m)/(T - e)`` with weights ``(T - e)^2``:
    with ``LinearRegression`` that is the linear R-learner and paribus's weighted path
    alike. Exact."""
    assert_same_estimates(r_learner(binary), binary, "causalml_BaseRRegressor")
    weighted = r_learner(binary, final_model=LinearRegression())
    assert_same_estimates(weighted, binary, "causalml_BaseRRegressor")


def test_r_learner_tree_final_stage_equals_econml_and_causalml(binary: Design) -> None:
    """A tree as the final stage: EconML ``NonParamDML`` and CausalML ``BaseRRegressor``
    both minimise the R-loss as a weighted regression of ``(Y - m)/(T - e)``. Exact."""
    est = r_learner(binary, final_model=tree())
    assert_same_estimates(est, binary, "econml_NonParamDML_tree")
    assert_same_estimates(est, binary, "causalml_BaseRRegressor_tree")


def test_plr_equals_econml_linear_dml_constant(binary: Design) -> None:
    """``LinearDML`` with no effect modifiers (``X=None``, covariates as ``W``) is the
    R-learner with a constant final stage. paribus's ``RLearner`` takes its covariates as
    both confounders and effect modifiers, so the constant-effect version is ``PLR``
    (partialling out). Estimate and HC0 error exact; EconML's default HC1 is HC0 times
    sqrt(n / (n - 1))."""
    ref = peer(binary, "econml_LinearDML_constant")
    est = fit(PLR(outcome_model=ols(), treatment_model=Logit(), folds=kfold(len(binary.y))), binary)
    assert est.result_.estimate == pytest.approx(ref["theta"], abs=EXACT)
    assert est.result_.std_error == pytest.approx(ref["stderr_HC0"], rel=EXACT)
    n = len(binary.y)
    assert ref["stderr_HC1"] == pytest.approx(ref["stderr_HC0"] * np.sqrt(n / (n - 1)), rel=EXACT)
