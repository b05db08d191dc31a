"""The R-learner (Nie & Wager 2021, "Quasi-oracle estimation of heterogeneous treatment
effects", Biometrika 108(2)).

With cross-fitted ``m(x) = E[Y | X = x]`` and ``e(x) = P(A = 1 | X = x)`` the CATE
minimises Robinson's residual-on-residual loss

    sum_i ((Y_i - m(X_i)) - (A_i - e(X_i)) tau(X_i))^2,

which is Neyman-orthogonal: first-stage errors enter only as products. A linear
final stage (``final_model="linear"``) is least squares of ``Y - m`` on
``(A - e) [1, X]`` with HC0-robust analytic intervals; any regressor accepting
``sample_weight`` fits ``(Y - m) / (A - e)`` with weights ``(A - e)^2`` (the same
loss), with bootstrap intervals over final-stage refits. Binary treatments.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from paribus._core.crossfit import Nuisance, cross_fit
from paribus._core.random import child_seeds
from paribus.effects.meta._base import CATEFit, LinearCATE
from paribus.effects.meta._crossfit import plan_folds
from paribus.effects.meta._families import FinalStageLearner
from paribus.effects.meta._final import fit_model_cate, linear_ate, linear_coefficients
from paribus.effects.meta._learn import require_classifier
from paribus.results import Effect

__all__ = ["RLearner"]


class RLearner(FinalStageLearner):
    """R-learner: CATE by residual-on-residual (Robinson) loss minimisation.

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
        What ``result_`` reports: the average of the CATE over the sample.
    outcome_model : regressor, optional
        ``m(x) = E[Y | X]``, cross-fitted. Default: boosting.
    propensity_model : classifier, optional
        ``e(x) = P(A = 1 | X)``, cross-fitted. Default: boosting.
    final_model : "linear" or regressor, default "linear"
        The CATE model (module docstring); a regressor must accept ``sample_weight``.
    folds : int or list, default 5
    clip : float in [0, 0.5), default 0.01
        Propensities are clipped to ``[clip, 1 - clip]``, bounding the weights.
    n_bootstrap : int, default 100
        Final-stage refits for a nonlinear ``final_model``'s intervals and ATE error.
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional

    Attributes
    ----------
    result_ : Effect
        The mean CATE over the sample: delta-method error for a linear final stage,
        bootstrap otherwise.
    cate_ : fitted CATE function
    nuisance_ : dict of ndarray
        Out-of-fold ``m`` and (clipped) ``e``.
    """

    _method: ClassVar[str] = "r-learner"
    _multi_valued: ClassVar[bool] = False

    def _fit_cate(
        self, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
    ) -> CATEFit:
        outcome, propensity = self._learners()[:2]
        require_classifier(propensity, "propensity_model", "RLearner")
        fold_stream, nuisance_stream, final_stream = seeds.spawn(3)
        fold_seed = int(fold_stream.generate_state(1)[0])
        self._folds = plan_folds(self.folds, arm, fold_seed, self._cluster, "RLearner")
        t = arm.astype(float)
        nuisances = [Nuisance("m", outcome, "outcome"), Nuisance("e", propensity, "treatment")]
        pred = cross_fit(nuisances, X, y, t, self._folds, nuisance_stream, self.n_jobs)
        e = np.clip(pred["e"], self.clip, 1 - self.clip) if self.clip > 0 else pred["e"]
        self.nuisance_ = {"m": pred["m"], "e": e}
        self._resid = (y - pred["m"], t - e)
        return self._final_fit(np.arange(y.size), X, final_stream)

    def _final_fit(self, rows: np.ndarray, X: np.ndarray, seeds: np.random.SeedSequence) -> CATEFit:
        y_res, t_res = (r[rows] for r in self._resid)
        if isinstance(self.final_model, str):
            design = t_res[:, None] * np.column_stack([np.ones(rows.size), X[rows]])
            coef, influence = linear_coefficients(design, y_res)
            return LinearCATE(coef[None, :], influence[None, :, :])
        return fit_model_cate(
            self.final_model,
            X[rows],
            (y_res / t_res)[:, None],
            (t_res**2)[:, None],
            child_seeds(seeds, 1),
        )

    def _ate_effects(self, X: np.ndarray) -> list[Effect]:
        if not isinstance(self.cate_, LinearCATE):
            return super()._ate_effects(X)
        theta, se, phi = linear_ate(self.cate_.coef[0], self.cate_.influence[0], X, self._cluster)
        return [self._effect(theta, se, "influence-function", 0, phi, {})]
