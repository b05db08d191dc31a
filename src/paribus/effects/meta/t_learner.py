"""The T-learner: one outcome model per treatment level (Künzel et al. 2019).

``mu_a(x) = E[Y | X = x, A = a]`` is learned on arm ``a`` alone and
``tau_k(x) = mu_k(x) - mu_control(x)``. No information is shared between arms, so it
does well when the arms' response surfaces differ, and poorly when an arm is small
(its model's errors become the CATE's). Bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from paribus._core.random import child_seeds
from paribus.effects.meta._families import OutcomeModelLearner
from paribus.effects.meta._learn import fit_on

__all__ = ["TLearner"]


@dataclass(frozen=True)
class _TFit:
    models: tuple[Any, ...]  # one per arm, control first

    def predict(self, X: np.ndarray) -> np.ndarray:
        mu = np.column_stack([m.predict(X) for m in self.models])
        return mu[:, 1:] - mu[:, :1]


def fit_arm_models(
    learner: Any, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
) -> tuple[Any, ...]:
    """One clone of ``learner`` per arm, fitted on that arm's rows."""
    K = int(arm.max())
    return tuple(
        fit_on(learner, X, y, arm == a, s)
        for a, s in zip(range(K + 1), child_seeds(seeds, K + 1), strict=True)
    )


class TLearner(OutcomeModelLearner):
    """T-learner: CATE as the difference of per-arm outcome regressions.

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
        What ``result_`` reports: the average of the CATE over the sample.
    outcome_model : regressor, optional
        Cloned and fitted on each treatment level's rows. Default: boosting.
    n_bootstrap : int, default 100
        Refits for intervals and the ATE's error (as :class:`SLearner`).
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional

    Attributes
    ----------
    result_ : Effect or EffectTable
        One average effect per treated level (an EffectTable with several levels).
    cate_ : fitted CATE function
    """

    _method: ClassVar[str] = "t-learner"

    def _fit_cate(
        self, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
    ) -> _TFit:
        return _TFit(fit_arm_models(self._learners()[0], X, y, arm, seeds))
