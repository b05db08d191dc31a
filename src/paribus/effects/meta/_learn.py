"""Small helpers the meta-learners share: fitting a clone on some rows, probabilities."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import is_classifier

from paribus._core.learners import seeded_clone
from paribus._core.params import LEVEL, N_JOBS, NONE, RANDOM_STATE, HasMethods, Interval, Options
from paribus.errors import DataError, ParameterError

__all__ = ["COMMON", "REGRESSOR", "fit_on", "predict_proba1", "require_classifier"]

REGRESSOR = [NONE, HasMethods(("fit", "predict"))]
CLASSIFIER = [NONE, HasMethods(("fit", "predict_proba"))]

#: settings every meta-learner has
COMMON: dict[str, list[Any]] = {
    "estimand": [Options(("ATE",))],
    "n_bootstrap": [Interval(0, None, integer=True)],
    "level": [LEVEL],
    "random_state": [RANDOM_STATE],
    "n_jobs": [N_JOBS],
}


def fit_on(
    learner: Any,
    X: np.ndarray,
    target: np.ndarray,
    rows: np.ndarray | None,
    seed: int,
    sample_weight: np.ndarray | None = None,
) -> Any:
    """A seeded clone of ``learner`` fitted on ``X[rows]``, ``target[rows]``."""
    model = seeded_clone(learner, seed)
    Xr, tr = (X, target) if rows is None else (X[rows], target[rows])
    if sample_weight is None:
        return model.fit(Xr, tr)
    w = sample_weight if rows is None else sample_weight[rows]
    try:
        return model.fit(Xr, tr, sample_weight=w)
    except TypeError as exc:
        raise ParameterError(
            f"{type(model).__name__} does not accept sample_weight, which this final stage "
            "needs; pass a learner whose fit() takes sample_weight, or final_model='linear'."
        ) from exc


def predict_proba1(model: Any, X: np.ndarray) -> np.ndarray:
    """``P(target = 1 | X)`` from a fitted probabilistic classifier."""
    proba = model.predict_proba(X)
    classes = list(getattr(model, "classes_", [0, 1]))
    return np.asarray(proba[:, classes.index(1)], dtype=float)


def require_classifier(model: Any, role: str, owner: str) -> None:
    if not (is_classifier(model) or hasattr(model, "predict_proba")):
        raise ParameterError(
            f"{owner}: {role} {type(model).__name__} has no predict_proba(); pass a "
            "probabilistic classifier (e.g. paribus.Logit or LGBMClassifier)."
        )


def both_classes(target: np.ndarray, owner: str, what: str) -> None:
    if np.unique(target).size < 2:
        raise DataError(f"{owner}: {what} has a single class; the propensity cannot be learned.")
