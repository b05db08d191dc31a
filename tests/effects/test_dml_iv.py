"""Double ML with instruments (PLIV, IIVM): DoubleML agreement on shared folds, the 2SLS
limit, simulated truth with an endogenous treatment, clusters, refusals and coverage."""

from __future__ import annotations

import sys

import cloudpickle  # a dependency of joblib
import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed
from scipy.special import expit
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.model_selection import GroupKFold, KFold
from statsmodels.sandbox.regression.gmm import IV2SLS

from _coverage import summarise
from _sim import COVARIATES
from paribus import CausalData, Logit
from paribus.effects.dml_iv import IIVM, PLIV
from paribus.errors import DataError, NotFittedError, ParameterError, WeakInstrumentWarning

THETA = 0.5  # PLIV's constant effect
LATE = 1.0  # IIVM's effect on the compliers

LINEAR = {
    "outcome_model": LinearRegression(),
    "treatment_model": LinearRegression(),
    "instrument_model": LinearRegression(),
}
LOGIT = {
    "outcome_model": LinearRegression(),
    "treatment_model": Logit(),
    "propensity_model": Logit(),
}


def cluster_shocks(n: int, clusters: int, seed: int) -> np.ndarray:
    """Two shocks shared within each of ``clusters`` consecutive blocks (zeros if none)."""
    if not clusters:
        return np.zeros((2, n))
    shocks = np.random.default_rng(seed + 1).normal(size=(2, clusters))
    return np.repeat(shocks, n // clusters, axis=1)


def simulate_pliv(n: int, seed: int, strength: float = 0.8, clusters: int = 0) -> pd.DataFrame:
    """Endogenous d: the unobserved u raises both d and y. Instruments z (nonlinear in x)
    and z2 shift d; g is nonlinear; the effect is THETA everywhere. With ``clusters``, z
    and y get shocks shared within blocks of units."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    u = rng.normal(size=n)
    shock_z, shock_y = cluster_shocks(n, clusters, seed)
    z = 0.5 * x[:, 0] + np.sin(x[:, 1]) + rng.normal(size=n) + shock_z
    z2 = 0.5 * x[:, 2] + rng.normal(size=n)
    d = strength * z + 0.4 * z2 + 0.6 * x[:, 0] + 0.4 * np.cos(x[:, 1]) + 1.5 * u
    d = d + rng.normal(size=n)
    g = 2 * x[:, 0] + np.sin(2 * x[:, 0]) + 0.5 * x[:, 0] ** 2 + 0.5 * x[:, 2]
    y = THETA * d + g + 1.5 * u + rng.normal(size=n) + shock_y
    return pd.DataFrame(x, columns=COVARIATES).assign(z=z, z2=z2, d=d, y=y)


def simulate_iivm(
    n: int, seed: int, always: bool = True, never: bool = True, clusters: int = 0
) -> pd.DataFrame:
    """Binary instrument (propensity depends on x), compliance types set by the unobserved u,
    which also raises y. Compliers' effect 1 + x2 averages to LATE; always-takers gain 2 more.
    With ``clusters``, the instrument's index and y get shocks shared within blocks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    u = rng.normal(size=n)
    shock_z, shock_y = cluster_shocks(n, clusters, seed)
    z = (rng.random(n) < expit(0.5 * x[:, 0] - 0.4 * x[:, 1] + shock_z)).astype(float)
    always_taker = always & (u > 1.0)
    never_taker = never & (u < -0.7)
    d = np.where(always_taker, 1.0, np.where(never_taker, 0.0, z))
    tau = 1 + x[:, 1] + 2 * always_taker
    g = 2 * x[:, 0] + np.sin(2 * x[:, 0]) + 0.5 * x[:, 2]
    y = g + tau * d + 1.5 * u + rng.normal(size=n) + shock_y
    return pd.DataFrame(x, columns=COVARIATES).assign(z=z, d=d, y=y)


def kfold(n: int, seed: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(k, shuffle=True, random_state=seed).split(np.zeros(n)))


def naive_ols(frame: pd.DataFrame) -> float:
    """The coefficient of d in the OLS of y on d and the covariates: biased by u."""
    X = np.column_stack([np.ones(len(frame)), frame[["d", *COVARIATES]]])
    return float(np.linalg.lstsq(X, frame["y"].to_numpy(), rcond=None)[0][1])


@pytest.fixture(scope="module")
def pliv_data():
    return simulate_pliv(500, seed=3)


@pytest.fixture(scope="module")
def iivm_data():
    return simulate_iivm(500, seed=5)


# -- DoubleML 0.11.4 on identical folds and deterministic learners ---------------------------


def doubleml_fit(model, frame, instruments, folds, **kwargs):
    dml = pytest.importorskip("doubleml")
    data = dml.DoubleMLData(frame, "y", "d", COVARIATES, z_cols=instruments)
    ref = getattr(dml, model)(data, draw_sample_splitting=False, **kwargs)
    ref.set_sample_splitting(folds)
    return ref.fit()


@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
def test_pliv_equals_doubleml(pliv_data, score):
    folds = kfold(500, seed=1)
    ref = doubleml_fit(
        "DoubleMLPLIV",
        pliv_data,
        "z",
        folds,
        ml_l=LinearRegression(),
        ml_m=Lasso(alpha=0.01),
        ml_r=LinearRegression(),
        ml_g=LinearRegression() if score == "IV-type" else None,
        score=score,
    )
    est = PLIV(**LINEAR | {"instrument_model": Lasso(alpha=0.01)}, score=score, folds=folds)
    effect = est.fit(pliv_data, "d", "y", COVARIATES, instrument="z").result_
    assert effect.estimate == pytest.approx(ref.coef[0], abs=1e-6)
    assert effect.std_error == pytest.approx(ref.se[0], abs=1e-6)
    for ours, theirs in [("l", "ml_l"), ("r", "ml_r"), ("m", "ml_m")]:
        assert est.nuisance_[ours] == pytest.approx(ref.predictions[theirs][:, 0, 0], abs=1e-8)
    assert effect.estimand == "ATE" and effect.method == "dml-pliv"


def test_pliv_several_instruments_equal_doubleml(pliv_data):
    folds = kfold(500, seed=4)
    ref = doubleml_fit(
        "DoubleMLPLIV",
        pliv_data,
        ["z", "z2"],
        folds,
        ml_l=LinearRegression(),
        ml_m=LinearRegression(),
        ml_r=LinearRegression(),
    )
    est = PLIV(**LINEAR, folds=folds)
    effect = est.fit(pliv_data, "d", "y", COVARIATES, instrument=["z", "z2"]).result_
    assert effect.estimate == pytest.approx(ref.coef[0], abs=1e-6)
    assert effect.std_error == pytest.approx(ref.se[0], abs=1e-6)
    assert set(est.nuisance_) == {"l", "r", "m[z]", "m[z2]"}
    assert list(effect.diagnostics["instruments"]) == ["z", "z2"]
    assert effect.diagnostics["first_stage_F"] > 10


@pytest.mark.parametrize(
    ("always", "never"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_iivm_equals_doubleml_with_subgroups(always, never):
    frame = simulate_iivm(500, seed=11, always=always, never=never)
    folds = kfold(500, seed=2)
    subgroups = {"always_takers": always, "never_takers": never}
    ref = doubleml_fit(
        "DoubleMLIIVM",
        frame,
        "z",
        folds,
        ml_g=LinearRegression(),
        ml_m=Logit(),
        ml_r=Logit(),
        subgroups=subgroups,
    )
    est = IIVM(**LOGIT, subgroups=subgroups, folds=folds)
    effect = est.fit(frame, "d", "y", COVARIATES, instrument="z").result_
    assert effect.estimate == pytest.approx(ref.coef[0], abs=1e-6)
    assert effect.std_error == pytest.approx(ref.se[0], abs=1e-6)
    for key in ("g0", "g1", "m", "r0", "r1"):
        assert est.nuisance_[key] == pytest.approx(ref.predictions[f"ml_{key}"][:, 0, 0], abs=1e-8)
    assert effect.estimand == "LATE" and effect.method == "dml-iivm"
    assert effect.diagnostics["always_takers"] is always


@pytest.mark.parametrize("model", ["PLIV", "IIVM"])
def test_repetitions_match_doubleml_per_split(pliv_data, iivm_data, model):
    splits = [kfold(500, seed=s) for s in range(3)]
    if model == "PLIV":
        frame, learners = pliv_data, {"ml_l": LinearRegression(), "ml_r": LinearRegression()}
        learners["ml_m"] = LinearRegression()
        est = PLIV(**LINEAR, folds=splits, repetitions=3)
    else:
        frame = iivm_data
        learners = {"ml_g": LinearRegression(), "ml_m": Logit(), "ml_r": Logit()}
        est = IIVM(**LOGIT, folds=splits, repetitions=3)
    ref = doubleml_fit(f"DoubleML{model}", frame, "z", splits, n_rep=3, **learners)
    effect = est.fit(frame, "d", "y", COVARIATES, instrument="z").result_
    thetas, ses = ref.all_coef[0], ref.all_se[0]
    assert effect.diagnostics["estimates_by_repetition"] == pytest.approx(thetas, abs=1e-6)
    assert effect.diagnostics["std_errors_by_repetition"] == pytest.approx(ses, abs=1e-6)
    assert effect.estimate == pytest.approx(np.median(thetas), abs=1e-6)
    # DoubleML 0.11 derives its SE from median CI bounds; ours is the paper's rule
    paper = np.sqrt(np.median(ses**2 + (thetas - np.median(thetas)) ** 2))
    assert effect.std_error == pytest.approx(paper, rel=1e-9)


# -- classical limits and invariances ------------------------------------------------------


def test_pliv_without_cross_fitting_is_2sls_with_hc0_errors(pliv_data):
    """folds=1 with OLS nuisances is 2SLS of y on (d, x) with instruments (z, x) (the IV
    version of Frisch-Waugh-Lovell); the error is the HC0 sandwich, written out here."""
    n = len(pliv_data)
    exog = np.column_stack([np.ones(n), pliv_data[COVARIATES]])
    X = np.column_stack([pliv_data["d"], exog])
    Z = np.column_stack([pliv_data["z"], exog])
    y = pliv_data["y"].to_numpy()
    tsls = IV2SLS(y, X, Z).fit()
    resid = y - X @ tsls.params
    bread = np.linalg.inv(Z.T @ X)
    sandwich = bread @ (Z.T * resid**2) @ Z @ bread.T
    effect = PLIV(**LINEAR, folds=1).fit(pliv_data, "d", "y", COVARIATES, instrument="z").result_
    assert effect.estimate == pytest.approx(tsls.params[0], abs=1e-10)
    assert effect.std_error == pytest.approx(np.sqrt(sandwich[0, 0]), rel=1e-8)


def test_pliv_invariant_to_instrument_scale_and_outcome_shift(pliv_data):
    est = PLIV(**LINEAR, folds=kfold(500, seed=9))
    base = est.fit(pliv_data, "d", "y", COVARIATES, instrument="z").result_
    moved = pliv_data.assign(z=-3 * pliv_data["z"] + 7, y=pliv_data["y"] + 100)
    other = clone(est).fit(moved, "d", "y", COVARIATES, instrument="z").result_
    assert other.estimate == pytest.approx(base.estimate, rel=1e-9)
    assert other.std_error == pytest.approx(base.std_error, rel=1e-9)


def test_iivm_invariant_to_relabelling_the_instrument(iivm_data):
    """With z -> 1 - z every term of the score changes sign: the same LATE."""
    est = IIVM(**LOGIT, folds=kfold(500, seed=6))
    base = est.fit(iivm_data, "d", "y", COVARIATES, instrument="z").result_
    flipped = iivm_data.assign(z=1 - iivm_data["z"])
    other = clone(est).fit(flipped, "d", "y", COVARIATES, instrument="z").result_
    assert other.estimate == pytest.approx(base.estimate, rel=1e-7)
    assert other.std_error == pytest.approx(base.std_error, rel=1e-7)
    assert other.diagnostics["first_stage"] == pytest.approx(-base.diagnostics["first_stage"])


def test_instruments_role_of_causal_data(pliv_data):
    cd = CausalData(
        pliv_data,
        treatment="d",
        outcome="y",
        covariates=COVARIATES,
        instruments="z",
        binary_treatment=False,
    )
    est = PLIV(**LINEAR, random_state=0)
    via_role = est.fit(cd).result_
    explicit = clone(est).fit(pliv_data, "d", "y", COVARIATES, instrument="z").result_
    assert via_role == explicit
    assert list(est.feature_names_in_) == COVARIATES


# -- simulated truth -----------------------------------------------------------------------


@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
def test_pliv_simulated_truth_within_three_se(score):
    frame = simulate_pliv(2000, seed=21)
    assert naive_ols(frame) - THETA > 0.3  # u confounds d
    est = PLIV(score=score, folds=3, random_state=0)
    effect = est.fit(frame, "d", "y", COVARIATES, instrument="z").result_
    assert abs(effect.estimate - THETA) < 3 * effect.std_error
    assert effect.std_error < 0.1  # so the naive bias lies far outside the interval
    assert effect.std_error == pytest.approx(np.std(effect.scores) / np.sqrt(2000), rel=1e-6)
    assert effect.diagnostics["first_stage_F"] > 100
    assert 0 < effect.diagnostics["first_stage_partial_r2"] < 1
    assert ("theta_initial" in effect.diagnostics) == (score == "IV-type")
    assert set(est.nuisance_) == {"l", "r", "m"} | ({"g"} if score == "IV-type" else set())


def test_iivm_simulated_truth_within_three_se():
    frame = simulate_iivm(2000, seed=31)
    assert naive_ols(frame) - LATE > 0.5  # always-takers and never-takers differ in u
    est = IIVM(folds=3, random_state=0)
    effect = est.fit(frame, "d", "y", COVARIATES, instrument="z").result_
    assert abs(effect.estimate - LATE) < 3 * effect.std_error
    assert effect.std_error < 0.25  # the naive bias (2.4) lies far outside the interval
    # the first stage is the complier share, P(-0.7 < u < 1) = 0.60
    assert effect.diagnostics["first_stage"] == pytest.approx(0.60, abs=0.05)
    assert set(est.nuisance_) == {"g0", "g1", "m", "r0", "r1"}


def test_bootstrap_interval_from_stored_scores(pliv_data):
    est = PLIV(**LINEAR, random_state=0).fit(pliv_data, "d", "y", COVARIATES, instrument="z")
    boot = est.bootstrap_interval(n_boot=2000)
    assert boot.inference == "multiplier-bootstrap"
    assert boot.ci_upper - boot.ci_lower == pytest.approx(
        est.result_.ci_upper - est.result_.ci_lower, rel=0.1
    )
    with pytest.raises(NotFittedError):
        IIVM().bootstrap_interval()


@pytest.mark.parametrize("cls", [PLIV, IIVM])
def test_same_bits_serial_and_parallel(cls, pliv_data, iivm_data):
    # random forests draw from their seeds, so this checks the per-task seed streams
    forest = {"n_estimators": 10, "max_depth": 4}
    frame = pliv_data if cls is PLIV else iivm_data
    learner = RandomForestRegressor if cls is PLIV else RandomForestClassifier
    other = "instrument_model" if cls is PLIV else "propensity_model"
    fast = {"outcome_model": RandomForestRegressor(**forest), "treatment_model": learner(**forest)}
    fast |= {other: learner(**forest), "repetitions": 2, "folds": 3}
    a = cls(random_state=3, **fast).fit(frame, "d", "y", COVARIATES, instrument="z").result_
    b = cls(random_state=3, n_jobs=2, **fast).fit(frame, "d", "y", COVARIATES, instrument="z")
    assert a == b.result_
    c = cls(random_state=4, **fast).fit(frame, "d", "y", COVARIATES, instrument="z").result_
    assert c.estimate != a.estimate


# -- clusters ---------------------------------------------------------------------------------


def hand_cluster_se(phi: np.ndarray, groups: np.ndarray) -> float:
    """The obvious loop: sum the influence values within each cluster, G/(G-1) factor."""
    sums = [phi[groups == g].sum() for g in np.unique(groups)]
    G, n = len(sums), phi.size
    return float(np.sqrt(G / (G - 1) * sum(s**2 for s in sums)) / n)


@pytest.mark.parametrize("model", ["PLIV", "IIVM"])
def test_cluster_robust_errors_equal_hand_computation(model):
    groups = np.repeat(np.arange(60), 20)
    folds = list(GroupKFold(5).split(np.zeros(1200), groups=groups))
    if model == "PLIV":
        frame = simulate_pliv(1200, seed=8, clusters=60)
        est = PLIV(**LINEAR, folds=folds)
    else:
        frame = simulate_iivm(1200, seed=8, clusters=60)
        est = IIVM(**LOGIT, folds=folds)
    frame = frame.assign(g=groups)
    fitted = est.fit(frame, "d", "y", COVARIATES, instrument="z", cluster="g")
    effect, nu = fitted.result_, fitted.nuisance_
    y, d, z = frame["y"].to_numpy(), frame["d"].to_numpy(), frame["z"].to_numpy()
    if model == "PLIV":
        v = z - nu["m"]
        psi_a, psi_b = -(d - nu["r"]) * v, (y - nu["l"]) * v
    else:
        m = nu["m"]
        psi_b = nu["g1"] - nu["g0"] + z * (y - nu["g1"]) / m - (1 - z) * (y - nu["g0"]) / (1 - m)
        psi_a = -(nu["r1"] - nu["r0"] + z * (d - nu["r1"]) / m - (1 - z) * (d - nu["r0"]) / (1 - m))
    theta = -psi_b.mean() / psi_a.mean()
    phi = -(psi_a * theta + psi_b) / psi_a.mean()
    assert effect.estimate == pytest.approx(theta, rel=1e-12)
    assert effect.std_error == pytest.approx(hand_cluster_se(phi, groups), rel=1e-10)
    plain = clone(est).fit(frame, "d", "y", COVARIATES, instrument="z").result_
    assert plain.estimate == effect.estimate
    assert effect.std_error > plain.std_error  # cluster shocks make units dependent
    # drawn folds: whole clusters, stratified by the instrument (and treatment)
    drawn = clone(est).set_params(folds=5, random_state=0)
    assert np.isfinite(
        drawn.fit(frame, "d", "y", COVARIATES, instrument="z", cluster="g").result_.std_error
    )
    with pytest.raises(ParameterError, match=r"folds\[0\] splits a cluster"):
        est.set_params(folds=kfold(1200, seed=0)).fit(
            frame, "d", "y", COVARIATES, instrument="z", cluster="g"
        )


# -- refusals -----------------------------------------------------------------------------


def test_pliv_refusals(pliv_data):
    fit = {"outcome": "y", "covariates": COVARIATES}
    with pytest.raises(ParameterError, match="needs instrument='column'"):
        PLIV(**LINEAR).fit(pliv_data, "d", **fit)
    with pytest.raises(DataError, match="instrument column 'z' is constant"):
        PLIV(**LINEAR).fit(pliv_data.assign(z=1.0), "d", instrument="z", **fit)
    with pytest.raises(DataError, match="'x1' is given as both covariates and instruments"):
        PLIV(**LINEAR).fit(pliv_data, "d", instrument="x1", **fit)
    with pytest.raises(ParameterError, match="'IV-type' takes one instrument; got 2"):
        PLIV(**LINEAR, score="IV-type").fit(pliv_data, "d", instrument=["z", "z2"], **fit)
    with pytest.raises(ParameterError, match="classifier but instrument 'z' is not 0/1"):
        PLIV(**LINEAR | {"instrument_model": Logit()}).fit(pliv_data, "d", instrument="z", **fit)
    with pytest.raises(ParameterError, match="does not support sampling weights"):
        PLIV().fit(pliv_data.assign(w=1.0), "d", instrument="z", weights="w", **fit)
    with pytest.raises(ParameterError, match="instrument_model=1"):
        PLIV(instrument_model=1).fit(pliv_data, "d", instrument="z", **fit)
    with pytest.raises(DataError, match=r"residualised instruments .* are collinear"):
        PLIV(**LINEAR).fit(
            pliv_data.assign(z3=2 * pliv_data["z"] - pliv_data["x1"]),
            "d",
            instrument=["z", "z3"],
            **fit,
        )


def test_irrelevant_instrument_is_refused_and_a_weak_one_warned():
    # the instrument does not enter d: first-stage F = 1.47 at this seed
    irrelevant = simulate_pliv(500, seed=1, strength=0.0)
    with pytest.raises(DataError, match=r"F = 1\.47, below the 95% critical value 3\.84.*not id"):
        PLIV(**LINEAR, random_state=0).fit(irrelevant, "d", "y", COVARIATES, instrument="z")
    weak = simulate_pliv(500, seed=1, strength=0.1)
    with pytest.warns(WeakInstrumentWarning, match=r"first-stage F = [\d.]+ is below 10"):
        effect = (
            PLIV(**LINEAR, random_state=0).fit(weak, "d", "y", COVARIATES, instrument="z").result_
        )
    assert 3.84 < effect.diagnostics["first_stage_F"] < 10
    # an instrument with no compliers: d does not depend on z
    iivm = simulate_iivm(500, seed=5)
    noshift = iivm.assign(d=(np.random.default_rng(0).random(500) < 0.5).astype(float))
    with pytest.raises(DataError, match="IIVM: the instrument does not detectably move"):
        IIVM(**LOGIT, random_state=0).fit(noshift, "d", "y", COVARIATES, instrument="z")


def test_iivm_refusals(iivm_data):
    fit = {"outcome": "y", "covariates": COVARIATES, "instrument": "z"}
    with pytest.raises(DataError, match="instrument column 'z' takes values other than 0/1"):
        IIVM(**LOGIT).fit(iivm_data.assign(z=iivm_data["x1"]), "d", **fit)
    with pytest.raises(DataError, match="needs a binary 0/1 treatment"):
        IIVM(**LOGIT).fit(iivm_data.assign(d=iivm_data["x1"]), "d", **fit)
    with pytest.raises(ParameterError, match="IIVM takes one 0/1 instrument; got 2"):
        IIVM(**LOGIT).fit(
            iivm_data.assign(z2=1 - iivm_data["z"]), "d", **fit | {"instrument": ["z", "z2"]}
        )
    with pytest.raises(ParameterError, match="estimand='ATE' is invalid"):
        IIVM(estimand="ATE").fit(iivm_data, "d", **fit)
    with pytest.raises(ParameterError, match="subgroups="):
        IIVM(subgroups={"always_takers": False}).fit(iivm_data, "d", **fit)
    with pytest.raises(ParameterError, match="treatment_model=LinearRegression"):
        IIVM(treatment_model=LinearRegression()).fit(iivm_data, "d", **fit)
    with pytest.raises(DataError, match=r"no always-takers, but \d+ units with instrument 'z' = 0"):
        IIVM(**LOGIT, subgroups={"always_takers": False, "never_takers": True}).fit(
            iivm_data, "d", **fit
        )
    one_sided = simulate_iivm(500, seed=5, always=False)
    with pytest.raises(DataError, match=r"pass subgroups=\{'always_takers': False, 'never_t"):
        IIVM(**LOGIT).fit(one_sided, "d", **fit)
    treated = np.flatnonzero(iivm_data["z"] == 1)
    control = np.flatnonzero(iivm_data["z"] == 0)
    with pytest.raises(DataError, match="training fold 0 of repetition 0 has 0 units with"):
        IIVM(**LOGIT, folds=[(control, treated), (treated, control)]).fit(iivm_data, "d", **fit)


# -- coverage (slow) --------------------------------------------------------------------------


def _replication(cls: type, settings: dict, seed: int, n: int) -> tuple[float, float, bool]:
    frame = simulate_pliv(n, seed) if cls is PLIV else simulate_iivm(n, seed)
    truth = THETA if cls is PLIV else LATE
    effect = cls(**settings).fit(frame, "d", "y", COVARIATES, instrument="z").result_
    return effect.estimate - truth, effect.std_error, effect.ci_lower <= truth <= effect.ci_upper


def iv_coverage_study(cls: type, settings: dict, reps: int, n: int, name: str) -> dict:
    """As tests/_coverage.py's coverage_study, on the IV designs above."""
    # test modules are not importable by name in joblib's workers (importlib import
    # mode), so the replication function travels by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    rows = Parallel(n_jobs=2)(
        delayed(_replication)(cls, settings, 10_000 + r, n) for r in range(reps)
    )
    return summarise(rows, name, "ATE" if cls is PLIV else "LATE", n)


def check(summary: dict) -> None:
    assert 0.93 <= summary["coverage"] <= 0.97, summary
    assert abs(summary["bias"]) < 3 * summary["bias_mc_se"] + 0.01, summary
    assert summary["mean_se"] == pytest.approx(summary["empirical_sd"], rel=0.15), summary


@pytest.mark.slow
def test_pliv_coverage_nonlinear():
    """Cross-fitted boosting nuisances (the defaults), endogenous d, nonlinear g and m."""
    check(iv_coverage_study(PLIV, {"random_state": 0}, 500, 2000, "dml-pliv-boosting"))


@pytest.mark.slow
def test_iivm_coverage_nonlinear():
    """Cross-fitted boosting nuisances; LATE of the compliers with always- and never-takers."""
    check(iv_coverage_study(IIVM, {"random_state": 0}, 500, 2000, "dml-iivm-boosting"))
