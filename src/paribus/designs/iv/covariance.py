"""The "meat" of IV sandwich covariances: sums of outer products of moment scores.

For scores ``s_i`` (one row per unit) every covariance type is a bilinear form in
the scores, which lets the Anderson-Rubin set reuse three blocks for any null value:

* ``"unadjusted"``: ``sigma^2 sum x_i x_i'`` (handled by the estimators, which know
  the regressors and the residuals separately);
* ``"robust"``: ``sum s_i s_i'`` (White 1980, HC0);
* ``"clustered"``: ``sum_g (sum_{i in g} s_i)(sum_{i in g} s_i)'`` (Liang & Zeger
  1986); with two cluster dimensions ``S_1 + S_2 - S_12`` (Cameron, Gelbach &
  Miller 2011), ``S_12`` clustering on the intersection;
* ``"kernel"``: ``Gamma_0 + sum_{j=1}^{L} w_j (Gamma_j + Gamma_j')`` with the Bartlett
  weights ``w_j = 1 - j / (L + 1)`` and ``Gamma_j = sum_i s_i s_{i-j}'`` in row order
  (Newey & West 1987).

Large-sample conventions throughout (no small-sample factors unless ``debiased``),
as in Hansen's *Econometrics* (2022), ch. 12.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["COV_TYPES", "CovSpec", "meat"]

COV_TYPES = ("unadjusted", "robust", "clustered", "kernel")


@dataclass(frozen=True)
class CovSpec:
    """How to estimate a covariance: type, cluster codes ``(n, c)``, Bartlett lag."""

    cov_type: str
    clusters: np.ndarray | None = None
    bandwidth: float = 0.0
    debiased: bool = False

    @property
    def n_clusters(self) -> tuple[int, ...]:
        if self.clusters is None:
            return ()
        return tuple(int(np.unique(c).size) for c in self.clusters.T)


def _cluster_sum(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(codes, return_inverse=True)
    sums = np.zeros((int(inverse.max()) + 1, scores.shape[1]))
    np.add.at(sums, inverse, scores)
    return sums.T @ sums


def meat(a: np.ndarray, spec: CovSpec, b: np.ndarray | None = None) -> np.ndarray:
    """``sum`` of outer products of scores ``a`` (and ``b``, for a cross block).

    ``a`` and ``b`` are ``(n, p)`` and ``(n, q)``; the result is ``(p, q)``. The
    cross block keeps every type bilinear: ``meat(a + b) = meat(a) + meat(a, b) +
    meat(b, a) + meat(b)``.
    """
    if b is None:
        b = a
    if spec.cov_type == "robust":
        return a.T @ b
    if spec.cov_type == "clustered":
        assert spec.clusters is not None
        both = np.hstack([a, b])
        p = a.shape[1]
        cols = spec.clusters.T
        total = _cluster_sum(both, cols[0])
        if len(cols) == 2:
            inter = np.unique(spec.clusters, axis=0, return_inverse=True)[1].ravel()
            total = total + _cluster_sum(both, cols[1]) - _cluster_sum(both, inter)
        return total[:p, p:]
    if spec.cov_type == "kernel":
        out = a.T @ b
        lags = int(np.floor(spec.bandwidth))
        for j in range(1, min(lags, a.shape[0] - 1) + 1):
            w = 1.0 - j / (spec.bandwidth + 1.0)
            gamma = a[j:].T @ b[:-j]
            out = out + w * (gamma + a[:-j].T @ b[j:])
        return out
    raise ValueError(f"meat() does not handle cov_type={spec.cov_type!r}")  # pragma: no cover
