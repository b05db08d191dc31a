"""Causal forest: heterogeneous effects of a binary treatment by generalized random forests.

The conditional average treatment effect ``tau(x) = E[Y(1) - Y(0) | X = x]`` is
estimated with local centering (Athey, Tibshirani & Wager 2019, "Generalized random
forests", Ann. Statist. 47(2), Sec. 6.2; Wager & Athey 2018, JASA 113):

1. ``Yhat_i`` and ``What_i`` estimate ``E[Y | X_i]`` and ``e(X_i) = P(W = 1 | X_i)``
   out of bag (regression forests with ``max(50, n_estimators / 4)`` trees, or
   cross-fitted predictions of the user's ``outcome_model`` / ``treatment_model``);
2. honest causal trees are grown on the centred data with the gradient-based
   relabeling rule (:mod:`._tree`) in little bags (:mod:`._grow`);
3. ``tau(x)`` solves the forest-weighted local moment (:mod:`._predict`)

       sum_i alpha_i(x) w_i (W_i - What_i) (Y_i - Yhat_i - tau(x) (W_i - What_i)) = 0,

   i.e. ``tau(x) = sum alpha_i w_i Wc_i Yc_i / sum alpha_i w_i Wc_i^2``, with pointwise
   variance by the bootstrap of little bags (GRF Sec. 4).

Average effects use the doubly robust (AIPW) scores built from the out-of-bag
``tau_i``, ``Yhat_i`` and ``What_i`` (Robins, Rotnitzky & Zhao 1994; grf's
``average_treatment_effect``):

    Gamma_i = tau_i + (W_i - What_i) / (What_i (1 - What_i)) (Y_i - Yhat_i - (W_i - What_i) tau_i)

(with ``What`` clipped to ``[0.001, 0.999]`` in the ratio; the share clipped is in the
diagnostics and poor overlap raises an OverlapWarning) so ATE = mean Gamma with the
influence-function standard error (cluster-robust with
``cluster``); ATT and ATC reweight the same AIPW terms to the treated or the controls;
the overlap-weighted effect ``E[e(1-e) tau] / E[e(1-e)]`` is
``sum w Wc Yc / sum w Wc^2`` (Li, Morgan & Zaslavsky 2018). Identification assumes
unconfoundedness given ``X`` and overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.crossfit import Nuisance, cross_fit, make_folds
from paribus._core.inference import if_std_error
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.params import LEVEL, NONE, HasMethods, Interval, Options, check_level
from paribus._core.random import child_seeds, seed_sequence
from paribus.effects.forest._grow import Forest, check_settings, grow_forest
from paribus.effects.forest._grow import predict_accumulators as _accumulators
from paribus.effects.forest._predict import forest_weights_csr, ratio_and_variance
from paribus.effects.forest._tree import RULE_CAUSAL
from paribus.effects.forest.regression import (
    FOREST_CONSTRAINTS,
    RegressionForest,
    as_matrix,
    split_frequencies,
    tree_settings,
)
from paribus.effects.forest.tuning import TUNING_CONSTRAINTS, resolve_tuned, tune_forest
from paribus.effects.meta._base import CATEEstimator
from paribus.errors import DataError, ParameterError
from paribus.results import Effect

__all__ = ["E_CLIP", "CausalForest", "ForestCATE"]

_TARGETS = ("ATE", "ATT", "ATC", "overlap")
_NUISANCE_GROUP = 1
#: propensities are clipped to [E_CLIP, 1 - E_CLIP] in the doubly robust scores
E_CLIP = 1e-3


@dataclass(frozen=True)
class ForestCATE:
    """The fitted CATE function of a causal forest: ``predict(X)`` has shape (n, 1)."""

    forest: Forest
    n_jobs: int | None

    def predict_with_variance(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc = _accumulators(self.forest, X, self.n_jobs)
        return ratio_and_variance(acc, self.forest.group_size)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_with_variance(X)[0].reshape(-1, 1)


class CausalForest(CATEEstimator):
    """Generalized random forest for the CATE of a binary treatment (module docstring).

    Parameters
    ----------
    n_estimators : int, default 2000
        Trees of the causal forest; a multiple of ``ci_group_size``.
    sample_fraction, mtry, min_node_size, honesty, honesty_fraction, alpha,
    imbalance_penalty, ci_group_size, honesty_prune_leaves
        Tree settings, as :class:`~paribus.effects.forest.regression.RegressionForest`
        (``alpha`` and ``imbalance_penalty`` measure child size by the treatment's
        within-node sum of squares, as grf's causal splitting does).
    outcome_model, treatment_model : scikit-learn estimators or None
        Learners of ``E[Y | X]`` and ``P(W = 1 | X)``, cross-fitted on ``folds`` folds
        (a classifier's ``predict_proba`` is used). None grows regression forests and
        uses their out-of-bag predictions (grf's default).
    folds : int, default 5
        Cross-fitting folds for user-given nuisance learners (clusters kept whole).
    tune_parameters : None, "all" or names, default None
        Tree settings chosen by the out-of-bag R-loss of small forests grown on the
        same centred data (:mod:`~paribus.effects.forest.tuning`); e.g.
        ``"min_node_size"`` (a grid) or ``"all"`` (random search). The values given
        for the others are kept; the chosen ones are in ``tuned_params_``.
    tune_num_trees : int, default 200
        Trees of each tuning forest.
    tune_num_reps : int, default 50
        Random candidates when several settings are tuned.
    estimand : {"ATE", "ATT", "ATC", "overlap"}, default "ATE"
        The doubly robust average reported in ``result_`` (all are in
        :meth:`average_effect`).
    n_jobs, random_state, level
        Parallel workers (None: ``paribus.config``), seed, interval level.

    Attributes
    ----------
    oob_effect_, oob_std_error_ : (n,) out-of-bag CATEs and their standard errors.
    scores_ : (n,) doubly robust scores ``Gamma_i``.
    outcome_hat_, treatment_hat_ : (n,) the centering predictions ``Yhat``, ``What``.
    result_ : :class:`~paribus.Effect`, the doubly robust average effect for ``estimand``
        ("ATE", "ATT", "ATC" or the overlap-weighted "overlap").
    tuned_params_ : dict, the tuned settings' chosen values ({} without tuning).
    tuning_ : pandas.DataFrame or None, every tuning candidate and its loss (best first).
    """

    _method: ClassVar[str] = "causal-forest"
    _binary_treatment: ClassVar[bool] = True
    _multi_valued: ClassVar[bool] = False
    _uses_bootstrap: ClassVar[bool] = False
    _accepts_weights: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FOREST_CONSTRAINTS,
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "treatment_model": [NONE, HasMethods(("fit", "predict"))],
        "level": [LEVEL],
        "folds": [Interval(2, None, integer=True)],
        "estimand": [Options(("ATE", "ATT", "ATC", "overlap"))],
        **TUNING_CONSTRAINTS,
    }
    _estimands: ClassVar[tuple[str, ...]] = ("ATE", "ATT", "ATC", "overlap")

    def __init__(
        self,
        n_estimators: int = 2000,
        sample_fraction: float = 0.5,
        mtry: int | None = None,
        min_node_size: int = 5,
        honesty: bool = True,
        honesty_fraction: float = 0.5,
        alpha: float = 0.05,
        imbalance_penalty: float = 0.0,
        ci_group_size: int = 2,
        outcome_model: Any = None,
        treatment_model: Any = None,
        n_jobs: int | None = None,
        random_state: int | None = None,
        level: float = 0.95,
        honesty_prune_leaves: bool = True,
        folds: int = 5,
        estimand: str = "ATE",
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
        self.alpha = alpha
        self.imbalance_penalty = imbalance_penalty
        self.ci_group_size = ci_group_size
        self.outcome_model = outcome_model
        self.treatment_model = treatment_model
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.level = level
        self.honesty_prune_leaves = honesty_prune_leaves
        self.folds = folds
        self.estimand = estimand
        self.tune_parameters = tune_parameters
        self.tune_num_trees = tune_num_trees
        self.tune_num_reps = tune_num_reps

    # -- fitting ------------------------------------------------------------------------------

    def fit(  # type: ignore[override]
        self,
        data: Any,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        *,
        weights: str | None = None,
        cluster: str | None = None,
        dropna: bool = False,
    ) -> CausalForest:
        """Grow the forest for the CATE of ``treatment`` (0/1) on ``outcome``.

        ``weights`` names a column of sampling weights (they weight the splits, the
        local moments and the average effects); ``cluster`` makes whole clusters the
        sampled units and the average effects' errors cluster-robust. Returns ``self``.
        """
        self._validate_settings()
        name = type(self).__name__
        cd = self._causal_data(data, treatment, outcome, covariates, weights, cluster, dropna)
        if not cd.covariates:
            raise DataError(
                f"{name}: a CATE is a function of covariates; pass covariates=[...] (the "
                "effect modifiers, which must also be all the confounders)."
            )
        arm = self._arms(cd, None)
        X = as_matrix(name, "covariates", cd.X)
        y = cd.y
        W = arm.astype(float)
        raw_w = cd.column("weights")
        w = np.ones(y.size) if raw_w is None else np.asarray(raw_w, dtype=float)
        self._cluster = cd.column("cluster")
        self._weights = w
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(cd.covariates, dtype=object)
        self._allow_nan = False
        s = tree_settings(self, RULE_CAUSAL, X.shape[1])
        n_units = y.size if self._cluster is None else np.unique(self._cluster).size
        check_settings(name, s, int(self.n_estimators), n_units, X.shape[1])
        tuned = resolve_tuned(name, self.tune_parameters)
        # a third stream for tuning leaves the first two (and untuned fits) unchanged
        nuisance_root, forest_root, tune_root = seed_sequence(self.random_state).spawn(3)
        y_hat, w_hat = self._nuisances(X, y, W, w, nuisance_root)
        yc, wc = y - y_hat, W - w_hat
        self.tuned_params_: dict[str, Any] = {}
        self.tuning_: pd.DataFrame | None = None
        if tuned:
            data = (X, yc, wc, w, w * wc * yc, w * wc * wc)
            s, self.tuning_ = tune_forest(
                self, s, tuned, data, lambda tau: (yc - tau * wc) ** 2,
                self._cluster, n_units, tune_root,
            )  # fmt: skip
            self.tuned_params_ = {k: getattr(s, k) for k in tuned}
        forest, acc = grow_forest(
            X,
            yc,
            wc,
            w,
            w * wc * yc,
            w * wc * wc,
            s,
            int(self.n_estimators),
            forest_root,
            self._cluster,
            self.n_jobs,
            f"{name} trees",
        )
        self.cate_ = ForestCATE(forest, self.n_jobs)
        self.forest_ = forest
        tau, var = ratio_and_variance(acc, s.group_size)
        missing = ~np.isfinite(tau)
        if missing.any():  # rows in every tree's subsample: all trees predict them
            tau[missing], var[missing] = self.cate_.predict_with_variance(X[missing])
        self.oob_effect_ = tau
        self.oob_std_error_ = np.sqrt(var)
        self.outcome_hat_ = y_hat
        self.treatment_hat_ = w_hat
        # the scores divide by e(1 - e): propensities are clipped to [E_CLIP, 1 - E_CLIP]
        # there (an out-of-bag forest average can be exactly 0 or 1 in pure leaves);
        # the share clipped is reported and poor overlap warned about
        e = np.clip(w_hat, E_CLIP, 1 - E_CLIP)
        self._e = e
        self.scores_ = tau + (W - e) / (e * (1 - e)) * (yc - (W - e) * tau)
        self._X, self._y, self._arm, self._W = X, y, arm, W
        self._tau = tau.reshape(-1, 1)
        self._overlap = overlap_diagnostics(w_hat, arm, share_clipped=float(np.mean(e != w_hat)))
        self._n_oob_missing = int(missing.sum())
        warn_if_poor_overlap(self._overlap, name)
        self.result_ = self.average_effect(self.estimand)
        return self

    def _nuisances(
        self,
        X: np.ndarray,
        y: np.ndarray,
        W: np.ndarray,
        w: np.ndarray,
        root: np.random.SeedSequence,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-bag (forests) or cross-fitted (user learners) ``Yhat`` and ``What``."""
        y_root, w_root, cf_root = root.spawn(3)
        preds: dict[str, np.ndarray] = {}
        jobs = []
        if self.outcome_model is not None:
            jobs.append(Nuisance("y_hat", self.outcome_model, "outcome"))
        else:
            preds["y_hat"] = self._nuisance_forest(X, y, w, y_root)
        if self.treatment_model is not None:
            jobs.append(Nuisance("w_hat", self.treatment_model, "treatment"))
        else:
            preds["w_hat"] = self._nuisance_forest(X, W, w, w_root)
        if jobs:
            seed = child_seeds(cf_root, 1)[0]
            folds = make_folds(int(self.folds), W, seed, groups=self._cluster)
            preds.update(cross_fit(jobs, X, y, W, folds, cf_root, self.n_jobs))
        return preds["y_hat"], preds["w_hat"]

    def _nuisance_forest(
        self, X: np.ndarray, target: np.ndarray, w: np.ndarray, root: np.random.SeedSequence
    ) -> np.ndarray:
        # grf's nuisance forests: a quarter of the trees (at least 50), no little bags
        # (ci_group_size=1: every tree subsamples all units, so out-of-bag predictions
        # average more distinct trees; their variance is never needed)
        trees = max(50, int(self.n_estimators) // 4)
        forest = RegressionForest(
            n_estimators=trees,
            sample_fraction=self.sample_fraction,
            mtry=self.mtry,
            min_node_size=self.min_node_size,
            honesty=self.honesty,
            honesty_fraction=self.honesty_fraction,
            honesty_prune_leaves=self.honesty_prune_leaves,
            alpha=self.alpha,
            imbalance_penalty=self.imbalance_penalty,
            ci_group_size=_NUISANCE_GROUP,
            n_jobs=self.n_jobs,
            random_state=child_seeds(root, 1)[0],
        )
        forest.fit(X, target, sample_weight=w, cluster=self._cluster)
        return np.asarray(forest.oob_prediction_)

    # -- average effects ----------------------------------------------------------------------

    def average_effect(self, target: str = "ATE") -> Effect:
        """Doubly robust average effect over ``target`` units (module docstring).

        ``target``: "ATE" (all units), "ATT" (the treated), "ATC" (the controls) or
        "overlap" (units weighted by ``e(x)(1 - e(x))``).
        """
        if target not in _TARGETS:
            raise ParameterError(
                f"{type(self).__name__}.average_effect: target={target!r} is not supported; "
                f"choose from {', '.join(_TARGETS)}."
            )
        tau, W, w = self.oob_effect_, self._W, self._weights
        e, yc = self._e, self._y - self.outcome_hat_
        wc = W - self.treatment_hat_
        if target == "ATE":
            g = self.scores_
            est = float(np.sum(w * g) / np.sum(w))
            phi = w * (g - est) / np.mean(w)
        elif target == "overlap":
            est = float(np.sum(w * wc * yc) / np.sum(w * wc * wc))
            phi = w * wc * (yc - est * wc) / np.mean(w * wc * wc)
        else:
            mu0 = self.outcome_hat_ - e * tau
            mu1 = self.outcome_hat_ + (1 - e) * tau
            if target == "ATT":
                side = W
                term = W * (self._y - mu0) - (1 - W) * e / (1 - e) * (self._y - mu0)
            else:
                side = 1 - W
                term = W * (1 - e) / e * (self._y - mu1) - (1 - W) * (self._y - mu1)
            est = float(np.sum(w * term) / np.sum(w * side))
            phi = w * (term - side * est) / np.mean(w * side)
        se = if_std_error(phi, self._cluster)
        return Effect.from_normal(
            estimand=target,
            estimate=est,
            std_error=se,
            level=self.level,
            n_obs=int(W.size),
            method=self._method,
            inference="influence function"
            + (" (cluster-robust)" if self._cluster is not None else ""),
            diagnostics={
                "cate_std": float(np.std(tau)),
                "n_estimators": int(self.n_estimators),
                "n_oob_missing": self._n_oob_missing,
                **self._overlap,
            },
            scores=phi,
        )

    def ate(self, treatment: Any = None) -> Effect:
        """The doubly robust ATE (an :class:`~paribus.Effect`; ``result_`` when estimand="ATE")."""
        self._column(treatment)
        return self.result_ if self.estimand == "ATE" else self.average_effect("ATE")

    # -- CATEs --------------------------------------------------------------------------------

    def effect_interval(
        self, X: Any, level: float | None = None, treatment: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``level`` intervals for :meth:`effect`, little-bags variance."""
        level = check_level(self.level if level is None else level)
        self._column(treatment)
        self._need_groups()
        tau, var = self._forest_cate().predict_with_variance(self._matrix(X))
        half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(var)
        return tau - half, tau + half

    def _pointwise_se(self, M: np.ndarray) -> np.ndarray:
        self._need_groups()
        return np.sqrt(self._forest_cate().predict_with_variance(M)[1]).reshape(-1, 1)

    def _forest_cate(self) -> ForestCATE:
        cate = self.cate_
        assert isinstance(cate, ForestCATE)
        return cate

    def _need_groups(self) -> None:
        if self.ci_group_size < 2:
            raise ParameterError(
                f"{type(self).__name__}: intervals come from little bags of trees; refit "
                "with ci_group_size >= 2 (the default)."
            )

    def forest_weights(self, X: Any) -> Any:
        """The forest weights ``alpha_i(x)``: a sparse (len(X), n_train) matrix."""
        return forest_weights_csr(self.forest_, self._matrix(X), self._X.shape[0])

    def split_frequencies(self, max_depth: int = 4) -> np.ndarray:
        """Splits on each covariate at depths ``0 .. max_depth - 1``: shape (max_depth, p)."""
        return split_frequencies(self.forest_, max_depth, type(self).__name__)
