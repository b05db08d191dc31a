"""Nonparametric bootstrap through the shared parallel backend.

Replicate ``b`` draws its rows (or whole clusters) with a generator seeded from
the ``b``-th spawned child of the estimator's root SeedSequence, so serial and
parallel runs agree to the bit. Draws are stratified by treatment arm so every
replicate keeps both arms at their observed sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds
from paribus.errors import ParibusError

__all__ = ["bootstrap_draws", "resample_indices"]


def resample_indices(
    seed: int, strata: np.ndarray, cluster: np.ndarray | None = None
) -> np.ndarray:
    """Row indices of one bootstrap sample, stratified by ``strata`` (clusters kept whole)."""
    rng = np.random.default_rng(seed)
    if cluster is None:
        parts = []
        for s in np.unique(strata):
            members = np.flatnonzero(strata == s)
            parts.append(rng.choice(members, size=members.size, replace=True))
        return np.concatenate(parts)
    codes = np.unique(cluster, return_inverse=True)[1]
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(codes.max() + 2))
    picked = rng.integers(0, codes.max() + 1, size=codes.max() + 1)
    return np.concatenate([order[starts[g] : starts[g + 1]] for g in picked])


def _one(
    statistic: Callable[[np.ndarray, int], float],
    seed: int,
    strata: np.ndarray,
    cluster: np.ndarray | None,
) -> float:
    # a replicate can be degenerate (a fold or stratum losing an arm, a separated
    # logit); it counts as failed rather than aborting the whole bootstrap
    try:
        # the replicate's own seed drives both its resample and any learner it refits
        rng_seed, fit_seed = np.random.SeedSequence(seed).generate_state(2)
        return float(statistic(resample_indices(int(rng_seed), strata, cluster), int(fit_seed)))
    except (ParibusError, np.linalg.LinAlgError):
        return float("nan")


def bootstrap_draws(
    statistic: Callable[[np.ndarray, int], float],
    n_bootstrap: int,
    seed_root: np.random.SeedSequence,
    strata: np.ndarray,
    cluster: np.ndarray | None = None,
    n_jobs: int | None = 1,
    show_progress: bool | None = None,
) -> np.ndarray:
    """``statistic(indices, seed)`` over ``n_bootstrap`` resamples; failed replicates give NaN.

    ``seed`` is the replicate's own seed for any learner the statistic refits.

    ``show_progress`` is passed to the backend (None: a bar only on an interactive terminal).
    """
    seeds = child_seeds(seed_root, n_bootstrap)
    tasks = [(statistic, s, strata, cluster) for s in seeds]
    draws = run_tasks(_one, tasks, n_jobs=n_jobs, desc="bootstrap", show_progress=show_progress)
    return np.asarray(draws, dtype=float)
