"""The one parallel backend: joblib, so Dask or Ray can run it through joblib's backends.

Tasks receive their own integer seed derived from the estimator's root
SeedSequence, so a run gives the same bits whatever ``n_jobs`` or backend is.
Workers and backend come from the estimator's ``n_jobs`` or, when that is None,
from :func:`paribus.config` (:mod:`paribus._core.config`).

Nested thread pools are bounded so parallel tasks never oversubscribe the cores: each
task's BLAS and OpenMP pools (HistGradientBoosting, LightGBM, numpy) are limited to
``cores // workers`` threads (or ``config(inner_threads=...)``). joblib's loky workers
apply the limit through their environment; with the threading backend the limit is
set with threadpoolctl around the run. On a 2-core machine a multi-threaded LightGBM
inside parallel folds ran 5-17x slower than single-threaded (../shared/PEERS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial
from typing import Any, TypeVar

from joblib import Parallel, delayed, parallel_config
from joblib.parallel import get_active_backend
from threadpoolctl import ThreadpoolController, threadpool_limits

from paribus._core.config import cpu_count, effective_n_jobs, get_config
from paribus._core.learners import bounded_threads
from paribus._core.progress import progress

R = TypeVar("R")

__all__ = ["inner_thread_limit", "run_tasks", "single_threaded_blas"]


_controller: ThreadpoolController | None = None


def single_threaded_blas() -> Any:
    """A context in which BLAS runs on one thread (for many small dense products)."""
    global _controller
    if _controller is None:  # listing the loaded libraries once: limits then cost ~10 us
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def inner_thread_limit(workers: int) -> int:
    """Threads each of ``workers`` parallel tasks may use without oversubscribing."""
    chosen = get_config().inner_threads
    return chosen if chosen is not None else max(1, cpu_count() // max(1, workers))


def _bounded(func: Callable[..., R], threads: int, *args: Any) -> R:
    with threadpool_limits(limits=threads), bounded_threads(threads):
        return func(*args)


def run_tasks(
    func: Callable[..., R],
    tasks: Sequence[tuple[Any, ...]],
    *,
    n_jobs: int | None = None,
    desc: str = "",
    show_progress: bool | None = None,
) -> list[R]:
    """Run ``func(*task)`` for every task, in order, serially or through joblib.

    ``n_jobs=None`` takes the session setting (``paribus.config``).
    """
    workers = min(effective_n_jobs(n_jobs), max(1, len(tasks)))
    if workers == 1:
        return [func(*t) for t in progress(tasks, len(tasks), desc, show_progress)]
    name = get_config().backend
    with parallel_config(backend=name) if name else nullcontext():
        backend, _ = get_active_backend()
        inner = inner_thread_limit(workers)
        task: Callable[..., R] = func
        scope: Any = nullcontext()
        if getattr(backend, "uses_threads", False):
            # OpenMP's thread count is per calling thread: bound it inside each task
            task = partial(_bounded, func, inner)
        elif getattr(backend, "supports_inner_max_num_threads", False):
            # loky and friends set the bound in each worker's environment
            scope = parallel_config(backend=backend, inner_max_num_threads=inner)
        # otherwise (e.g. a cluster backend) the workers size their own pools
        with scope:
            results = Parallel(n_jobs=workers, return_as="generator")(
                delayed(task)(*t) for t in tasks
            )
            return list(progress(results, len(tasks), desc, show_progress))
