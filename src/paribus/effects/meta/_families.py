"""Two families of meta-learners that share settings and plumbing.

* :class:`OutcomeModelLearner` (S- and T-learner): one outcome learner, bootstrap refits.
* :class:`FinalStageLearner` (R- and DR-learner): cross-fitted outcome and propensity
  models, then a final stage (``"linear"`` or any regressor) that is refitted alone on
  bootstrap resamples when it is not linear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.learners import model_name
from paribus._core.params import Interval, Options
from paribus._core.repeated import FOLDS, Folds
from paribus.effects.meta._base import CATEEstimator, CATEFit
from paribus.effects.meta._learn import CLASSIFIER, COMMON, REGRESSOR

__all__ = ["FinalStageLearner", "OutcomeModelLearner"]


class OutcomeModelLearner(CATEEstimator):
    """Base of the S- and T-learner: an outcome model and bootstrap settings."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "outcome_model": REGRESSOR,
        **COMMON,
    }

    def __init__(
        self,
        estimand: Literal["ATE"] = "ATE",
        outcome_model: Any = None,
        n_bootstrap: int = 100,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        return [default_regressor() if self.outcome_model is None else self.outcome_model]

    def _diagnostics(self) -> dict[str, Any]:
        return {"outcome_model": model_name(self._learners()[0])}


class FinalStageLearner(CATEEstimator):
    """Base of the R- and DR-learner: cross-fitted nuisances and a final stage."""

    _folds: Folds
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "outcome_model": REGRESSOR,
        "propensity_model": CLASSIFIER,
        "final_model": [Options(("linear",)), REGRESSOR[1]],
        "folds": FOLDS,
        "clip": [Interval(0, 0.5, closed="left")],
        **COMMON,
    }

    def __init__(
        self,
        estimand: Literal["ATE"] = "ATE",
        outcome_model: Any = None,
        propensity_model: Any = None,
        final_model: Literal["linear"] | Any = "linear",
        folds: int | Sequence[Any] = 5,
        clip: float = 0.01,
        n_bootstrap: int = 100,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.propensity_model = propensity_model
        self.final_model = final_model
        self.folds = folds
        self.clip = clip
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        models = [
            default_regressor() if self.outcome_model is None else self.outcome_model,
            default_classifier() if self.propensity_model is None else self.propensity_model,
        ]
        if not isinstance(self.final_model, str):
            models.append(self.final_model)
        return models

    def _min_rows_per_arm(self) -> int:
        folds = self.folds if isinstance(self.folds, (int, np.integer)) else 2
        return max(2, int(folds))

    def _needs_bootstrap(self) -> bool:
        return not isinstance(self.final_model, str)

    def _diagnostics(self) -> dict[str, Any]:
        outcome, propensity = self._learners()[:2]
        final = self.final_model
        return {
            "outcome_model": model_name(outcome),
            "propensity_model": model_name(propensity),
            "final_model": "linear" if isinstance(final, str) else model_name(final),
            "folds": len(self._folds),
            "clip": self.clip,
        }

    def _final_fit(self, rows: np.ndarray, X: np.ndarray, seeds: np.random.SeedSequence) -> CATEFit:
        raise NotImplementedError

    def _bootstrap_fit(
        self,
        idx: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        arm: np.ndarray,
        seeds: np.random.SeedSequence,
    ) -> CATEFit:
        """Refit the final stage only, on rows ``idx``, with the nuisances held fixed."""
        return self._final_fit(idx, X, seeds)
