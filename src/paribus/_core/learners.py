"""Helpers about scikit-learn learners used as nuisance models."""

from __future__ import annotations

from typing import Any

__all__ = ["model_name"]


def model_name(model: Any) -> str:
    """A short readable name: the class, or ``Pipeline(StandardScaler, LinearRegression)``."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        return f"{type(model).__name__}({', '.join(model_name(step) for _, step in steps)})"
    return type(model).__name__
