"""Input validation for RD fits and the mass-point check of the running variable.

Mass points (Cattaneo, Idrobo & Titiunik 2020, Section 2.4; rdrobust's ``masspoints``):
a side has them when fewer than 80% of its running values are distinct. The
adjustment then counts distinct values in the bandwidth rates and keeps at least
ten distinct values on each side of every bandwidth.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paribus.data.convert import to_pandas
from paribus.errors import DataError, DataWarning, MassPointsWarning

__all__ = ["MassPointsWarning", "RDArrays", "check_sides", "mass_points", "n_distinct", "rd_arrays"]


@dataclass(frozen=True)
class RDArrays:
    """Validated columns of an RD fit, rows sorted by the running variable."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray | None
    z: np.ndarray | None
    clusters: np.ndarray | None


def _column(frame: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in frame.columns:
        close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DataError(f"{role} column {name!r} is not in the data.{hint}")
    return frame[name]


def _numeric(series: pd.Series, name: str, role: str) -> np.ndarray:
    if series.dtype == bool:
        series = series.astype(float)
    if not pd.api.types.is_numeric_dtype(series):
        raise DataError(
            f"{role} column {name!r} must be numeric, found dtype {series.dtype}; "
            "convert it (e.g. pd.to_numeric) first."
        )
    values = series.to_numpy(dtype=float)
    if np.isinf(values).any():
        raise DataError(f"{role} column {name!r} has infinite values; replace or drop them.")
    return values


def rd_arrays(
    data: Any,
    *,
    outcome: str,
    running: str,
    treatment: str | None,
    covariates: Sequence[str],
    clusters: str | None,
    dropna: bool,
) -> RDArrays:
    """Numeric arrays of the named columns; NaN refused (or dropped with ``dropna``)."""
    frame = to_pandas(data)
    roles = [("outcome", outcome), ("running", running)]
    if treatment is not None:
        roles.append(("treatment", treatment))
    roles += [("covariate", c) for c in covariates]
    cols = {name: _numeric(_column(frame, name, role), name, role) for role, name in roles}
    cl = None
    if clusters is not None:
        cl_series = _column(frame, clusters, "clusters")
        cl_missing = cl_series.isna().to_numpy()
    else:
        cl_missing = np.zeros(frame.shape[0], bool)
    missing = cl_missing.copy()
    for values in cols.values():
        np.logical_or(missing, np.isnan(values), out=missing)
    if missing.any():
        if not dropna:
            counts = {n: int(np.isnan(v).sum()) for n, v in cols.items() if np.isnan(v).any()}
            if cl_missing.any():
                counts[str(clusters)] = int(cl_missing.sum())
            detail = ", ".join(f"{n!r} ({k})" for n, k in counts.items())
            raise DataError(
                f"missing values in {detail}; drop those rows or pass dropna=True "
                "to drop them (rdrobust drops them silently)."
            )
        warnings.warn(
            f"dropped {int(missing.sum())} rows with missing values (dropna=True).",
            DataWarning,
            stacklevel=4,
        )
    keep = ~missing if missing.any() else slice(None)  # no copies when nothing is missing
    x = cols[running][keep]
    order = np.argsort(x)  # ties in any order: every result depends on sums over ties
    if clusters is not None:
        cl = pd.factorize(cl_series[keep])[0][order]
    z = None
    if covariates:
        z = np.column_stack([cols[c][keep][order] for c in covariates])
    return RDArrays(
        x=x[order],
        y=cols[outcome][keep][order],
        t=None if treatment is None else cols[treatment][keep][order],
        z=z,
        clusters=cl,
    )


def n_distinct(sorted_x: np.ndarray) -> int:
    """Number of distinct values of a sorted array."""
    if sorted_x.shape[0] == 0:
        return 0
    return 1 + int(np.count_nonzero(sorted_x[1:] != sorted_x[:-1]))


def mass_points(x_left: np.ndarray, x_right: np.ndarray) -> tuple[float, float]:
    """Share of repeated running values on each (sorted) side: ``1 - distinct / n``."""
    return (
        1.0 - n_distinct(x_left) / max(x_left.shape[0], 1),
        1.0 - n_distinct(x_right) / max(x_right.shape[0], 1),
    )


def check_sides(x: np.ndarray, cutoff: float, running: str, needed: int) -> None:
    """Both sides of the cutoff need ``needed`` distinct running values (``x`` sorted)."""
    split = int(np.searchsorted(x, cutoff, side="left"))
    left, right = n_distinct(x[:split]), n_distinct(x[split:])
    for side, count in (("below", left), ("at or above", right)):
        if count == 0:
            raise DataError(
                f"running column {running!r} has no observations {side} the cutoff "
                f"{cutoff:g} (range {x.min():g} to {x.max():g}); check cutoff=."
            )
        if count < needed:
            raise DataError(
                f"running column {running!r} has {count} distinct values {side} the cutoff "
                f"{cutoff:g}; the local polynomial fits need at least {needed}. Lower p "
                "(and q) or use more data."
            )
