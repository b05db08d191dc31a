"""Honest regression forest (GRF's ``regression_forest``), a scikit-learn regressor.

The forest estimates ``mu(x) = E[Y | X = x]`` as the forest-weighted mean
``sum_i alpha_i(x) w_i Y_i / sum_i alpha_i(x) w_i`` (Athey, Tibshirani & Wager 2019,
Sec. 2 and 6; Wager & Athey 2018), with honest trees split by variance reduction
(:mod:`._tree`), grown in little bags (:mod:`._grow`) so that :meth:`predict_interval`
has the bootstrap-of-little-bags variance (:mod:`._predict`). ``oob_prediction_`` holds
each training row's prediction from the trees that never saw it, which is what the
causal forest uses for its local centering ``Yhat`` and ``What``.

It follows the scikit-learn estimator contract (settings in ``__init__``, ``fit``
returns self), so it can also be given as a learner to cross-fitting estimators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin

from paribus._core.params import (
    N_JOBS,
    RANDOM_STATE,
    Instance,
    Interval,
    _NoneConstraint,
    check_level,
    validate_params,
)
from paribus._core.random import seed_sequence
from paribus.effects.forest._grow import (
    Forest,
    TreeSettings,
    check_settings,
    grow_forest,
    predict_accumulators,
)
from paribus.effects.forest._predict import forest_weights_csr, ratio_and_variance, split_counts
from paribus.effects.forest._tree import RULE_REGRESSION
from paribus.effects.forest.tuning import TUNING_CONSTRAINTS, resolve_tuned, tune_forest
from paribus.errors import DataError, NotFittedError, ParameterError

__all__ = ["FOREST_CONSTRAINTS", "RegressionForest", "as_matrix", "default_mtry"]

_NONE = _NoneConstraint()

#: the constraints shared by the forests' tree settings
FOREST_CONSTRAINTS: dict[str, list[Any]] = {
    "n_estimators": [Interval(1, None, integer=True)],
    "sample_fraction": [Interval(0, 1, closed="right")],
    "mtry": [_NONE, Interval(1, None, integer=True)],
    "min_node_size": [Interval(1, None, integer=True)],
    "honesty": [Instance((bool,))],
    "honesty_fraction": [Interval(0, 1, closed="neither")],
    "honesty_prune_leaves": [Instance((bool,))],
    "alpha": [Interval(0, 0.25, closed="left")],
    "imbalance_penalty": [Interval(0, None)],
    "ci_group_size": [Interval(1, None, integer=True)],
    "n_jobs": [N_JOBS],
    "random_state": [RANDOM_STATE],
}


def default_mtry(p: int) -> int:
    """grf's default number of candidate features: ``min(ceil(sqrt(p) + 20), p)``."""
    return min(math.ceil(math.sqrt(p) + 20), p)


def as_matrix(owner: str, name: str, X: Any, p: int | None = None) -> np.ndarray:
    """Covariates as a finite float (n, p) array, refusing what a forest cannot use."""
    try:
        M = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{owner}: {name} must be numeric ({exc}).") from exc
    if M.ndim == 1:
        M = M.reshape(-1, 1)
    if M.ndim != 2 or M.shape[0] == 0:
        raise DataError(f"{owner}: {name} has shape {M.shape}; expected a non-empty (n, p) table.")
    if p is not None and M.shape[1] != p:
        raise DataError(f"{owner}: {name} has {M.shape[1]} columns; the forest was fitted on {p}.")
    if not np.isfinite(M).all():
        raise DataError(
            f"{owner}: {name} has missing or infinite values; forests here need finite "
            "covariates, so impute or drop those rows first."
        )
    return M


def tree_settings(est: Any, rule: int, p: int) -> TreeSettings:
    """The :class:`TreeSettings` of an estimator with the forest parameters."""
    return TreeSettings(
        rule=rule,
        mtry=default_mtry(p) if est.mtry is None else int(est.mtry),
        min_node_size=int(est.min_node_size),
        alpha=float(est.alpha),
        imbalance_penalty=float(est.imbalance_penalty),
        honesty=bool(est.honesty),
        honesty_fraction=float(est.honesty_fraction),
        prune=bool(est.honesty_prune_leaves),
        sample_fraction=float(est.sample_fraction),
        group_size=int(est.ci_group_size),
    )


def check_weights(owner: str, weights: Any, n: int) -> np.ndarray:
    """Sample weights: finite, non-negative, not all zero, one per row (ones if None)."""
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != n or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise DataError(
            f"{owner}: sample weights must be {n} finite non-negative numbers, not all zero; "
            f"found {w.size} values (min {np.nanmin(w) if w.size else 'n/a'})."
        )
    return w


class RegressionForest(RegressorMixin, BaseEstimator):
    """Honest regression forest with little-bags confidence intervals (module docstring).

    Parameters
    ----------
    n_estimators : int, default 2000
        Trees; a multiple of ``ci_group_size``.
    sample_fraction : float, default 0.5
        Share of units (clusters) each tree draws without replacement.
    mtry : int or None
        Candidate features per split; None is grf's ``min(ceil(sqrt(p) + 20), p)``.
    min_node_size : int, default 5
        Nodes with this many splitting samples or fewer are not split.
    honesty, honesty_fraction, honesty_prune_leaves : bool, float, bool
        Honest trees (splits on one part, leaf values from the other), the splitting
        share, and whether leaves left empty by the estimation part are pruned.
    alpha : float, default 0.05
        Each child keeps at least ``alpha`` of its parent's samples.
    imbalance_penalty : float, default 0.0
        Penalty ``imbalance_penalty * (1 / n_L + 1 / n_R)`` on unbalanced splits.
    ci_group_size : int, default 2
        Trees per little bag; 1 turns the variance estimates off.
    n_jobs, random_state : parallel workers (None: ``paribus.config``) and seed.
    tune_parameters : None, "all" or names, default None
        Tree settings chosen by the out-of-bag squared error of small forests
        (:mod:`~paribus.effects.forest.tuning`); the chosen values are in
        ``tuned_params_`` and every candidate's loss in ``tuning_``.
    tune_num_trees, tune_num_reps : int, default 200 and 50
        Trees per tuning forest; random candidates when several settings are tuned.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FOREST_CONSTRAINTS,
        **TUNING_CONSTRAINTS,
    }

    def __init__(
        self,
        n_estimators: int = 2000,
        sample_fraction: float = 0.5,
        mtry: int | None = None,
        min_node_size: int = 5,
        honesty: bool = True,
        honesty_fraction: float = 0.5,
        honesty_prune_leaves: bool = True,
        alpha: float = 0.05,
        imbalance_penalty: float = 0.0,
        ci_group_size: int = 2,
        n_jobs: int | None = None,
        random_state: int | None = None,
        tune_parameters: str | Sequence[str] | None = None,
        tune_num_trees: int = 200,
        tune_num_reps: int = 50,
    ) -> None:
        self.n_estimators = n_estimators
        self.sample_fraction = sample_fraction
        self.mtry = mtry
        self.min_node_size = min_node_size
        self.honesty = honesty
        self.honesty_fraction = honesty_fraction
        self.honesty_prune_leaves = honesty_prune_leaves
        self.alpha = alpha
        self.imbalance_penalty = imbalance_penalty
        self.ci_group_size = ci_group_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.tune_parameters = tune_parameters
        self.tune_num_trees = tune_num_trees
        self.tune_num_reps = tune_num_reps

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, cluster: Any = None
    ) -> RegressionForest:
        """Grow the forest on covariates ``X`` and response ``y``; returns ``self``.

        ``sample_weight`` weights the splitting criterion and the leaf means;
        ``cluster`` (one code per row) makes whole clusters the sampled units.
        """
        name = type(self).__name__
        validate_params(name, self.get_params(deep=False), self._parameter_constraints)
        M = as_matrix(name, "X", X)
        yv = np.asarray(y, dtype=float).ravel()
        if yv.size != M.shape[0] or not np.isfinite(yv).all():
            raise DataError(
                f"{name}: y must be {M.shape[0]} finite numbers (one per row of X); found "
                f"{yv.size} values, {int(np.sum(~np.isfinite(yv)))} not finite."
            )
        w = check_weights(name, sample_weight, M.shape[0])
        codes = None if cluster is None else np.asarray(cluster).ravel()
        if codes is not None and codes.size != M.shape[0]:
            raise DataError(f"{name}: cluster has {codes.size} codes for {M.shape[0]} rows.")
        s = tree_settings(self, RULE_REGRESSION, M.shape[1])
        n_units = M.shape[0] if codes is None else np.unique(codes).size
        check_settings(name, s, int(self.n_estimators), n_units, M.shape[1])
        tuned = resolve_tuned(name, self.tune_parameters)
        self.tuned_params_: dict[str, Any] = {}
        self.tuning_: pd.DataFrame | None = None
        if tuned:
            # the tuning forests draw from their own stream (the final forest's is untouched)
            data = (M, yv, np.zeros_like(yv), w, w * yv, w)
            s, self.tuning_ = tune_forest(
                self, s, tuned, data, lambda pred: (yv - pred) ** 2, codes, n_units,
                seed_sequence(self.random_state),
            )  # fmt: skip
            self.tuned_params_ = {k: getattr(s, k) for k in tuned}
        self.forest_, acc = grow_forest(
            M,
            yv,
            np.zeros_like(yv),
            w,
            w * yv,
            w,
            s,
            int(self.n_estimators),
            seed_sequence(self.random_state),
            codes,
            self.n_jobs,
            f"{name} trees",
        )
        oob, var = ratio_and_variance(acc, s.group_size)
        missing = ~np.isfinite(oob)
        if missing.any():  # rows inside every tree's subsample: use all trees
            oob[missing] = self._predict_full(M[missing])[0]
        self.oob_prediction_ = oob
        self.oob_variance_ = var
        self.n_features_in_ = M.shape[1]
        self._n_train = M.shape[0]
        return self

    def _fitted(self) -> Forest:
        if "forest_" not in self.__dict__:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(X, y) before predicting."
            )
        return self.forest_

    def _predict_full(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        forest = self._fitted()
        M = as_matrix(type(self).__name__, "X", X, forest.n_features)
        return ratio_and_variance(predict_accumulators(forest, M, self.n_jobs), forest.group_size)

    def predict(self, X: Any) -> np.ndarray:
        """Forest-weighted means at the rows of ``X``, shape (n,)."""
        return self._predict_full(X)[0]

    def predict_interval(
        self, X: Any, level: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictions with pointwise normal ``level`` intervals: (estimate, lower, upper)."""
        level = check_level(level)
        if self.ci_group_size < 2:
            raise ParameterError(
                f"{type(self).__name__}: intervals need little bags; refit with "
                "ci_group_size >= 2 (the default)."
            )
        est, var = self._predict_full(X)
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(var)
        return est, est - half, est + half

    def forest_weights(self, X: Any) -> Any:
        """The forest weights ``alpha_i(x)`` as a sparse (len(X), n_train) matrix."""
        forest = self._fitted()
        M = as_matrix(type(self).__name__, "X", X, forest.n_features)
        return forest_weights_csr(forest, M, self._n_train)

    def split_frequencies(self, max_depth: int = 4) -> np.ndarray:
        """Splits on each covariate at depths ``0 .. max_depth - 1``: shape (max_depth, p)."""
        forest = self._fitted()
        return split_frequencies(forest, max_depth, type(self).__name__)


def split_frequencies(forest: Forest, max_depth: int, owner: str) -> np.ndarray:
    """grf's split-frequency table of a fitted forest (counts over all trees)."""
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise ParameterError(
            f"{owner}.split_frequencies: max_depth={max_depth!r} is invalid; expected a "
            "positive integer such as 4."
        )
    return np.asarray(
        split_counts(
            forest.node_ptr, forest.feature, forest.left, forest.right, forest.n_features, max_depth
        )
    )
