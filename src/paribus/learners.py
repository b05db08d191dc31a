"""Nuisance learners: the defaults, and the same boosting tuned by cross-validated loss.

Every estimator takes any scikit-learn regressor or classifier as a nuisance model
(cloned per fold). With none given it uses :func:`default_regressor` /
:func:`default_classifier` (shallow regularised boosting, LightGBM when installed;
:mod:`paribus._core.defaults`). When the defaults may be too rigid or too flexible
for the data, :func:`tuned_regressor` / :func:`tuned_classifier` choose the number of
rounds, depth and learning rate by K-fold cross-validated loss (squared error for
outcomes, log loss for propensities) *inside each cross-fitting fold*, so the
tuning never sees the rows it will predict (as in DoubleML's per-fold tuning)::

    PLR(outcome_model=paribus.learners.tuned_regressor(),
        treatment_model=paribus.learners.tuned_classifier())

They are scikit-learn ``GridSearchCV`` objects: ``best_params_`` and ``cv_results_`` are
there after a fit, and any grid can be passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.model_selection import GridSearchCV

from paribus._core.defaults import boosting_library, default_classifier, default_regressor
from paribus.errors import ParameterError

__all__ = ["default_classifier", "default_regressor", "tuned_classifier", "tuned_regressor"]


def _grid() -> dict[str, list[Any]]:
    """A small grid around the defaults: 3 x 2 x 2 = 12 candidates."""
    if boosting_library() == "lightgbm":
        return {
            "n_estimators": [50, 100, 300],
            "max_depth": [2, 4],
            "num_leaves": [4, 16],
            "learning_rate": [0.05],
        }
    return {
        "max_iter": [50, 100, 300],
        "max_depth": [2, 4],
        "max_leaf_nodes": [4, 16],
        "learning_rate": [0.05],
    }


def _search(
    estimator: Any, grid: Mapping[str, Sequence[Any]] | None, cv: int, scoring: str
) -> GridSearchCV:
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise ParameterError(f"cv={cv!r} is invalid; expected an integer of at least 2 folds.")
    grid = dict(_grid() if grid is None else grid)
    params = estimator.get_params()
    unknown = sorted(set(grid) - set(params))
    if unknown:
        raise ParameterError(
            f"grid names {unknown}, which {type(estimator).__name__} does not have; its "
            f"settings include {sorted(params)[:12]}."
        )
    return GridSearchCV(estimator, {k: list(v) for k, v in grid.items()}, scoring=scoring, cv=cv)


def tuned_regressor(
    estimator: Any = None, grid: Mapping[str, Sequence[Any]] | None = None, cv: int = 3
) -> GridSearchCV:
    """A regressor that picks its settings by ``cv``-fold cross-validated squared error.

    ``estimator`` defaults to :func:`default_regressor` and ``grid`` to rounds x depth x
    leaves around the defaults.
    """
    base = default_regressor() if estimator is None else estimator
    return _search(base, grid, cv, "neg_mean_squared_error")


def tuned_classifier(
    estimator: Any = None, grid: Mapping[str, Sequence[Any]] | None = None, cv: int = 3
) -> GridSearchCV:
    """A probabilistic classifier that picks its settings by cross-validated log loss."""
    base = default_classifier() if estimator is None else estimator
    return _search(base, grid, cv, "neg_log_loss")
