"""Multiplicity-adjusted p-values shared by the experiment analyses.

Holm (1979) step-down by default; every method of
``statsmodels.stats.multitest.multipletests``. An adjusted p-value is the smallest
familywise level (or false discovery rate, for ``fdr_*``) at which the hypothesis is
rejected, so ``p_adjusted <= alpha`` is the decision.
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

from paribus.errors import ParameterError

__all__ = ["CORRECTIONS", "adjust_pvalues", "check_correction"]

CORRECTIONS: tuple[str, ...] = (
    "holm",
    "bonferroni",
    "sidak",
    "holm-sidak",
    "hommel",
    "fdr_bh",
    "fdr_by",
    "none",
)


def check_correction(correction: str) -> None:
    if correction not in CORRECTIONS:
        raise ParameterError(
            f"correction must be one of {', '.join(map(repr, CORRECTIONS))}, got {correction!r}."
        )


def adjust_pvalues(p: np.ndarray, correction: str) -> np.ndarray:
    """Multiplicity-adjusted p-values (``statsmodels`` ``multipletests``)."""
    if correction == "none" or p.size == 0:
        return p.copy()
    if correction == "holm":
        # Holm (1979) step-down by hand: multipletests' "holm" branch calls gc.collect(),
        # which costs ~0.2 s per call in a large process
        order = np.argsort(p)
        stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
        out = np.empty_like(p)
        out[order] = np.minimum(stepped, 1.0)
        return out
    return np.asarray(multipletests(p, method=correction)[1], dtype=float)
