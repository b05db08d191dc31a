"""The S-learner: one outcome model with the treatment as a feature (Künzel et al. 2019).

``mu(x, a) = E[Y | X = x, A = a]`` is learned by a single regressor on ``[X, onehot(A)]``
and ``tau_k(x) = mu(x, k) - mu(x, control)``. Simple and data-efficient when effects are
small, but a regularised learner may shrink the treatment's role towards zero (a bias
towards no effect); intervals and the ATE's error come from bootstrap refits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from paribus.effects.meta._families import OutcomeModelLearner
from paribus.effects.meta._learn import fit_on

__all__ = ["SLearner"]


@dataclass(frozen=True)
class _SFit:
    model: Any
    n_treated_levels: int

    def predict(self, X: np.ndarray) -> np.ndarray:
        n, K = X.shape[0], self.n_treated_levels
        # one call for every level (control first): per-call overhead dominates small fits
        codes = np.repeat(np.arange(K + 1), n)
        onehot = (codes[:, None] == np.arange(1, K + 1)[None, :]).astype(float)
        mu = self.model.predict(np.column_stack([np.tile(X, (K + 1, 1)), onehot]))
        mu = np.asarray(mu, dtype=float).reshape(K + 1, n)
        return (mu[1:] - mu[0]).T


class SLearner(OutcomeModelLearner):
    """S-learner: CATE from one regressor of ``Y`` on covariates and treatment.

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
        What ``result_`` reports: the average of the CATE over the sample.
    outcome_model : regressor, optional
        Learns ``E[Y | X, A]`` (the treatment enters as one indicator per treated level).
        Default: boosting (:func:`paribus._core.defaults.default_regressor`).
    n_bootstrap : int, default 100
        Refits on resamples (stratified by treatment level, whole clusters with a cluster
        column) for the intervals and the ATE's standard error; 0 skips them.
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional
        Workers for the bootstrap refits (None: ``paribus.config``).

    Attributes
    ----------
    result_ : Effect or EffectTable
        The average effect(s) over the sample (bootstrap standard errors).
    cate_ : fitted CATE function
    """

    _method: ClassVar[str] = "s-learner"

    def _fit_cate(
        self, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
    ) -> _SFit:
        K = int(arm.max())
        onehot = (arm[:, None] == np.arange(1, K + 1)[None, :]).astype(float)
        seed = int(seeds.generate_state(1)[0])
        model = fit_on(self._learners()[0], np.column_stack([X, onehot]), y, None, seed)
        return _SFit(model, K)
