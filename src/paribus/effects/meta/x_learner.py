"""The X-learner (Künzel, Sekhon, Bickel & Yu 2019, PNAS 116(10), Sec. 3).

For each treated level ``k`` against the control level ``0``:

1. outcome models ``mu_0`` and ``mu_k`` on their own arms (as the T-learner);
2. imputed individual effects: ``D_k = Y - mu_0(X)`` on arm ``k`` and
   ``D_0 = mu_k(X) - Y`` on the control arm;
3. effect models ``tau_k1`` (``D_k`` on arm ``k``'s covariates) and ``tau_k0`` (``D_0``
   on the controls');
4. ``tau_k(x) = g_k(x) tau_k0(x) + (1 - g_k(x)) tau_k1(x)``, with ``g_k`` the
   propensity ``P(A = k | X, A in {0, k})``: the effect model learned on the larger,
   better-informed arm gets more weight where that arm dominates.

It shines when one arm is much larger than the other. Bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.learners import model_name
from paribus.effects.meta._base import CATEEstimator
from paribus.effects.meta._learn import (
    CLASSIFIER,
    COMMON,
    REGRESSOR,
    both_classes,
    fit_on,
    predict_proba1,
    require_classifier,
)
from paribus.effects.meta.t_learner import fit_arm_models

__all__ = ["XLearner"]


@dataclass(frozen=True)
class _XFit:
    tau_treated: tuple[Any, ...]  # tau_k1, one per treated level
    tau_control: tuple[Any, ...]  # tau_k0
    propensity: tuple[Any, ...]  # g_k

    def predict(self, X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], len(self.tau_treated)))
        for k, (t1, t0, g) in enumerate(
            zip(self.tau_treated, self.tau_control, self.propensity, strict=True)
        ):
            p = predict_proba1(g, X)
            out[:, k] = p * t0.predict(X) + (1 - p) * t1.predict(X)
        return out


class XLearner(CATEEstimator):
    """X-learner: imputed individual effects, modelled per arm and blended by the propensity.

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
        What ``result_`` reports: the average of the CATE over the sample.
    outcome_model : regressor, optional
        First-stage ``E[Y | X]`` in each arm. Default: boosting.
    effect_model : regressor, optional
        Second-stage models of the imputed effects. Default: boosting.
    propensity_model : classifier, optional
        ``g_k(x)``, needs ``predict_proba``. Default: boosting.
    n_bootstrap : int, default 100
        Refits for intervals and the ATE's error (as :class:`SLearner`).
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional

    Attributes
    ----------
    result_ : Effect or EffectTable
    cate_ : fitted CATE function
    """

    _method: ClassVar[str] = "x-learner"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "outcome_model": REGRESSOR,
        "effect_model": REGRESSOR,
        "propensity_model": CLASSIFIER,
        **COMMON,
    }

    def __init__(
        self,
        estimand: Literal["ATE"] = "ATE",
        outcome_model: Any = None,
        effect_model: Any = None,
        propensity_model: Any = None,
        n_bootstrap: int = 100,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.effect_model = effect_model
        self.propensity_model = propensity_model
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        return [
            default_regressor() if self.outcome_model is None else self.outcome_model,
            default_regressor() if self.effect_model is None else self.effect_model,
            default_classifier() if self.propensity_model is None else self.propensity_model,
        ]

    def _diagnostics(self) -> dict[str, Any]:
        outcome, effect, propensity = self._learners()
        return {
            "outcome_model": model_name(outcome),
            "effect_model": model_name(effect),
            "propensity_model": model_name(propensity),
        }

    def _fit_cate(
        self, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
    ) -> _XFit:
        outcome, effect, propensity = self._learners()
        require_classifier(propensity, "propensity_model", "XLearner")
        first, second = seeds.spawn(2)
        mu = fit_arm_models(outcome, X, y, arm, first)
        K = len(mu) - 1
        seeds_k = second.spawn(K)
        control = arm == 0
        tau1, tau0, props = [], [], []
        for k in range(1, K + 1):
            s1, s0, sg = (int(v) for v in seeds_k[k - 1].generate_state(3))
            treated = arm == k
            d_treated = np.zeros_like(y)  # imputed effects, each used on its own arm only
            d_treated[treated] = y[treated] - mu[0].predict(X[treated])
            d_control = np.zeros_like(y)
            d_control[control] = mu[k].predict(X[control]) - y[control]
            tau1.append(fit_on(effect, X, d_treated, treated, s1))
            tau0.append(fit_on(effect, X, d_control, control, s0))
            pair = treated | control
            target = treated.astype(float)
            both_classes(target[pair], "XLearner", f"level {k} against control")
            props.append(fit_on(propensity, X, target, pair, sg))
        return _XFit(tuple(tau1), tuple(tau0), tuple(props))
