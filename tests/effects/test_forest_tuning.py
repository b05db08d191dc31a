"""Tuning a forest's tree settings by out-of-bag loss (``paribus.effects.forest.tuning``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus import CausalForest, RegressionForest
from paribus.effects.forest.tuning import (
    MIN_NODE_GRID,
    TUNABLE,
    draw_setting,
    resolve_tuned,
)
from paribus.errors import ParameterError
from paribus.learners import default_classifier, default_regressor

COVS = list("abcde")


def _frame(seed: int, heterogeneous: bool, n: int = 1500) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 5))
    t = rng.binomial(1, 1 / (1 + np.exp(-X[:, 1])))
    tau = 4 * np.sin(3 * X[:, 0]) * (X[:, 2] > 0) if heterogeneous else np.ones(n)
    y = X[:, 1] + tau * t + rng.normal(size=n)
    return pd.DataFrame(X, columns=COVS).assign(t=t, y=y), tau


def _forest(**kw: object) -> CausalForest:
    settings: dict[str, object] = {
        "n_estimators": 200,
        "outcome_model": default_regressor(),
        "treatment_model": default_classifier(),
        "random_state": 0,
        "n_jobs": -1,
    }
    settings.update(kw)
    return CausalForest(**settings)  # type: ignore[arg-type]


def _rmse(forest: CausalForest, frame: pd.DataFrame, tau: np.ndarray) -> float:
    return float(np.sqrt(np.mean((forest.effect(frame[COVS]) - tau) ** 2)))


def test_resolve_tuned_names_and_refusals() -> None:
    assert resolve_tuned("F", None) == ()
    assert resolve_tuned("F", "none") == ()
    assert resolve_tuned("F", "all") == TUNABLE
    assert resolve_tuned("F", "mtry") == ("mtry",)
    assert resolve_tuned("F", ["alpha", "mtry"]) == ("alpha", "mtry")
    for bad in ("depth", ["mtry", "mtry"], []):
        with pytest.raises(ParameterError, match="tune_parameters"):
            resolve_tuned("F", bad)  # type: ignore[arg-type]


def test_draws_stay_in_their_ranges() -> None:
    rng = np.random.default_rng(0)
    draws = {name: [draw_setting(name, rng, 800, 7) for _ in range(300)] for name in TUNABLE}
    assert 1 <= min(draws["min_node_size"]) and max(draws["min_node_size"]) <= 200
    assert 0.05 <= min(draws["sample_fraction"]) and max(draws["sample_fraction"]) <= 0.5
    assert set(draws["mtry"]) == set(range(1, 8))
    assert 0 <= min(draws["alpha"]) and max(draws["alpha"]) <= 0.25
    assert min(draws["imbalance_penalty"]) >= 0
    assert np.mean(draws["imbalance_penalty"]) == pytest.approx(1.0, abs=0.2)
    assert 0.5 <= min(draws["honesty_fraction"]) and max(draws["honesty_fraction"]) <= 0.8


def test_node_size_follows_the_heterogeneity() -> None:
    # a strongly heterogeneous effect wants small leaves, a constant one large leaves;
    # tuning moves the node size the right way and the CATE error does not get worse
    het, tau_het = _frame(0, heterogeneous=True)
    flat, tau_flat = _frame(1, heterogeneous=False)
    tuned_het = _forest(tune_parameters="min_node_size").fit(het, "t", "y", COVS)
    tuned_flat = _forest(tune_parameters="min_node_size").fit(flat, "t", "y", COVS)
    assert tuned_het.tuned_params_["min_node_size"] <= 3
    assert tuned_flat.tuned_params_["min_node_size"] >= 20
    plain_het = _forest().fit(het, "t", "y", COVS)
    plain_flat = _forest().fit(flat, "t", "y", COVS)
    assert _rmse(tuned_het, het, tau_het) <= _rmse(plain_het, het, tau_het)
    assert _rmse(tuned_flat, flat, tau_flat) < 0.5 * _rmse(plain_flat, flat, tau_flat)


def test_tuning_table_and_reproducibility() -> None:
    frame, _ = _frame(2, heterogeneous=True, n=800)
    a = _forest(tune_parameters="min_node_size").fit(frame, "t", "y", COVS)
    b = _forest(tune_parameters="min_node_size", n_jobs=1).fit(frame, "t", "y", COVS)
    assert a.tuned_params_ == b.tuned_params_
    np.testing.assert_array_equal(a.oob_effect_, b.oob_effect_)
    table = a.tuning_
    assert table is not None
    # the grid up to a quarter of the units, the forest's own value among them
    assert sorted(table["min_node_size"]) == [m for m in MIN_NODE_GRID if m <= 200]
    assert table["loss"].is_monotonic_increasing
    # the one-standard-error rule never picks a loss above the best's by much
    chosen = table.loc[table["min_node_size"] == a.tuned_params_["min_node_size"], "loss"]
    assert float(chosen.iloc[0]) <= table["loss"].iloc[0] * 1.01
    # the user's settings are not touched (scikit-learn's convention)
    assert a.min_node_size == 5 and a.get_params()["tune_parameters"] == "min_node_size"


def test_untuned_fit_is_unchanged_by_the_tuning_stream() -> None:
    frame, _ = _frame(3, heterogeneous=True, n=600)
    plain = _forest().fit(frame, "t", "y", COVS)
    assert plain.tuned_params_ == {} and plain.tuning_ is None
    # tuning to the value the forest already has grows the same final forest
    same = _forest(tune_parameters="all", tune_num_reps=1, tune_num_trees=20)
    same.fit(frame, "t", "y", COVS)
    if same.tuned_params_ == {k: getattr(plain, k) for k in same.tuned_params_}:
        np.testing.assert_array_equal(same.oob_effect_, plain.oob_effect_)
    # random search keeps the forest's own settings as a candidate
    table = same.tuning_
    assert table is not None and len(table) == 2
    assert ((table["min_node_size"] == 5) & (table["sample_fraction"] == 0.5)).any()


def test_random_search_over_every_setting() -> None:
    frame, _ = _frame(4, heterogeneous=True, n=1000)
    forest = _forest(tune_parameters="all", tune_num_reps=8, tune_num_trees=50)
    forest.fit(frame, "t", "y", COVS)
    assert set(forest.tuned_params_) == set(TUNABLE)
    table = forest.tuning_
    assert table is not None and len(table) == 9
    best = table.iloc[0]
    for name in TUNABLE:
        assert forest.tuned_params_[name] == pytest.approx(best[name])
    assert np.isfinite(forest.effect(frame[COVS])).all()


def test_regression_forest_tunes_by_out_of_bag_error() -> None:
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(1500, 3))
    sharp = np.sin(8 * X[:, 0]) + 0.1 * rng.normal(size=1500)
    noise = rng.normal(size=1500)
    fine = RegressionForest(n_estimators=100, tune_parameters="min_node_size", random_state=0)
    coarse = RegressionForest(n_estimators=100, tune_parameters="min_node_size", random_state=0)
    assert fine.fit(X, sharp).tuned_params_["min_node_size"] <= 8
    assert coarse.fit(X, noise).tuned_params_["min_node_size"] >= 35


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"tune_parameters": "depth"}, "tune_parameters"),
        ({"tune_parameters": 3}, "tune_parameters"),
        ({"tune_num_trees": 5}, "tune_num_trees"),
        ({"tune_num_reps": 0}, "tune_num_reps"),
    ],
)
def test_bad_tuning_settings_are_refused(setting: dict[str, object], match: str) -> None:
    frame, _ = _frame(6, heterogeneous=False, n=300)
    with pytest.raises(ParameterError, match=match):
        _forest(**setting).fit(frame, "t", "y", COVS)
    with pytest.raises(ParameterError, match=match):
        RegressionForest(**setting).fit(frame[COVS], frame["y"])  # type: ignore[arg-type]
