"""The proof that an added column leaves a LightGBM regression fit unchanged (no refit)."""

from __future__ import annotations

import numpy as np
import pytest

from paribus._core.binned_boosting import _train_params, binned_base, cache_info
from paribus._core.binned_boosting import fit_predict_binned as fast_fit
from paribus._core.unused_column import column_may_split, skip_supported, summarise_booster

lgb = pytest.importorskip("lightgbm")

N, P = 8_000, 4


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(N, P))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * (X[:, 2] > 0) + 0.3 * rng.normal(size=N)
    return {"X": X, "y": y}


CONFIGS = {
    "paribus default": {},
    "shallow, small leaves, no L2": {
        "max_depth": 2,
        "num_leaves": 4,
        "min_child_samples": 5,
        "reg_lambda": 0.0,
    },
    "min_split_gain, fast rate, few rounds": {
        "min_split_gain": 0.5,
        "learning_rate": 0.2,
        "n_estimators": 40,
        "max_depth": 4,
        "num_leaves": 20,
    },
}


def _regressor(extra: dict[str, object]) -> object:
    from paribus._core.defaults import _LIGHTGBM

    return lgb.LGBMRegressor(**{**_LIGHTGBM, **extra})


@pytest.mark.parametrize("name", list(CONFIGS))
def test_a_skipped_refit_equals_the_real_refit(data: dict[str, np.ndarray], name: str) -> None:
    # whenever the check says the noise column cannot enter, LightGBM trained on
    # [noise, X] predicts exactly what the fit on X alone predicts
    X, y = data["X"], data["y"]
    model = _regressor(CONFIGS[name])
    params = _train_params(model)
    assert params is not None and skip_supported(params)
    rounds = model.get_params()["n_estimators"]
    base = lgb.train(params, lgb.Dataset(X, y, params=params), num_boost_round=rounds)
    summary = summarise_booster(base, X, y, params)
    assert summary is not None
    test = np.random.default_rng(0).normal(size=(500, P))
    expected = base.predict(test)
    decisions = []
    for seed in range(25):
        u = np.random.default_rng(100 + seed).normal(size=N)
        may_split = column_may_split(summary, u)
        decisions.append(may_split)
        if may_split:
            continue
        refit = lgb.train(
            params, lgb.Dataset(np.c_[u, X], y, params=params), num_boost_round=rounds
        )
        u_test = np.random.default_rng(seed).normal(size=500)
        np.testing.assert_array_equal(refit.predict(np.c_[u_test, test]), expected)
        assert refit.feature_importance()[0] == 0
    # on these data the noise column never enters the shallow fits and enters most
    # default fits (LightGBM's own refits agree: 0 and 9 of 12 draws)
    if name == "shallow, small leaves, no L2":
        assert not any(decisions)


def test_the_check_is_neither_always_nor_never(data: dict[str, np.ndarray]) -> None:
    # with the default settings the check says "may split" for some draws and proves
    # "cannot split" for others on these data
    X, y = data["X"], data["y"]
    params = _train_params(_regressor({}))
    assert params is not None
    base = lgb.train(params, lgb.Dataset(X, y, params=params), num_boost_round=100)
    summary = summarise_booster(base, X, y, params)
    assert summary is not None
    decisions = [
        column_may_split(summary, np.random.default_rng(100 + seed).normal(size=N))
        for seed in range(25)
    ]
    assert 0 < sum(decisions) < len(decisions), decisions


def test_a_column_that_matters_is_never_skipped(data: dict[str, np.ndarray]) -> None:
    X, y = data["X"], data["y"]
    model = _regressor({})
    params = _train_params(model)
    base = lgb.train(params, lgb.Dataset(X[:, 1:], y, params=params), num_boost_round=100)
    summary = summarise_booster(base, X[:, 1:], y, params)
    assert summary is not None
    assert column_may_split(summary, X[:, 0])  # the dropped signal column
    assert column_may_split(summary, np.r_[np.nan, X[1:, 0]])  # not finite: no proof
    assert column_may_split(summary, X[:-1, 0])  # wrong length: no proof


@pytest.mark.parametrize(
    "change",
    [
        {"colsample_bytree": 0.5},
        {"subsample": 0.5, "subsample_freq": 1},
        {"reg_alpha": 0.1},
        {"num_leaves": 7},  # fewer than 2^3: growth order would matter
        {"max_depth": -1},
        {"objective": "huber"},
        {"extra_trees": True},
        {"min_sum_hessian_in_leaf": 1.0},
    ],
)
def test_settings_the_proof_does_not_cover_are_refused(change: dict[str, object]) -> None:
    params = _train_params(_regressor({}))
    assert params is not None and skip_supported(params)
    assert not skip_supported({**params, **change})


def test_the_fast_path_skips_and_stays_exact(data: dict[str, np.ndarray]) -> None:
    X, y = data["X"], data["y"]
    train, test = np.arange(6_400), np.arange(6_400, N)
    shallow = CONFIGS["shallow, small leaves, no L2"]  # the noise never enters these
    model = _regressor(shallow)
    before = cache_info()["skipped"]
    with binned_base(X):
        for seed in range(8):
            u = np.random.default_rng(seed).normal(size=N)
            Xu = np.c_[X, u]
            got = fast_fit(_regressor(shallow), Xu, y, train, test)
            plain = model.__class__(**model.get_params()).fit(np.c_[u[train], X[train]], y[train])
            np.testing.assert_array_equal(got, plain.predict(np.c_[u[test], X[test]]))
    assert cache_info()["skipped"] > before


def test_the_fit_without_the_column_is_built_only_for_folds_met_twice(
    data: dict[str, np.ndarray],
) -> None:
    # refits whose folds change every time (no random_state) never pay for the extra
    # fit; the second refit on a fold builds it, and later ones reuse it
    X, y = data["X"], data["y"]
    shallow = CONFIGS["shallow, small leaves, no L2"]
    rng = np.random.default_rng(7)
    with binned_base(X):
        start = cache_info()
        for _ in range(3):  # a new split each time
            rows = rng.permutation(N)
            train, test = np.sort(rows[:6_000]), np.sort(rows[6_000:])
            u = rng.normal(size=N)
            fast_fit(_regressor(shallow), np.c_[X, u], y, train, test)
        assert cache_info()["base_fits"] == start["base_fits"]
        assert cache_info()["skipped"] == start["skipped"]
        train, test = np.arange(5_000), np.arange(5_000, N)
        for _ in range(3):  # the same split: built once on the second, reused after
            u = rng.normal(size=N)
            fast_fit(_regressor(shallow), np.c_[X, u], y, train, test)
        assert cache_info()["base_fits"] == start["base_fits"] + 1
        assert cache_info()["skipped"] == start["skipped"] + 2
