"""Falsification and robustness analyses around a regression discontinuity.

Each refits :class:`RegressionDiscontinuity` with the user's settings
(Cattaneo, Idrobo & Titiunik 2020, *A Practical Introduction to Regression
Discontinuity Designs: Foundations*, Section 5): placebo cutoffs on one side of the
true one, covariates as outcomes (balance), a table over bandwidths, and donut-hole
fits that drop the units closest to the cutoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from paribus.data.convert import to_pandas
from paribus.designs.rdd.estimator import RegressionDiscontinuity
from paribus.errors import DataError, ParameterError
from paribus.results import Effect

__all__ = ["bandwidth_sensitivity", "covariate_balance", "donut_hole", "placebo_cutoffs"]


def _row(label: str, value: float, e: Effect) -> dict[str, Any]:
    d = e.diagnostics
    return {
        label: value,
        "estimate": e.estimate,
        "std_error": e.std_error,
        "ci_lower": e.ci_lower,
        "ci_upper": e.ci_upper,
        "p_value": e.p_value,
        "h_left": d["h"][0],
        "h_right": d["h"][1],
        "n_effective": int(sum(d["n_effective"])),
    }


def placebo_cutoffs(
    estimator: RegressionDiscontinuity,
    data: Any,
    cutoffs: Iterable[float],
    *,
    outcome: str,
    running: str,
    covariates: Sequence[str] = (),
    clusters: str | None = None,
) -> pd.DataFrame:
    """Sharp RD estimates at fake cutoffs, each using only units on the same side of the
    true cutoff (so the true jump cannot leak in); valid designs show no jumps."""
    frame = to_pandas(data)
    true_c = float(estimator.cutoff)
    rows = []
    for c in cutoffs:
        if c == true_c:
            raise ParameterError(f"placebo cutoff {c} equals the true cutoff; pick others.")
        side = frame[frame[running] < true_c] if c < true_c else frame[frame[running] >= true_c]
        model = clone(estimator).set_params(cutoff=float(c))
        model.fit(
            side,
            outcome=outcome,
            running=running,
            covariates=covariates,
            clusters=clusters,
            dropna=True,
        )
        rows.append(_row("cutoff", float(c), model.result_))
    return pd.DataFrame(rows)


def covariate_balance(
    estimator: RegressionDiscontinuity,
    data: Any,
    covariates: Sequence[str],
    *,
    running: str,
    clusters: str | None = None,
) -> pd.DataFrame:
    """Each predetermined covariate as the outcome of a sharp RD (its own bandwidth):
    jumps at the cutoff cast doubt on the design."""
    if not covariates:
        raise ParameterError("covariate_balance needs at least one covariate name.")
    rows = []
    for z in covariates:
        model = clone(estimator)
        model.fit(data, outcome=z, running=running, clusters=clusters, dropna=True)
        rows.append({"covariate": z} | _row("_", 0.0, model.result_))
    return pd.DataFrame(rows).drop(columns="_")


def bandwidth_sensitivity(
    estimator: RegressionDiscontinuity,
    data: Any,
    bandwidths: Iterable[float] | None = None,
    *,
    outcome: str,
    running: str,
    treatment: str | None = None,
    covariates: Sequence[str] = (),
    clusters: str | None = None,
) -> pd.DataFrame:
    """Estimates over a grid of common bandwidths ``h`` (``b = h``); by default 0.5 to 2
    times the selected MSE-optimal bandwidth."""
    kwargs = {
        "outcome": outcome,
        "running": running,
        "treatment": treatment,
        "covariates": covariates,
        "clusters": clusters,
        "dropna": True,
    }
    if bandwidths is None:
        base = clone(estimator).fit(data, **kwargs).result_
        h0 = float(np.mean(base.diagnostics["h"]))
        bandwidths = [h0 * f for f in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)]
    rows = []
    for h in bandwidths:
        model = clone(estimator).set_params(h=float(h), b=float(h))
        rows.append(_row("h", float(h), model.fit(data, **kwargs).result_))
    return pd.DataFrame(rows)


def donut_hole(
    estimator: RegressionDiscontinuity,
    data: Any,
    radii: Iterable[float],
    *,
    outcome: str,
    running: str,
    treatment: str | None = None,
    covariates: Sequence[str] = (),
    clusters: str | None = None,
) -> pd.DataFrame:
    """Estimates after dropping units with ``|running - cutoff| < radius``: a check on
    sorting or heaping right at the cutoff (bandwidths re-selected each time)."""
    frame = to_pandas(data)
    c = float(estimator.cutoff)
    rows = []
    for r in radii:
        if r < 0:
            raise ParameterError(f"donut radius {r} is negative; use radii >= 0.")
        kept = frame[np.abs(frame[running].to_numpy(dtype=float) - c) >= r]
        if kept.shape[0] == 0:
            raise DataError(f"a donut of radius {r} leaves no observations; use smaller radii.")
        model = clone(estimator).fit(
            kept,
            outcome=outcome,
            running=running,
            treatment=treatment,
            covariates=covariates,
            clusters=clusters,
            dropna=True,
        )
        rows.append(_row("radius", float(r), model.result_))
    return pd.DataFrame(rows)
