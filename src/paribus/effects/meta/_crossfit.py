"""Cross-fitted nuisances of the R- and DR-learners, for binary or multi-level treatments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from paribus._core.crossfit import Nuisance, cross_fit, make_folds
from paribus._core.repeated import Folds, check_fold_list

__all__ = ["arm_nuisances", "plan_folds"]


def plan_folds(
    folds: int | Sequence[Any],
    arm: np.ndarray,
    seed: int,
    cluster: np.ndarray | None,
    owner: str,
) -> Folds:
    """Folds stratified by treatment level (whole clusters), or the user's explicit splits."""
    if isinstance(folds, (int, np.integer)):
        return make_folds(int(folds), arm, seed, groups=cluster)
    return check_fold_list(list(folds), arm.size, cluster, owner)


def arm_nuisances(
    outcome: Any,
    propensity: Any,
    X: np.ndarray,
    y: np.ndarray,
    arm: np.ndarray,
    folds: Folds,
    seeds: np.random.SeedSequence,
    n_jobs: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ``mu_a(X)`` for every arm and ``P(A = a | X)``, each of shape (n, K + 1).

    With two arms one classifier gives ``e`` and ``1 - e`` (so the DR-learner's ATE is
    AIPW's); with more, one-vs-rest classifiers are normalised to sum to one.
    """
    K = int(arm.max())
    if K == 1:  # one batch of tasks: both outcome models and the propensity
        t = arm.astype(float)
        nuisances = [
            Nuisance("g0", outcome, "outcome", "control"),
            Nuisance("g1", outcome, "outcome", "treated"),
            Nuisance("e", propensity, "treatment"),
        ]
        pred = cross_fit(nuisances, X, y, t, folds, seeds, n_jobs)
        return (
            np.column_stack([pred["g0"], pred["g1"]]),
            np.column_stack([1 - pred["e"], pred["e"]]),
        )
    streams = seeds.spawn(K + 1)
    mu = np.empty((arm.size, K + 1))
    prop = np.empty((arm.size, K + 1))
    for a in range(K + 1):
        indicator = (arm == a).astype(float)
        nuisances = [
            Nuisance("mu", outcome, "outcome", "treated"),
            Nuisance("e", propensity, "treatment"),
        ]
        pred = cross_fit(nuisances, X, y, indicator, folds, streams[a], n_jobs)
        mu[:, a], prop[:, a] = pred["mu"], pred["e"]
    return mu, prop / prop.sum(axis=1, keepdims=True)
