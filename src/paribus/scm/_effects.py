"""The Effect an SCM query returns: Monte Carlo error, and bootstrap error when refitted."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from paribus.results import Effect

__all__ = ["make_effect"]


def make_effect(
    *,
    estimand: str,
    estimate: float,
    mc_se: float,
    replicates: np.ndarray | None,
    level: float,
    n_obs: int,
    n: int,
    diagnostics: Mapping[str, Any] | None = None,
) -> Effect:
    """An Effect from a simulated estimate and (optionally) bootstrap replicates.

    With replicates the standard error is their standard deviation (which also
    carries the replicates' own Monte Carlo error) and the interval is normal;
    the percentile interval is in the diagnostics. Without them only the Monte
    Carlo error is known, so the interval is NaN.
    """
    diag: dict[str, Any] = {"n_simulated": n, "monte_carlo_se": mc_se, **(diagnostics or {})}
    if replicates is None or replicates.size < 2:
        return Effect(
            estimand=estimand,
            estimate=estimate,
            std_error=math.nan,
            ci_lower=math.nan,
            ci_upper=math.nan,
            level=level,
            p_value=math.nan,
            n_obs=n_obs,
            method="scm",
            inference="none",
            diagnostics={**diag, "note": "no interval: pass n_bootstrap > 1 for one"},
        )
    se = float(np.std(replicates, ddof=1))
    tail = 100 * (1 - level) / 2
    diag["n_bootstrap"] = int(replicates.size)
    diag["percentile_ci"] = [
        float(np.percentile(replicates, tail)),
        float(np.percentile(replicates, 100 - tail)),
    ]
    return Effect.from_normal(
        estimand=estimand,
        estimate=estimate,
        std_error=se,
        level=level,
        n_obs=n_obs,
        method="scm",
        inference="bootstrap",
        diagnostics=diag,
    )
