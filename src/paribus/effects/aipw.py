"""Augmented inverse propensity weighting with cross-fitting (doubly robust).

Robins, Rotnitzky & Zhao (1994); Hahn (1998); cross-fitted as in Chernozhukov
et al. (2018). With outcome models ``g1, g0`` and propensity ``e`` the scores are
linear in the effect ``theta`` (``psi = psi_a * theta + psi_b``):

* ATE: ``psi_a = -1``,
  ``psi_b = g1 - g0 + t (y - g1) / e - (1 - t)(y - g0) / (1 - e)``;
* ATT: ``psi_a = -t / p``,
  ``psi_b = t (y - g0) / p - e (1 - t)(y - g0) / (p (1 - e))``, ``p = P(t = 1)``;
* ATC: ``psi_a = -(1 - t) / q``,
  ``psi_b = (1 - t)(g1 - y) / q + (1 - e) t (y - g1) / (q e)``, ``q = P(t = 0)``.

The estimate is consistent if either the outcome models or the propensity is
right, and with cross-fitted flexible learners its influence-function interval
is valid when both converge fast enough (product rate ``o(n^-1/2)``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from paribus._core.crossfit import Nuisance, cross_fit, make_folds
from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.learners import model_name
from paribus._core.linear_score import solve_linear_score
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.params import LEVEL, N_JOBS, NONE, RANDOM_STATE, HasMethods, Interval, Options
from paribus._core.propensity import balancing_weights
from paribus._core.random import child_seeds, seed_sequence
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.results import Effect

__all__ = ["AIPW", "aipw_score_elements"]


def aipw_score_elements(
    estimand: str, y: np.ndarray, t: np.ndarray, g0: np.ndarray, g1: np.ndarray, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The linear score elements ``(psi_a, psi_b)`` of the AIPW estimator (module docstring)."""
    if estimand == "ATE":
        psi_b = g1 - g0 + t * (y - g1) / e - (1 - t) * (y - g0) / (1 - e)
        return -np.ones_like(y), psi_b
    if estimand == "ATT":
        p = t.mean()
        psi_b = t * (y - g0) / p - e * (1 - t) * (y - g0) / (p * (1 - e))
        return -t / p, psi_b
    q = 1 - t.mean()
    psi_b = (1 - t) * (g1 - y) / q + (1 - e) * t * (y - g1) / (q * e)
    return -(1 - t) / q, psi_b


class AIPW(EffectEstimator):
    """Doubly robust (AIPW) estimator of the ATE, ATT or ATC with cross-fitted nuisances.

    Parameters
    ----------
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
    outcome_model : regressor, optional
        Learns ``E[y | x, t]`` separately in each arm. Default: histogram gradient
        boosting (handles missing covariates natively).
    propensity_model : classifier, optional
        Learns ``P(t = 1 | x)``; needs ``predict_proba``. Default: histogram
        gradient boosting.
    folds : int, default 5
        Cross-fitting folds, stratified by treatment (by cluster when a cluster
        column is given). ``folds=1`` fits and predicts on the full sample: the
        classical AIPW, valid for parametric nuisance models only.
    clip : float in [0, 0.5), default 0.01
        Propensities are clipped to ``[clip, 1 - clip]`` in the score.
    level : float, default 0.95
    random_state : int or None
        Seeds the folds and every learner whose ``random_state`` is None.
    n_jobs : int, optional
        Workers for the nuisance fits (every (nuisance, fold) pair is one task); None
        takes ``paribus.config(n_jobs=...)``, by default every core. Learners' own
        threads are bounded so the cores are not oversubscribed. Results are identical
        whatever its value.

    Attributes
    ----------
    result_ : Effect
        With per-unit influence values in ``result_.scores``.
    nuisance_ : dict of ndarray
        Out-of-fold predictions ``g0``, ``g1`` and ``e`` (reused by refuters).
    """

    _method: ClassVar[str] = "aipw"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE", "ATT", "ATC"))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "propensity_model": [NONE, HasMethods(("fit", "predict_proba"))],
        "folds": [Interval(1, None, integer=True)],
        "clip": [Interval(0, 0.5, closed="left")],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
        "n_jobs": [N_JOBS],
    }

    def __init__(
        self,
        estimand: Literal["ATE", "ATT", "ATC"] = "ATE",
        outcome_model: Any = None,
        propensity_model: Any = None,
        folds: int = 5,
        clip: float = 0.01,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.propensity_model = propensity_model
        self.folds = folds
        self.clip = clip
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        return [
            # "is None", not "or": an unfitted scikit-learn ensemble defines __len__
            default_regressor() if self.outcome_model is None else self.outcome_model,
            default_classifier() if self.propensity_model is None else self.propensity_model,
        ]

    def _estimate(self, data: CausalData) -> Effect:
        t, y, X = data.t, data.y, data.X
        cluster = data.column("cluster")
        self._cluster = cluster  # for post-estimation tools (dml_sensitivity)
        data.require_arms(max(2, self.folds), f"AIPW with folds={self.folds}")
        outcome, propensity = self._learners()
        root = seed_sequence(self.random_state)
        fold_seed = child_seeds(root, 1)[0]
        folds = make_folds(self.folds, t, fold_seed, groups=cluster)
        nuisances = [
            Nuisance("g0", outcome, "outcome", "control"),
            Nuisance("g1", outcome, "outcome", "treated"),
            Nuisance("e", propensity, "treatment"),
        ]
        pred = cross_fit(nuisances, X, y, t, folds, root.spawn(1)[0], self.n_jobs)
        e_raw = pred["e"]
        e = np.clip(e_raw, self.clip, 1 - self.clip) if self.clip > 0 else e_raw
        self.nuisance_ = {"g0": pred["g0"], "g1": pred["g1"], "e": e}
        psi_a, psi_b = aipw_score_elements(self.estimand, y, t, pred["g0"], pred["g1"], e)
        sol = solve_linear_score(psi_a, psi_b, cluster)
        clipped = float(np.mean((e_raw < self.clip) | (e_raw > 1 - self.clip)))
        diag = overlap_diagnostics(
            e, t, balancing_weights(e, t, self.estimand), share_clipped=clipped
        )
        diag |= {
            "folds": self.folds,
            "clip": self.clip,
            "outcome_model": model_name(outcome),
            "propensity_model": model_name(propensity),
            "outcome_rmse_treated": float(np.sqrt(np.mean((y - pred["g1"])[t == 1] ** 2))),
            "outcome_rmse_control": float(np.sqrt(np.mean((y - pred["g0"])[t == 0] ** 2))),
            "propensity_log_loss": float(
                -np.mean(
                    t * np.log(np.clip(e_raw, 1e-15, 1))
                    + (1 - t) * np.log(np.clip(1 - e_raw, 1e-15, 1))
                )
            ),
        }
        warn_if_poor_overlap(diag, "AIPW", self.estimand)
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=sol.estimate,
            std_error=sol.std_error,
            level=self.level,
            n_obs=t.size,
            method=self._method,
            inference="influence-function",
            diagnostics=diag,
            scores=sol.influence,
        )
