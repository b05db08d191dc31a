"""The one parallel backend: joblib, so Dask or Ray can run it through joblib's backends.

Tasks receive their own integer seed derived from the estimator's root
SeedSequence, so a run gives the same bits whatever ``n_jobs`` is. Inner BLAS
and learner threads are capped by joblib's loky backend, so parallel folds do
not oversubscribe the cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from joblib import Parallel, delayed

from paribus._core.progress import progress

R = TypeVar("R")

__all__ = ["run_tasks"]


def run_tasks(
    func: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    *,
    n_jobs: int | None = 1,
    desc: str = "",
    show_progress: bool | None = None,
) -> list[R]:
    """Run ``func(*task)`` for every task, in order, serially or through joblib."""
    if n_jobs in (None, 1) or len(tasks) <= 1:
        return [func(*t) for t in progress(tasks, len(tasks), desc, show_progress)]
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    results = runner(delayed(func)(*t) for t in tasks)
    return list(progress(results, len(tasks), desc, show_progress))
