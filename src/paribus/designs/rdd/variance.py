"""Sandwich variances of local polynomial RD estimators.

For one side, ``V = G^{-1} M G^{-1}`` with ``G = R' W R`` and the meat
``M = sum_i a_i a_i' e_i^2`` (``a_i`` the weighted design row, ``e_i = s' res_i``
the residual of the linear combination ``s`` of outcome columns), or the
cluster sum ``M = w sum_g (sum_{i in g} a_i e_i)(...)'`` with the small-sample
factor ``w = (n - 1) / (n - k) * G / (G - 1)`` (Calonico, Cattaneo, Farrell &
Titiunik 2017, Stata Journal 17(2), Section 2).
"""

from __future__ import annotations

import numpy as np

__all__ = ["meat"]


def meat(
    a: np.ndarray, e: np.ndarray, clusters: np.ndarray | None, k: int | None = None
) -> np.ndarray:
    """``sum_i a_i a_i' e_i^2``, or its cluster-robust version with ``clusters`` codes.

    ``k`` is the number of parameters in the small-sample factor (default the columns
    of ``a``; the robust variance counts the ``q + 1`` of the bias-correction fit).
    """
    ae = a * e[:, None]
    if clusters is None:
        return ae.T @ ae
    codes, inverse = np.unique(clusters, return_inverse=True)
    g = codes.shape[0]
    n = a.shape[0]
    k = a.shape[1] if k is None else k
    sums = np.column_stack(
        [np.bincount(inverse, weights=ae[:, j], minlength=g) for j in range(a.shape[1])]
    )
    w = (n - 1) / (n - k) * g / (g - 1) if g > 1 else 1.0
    return w * (sums.T @ sums)
