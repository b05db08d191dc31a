"""Helpers about scikit-learn learners used as nuisance models."""

from __future__ import annotations

import os
import threading
from typing import Any

from sklearn.base import clone

__all__ = ["bounded_threads", "model_name", "seeded_clone", "task_thread_bound"]

_local = threading.local()


class bounded_threads:
    """Within this context (one parallel task on a thread), learners get ``threads`` threads."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        self._previous = getattr(_local, "threads", None)
        _local.threads = self.threads

    def __exit__(self, *exc: object) -> None:
        _local.threads = self._previous


def task_thread_bound() -> int | None:
    """Threads a learner may use here: the parallel task's share, or ``OMP_NUM_THREADS``.

    joblib's process workers get ``OMP_NUM_THREADS = cores // workers`` in their
    environment; thread workers get the bound through :class:`bounded_threads`. None
    means no bound (a serial run with no OpenMP setting).
    """
    threads = getattr(_local, "threads", None)
    if threads:
        return int(threads)
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else None


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
    Inside a parallel task its ``n_jobs`` is also capped at the task's thread share
    (:func:`task_thread_bound`), so learners never oversubscribe the cores.
    """
    model = clone(learner)
    if not hasattr(model, "get_params"):
        return model
    params = model.get_params(deep=True)
    changes = {}
    if seed is not None:
        changes = {
            name: seed
            for name, value in params.items()
            if (name == "random_state" or name.endswith("__random_state")) and value is None
        }
    bound = task_thread_bound()
    if bound is not None:
        # LightGBM and XGBoost take their thread count from n_jobs, not from OpenMP's
        # setting, and read None as every core; cap those, and any explicit "all cores"
        # (negative) or larger value. (scikit-learn reads None as one job.)
        for name, value in params.items():
            if name != "n_jobs" and not name.endswith("__n_jobs"):
                continue
            owner = model if name == "n_jobs" else params[name.rsplit("__", 1)[0]]
            all_cores = value is None and not type(owner).__module__.startswith("sklearn")
            too_many = isinstance(value, int) and (value < 0 or value > bound)
            if all_cores or too_many:
                changes[name] = bound
    if changes:
        model.set_params(**changes)
    return model
