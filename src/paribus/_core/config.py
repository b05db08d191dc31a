"""Library-wide settings: how many workers parallel work uses, and on which joblib backend.

``paribus.config(n_jobs=..., backend=...)`` sets them for the session and, used as a
context manager, only for a block::

    paribus.config(n_jobs=2)                  # from now on
    with paribus.config(backend="threading"): # just here
        PLR().fit(...)

An estimator's own ``n_jobs`` wins over the session value when it is not None.
``backend`` names any joblib backend (``"loky"`` processes locally, ``"threading"``,
or ``"dask"`` / ``"ray"`` once registered with joblib); None keeps joblib's current
choice, so ``joblib.parallel_config(...)`` blocks keep working.

``inner_threads`` bounds the BLAS/OpenMP threads each parallel task may use
(threadpoolctl), so learners that thread internally (LightGBM, HistGradientBoosting,
BLAS) never oversubscribe the cores: by default ``cores // workers``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from joblib import cpu_count  # usable cores: affinity mask and cgroup quota

from paribus.errors import ParameterError

__all__ = ["Config", "config", "effective_n_jobs", "get_config"]


@dataclass(frozen=True)
class Config:
    """The settings in force (see the module docstring)."""

    #: workers for folds, bootstraps and placebo loops; -1 uses every core
    n_jobs: int = -1
    #: a joblib backend name, or None for joblib's current one
    backend: str | None = None
    #: threads each parallel task may use; None means cores // workers
    inner_threads: int | None = None
    #: default boosting learners: "auto" (LightGBM when installed), "lightgbm" or "sklearn"
    boosting: str = "auto"


_current = Config()


def get_config() -> Config:
    """The settings in force."""
    return _current


def _check(new: Config) -> Config:
    if isinstance(new.n_jobs, bool) or not isinstance(new.n_jobs, int) or new.n_jobs == 0:
        raise ParameterError(
            f"config: n_jobs={new.n_jobs!r} is invalid; expected a non-zero integer "
            "(-1 uses every core, 1 runs serially)."
        )
    if new.backend is not None and not isinstance(new.backend, str):
        raise ParameterError(
            f"config: backend={new.backend!r} is invalid; expected a joblib backend name such "
            "as 'loky', 'threading', 'dask' or 'ray', or None."
        )
    if new.inner_threads is not None and (
        isinstance(new.inner_threads, bool)
        or not isinstance(new.inner_threads, int)
        or new.inner_threads < 1
    ):
        raise ParameterError(
            f"config: inner_threads={new.inner_threads!r} is invalid; expected a positive "
            "integer or None (cores divided by workers)."
        )
    if new.boosting not in ("auto", "lightgbm", "sklearn"):
        raise ParameterError(
            f"config: boosting={new.boosting!r} is invalid; expected 'auto', 'lightgbm' or "
            "'sklearn'."
        )
    return new


class _Setting:
    """What :func:`config` returns: already applied; as a context manager, undone on exit."""

    def __init__(self, previous: Config) -> None:
        self._previous = previous

    def __enter__(self) -> Config:
        return _current

    def __exit__(self, *exc: object) -> None:
        global _current
        _current = self._previous

    def __repr__(self) -> str:
        return repr(_current)


_UNSET: Any = object()


def config(
    n_jobs: int = _UNSET,
    backend: str | None = _UNSET,
    inner_threads: int | None = _UNSET,
    boosting: str = _UNSET,
) -> _Setting:
    """Change the library settings; unnamed settings keep their value.

    Parameters
    ----------
    n_jobs : int
        Workers for cross-fitting folds, bootstraps and placebo loops (joblib's
        convention: -1 every core, 1 serial). Default -1: folds run in parallel.
    backend : str or None
        The joblib backend ("loky", "threading", "dask", "ray", ...); None defers to
        joblib's current configuration.
    inner_threads : int or None
        Threads each parallel task's learners may use; None is cores // workers.
    boosting : {"auto", "lightgbm", "sklearn"}
        Which library the default nuisance learners come from.

    Returns
    -------
    A handle that restores the previous settings when used as a context manager.
    """
    global _current
    given = {
        "n_jobs": n_jobs,
        "backend": backend,
        "inner_threads": inner_threads,
        "boosting": boosting,
    }
    known = {f.name for f in fields(Config)}
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not _UNSET and k in known}
    previous = _current
    _current = _check(replace(previous, **changes))
    return _Setting(previous)


def effective_n_jobs(n_jobs: int | None) -> int:
    """Workers for ``n_jobs`` (None: the session setting), as a positive count."""
    n = get_config().n_jobs if n_jobs is None else int(n_jobs)
    cores = cpu_count()
    return max(1, n if n > 0 else cores + 1 + n)
