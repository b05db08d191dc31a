"""The DR-learner (Kennedy 2023, "Towards optimal doubly robust estimation of
heterogeneous causal effects", Electronic Journal of Statistics 17(2)).

Cross-fitted outcome models ``mu_a(x)`` and propensities ``e_a(x)`` give, for each treated
level ``k`` against control ``0``, the doubly robust pseudo-outcome (the AIPW score)

    phi_k = mu_k - mu_0 + 1{A = k}(Y - mu_k) / e_k - 1{A = 0}(Y - mu_0) / e_0,

whose conditional mean given ``X`` is ``tau_k(X)`` if either nuisance is right. The CATE is
a regression of ``phi_k`` on ``X`` (the final stage). A linear final stage
(``final_model="linear"``) gives the best linear projection of the CATE with HC0-robust
analytic intervals; any regressor gives a flexible CATE with bootstrap intervals over
final-stage refits (nuisances held fixed: their error is second order, Kennedy Thm. 2).
``ate()`` is ``mean(phi_k)`` with its influence-function error: AIPW's estimate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from paribus._core.inference import if_std_error
from paribus._core.random import child_seeds
from paribus.effects.meta._base import CATEFit, LinearCATE
from paribus.effects.meta._crossfit import arm_nuisances, plan_folds
from paribus.effects.meta._families import FinalStageLearner
from paribus.effects.meta._final import fit_model_cate, linear_coefficients
from paribus.effects.meta._learn import require_classifier
from paribus.results import Effect

__all__ = ["DRLearner"]


class DRLearner(FinalStageLearner):
    """DR-learner: a regression of doubly robust pseudo-outcomes on the covariates.

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
        What ``result_`` reports: the average of the CATE over the sample.
    outcome_model : regressor, optional
        ``E[Y | X, A = a]`` in each arm, cross-fitted. Default: boosting.
    propensity_model : classifier, optional
        ``P(A = a | X)`` (one-vs-rest with several levels), cross-fitted. Default: boosting.
    final_model : "linear" or regressor, default "linear"
        The CATE model of the pseudo-outcomes (module docstring).
    folds : int or list, default 5
        Cross-fitting folds, stratified by treatment level; or explicit ``(train, test)``
        pairs whose test sets partition the rows.
    clip : float in [0, 0.5), default 0.01
        Propensities are clipped to ``[clip, 1 - clip]`` in the pseudo-outcome (as AIPW
        does, so with two levels ``e`` and ``1 - e`` stay complementary).
    n_bootstrap : int, default 100
        Final-stage refits for the intervals of a nonlinear ``final_model``.
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional
        Workers for the nuisance fits and refits (None: ``paribus.config``).

    Attributes
    ----------
    result_ : Effect or EffectTable
        The ATE per treated level (AIPW, influence-function errors, per-unit scores).
    cate_ : fitted CATE function
    nuisance_ : dict of ndarray
        Out-of-fold ``mu`` and ``e`` (n, levels) and the pseudo-outcomes ``phi`` (n, K).
    """

    _method: ClassVar[str] = "dr-learner"

    def _diagnostics(self) -> dict[str, Any]:
        return super()._diagnostics() | {
            "min_propensity": float(self.nuisance_["e"].min()),
            "share_clipped": float(
                np.mean((self._raw_e < self.clip) | (self._raw_e > 1 - self.clip))
            ),
        }

    def _fit_cate(
        self, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
    ) -> CATEFit:
        outcome, propensity = self._learners()[:2]
        require_classifier(propensity, "propensity_model", "DRLearner")
        fold_stream, nuisance_stream, final_stream = seeds.spawn(3)
        fold_seed = int(fold_stream.generate_state(1)[0])
        self._folds = plan_folds(self.folds, arm, fold_seed, self._cluster, "DRLearner")
        mu, raw_e = arm_nuisances(
            outcome, propensity, X, y, arm, self._folds, nuisance_stream, self.n_jobs
        )
        e = np.clip(raw_e, self.clip, 1 - self.clip) if self.clip > 0 else raw_e
        K = mu.shape[1] - 1
        phi = np.empty((y.size, K))
        control = arm == 0
        base = mu[:, 0] + control * (y - mu[:, 0]) / e[:, 0]
        for k in range(1, K + 1):
            treated = arm == k
            phi[:, k - 1] = mu[:, k] + treated * (y - mu[:, k]) / e[:, k] - base
        self._raw_e = raw_e
        self.nuisance_ = {"mu": mu, "e": e, "phi": phi}
        return self._final_fit(np.arange(y.size), X, final_stream)

    def _final_fit(self, rows: np.ndarray, X: np.ndarray, seeds: np.random.SeedSequence) -> CATEFit:
        phi = self.nuisance_["phi"]
        if isinstance(self.final_model, str):
            design = np.column_stack([np.ones(rows.size), X[rows]])
            fits = [linear_coefficients(design, phi[rows, k]) for k in range(phi.shape[1])]
            return LinearCATE(np.array([c for c, _ in fits]), np.array([i for _, i in fits]))
        seeds_k = child_seeds(seeds, phi.shape[1])
        return fit_model_cate(self.final_model, X[rows], phi[rows], None, seeds_k)

    def _ate_effects(self, X: np.ndarray) -> list[Effect]:
        phi = self.nuisance_["phi"]
        out = []
        for k in range(phi.shape[1]):
            theta = float(phi[:, k].mean())
            scores = phi[:, k] - theta
            se = if_std_error(scores, self._cluster)
            out.append(self._effect(theta, se, "influence-function", k, scores, {}))
        return out
