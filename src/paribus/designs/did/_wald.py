"""The joint chi-squared Wald test shared by the DiD estimators' pre-trend tests."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

from paribus._core.parallel import single_threaded_blas

__all__ = ["WaldTest", "wald_test"]


class WaldTest(NamedTuple):
    """A joint chi-squared Wald test."""

    statistic: float
    df: int
    p_value: float


def wald_test(estimates: np.ndarray, cov: np.ndarray) -> WaldTest:
    """``W = b' V^+ b``, chi-squared with ``rank(V)`` degrees of freedom."""
    # one symmetric eigendecomposition gives both the rank and the pseudo-inverse; a
    # single BLAS thread avoids oversubscription stalls on a loaded machine
    with single_threaded_blas():
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    keep = vals > vals.max() * cov.shape[0] * np.finfo(float).eps if vals.size else vals > 0
    proj = vecs[:, keep].T @ estimates
    stat = float(np.sum(proj**2 / vals[keep]))
    rank = int(keep.sum())
    return WaldTest(stat, rank, float(stats.chi2.sf(stat, rank)) if rank else math.nan)
