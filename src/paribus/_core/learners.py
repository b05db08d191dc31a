"""Helpers about scikit-learn learners used as nuisance models."""

from __future__ import annotations

from typing import Any

from sklearn.base import clone

__all__ = ["model_name", "seeded_clone"]


def model_name(model: Any) -> str:
    """A short readable name: the class, or ``Pipeline(StandardScaler, LinearRegression)``."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        return f"{type(model).__name__}({', '.join(model_name(step) for _, step in steps)})"
    return type(model).__name__


def seeded_clone(learner: Any, seed: int | None) -> Any:
    """An unfitted clone whose unset ``random_state`` (nested ones too) is ``seed``.

    Fixing the seed of every randomised learner from the estimator's spawned
    streams is what makes results reproducible to the bit, serially or in parallel.
    """
    model = clone(learner)
    if seed is None or not hasattr(model, "get_params"):
        return model
    unset = {
        name: seed
        for name, value in model.get_params(deep=True).items()
        if (name == "random_state" or name.endswith("__random_state")) and value is None
    }
    if unset:
        model.set_params(**unset)
    return model
