"""Fitting a propensity model and the estimand-specific balancing weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from paribus._core.learners import seeded_clone
from paribus._core.logit import Logit
from paribus.errors import ParameterError

__all__ = ["balancing_weights", "crump_threshold", "fit_propensity", "weight_derivative_factor"]


def fit_propensity(
    model: Any,
    X: np.ndarray,
    t: np.ndarray,
    seed: int | None,
    sample_weight: np.ndarray | None = None,
) -> tuple[Any, np.ndarray]:
    """Clone and fit ``model`` (None means :class:`Logit`); return it and ``P(t=1|X)``."""
    model = seeded_clone(Logit() if model is None else model, seed)
    if sample_weight is None:
        model.fit(X, t)
    else:
        model.fit(X, t, sample_weight=sample_weight)
    if not hasattr(model, "predict_proba"):
        raise ParameterError(
            f"propensity_model {type(model).__name__} has no predict_proba(); pass "
            "a probabilistic classifier such as LogisticRegression."
        )
    classes = list(model.classes_)
    return model, np.asarray(model.predict_proba(X)[:, classes.index(1)], dtype=float)


def balancing_weights(e: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    """Inverse-probability weights that reweight each arm to the target population.

    ATE: t/e + (1-t)/(1-e); ATT: t + (1-t) e/(1-e); ATC: t (1-e)/e + (1-t).
    """
    if estimand == "ATE":
        return np.where(t == 1, 1 / e, 1 / (1 - e))
    if estimand == "ATT":
        return np.where(t == 1, 1.0, e / (1 - e))
    return np.where(t == 1, (1 - e) / e, 1.0)


def weight_derivative_factor(e: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    """``c`` with ``d w / d eta = w * c`` for the logit index ``eta`` of the propensity."""
    if estimand == "ATE":
        return np.where(t == 1, -(1 - e), e)
    if estimand == "ATT":
        return np.where(t == 1, 0.0, 1.0)
    return np.where(t == 1, -1.0, 0.0)


def crump_threshold(e: np.ndarray) -> float:
    """Crump, Hotz, Imbens & Mitnik (2009) optimal trimming threshold ``alpha``.

    Keep units with ``alpha <= e <= 1 - alpha``; alpha = 0 when no trimming lowers the
    variance bound, else the solution of
    ``1 / (a (1 - a)) = 2 E[1/(e(1-e)) | 1/(e(1-e)) <= 1/(a (1 - a))]``.
    """
    g = np.sort(1 / (e * (1 - e)))
    if g[-1] <= 2 * g.mean():
        return 0.0
    cum_mean = np.cumsum(g) / np.arange(1, g.size + 1)
    ok = g <= 2 * cum_mean
    k = int(np.flatnonzero(ok)[-1])
    gamma = 2 * cum_mean[k]
    return float(0.5 - np.sqrt(max(0.25 - 1 / gamma, 0.0)))
