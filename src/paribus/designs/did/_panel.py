"""Validated long panel data shared by the difference-in-differences estimators.

A long panel has one row per unit and period. :func:`panel_from_frame` checks the
columns once, at the boundary, and returns a frozen :class:`Panel` of numpy arrays
that every DiD estimator (2x2, TWFE, event study, Goodman-Bacon, staggered designs)
reads::

    from paribus.designs.did._panel import panel_from_frame

    panel = panel_from_frame(df, outcome="lemp", unit="countyreal", time="year",
                             cohort="first.treat")
    panel.y            # (n,) outcome
    panel.unit_codes   # (n,) int, index into panel.units
    panel.time_codes   # (n,) int, index into panel.times (sorted unique periods)
    panel.cohort       # (n,) first treated period of the row's unit; inf = never treated
    panel.d            # (n,) 0/1 treated indicator of the row
    panel.unit_cohort  # (n_units,) first treated period per unit
    panel.balanced     # every unit observed in every period

Treatment can be given either as a 0/1 column ``treatment`` (treated in that row;
the cohort is then the first period a unit is treated) or as a first-treatment
column ``cohort`` (``d`` is then ``time >= cohort``). In a ``cohort`` column the
never treated are NaN, ``inf`` or ``0`` (the R ``did`` convention; ``0`` is read as a
period only when 0 is itself one of the observed periods). If both are given, both
are kept as given.

Refused with :class:`~paribus.errors.DataError`: missing columns, missing values,
non-numeric outcome/time/covariates, a treatment other than 0/1, a unit observed
twice in one period, non-positive weights, a cohort that varies within a unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paribus.data.convert import to_pandas
from paribus.errors import DataError

__all__ = ["Panel", "as_column_list", "panel_from_frame"]


@dataclass(frozen=True)
class Panel:
    """A validated long panel (one row per unit and period) as numpy arrays.

    Attributes
    ----------
    y : ndarray (n,)
        Outcome.
    unit_codes, time_codes : ndarray (n,) of int
        Row's unit index into ``units`` and period index into ``times``.
    units : ndarray
        Sorted unique unit labels.
    times : ndarray of float
        Sorted unique periods.
    d : ndarray (n,) of float
        0/1 treated indicator of the row.
    cohort : ndarray (n,) of float
        First treated period of the row's unit (``inf`` for never treated; may lie
        outside ``times`` when a ``cohort`` column says so).
    unit_cohort : ndarray (n_units,) of float
        First treated period per unit (``inf`` for never treated).
    weights : ndarray (n,) or None
        Positive observation weights.
    cluster_codes : ndarray (n,) of int or None
        Cluster index per row (``None``: none given).
    X : ndarray (n, k) or None
        Covariates, with names in ``covariates``.
    balanced : bool
        Every unit is observed in every period.
    absorbing : bool
        ``d`` never switches off within a unit (staggered adoption).
    names : dict
        The column names given for each role.
    """

    y: np.ndarray
    unit_codes: np.ndarray
    time_codes: np.ndarray
    units: np.ndarray
    times: np.ndarray
    d: np.ndarray
    cohort: np.ndarray
    unit_cohort: np.ndarray
    weights: np.ndarray | None
    cluster_codes: np.ndarray | None
    X: np.ndarray | None
    covariates: tuple[str, ...]
    balanced: bool
    absorbing: bool
    names: dict[str, str | None]

    @property
    def n_obs(self) -> int:
        return int(self.y.size)

    @property
    def n_units(self) -> int:
        return int(self.units.size)

    @property
    def n_times(self) -> int:
        return int(self.times.size)

    @property
    def time(self) -> np.ndarray:
        """The period of every row."""
        return np.asarray(self.times[self.time_codes])

    @property
    def never_treated(self) -> np.ndarray:
        """(n,) bool: the row's unit is never treated."""
        return np.asarray(~np.isfinite(self.cohort))

    def relative_time(self) -> np.ndarray:
        """(n,) period minus first treated period; NaN for never-treated units."""
        with np.errstate(invalid="ignore"):
            rel = self.time - self.cohort
        rel[self.never_treated] = np.nan
        return rel


def as_column_list(value: str | Sequence[str] | None) -> list[str]:
    """``None`` -> ``[]``, ``"x"`` -> ``["x"]``, a sequence -> its list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _numeric(frame: pd.DataFrame, column: str, role: str) -> np.ndarray:
    series = frame[column]
    if series.dtype == bool:
        series = series.astype(float)
    if not pd.api.types.is_numeric_dtype(series):
        raise DataError(
            f"{role} column {column!r} must be numeric, found dtype {series.dtype} "
            f"(e.g. {series.iloc[0]!r}); convert it to numbers first."
        )
    return series.to_numpy(dtype=float)


def _check_columns(
    frame: pd.DataFrame, roles: dict[str, str | None], covariates: list[str]
) -> None:
    wanted = [c for c in roles.values() if c is not None] + covariates
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"column(s) {missing} not found in the data; available columns: "
            f"{list(frame.columns)[:20]}. Check the names passed to fit()."
        )
    nulls = {c: int(frame[c].isna().sum()) for c in dict.fromkeys(wanted)}
    cohort = roles.get("cohort")
    if cohort is not None:
        nulls.pop(cohort, None)  # NaN there means never treated
    bad = {c: k for c, k in nulls.items() if k}
    if bad:
        raise DataError(
            f"missing values in {bad} (column: rows); drop or impute those rows before fitting."
        )


def _cohort_from_column(values: np.ndarray, times: np.ndarray, column: str) -> np.ndarray:
    cohort = np.where(np.isnan(values), np.inf, values)
    if 0.0 not in times:
        cohort = np.where(cohort == 0, np.inf, cohort)
    return cohort


def _cohort_from_treatment(
    d: np.ndarray, time: np.ndarray, unit_codes: np.ndarray, n_units: int
) -> np.ndarray:
    first = np.full(n_units, np.inf)
    treated = d == 1
    np.minimum.at(first, unit_codes[treated], time[treated])
    return first


def panel_from_frame(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    cohort: str | None = None,
    weights: str | None = None,
    clusters: str | None = None,
    covariates: str | Sequence[str] | None = None,
) -> Panel:
    """Validate a long panel and return it as a :class:`Panel`.

    Parameters
    ----------
    data : DataFrame-like
        One row per unit and period (pandas, polars, pyarrow, dict or path).
    outcome, unit, time : str
        Column names. ``time`` must be numeric (e.g. years or a period index).
    treatment : str, optional
        0/1 column: the unit is treated in that period.
    cohort : str, optional
        First treated period of the unit (NaN, ``inf`` or ``0`` = never treated).
    weights, clusters : str, optional
        Positive observation weights; cluster labels.
    covariates : str or list of str, optional
        Numeric covariate columns.

    Raises
    ------
    paribus.errors.DataError
        See the module docstring for what is refused.
    """
    frame = to_pandas(data)
    covs = as_column_list(covariates)
    roles: dict[str, str | None] = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "treatment": treatment,
        "cohort": cohort,
        "weights": weights,
        "clusters": clusters,
    }
    _check_columns(frame, roles, covs)
    if len(frame) == 0:
        raise DataError("the data have no rows; pass a non-empty panel.")
    y = _numeric(frame, outcome, "outcome")
    t = _numeric(frame, time, "time")
    times, time_codes = np.unique(t, return_inverse=True)
    units, unit_codes = np.unique(frame[unit].to_numpy(), return_inverse=True)
    n_units = units.size
    keys = unit_codes.astype(np.int64) * times.size + time_codes
    counts = np.bincount(keys, minlength=n_units * times.size)
    if np.any(counts > 1):
        k = int(np.argmax(counts))
        raise DataError(
            f"unit {units[k // times.size]!r} appears {counts[k]} times in period "
            f"{times[k % times.size]:g} (columns {unit!r}, {time!r}); a panel needs one row "
            "per unit and period: aggregate or de-duplicate the rows."
        )
    balanced = bool(np.all(counts == 1))

    d, unit_cohort = _treatment_arrays(frame, treatment, cohort, t, times, unit_codes, n_units)
    w = None
    if weights is not None:
        w = _numeric(frame, weights, "weights")
        if not np.all(np.isfinite(w) & (w > 0)):
            raise DataError(
                f"weights column {weights!r} must be positive and finite; found "
                f"minimum {np.nanmin(w):g}. Drop the rows with zero weight."
            )
    cluster_codes = None
    if clusters is not None:
        cluster_codes = np.unique(frame[clusters].to_numpy(), return_inverse=True)[1]
    X = None
    if covs:
        X = np.column_stack([_numeric(frame, c, "covariate") for c in covs])
    order = np.lexsort((time_codes, unit_codes))
    absorbing = bool(
        np.all(np.diff(d[order])[np.diff(unit_codes[order]) == 0] >= 0) if d.size > 1 else True
    )
    return Panel(
        y=y,
        unit_codes=unit_codes.astype(np.intp),
        time_codes=time_codes.astype(np.intp),
        units=units,
        times=times,
        d=d,
        cohort=unit_cohort[unit_codes],
        unit_cohort=unit_cohort,
        weights=w,
        cluster_codes=cluster_codes,
        X=X,
        covariates=tuple(covs),
        balanced=balanced,
        absorbing=absorbing,
        names=dict(roles),
    )


def _treatment_arrays(
    frame: pd.DataFrame,
    treatment: str | None,
    cohort: str | None,
    t: np.ndarray,
    times: np.ndarray,
    unit_codes: np.ndarray,
    n_units: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The 0/1 indicator per row and the first treated period per unit."""
    if treatment is None and cohort is None:
        return np.zeros(t.size), np.full(n_units, np.inf)
    unit_cohort = None
    if cohort is not None:
        g = _cohort_from_column(_numeric(frame, cohort, "cohort"), times, cohort)
        unit_cohort = np.full(n_units, np.nan)
        unit_cohort[unit_codes] = g
        if not np.array_equal(unit_cohort[unit_codes], g):
            raise DataError(
                f"cohort column {cohort!r} varies within a unit; it must hold the unit's "
                "first treated period in every row (NaN or 0 for never treated)."
            )
    if treatment is not None:
        d = _numeric(frame, treatment, "treatment")
        if not np.all((d == 0) | (d == 1)):
            found = np.unique(d[(d != 0) & (d != 1)])[:5]
            raise DataError(
                f"treatment column {treatment!r} must be 0/1 (treated in that period); "
                f"found values {found.tolist()}. Recode it to 0/1."
            )
        if unit_cohort is None:
            unit_cohort = _cohort_from_treatment(d, t, unit_codes, n_units)
    else:
        assert unit_cohort is not None
        d = (t >= unit_cohort[unit_codes]).astype(float)
    return d, unit_cohort
