"""Standard errors from per-unit influence-function values, optionally cluster-robust."""

from __future__ import annotations

import numpy as np

__all__ = ["if_std_error"]


def if_std_error(phi: np.ndarray, cluster: np.ndarray | None = None) -> float:
    """Standard error of an asymptotically linear estimator with influence values ``phi``.

    Without clusters: ``sqrt(sum(phi^2)) / n``. With cluster codes: sum ``phi`` within
    clusters first and apply the ``G / (G - 1)`` small-sample factor (Liang & Zeger 1986).
    """
    phi = np.asarray(phi, dtype=float)
    n = phi.size
    if cluster is None:
        return float(np.sqrt(np.sum(phi**2)) / n)
    codes = np.unique(cluster, return_inverse=True)[1]
    sums = np.bincount(codes, weights=phi)
    g = sums.size
    return float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)
