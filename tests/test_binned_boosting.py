"""LightGBM fits on a cached binned covariate block equal the plain fit, or are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor

import paribus
from paribus import AIPW
from paribus._core.binned_boosting import binned_base, cache_info, fit_predict_binned
from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.random import child_seeds, seed_sequence
from paribus.checks import refute
from paribus.checks.refute import REFUTERS, refit_effect

lgb = pytest.importorskip("lightgbm")

P0 = 6
NON_DEFAULT = {
    "max_bin": 63,
    "min_child_samples": 5,
    "reg_alpha": 0.3,
    "subsample": 0.7,
    "subsample_freq": 1,
    "colsample_bytree": 0.6,
}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 3_000
    X0 = rng.normal(size=(n, P0))
    X0[:, 4] = np.round(X0[:, 4])  # few distinct values
    X0[:, 5] = X0[:, 5] > 1.0  # a mostly-zero binary column
    X0[rng.random(n) < 0.05, 3] = np.nan
    X = np.c_[X0, rng.normal(size=n)]  # the base block, then one noise column
    y = np.sin(2 * X0[:, 0]) + X0[:, 1] ** 2 + X0[:, 5] + rng.normal(size=n)
    t = (rng.random(n) < expit(0.8 * X0[:, 0] - 0.5 * X0[:, 2])).astype(float)
    train = np.sort(rng.choice(n, 2_400, replace=False))
    test = np.setdiff1d(np.arange(n), train)
    return {"X0": X0, "X": X, "y": y, "t": t, "train": train, "test": test}


def _plain(model, X: np.ndarray, target: np.ndarray, train, test) -> np.ndarray:
    fitted = clone(model).fit(X[train], target[train])
    if hasattr(fitted, "predict_proba"):
        return fitted.predict_proba(X[test])[:, 1]
    return fitted.predict(X[test])


def _learner(kind: str, settings: dict, seed: int):
    model = default_regressor() if kind == "regressor" else default_classifier()
    return model.set_params(random_state=seed, **settings)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("settings", [{}, NON_DEFAULT], ids=["defaults", "non-default"])
def test_fast_fit_equals_the_plain_fit_on_the_permuted_columns(data, kind, settings):
    X, train, test = data["X"], data["train"], data["test"]
    target = data["y"] if kind == "regressor" else data["t"]
    model = _learner(kind, settings, seed=7)
    before = cache_info()["fast_fits"]
    with binned_base(data["X0"]):
        fast = fit_predict_binned(clone(model), X, target, train, test)
    assert fast is not None
    assert cache_info()["fast_fits"] == before + 1
    permuted = np.c_[X[:, P0:], X[:, :P0]]
    np.testing.assert_allclose(
        fast, _plain(model, permuted, target, train, test), rtol=0, atol=1e-12
    )
    # against the columns in their own order: the same model up to tie-breaking and column
    # sampling by position (only the latter, with colsample_bytree, moves it here)
    plain = _plain(model, X, target, train, test)
    assert np.sqrt(np.mean((fast - plain) ** 2)) < 0.25 * np.std(plain)
    assert np.corrcoef(fast, plain)[0, 1] > 0.95


def test_binned_base_is_built_once_per_training_rows_and_shared_across_seeds(data):
    X, y, train, test = data["X"], data["y"], data["train"], data["test"]
    X0 = data["X0"].copy()
    X0[0, 0] += 1.0  # a base no other test uses: its Datasets start uncached
    X = np.c_[X0, X[:, P0:]]
    permuted = np.c_[X[:, P0:], X0]
    start = cache_info()
    for seed in (1, 2, 3):
        model = _learner("regressor", {}, seed)
        with binned_base(X0.copy()):  # an equal array re-activates the same cache
            fast = fit_predict_binned(clone(model), X, y, train, test)
        np.testing.assert_array_equal(fast, _plain(model, permuted, y, train, test))
    end = cache_info()
    assert end["builds"] - start["builds"] == 1
    assert end["hits"] - start["hits"] == 2
    # other training rows are another Dataset; Dataset-relevant settings are part of the key
    with binned_base(X0):
        fit_predict_binned(_learner("regressor", {}, 1), X, y, train[1:], test)
        fit_predict_binned(_learner("regressor", {"max_bin": 31}, 1), X, y, train, test)
    assert cache_info()["builds"] - end["builds"] == 2
    assert cache_info()["cached"] == 3


def test_fast_path_falls_back_where_it_does_not_apply(data):
    X, y, t, train, test = data["X"], data["y"], data["t"], data["train"], data["test"]
    reg = _learner("regressor", {}, 1)
    assert fit_predict_binned(clone(reg), X, y, train, test) is None  # no active base
    with binned_base(data["X0"]):
        assert fit_predict_binned(clone(reg), X, y, train, test) is not None
        refused = [
            (HistGradientBoostingRegressor(), X, y),
            (type("Sub", (lgb.LGBMRegressor,), {})(), X, y),
            (clone(reg).set_params(monotone_constraints=[1] * 7), X, y),  # per column
            (clone(reg).set_params(objective="huber"), X, y),
            (clone(reg).set_params(boosting_type="dart"), X, y),
            (clone(reg).set_params(subsample_for_bin=1_000), X, y),  # binning samples rows
            (clone(reg), np.c_[X[:, :1] + 1.0, X[:, 1:]], y),  # another base block
            (clone(reg), X[:, :P0], y),  # no extra column
            (clone(reg), X.astype(np.float32), y),
            (_learner("classifier", {}, 1), X, np.round(2 * y.clip(0, 1))),  # 3 classes
            (_learner("classifier", {}, 1), X, t + 1),  # classes {1, 2}
            (_learner("classifier", {"class_weight": "balanced"}, 1), X, t),
        ]
        for model, features, target in refused:
            assert fit_predict_binned(model, features, target, train, test) is None
    assert fit_predict_binned(clone(reg), X, y, train, test) is None  # deactivated on exit


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 1_200
    x = rng.normal(size=(n, 4))
    t = (rng.random(n) < expit(0.7 * x[:, 0])).astype(int)
    y = 1.0 * t + np.sin(x[:, 0]) + 0.5 * x[:, 1] + rng.normal(size=n)
    return pd.DataFrame(
        {"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "x3": x[:, 3], "t": t, "y": y}
    )


def test_random_common_cause_refits_use_the_fast_path_and_equal_plain_refits(frame):
    covs = ["x0", "x1", "x2", "x3"]
    # column sampling makes the fit depend on column order, so the fast path shows
    outcome = lgb.LGBMRegressor(n_estimators=30, colsample_bytree=0.5, n_jobs=1, verbose=-1)
    est = AIPW(folds=2, outcome_model=outcome, random_state=0, n_jobs=1)
    est.fit(frame, "t", "y", covs)
    before = cache_info()["fast_fits"]
    (check,) = refute(
        est, frame, "t", "y", covs, refuters=("random_common_cause",), n_repeats=3,
        random_state=0, n_jobs=1,
    )  # fmt: skip
    assert cache_info()["fast_fits"] - before == 3 * 6  # every nuisance fit of every refit
    draws = np.asarray(check.estimates)
    assert np.isfinite(draws).all()
    # column sampling on 4 + 1 columns moves this toy fit by up to about half an SE
    assert np.all(np.abs(draws - est.result_.estimate) < est.result_.std_error)

    def plain(first: bool) -> np.ndarray:
        out = []
        for s in child_seeds(seed_sequence(0).spawn(1)[0], 3):
            perturbed = REFUTERS["random_common_cause"](frame, "t", s, 0.8)
            order = ["_random_common_cause", *covs] if first else [*covs, "_random_common_cause"]
            # the refuter keeps the estimator's own seed (folds) for this refit
            out.append(refit_effect(est, perturbed, "t", "y", order, None).estimate)
        return np.asarray(out)

    np.testing.assert_array_equal(draws, plain(first=True))
    assert not np.array_equal(draws, plain(first=False))

    # the loky workers activate the base themselves and give the same draws
    with paribus.config(n_jobs=2, backend="loky"):
        (parallel,) = refute(
            est, frame, "t", "y", covs, refuters=("random_common_cause",), n_repeats=3,
            random_state=0,
        )  # fmt: skip
    assert parallel.estimates == check.estimates
