"""Reproducible random streams: one SeedSequence per task, the same in serial and parallel."""

from __future__ import annotations

import numpy as np

__all__ = ["child_seeds", "seed_sequence"]


def seed_sequence(random_state: int | None) -> np.random.SeedSequence:
    """The root stream of an estimator (fresh entropy when ``random_state`` is None)."""
    return np.random.SeedSequence(random_state)


def child_seeds(root: np.random.SeedSequence, n: int) -> list[int]:
    """``n`` independent 32-bit integer seeds derived from ``root`` by spawning.

    Integer seeds (rather than generators) are what scikit-learn learners take as
    ``random_state``, and they pickle cheaply to parallel workers.
    """
    return [int(s.generate_state(1)[0]) for s in root.spawn(n)]
