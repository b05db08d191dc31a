"""One shared check run on every estimator (see DESIGN.md, "Conformance")."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

import paribus
from _sim import COVARIATES, simulate
from paribus import Effect, Logit
from paribus.effects import METHODS
from paribus.errors import NotFittedError, ParameterError

FAST = {
    "g-computation": {"n_bootstrap": 30},
    "ipw": {},
    "aipw": {"folds": 2, "outcome_model": LinearRegression()},
    "regression": {},
    "matching": {},
    "subclassification": {},
    "frontdoor": {"mediators": ["x1"], "n_bootstrap": 30},
    "dml-plr": {"folds": 2, "outcome_model": LinearRegression(), "treatment_model": Logit()},
    "dml-irm": {"folds": 2, "outcome_model": LinearRegression(), "propensity_model": Logit()},
    "dml-pliv": {
        "folds": 2,
        "outcome_model": LinearRegression(),
        "treatment_model": LinearRegression(),
        "instrument_model": LinearRegression(),
    },
    "dml-iivm": {
        "folds": 2,
        "outcome_model": LinearRegression(),
        "treatment_model": Logit(),
        "propensity_model": Logit(),
    },
    "s-learner": {"outcome_model": LinearRegression(), "n_bootstrap": 20},
    "t-learner": {"outcome_model": LinearRegression(), "n_bootstrap": 20},
    "x-learner": {
        "outcome_model": LinearRegression(),
        "effect_model": LinearRegression(),
        "propensity_model": Logit(),
        "n_bootstrap": 20,
    },
    "r-learner": {"folds": 2, "outcome_model": LinearRegression(), "propensity_model": Logit()},
    "dr-learner": {"folds": 2, "outcome_model": LinearRegression(), "propensity_model": Logit()},
    "causal-forest": {
        "n_estimators": 50,
        "folds": 2,
        "outcome_model": LinearRegression(),
        "treatment_model": Logit(),
    },
}
#: methods whose fit takes no covariates (their variables are settings)
NO_COVARIATES = {"frontdoor"}
#: instrumental-variable methods: fitted with the binary instrument column "z"
INSTRUMENTED = {"dml-pliv", "dml-iivm"}


@pytest.fixture(scope="module")
def data():
    frame = simulate(n=400, seed=7).frame
    # an instrument that moves the treatment (its validity is not what is checked here)
    flip = np.random.default_rng(7).random(len(frame)) < 0.2
    return frame.assign(z=np.where(flip, 1 - frame["t"], frame["t"]))


def covariates_for(method: str) -> list[str] | None:
    return None if method in NO_COVARIATES else COVARIATES


def fit(est, method: str, data):
    extra = {"instrument": "z"} if method in INSTRUMENTED else {}
    return est.fit(data, "t", "y", covariates_for(method), **extra)


def make(method: str, **extra):
    cls = METHODS[method]
    params = set(cls._get_param_names())
    settings = FAST[method] | ({"random_state": 0} if "random_state" in params else {}) | extra
    return cls(**settings)


def test_every_method_is_covered():
    assert set(FAST) == set(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_constructor_only_stores_settings(method):
    est = make(method, level=7.0)  # invalid, but __init__ must not check it
    assert est.get_params()["level"] == 7.0


@pytest.mark.parametrize("method", sorted(METHODS))
def test_fit_returns_self_and_result(method, data):
    est = make(method)
    assert fit(est, method, data) is est
    assert isinstance(est.result_, Effect)
    assert est.result_.method == method
    assert est.result_.n_obs == len(data)
    assert est.result_.ci_lower < est.result_.estimate < est.result_.ci_upper
    assert "estimand" in str(est.summary())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_clone_round_trips(method):
    est = make(method)
    twin = clone(est)
    assert twin is not est
    assert repr(twin.get_params()) == repr(est.get_params())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_unfitted_use_raises(method):
    est = make(method)
    with pytest.raises(NotFittedError, match="call fit"):
        est.result_  # noqa: B018
    with pytest.raises(NotFittedError):
        est.summary()
    assert not hasattr(est, "result_")


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("setting", [{"level": 1.5}, {"estimand": "QTE"}])
def test_bad_settings_raise_parameter_error_at_fit(method, setting, data):
    est = make(method, **setting)
    with pytest.raises(ParameterError, match=next(iter(setting))):
        fit(est, method, data)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_result_is_immutable_and_serialises(method, data):
    result = fit(make(method), method, data).result_
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.estimate = 0.0  # type: ignore[misc]
    assert Effect.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize("method", sorted(METHODS))
def test_same_seed_same_result(method, data):
    a = fit(make(method), method, data).result_
    b = fit(make(method), method, data).result_
    assert a == b


@pytest.mark.parametrize(
    ("method", "estimand"),
    [(m, e) for m in sorted(METHODS) for e in METHODS[m]._estimands],
)
def test_estimate_entry_point_matches_class(method, estimand, data):
    settings = FAST[method] | (
        {"random_state": 0} if "random_state" in METHODS[method]._get_param_names() else {}
    )
    via_api = paribus.estimate(
        data,
        treatment="t",
        outcome="y",
        covariates=covariates_for(method),
        method=method,
        estimand=estimand,
        instrument="z" if method in INSTRUMENTED else None,
        **settings,
    )
    direct = fit(make(method, estimand=estimand), method, data).result_
    assert via_api == direct
    assert via_api.estimand == estimand


def test_estimate_refuses_unknown_method_and_setting(data):
    with pytest.raises(ParameterError, match=r"unknown method 'apiw'\. Did you mean 'aipw'"):
        paribus.estimate(data, treatment="t", outcome="y", covariates=COVARIATES, method="apiw")
    with pytest.raises(ParameterError, match=r"has no setting 'n_folds'.*folds"):
        paribus.estimate(
            data, treatment="t", outcome="y", covariates=COVARIATES, method="aipw", n_folds=3
        )


def test_public_names():
    expected = {
        "CausalData",
        "Effect",
        "EffectTable",
        "estimate",
        "RegressionAdjustment",
        "IPW",
        "Matching",
        "Subclassification",
        "AIPW",
        "GComputation",
        "PLR",
        "IRM",
        "PLIV",
        "IIVM",
        "SLearner",
        "TLearner",
        "XLearner",
        "RLearner",
        "DRLearner",
        "CausalForest",
        "RegressionForest",
        "InstrumentalForest",
        "IV2SLS",
        "IVLIML",
        "IVGMM",
        "config",
    }
    assert expected <= set(paribus.__all__)
    for name in paribus.__all__:
        assert hasattr(paribus, name), name
    for name in (
        "ParibusError",
        "DataError",
        "IdentificationError",
        "OverlapError",
        "ConvergenceError",
        "NotFittedError",
        "ParameterError",
    ):
        assert issubclass(getattr(paribus.errors, name), paribus.errors.ParibusError)
    assert issubclass(paribus.errors.DataError, ValueError)
    assert issubclass(paribus.errors.NotFittedError, AttributeError)
    assert issubclass(paribus.errors.OverlapWarning, paribus.errors.ParibusWarning)
