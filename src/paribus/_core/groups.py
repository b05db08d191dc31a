"""Quantile groups of a score, and within-group means with robust errors.

Shared by heterogeneity validation (GATES and CLAN, Chernozhukov, Demirer, Duflo &
Fernández-Val 2018) and the calibration plot. Group ``k`` of ``K`` holds the units
whose score lies in ``[q_{(k-1)/K}, q_{k/K})``, ``q`` the empirical quantiles.

The mean of ``v`` in each group is the regression of ``v`` on the ``K`` group
indicators; its error is that regression's HC1 sandwich,
``se_k^2 = n / (n - K) * sum_{i in k} (v_i - mean_k)^2 / n_k^2``, and the influence
value of unit ``i`` on ``mean_k`` is ``1{g_i = k} (n / n_k) e*_i`` with the residual
``e*`` rescaled by ``sqrt(n / (n - K))``, so ``sqrt(sum phi^2) / n`` is that error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GroupMeans", "group_means", "quantile_groups"]


def quantile_groups(score: np.ndarray, n_groups: int) -> np.ndarray:
    """Group index ``0..n_groups-1`` of every unit, by the empirical quantiles of ``score``."""
    edges = np.quantile(score, np.arange(1, n_groups) / n_groups)
    return np.searchsorted(edges, score, side="right").astype(np.intp)


@dataclass(frozen=True)
class GroupMeans:
    """Means of one or several variables within groups (module docstring)."""

    means: np.ndarray  # (K,) or (K, m)
    std_errors: np.ndarray  # same shape as means
    sizes: np.ndarray  # (K,) units per group
    groups: np.ndarray  # (n,) group of each unit
    resid: np.ndarray  # (n,) or (n, m): residuals rescaled by sqrt(n / (n - K))

    def influence(self, k: int) -> np.ndarray:
        """Influence values of every unit on the mean of group ``k``."""
        n = self.groups.size
        w = np.where(self.groups == k, n / self.sizes[k], 0.0)
        return w.reshape((n,) + (1,) * (self.resid.ndim - 1)) * self.resid


def group_means(values: np.ndarray, groups: np.ndarray, n_groups: int) -> GroupMeans:
    """Within-group means of ``values`` (shape ``(n,)`` or ``(n, m)``) with HC1 errors.

    Every group must hold at least two units (the caller checks and explains).
    """
    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    flat = v.reshape(n, -1)
    sizes = np.bincount(groups, minlength=n_groups).astype(float)
    sums = np.zeros((n_groups, flat.shape[1]))
    np.add.at(sums, groups, flat)
    means = sums / sizes[:, None]
    resid = (flat - means[groups]) * np.sqrt(n / (n - n_groups))
    sq = np.zeros_like(sums)
    np.add.at(sq, groups, resid**2)
    ses = np.sqrt(sq) / sizes[:, None]
    shape = (n_groups, *v.shape[1:])
    return GroupMeans(
        means=means.reshape(shape),
        std_errors=ses.reshape(shape),
        sizes=sizes.astype(int),
        groups=groups,
        resid=resid.reshape(v.shape),
    )
