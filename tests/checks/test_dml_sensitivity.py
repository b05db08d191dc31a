"""dml_sensitivity: DoubleML 0.11.4 on identical folds, the robustness values, AIPW,
refusals and the contour plot.

DoubleML 0.11.4 pairs the standard error of the upper bound with the lower confidence
bound and vice versa: its lower bound's influence values are ``-phi - C phi_S``
instead of the delta method's ``phi - C phi_S`` (``phi`` the estimate's influence
values in the convention ``estimate - truth ~ mean(phi)``). A Monte Carlo run of the
PLR (n = 400, 300 draws, skewed heteroskedastic errors, ``cf_y = cf_d = 0.5``) gave
a sampling sd of the lower bound of 0.102 against our ``se_lower`` 0.081 and DoubleML's
0.225. We follow the paper; the comparisons below swap the two errors to check the
rest of the computation against DoubleML exactly.
"""

from __future__ import annotations

import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold

from _sim import COVARIATES, simulate
from paribus import AIPW, Logit, Matching
from paribus.checks.dml_sensitivity import (
    DMLSensitivity,
    dml_sensitivity,
    dml_sensitivity_contour,
)
from paribus.effects.dml import IRM, PLR
from paribus.errors import DataError, NotFittedError, ParameterError

matplotlib.use("Agg")

PARAMS = [(0.03, 0.03, 1.0), (0.1, 0.2, 0.5), (0.05, 0.01, -0.7)]


def simulate_plr(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    d = 0.8 * x[:, 0] + 0.5 * np.sin(2 * x[:, 1]) - 0.3 * x[:, 2] + rng.normal(size=n)
    y = 0.5 * d + 2 * x[:, 0] + 0.5 * x[:, 0] ** 2 + 0.5 * x[:, 2] + rng.normal(size=n)
    return pd.DataFrame(x, columns=COVARIATES).assign(d=d, y=y)


def kfold(n: int, seed: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(KFold(k, shuffle=True, random_state=seed).split(np.zeros(n)))


@pytest.fixture(scope="module")
def plr_data():
    return simulate_plr(500, seed=11)


@pytest.fixture(scope="module")
def irm_data():
    return simulate(n=500, seed=5, linear=False).frame


def _doubleml(model, frame, d, folds, **learners):
    dml = pytest.importorskip("doubleml")
    data = dml.DoubleMLData(frame, "y", d, COVARIATES)
    ref = getattr(dml, model)(data, draw_sample_splitting=False, **learners)
    ref.set_sample_splitting(folds)
    return ref.fit()


def _fitted(kind, plr_data, irm_data):
    folds = kfold(500, seed=1)
    if kind == "irm":
        ref = _doubleml("DoubleMLIRM", irm_data, "t", folds, ml_g=LinearRegression(), ml_m=Logit())
        est = IRM(outcome_model=LinearRegression(), propensity_model=Logit(), folds=folds)
        return ref, est.fit(irm_data, "t", "y", COVARIATES), irm_data, "t"
    score = "IV-type" if kind == "plr-iv" else "partialling out"
    ref = _doubleml(
        "DoubleMLPLR",
        plr_data,
        "d",
        folds,
        ml_l=LinearRegression(),
        ml_m=LinearRegression(),
        ml_g=LinearRegression() if score == "IV-type" else None,
        score=score,
    )
    est = PLR(
        outcome_model=LinearRegression(),
        treatment_model=LinearRegression(),
        score=score,
        folds=folds,
    )
    return ref, est.fit(plr_data, "d", "y", COVARIATES), plr_data, "d"


@pytest.mark.parametrize("kind", ["plr", "plr-iv", "irm"])
def test_equals_doubleml_on_identical_folds(kind, plr_data, irm_data):
    ref, est, frame, d = _fitted(kind, plr_data, irm_data)
    z = stats.norm.ppf(0.95)
    for cf_y, cf_d, rho in PARAMS:
        ref.sensitivity_analysis(cf_y=cf_y, cf_d=cf_d, rho=rho)
        p = ref.sensitivity_params
        res = dml_sensitivity(est, cf_y, cf_d, rho, data=frame, treatment=d, outcome="y")
        assert res.sigma2 == pytest.approx(ref.sensitivity_elements["sigma2"][0, 0, 0], rel=1e-9)
        assert res.nu2 == pytest.approx(ref.sensitivity_elements["nu2"][0, 0, 0], rel=1e-9)
        assert res.theta_lower == pytest.approx(p["theta"]["lower"][0], abs=1e-8)
        assert res.theta_upper == pytest.approx(p["theta"]["upper"][0], abs=1e-8)
        # DoubleML pairs the errors the other way round (module docstring)
        assert res.theta_lower - z * res.se_upper == pytest.approx(p["ci"]["lower"][0], abs=1e-8)
        assert res.theta_upper + z * res.se_lower == pytest.approx(p["ci"]["upper"][0], abs=1e-8)
        # DoubleML finds RV by a numerical root search (tolerance ~1e-6); ours is closed form
        assert res.rv == pytest.approx(p["rv"][0], abs=1e-5)


def test_att_equals_doubleml_atte_and_atc_mirrors_it(irm_data):
    folds = kfold(500, seed=1)
    ref = _doubleml(
        "DoubleMLIRM", irm_data, "t", folds, ml_g=LinearRegression(), ml_m=Logit(), score="ATTE"
    )
    learners = {"outcome_model": LinearRegression(), "propensity_model": Logit(), "folds": folds}
    att = IRM(estimand="ATT", **learners).fit(irm_data, "t", "y", COVARIATES)
    assert att.result_.estimate == pytest.approx(ref.coef[0], rel=1e-9)
    for cf_y, cf_d, rho in PARAMS:
        ref.sensitivity_analysis(cf_y=cf_y, cf_d=cf_d, rho=rho)
        p = ref.sensitivity_params
        res = dml_sensitivity(att, cf_y, cf_d, rho, data=irm_data, treatment="t", outcome="y")
        assert res.sigma2 == pytest.approx(ref.sensitivity_elements["sigma2"][0, 0, 0], rel=1e-9)
        assert res.nu2 == pytest.approx(ref.sensitivity_elements["nu2"][0, 0, 0], rel=1e-9)
        assert res.theta_lower == pytest.approx(p["theta"]["lower"][0], abs=1e-8)
        assert res.theta_upper == pytest.approx(p["theta"]["upper"][0], abs=1e-8)
        assert res.rv == pytest.approx(p["rv"][0], abs=1e-5)
    # the ATC of t is minus the ATT of 1 - t: same S, mirrored bounds
    flipped = irm_data.assign(t=1 - irm_data["t"])
    att_flip = IRM(estimand="ATT", **learners).fit(flipped, "t", "y", COVARIATES)
    atc = IRM(estimand="ATC", **learners).fit(irm_data, "t", "y", COVARIATES)
    a = dml_sensitivity(atc, 0.1, 0.2, 0.5, data=irm_data, treatment="t", outcome="y")
    b = dml_sensitivity(att_flip, 0.1, 0.2, 0.5, data=flipped, treatment="t", outcome="y")
    assert a.estimate == pytest.approx(-b.estimate, rel=1e-9)
    assert a.nu2 == pytest.approx(b.nu2, rel=1e-9) and a.sigma2 == pytest.approx(b.sigma2)
    assert a.theta_lower == pytest.approx(-b.theta_upper, rel=1e-9)
    assert a.rv == pytest.approx(b.rv, rel=1e-9)


@pytest.mark.parametrize("kind", ["plr", "irm"])
def test_robustness_values_solve_their_equations(kind, plr_data, irm_data):
    ref, est, frame, d = _fitted(kind, plr_data, irm_data)
    kw = {"data": frame, "treatment": d, "outcome": "y"}
    res = dml_sensitivity(est, **kw)
    at_rv = dml_sensitivity(est, res.rv, res.rv, **kw)
    assert at_rv.theta_lower == pytest.approx(0.0, abs=1e-9)
    at_rva = dml_sensitivity(est, res.rva, res.rva, **kw)
    assert at_rva.ci_lower == pytest.approx(0.0, abs=1e-8)
    assert 0 < res.rva < res.rv < 1
    # DoubleML's RVa, reproduced with its pairing of the errors
    z = stats.norm.ppf(0.95)

    def swapped(cf: float) -> float:
        r = dml_sensitivity(est, cf, cf, **kw)
        return r.theta_lower - z * r.se_upper

    ref.sensitivity_analysis(cf_y=0.03, cf_d=0.03)
    rva_swapped = optimize.brentq(swapped, 1e-9, res.rv, xtol=1e-12)
    assert rva_swapped == pytest.approx(ref.sensitivity_params["rva"][0], abs=1e-5)


def test_zero_confounding_gives_the_ordinary_interval(plr_data):
    est = PLR(outcome_model=LinearRegression(), treatment_model=LinearRegression(), folds=3)
    est.fit(plr_data, "d", "y", COVARIATES)
    res = dml_sensitivity(est, 0.0, 0.0, data=plr_data, treatment="d", outcome="y")
    assert res.theta_lower == res.theta_upper == est.result_.estimate
    z = stats.norm.ppf(0.95)
    assert res.ci_lower == pytest.approx(est.result_.estimate - z * est.result_.std_error)
    assert res.rho == 1.0 and res.bias_bound == 0.0


@pytest.mark.parametrize("kind", ["plr", "irm", "aipw"])
def test_cluster_robust_standard_errors(kind, plr_data, irm_data):
    # with a cluster column the bounds' errors are cluster-robust like the estimate's:
    # at zero confounding they equal its (cluster-robust) standard error, and with
    # confounding they differ from the iid formula the sensitivity used before
    frame = (plr_data if kind == "plr" else irm_data).assign(site=np.arange(500) % 25)
    d = "d" if kind == "plr" else "t"
    if kind == "plr":
        est = PLR(outcome_model=LinearRegression(), treatment_model=LinearRegression(), folds=3)
    else:
        est = (IRM if kind == "irm" else AIPW)(
            outcome_model=LinearRegression(), propensity_model=Logit(), folds=3
        )
    est.fit(frame, d, "y", COVARIATES, cluster="site")
    plain = dml_sensitivity(est, 0.0, 0.0, data=frame, treatment=d, outcome="y")
    assert plain.se_lower == pytest.approx(est.result_.std_error, rel=1e-12)
    assert plain.se_upper == pytest.approx(est.result_.std_error, rel=1e-12)
    res = dml_sensitivity(est, 0.05, 0.05, data=frame, treatment=d, outcome="y")
    phi = np.asarray(est.result_.scores)
    iid = np.sqrt(np.mean(phi**2) / phi.size)
    assert est.result_.std_error != pytest.approx(iid, rel=1e-3)  # clusters matter here
    assert res.se_lower > 0 and res.se_upper > 0


def test_repeated_cross_fitting_identical_splits_equal_one(plr_data, irm_data):
    # three repetitions on the same split are one repetition three times over
    folds = kfold(500, seed=1, k=3)
    for kind, frame, d in (("plr", plr_data, "d"), ("irm", irm_data, "t")):
        results = []
        for spec in (folds, [folds, folds, folds]):
            if kind == "plr":
                est = PLR(
                    outcome_model=LinearRegression(), treatment_model=LinearRegression(),
                    folds=spec, repetitions=1 if spec is folds else 3,
                )  # fmt: skip
            else:
                est = IRM(
                    outcome_model=LinearRegression(), propensity_model=Logit(),
                    folds=spec, repetitions=1 if spec is folds else 3,
                )  # fmt: skip
            est.fit(frame, d, "y", COVARIATES)
            results.append(dml_sensitivity(est, 0.04, 0.06, 0.8, data=frame, treatment=d,
                                           outcome="y"))  # fmt: skip
        one, three = results
        for field in ("theta_lower", "theta_upper", "ci_lower", "ci_upper", "sigma2", "nu2"):
            assert getattr(three, field) == pytest.approx(getattr(one, field), rel=1e-10)
        assert three.rv == pytest.approx(one.rv, abs=1e-8)  # root search vs closed form
        assert three.rva == pytest.approx(one.rva, abs=1e-8)


@pytest.mark.parametrize("aggregation", ["median", "mean"])
def test_repeated_cross_fitting_combines_like_the_estimate(plr_data, aggregation):
    est = PLR(
        outcome_model=LinearRegression(), treatment_model=LinearRegression(), folds=3,
        repetitions=5, aggregation=aggregation, random_state=2,
    ).fit(plr_data, "d", "y", COVARIATES)  # fmt: skip
    kw = {"data": plr_data, "treatment": "d", "outcome": "y"}
    # no confounding: the bounds are the estimate and its own interval
    zero = dml_sensitivity(est, 0.0, 0.0, **kw)
    assert zero.theta_lower == pytest.approx(est.result_.estimate, rel=1e-12)
    assert zero.se_lower == pytest.approx(est.result_.std_error, rel=1e-10)
    # with confounding: each repetition's bound, combined by the estimator's rule
    res = dml_sensitivity(est, 0.05, 0.05, **kw)
    center = np.median if aggregation == "median" else np.mean
    lows = []
    for sol, nu in est._repetition_fits:
        one = PLR(outcome_model=LinearRegression(), treatment_model=LinearRegression())
        one.result_ = est.result_.__class__.from_normal(
            estimand="ATE", estimate=sol.estimate, std_error=sol.std_error, level=0.95,
            n_obs=500, method="plr", inference="influence-function", scores=sol.influence,
        )  # fmt: skip
        one.nuisance_ = nu
        lows.append(dml_sensitivity(one, 0.05, 0.05, **kw).theta_lower)
    assert res.theta_lower == pytest.approx(float(center(lows)), rel=1e-12)
    assert len(set(np.round(lows, 8))) == 5  # the repetitions differ


def test_aipw_equals_irm_on_the_same_nuisances(irm_data):
    aipw = AIPW(outcome_model=LinearRegression(), propensity_model=Logit(), folds=3)
    aipw.fit(irm_data, "t", "y", COVARIATES)
    res = dml_sensitivity(aipw, 0.05, 0.05, data=irm_data, treatment="t", outcome="y")
    assert res.method == "aipw"
    assert res.theta_lower < res.estimate < res.theta_upper
    assert res.bias_bound == pytest.approx(
        np.sqrt(0.05 * 0.05 / 0.95) * np.sqrt(res.sigma2 * res.nu2)
    )


def test_result_is_frozen_printable_serialises_and_plots(plr_data):
    est = PLR(outcome_model=LinearRegression(), treatment_model=LinearRegression(), folds=3)
    est.fit(plr_data, "d", "y", COVARIATES)
    res = dml_sensitivity(est, data=plr_data, treatment="d", outcome="y")
    assert isinstance(res, DMLSensitivity)
    with pytest.raises(AttributeError):
        res.rv = 0.0  # type: ignore[misc]
    assert "RV =" in str(res)
    assert list(res.to_frame().columns)[:3] == ["ci_lower", "theta_lower", "estimate"]
    json.dumps(res.to_dict())
    ax = res.plot(cf_max=0.2)
    assert "cf_d" in ax.get_xlabel()
    dml_sensitivity_contour(res, bound="upper")
    with pytest.raises(ParameterError, match="bound"):
        dml_sensitivity_contour(res, bound="both")
    plt.close("all")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cf_y": -0.1}, "cf_y"),
        ({"cf_d": 1.0}, "cf_d"),
        ({"cf_y": 1.5}, "cf_y"),
        ({"rho": 1.5}, "rho"),
        ({"level": 1.0}, "level"),
    ],
)
def test_refuses_bad_parameters(plr_data, kwargs, match):
    est = PLR(outcome_model=LinearRegression(), treatment_model=LinearRegression(), folds=2)
    est.fit(plr_data, "d", "y", COVARIATES)
    with pytest.raises(ParameterError, match=match):
        dml_sensitivity(est, data=plr_data, treatment="d", outcome="y", **kwargs)


def test_refuses_unfitted_unsupported_and_mismatched(plr_data, irm_data):
    kw = {"data": plr_data, "treatment": "d", "outcome": "y"}
    with pytest.raises(NotFittedError):
        dml_sensitivity(PLR(), **kw)
    with pytest.raises(ParameterError, match="not supported"):
        dml_sensitivity(Matching(), **kw)
    rep = PLR(
        outcome_model=LinearRegression(),
        treatment_model=LinearRegression(),
        folds=2,
        repetitions=2,
        random_state=0,
    ).fit(plr_data, "d", "y", COVARIATES)
    del rep._repetition_fits  # as unpickled from a paribus that did not keep them
    with pytest.raises(ParameterError, match="repetitions"):
        dml_sensitivity(rep, **kw)
    est = PLR(outcome_model=LinearRegression(), treatment_model=LinearRegression(), folds=2)
    est.fit(plr_data, "d", "y", COVARIATES)
    with pytest.raises(ParameterError, match="data="):
        dml_sensitivity(est)
    with pytest.raises(DataError, match="reproduce"):
        reversed_rows = plr_data.iloc[::-1].reset_index(drop=True)
        dml_sensitivity(est, data=reversed_rows, treatment="d", outcome="y")
    with pytest.raises(DataError, match="rows"):
        dml_sensitivity(est, data=plr_data.iloc[:-1], treatment="d", outcome="y")
