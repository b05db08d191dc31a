"""RegressionForest: accuracy with a known truth, a scikit-learn peer, weights, invariances."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from paribus.effects.forest.regression import RegressionForest, default_mtry
from paribus.errors import DataError, NotFittedError, ParameterError


def _truth(X: np.ndarray) -> np.ndarray:
    return np.sin(3 * X[:, 0]) + X[:, 1] ** 2


def _data(n: int, seed: int, p: int = 5, noise: float = 0.5):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, p))
    return X, _truth(X) + noise * rng.normal(size=n)


@pytest.fixture(scope="module")
def fitted():
    X, y = _data(1500, 0)
    return X, y, RegressionForest(n_estimators=200, random_state=3).fit(X, y)


def test_smooth_function_and_honest_oob_error(fitted):
    X, y, rf = fitted
    Xt, _ = _data(1000, 1)
    test_mse = np.mean((rf.predict(Xt) - _truth(Xt)) ** 2)
    oob_mse = np.mean((rf.oob_prediction_ - _truth(X)) ** 2)
    assert test_mse < 0.03  # function variance 0.35, noise variance 0.25
    # out-of-bag error estimates the error on new data (it is honest): within 50 %
    assert abs(oob_mse - test_mse) < 0.5 * test_mse
    # and the OOB residual variance is near noise + error (0.25 + mse)
    assert np.mean((y - rf.oob_prediction_) ** 2) == pytest.approx(0.25 + oob_mse, rel=0.15)


def test_agrees_with_sklearn_random_forest_on_easy_data(fitted):
    X, y, rf = fitted
    Xt, _ = _data(1000, 2)
    sk = RandomForestRegressor(200, min_samples_leaf=5, random_state=0).fit(X, y)
    ours, theirs = rf.predict(Xt), sk.predict(Xt)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95
    mse_ours = np.mean((ours - _truth(Xt)) ** 2)
    mse_sk = np.mean((theirs - _truth(Xt)) ** 2)
    assert mse_ours < 1.5 * mse_sk + 0.005


def test_forest_weights_reproduce_predictions(fitted):
    X, y, rf = fitted
    Xt, _ = _data(20, 4)
    alpha = rf.forest_weights(Xt)
    assert alpha.shape == (20, X.shape[0])
    np.testing.assert_allclose(np.asarray(alpha.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    np.testing.assert_allclose(alpha @ y, rf.predict(Xt), atol=1e-12)


def test_sample_weights_enter_the_local_mean():
    X, y = _data(600, 5)
    w = np.random.default_rng(0).uniform(0.2, 3.0, y.size)
    rf = RegressionForest(n_estimators=40, random_state=1).fit(X, y, sample_weight=w)
    Xt, _ = _data(15, 6)
    alpha = rf.forest_weights(Xt)
    np.testing.assert_allclose((alpha @ (w * y)) / (alpha @ w), rf.predict(Xt), rtol=1e-12)
    # doubling every weight (exact in binary) changes nothing at all
    rf2 = RegressionForest(n_estimators=40, random_state=1).fit(X, y, sample_weight=4 * w)
    np.testing.assert_array_equal(rf2.predict(Xt), rf.predict(Xt))


def test_translating_y_translates_predictions():
    X, y = _data(500, 7)
    a = RegressionForest(n_estimators=40, random_state=2).fit(X, y)
    b = RegressionForest(n_estimators=40, random_state=2).fit(X, y + 10.0)
    Xt, _ = _data(50, 8)
    np.testing.assert_allclose(b.predict(Xt), a.predict(Xt) + 10.0, atol=1e-9)
    np.testing.assert_allclose(b.oob_prediction_, a.oob_prediction_ + 10.0, atol=1e-9)


def test_seeded_fits_repeat_whatever_n_jobs():
    X, y = _data(400, 9)
    Xt, _ = _data(30, 10)
    a = RegressionForest(n_estimators=20, random_state=5, n_jobs=1).fit(X, y)
    b = RegressionForest(n_estimators=20, random_state=5, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.predict(Xt), b.predict(Xt))
    np.testing.assert_array_equal(a.oob_prediction_, b.oob_prediction_)
    c = RegressionForest(n_estimators=20, random_state=6).fit(X, y)
    assert not np.array_equal(a.predict(Xt), c.predict(Xt))


def test_singleton_clusters_equal_no_clusters():
    X, y = _data(300, 11)
    a = RegressionForest(n_estimators=10, random_state=1).fit(X, y)
    b = RegressionForest(n_estimators=10, random_state=1).fit(X, y, cluster=np.arange(300))
    np.testing.assert_array_equal(a.oob_prediction_, b.oob_prediction_)


def test_clusters_keep_rows_together_out_of_bag():
    rng = np.random.default_rng(12)
    g = np.repeat(np.arange(60), 10)
    X = rng.uniform(size=(600, 3))
    y = rng.normal(size=60)[g] * 3 + X[:, 0]  # a strong cluster effect
    plain = RegressionForest(n_estimators=40, random_state=1).fit(X, y)
    clustered = RegressionForest(n_estimators=40, random_state=1).fit(X, y, cluster=g)
    # clustered OOB never sees a row's own cluster, so it cannot learn its cluster effect
    err_plain = np.mean((y - plain.oob_prediction_) ** 2)
    err_clustered = np.mean((y - clustered.oob_prediction_) ** 2)
    assert err_clustered > err_plain


def test_little_bags_intervals_are_sane(fitted):
    _X, _y, rf = fitted
    Xt, _ = _data(300, 13)
    est, lo, hi = rf.predict_interval(Xt, level=0.9)
    assert np.all(lo < est) and np.all(est < hi)
    cover = np.mean((lo < _truth(Xt)) & (_truth(Xt) < hi))
    assert 0.6 < cover <= 1.0
    assert np.all(np.isfinite(rf.oob_variance_)) and np.all(rf.oob_variance_ >= 0)


def test_split_frequencies_and_pickle(fitted):
    X, _y, rf = fitted
    freq = rf.split_frequencies(max_depth=3)
    assert freq.shape == (3, X.shape[1])
    assert freq[0].sum() == rf.n_estimators  # every root is split
    assert freq[:, :2].sum() > freq[:, 2:].sum()  # the signal features dominate
    again = pickle.loads(pickle.dumps(rf))
    np.testing.assert_array_equal(again.predict(X[:20]), rf.predict(X[:20]))


def test_default_mtry_is_grfs():
    assert default_mtry(5) == 5
    assert default_mtry(100) == 30


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sample_fraction=0.7), "sample_fraction=0.7 exceeds 0.5"),
        (dict(n_estimators=5), "not a multiple of ci_group_size"),
        (dict(mtry=9), "mtry=9 exceeds the 5 covariates"),
        (dict(alpha=0.3), "alpha=0.3 is invalid"),
        (dict(honesty="yes"), "honesty='yes' is invalid"),
        (dict(sample_fraction=0.001), "too few to split into honest halves"),
    ],
)
def test_refuses_bad_settings(kwargs, match):
    X, y = _data(200, 14)
    with pytest.raises((ParameterError, DataError), match=match):
        RegressionForest(**{"n_estimators": 4, **kwargs}).fit(X, y)


def test_refuses_bad_data():
    X, y = _data(100, 15)
    rf = RegressionForest(n_estimators=4)
    with pytest.raises(NotFittedError, match="call fit"):
        rf.predict(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        rf.fit(bad, y)
    with pytest.raises(DataError, match="y must be 100 finite"):
        rf.fit(X, y[:50])
    with pytest.raises(DataError, match="sample weights must be 100 finite non-negative"):
        rf.fit(X, y, sample_weight=-np.ones(100))
    rf.fit(X, y)
    with pytest.raises(DataError, match="fitted on 5"):
        rf.predict(X[:, :3])
    with pytest.raises(ParameterError, match="ci_group_size >= 2"):
        RegressionForest(n_estimators=4, ci_group_size=1).fit(X, y).predict_interval(X)
    with pytest.raises(ParameterError, match="max_depth=0 is invalid"):
        rf.split_frequencies(0)
