"""Covariate balance between arms: standardized mean differences and variance ratios.

The standardized mean difference of covariate ``x`` is
``(mean_1(x) - mean_0(x)) / sqrt((var_1(x) + var_0(x)) / 2)`` with the
*unweighted* pooled standard deviation in the denominator, so weighting changes
only the numerator (Austin & Stuart 2015). ``|SMD| < 0.1`` is the usual rule of
thumb for adequate balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paribus.data import CausalData
from paribus.errors import DataError

__all__ = ["balance_table"]


def _weighted_mean_var(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = (w @ x) / w.sum()
    var = (w @ (x - mean) ** 2) / w.sum()
    return mean, var


def balance_table(
    data: Any,
    *,
    treatment: str,
    covariates: Sequence[str],
    weights: np.ndarray | None = None,
    threshold: float = 0.1,
) -> pd.DataFrame:
    """Balance of each covariate before and, with ``weights``, after weighting.

    Parameters
    ----------
    data : table
        Anything :class:`~paribus.CausalData` accepts.
    treatment : str
        Binary treatment column.
    covariates : list of str
    weights : array of shape (n,), optional
        Balancing weights (e.g. ``IPW(...).fit(...).weights_``).
    threshold : float, default 0.1
        ``balanced`` is ``|smd| < threshold`` (after weighting when weights are given).

    Returns
    -------
    DataFrame indexed by covariate with ``mean_treated``, ``mean_control``, ``smd``,
    ``variance_ratio`` and, with weights, ``smd_weighted`` and ``variance_ratio_weighted``.
    """
    cd = CausalData(data, treatment=treatment, covariates=list(covariates))
    t, X = cd.t, cd.X
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != t.shape:
            raise DataError(
                f"weights has shape {weights.shape}; expected ({t.size},), one per row."
            )
        if (weights < 0).any() or not np.isfinite(weights).all():
            raise DataError("weights must be finite and non-negative.")
    treated, control = t == 1, t == 0
    m1, v1 = _weighted_mean_var(X[treated], np.ones(treated.sum()))
    m0, v0 = _weighted_mean_var(X[control], np.ones(control.sum()))
    pooled = np.sqrt((v1 + v0) / 2)
    pooled = np.where(pooled > 0, pooled, np.nan)
    table = pd.DataFrame(
        {
            "mean_treated": m1,
            "mean_control": m0,
            "smd": (m1 - m0) / pooled,
            "variance_ratio": np.divide(v1, v0, out=np.full_like(v1, np.nan), where=v0 > 0),
        },
        index=pd.Index(cd.covariates, name="covariate"),
    )
    smd_col = "smd"
    if weights is not None:
        wm1, wv1 = _weighted_mean_var(X[treated], weights[treated])
        wm0, wv0 = _weighted_mean_var(X[control], weights[control])
        table["smd_weighted"] = (wm1 - wm0) / pooled
        table["variance_ratio_weighted"] = np.divide(
            wv1, wv0, out=np.full_like(wv1, np.nan), where=wv0 > 0
        )
        smd_col = "smd_weighted"
    table["balanced"] = table[smd_col].abs() < threshold
    return table
