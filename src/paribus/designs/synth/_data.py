"""Panel validation for synthetic control: long data -> treated path and donor matrix.

Synthetic control (Abadie, Diamond & Hainmueller 2010, JASA 105(490); Abadie 2021,
JEL 59(2)) compares one treated unit with a convex combination of untreated donors.
This module turns a long panel (one row per unit and period) into the arrays the
estimators work on:

* ``y1`` (T,) and ``y0`` (T, J): the treated outcome path and the donors' paths, on
  the sorted time grid, with ``pre`` marking periods before ``treatment_start``;
* ``x1`` (K,) and ``x0`` (K, J): the predictors (the "X" of ADH), each one a mean
  of a variable over a set of pre-treatment periods, as in the R package Synth's
  ``dataprep``: ``predictors`` averaged over ``predictor_period``, and
  ``special_predictors`` ``(variable, periods, "mean")`` each averaged over its own
  periods. Means skip missing values (Synth's ``na.rm = TRUE``); a predictor with no
  value at all for some unit is refused.

With neither ``predictors`` nor ``special_predictors`` the design is *outcome only*:
the predictors are the pre-period outcomes themselves, one per period.

The outcome must be observed for every unit in every period (a balanced panel);
synthetic control has no way to fill a missing outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from paribus.data.convert import to_pandas
from paribus.errors import DataError, ParameterError

__all__ = ["SynthPanel", "cv_panels", "outcome_matrix", "synth_panel", "wide_to_long"]


@dataclass(frozen=True)
class SynthPanel:
    """The validated arrays of a synthetic-control design.

    Attributes
    ----------
    treated : str
        Name of the treated unit.
    donors : tuple of str
        Names of the donor units, in the column order of ``y0`` and ``x0``.
    times : ndarray (T,)
        Sorted periods.
    pre : ndarray of bool (T,)
        Periods before ``treatment_start``.
    treatment_start : Any
        First treated period.
    y1, y0 : ndarray (T,), (T, J)
        Outcome paths of the treated unit and the donors.
    x1, x0 : ndarray (K,), (K, J)
        Predictor values of the treated unit and the donors.
    predictor_names : tuple of str
        A label per predictor row (``"invest (1964-1969)"``, ``"y[1975]"``, ...).
    outcome_only : bool
        True when the predictors are the pre-period outcomes (no covariates given).
    """

    treated: str
    donors: tuple[str, ...]
    times: np.ndarray
    pre: np.ndarray
    treatment_start: Any
    y1: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    x0: np.ndarray
    predictor_names: tuple[str, ...]
    outcome_only: bool

    @property
    def n_pre(self) -> int:
        """Number of pre-treatment periods."""
        return int(self.pre.sum())

    def as_treated(self, donor: str) -> SynthPanel:
        """The same design with ``donor`` in the treated role and the treated unit dropped.

        This is the in-space placebo of Abadie et al. (2010, section 4.2): every donor
        takes the treated unit's place in turn, compared with the remaining donors.
        """
        j = self.donors.index(donor)
        keep = [k for k in range(len(self.donors)) if k != j]
        return SynthPanel(
            treated=donor,
            donors=tuple(self.donors[k] for k in keep),
            times=self.times,
            pre=self.pre,
            treatment_start=self.treatment_start,
            y1=self.y0[:, j].copy(),
            y0=self.y0[:, keep],
            x1=self.x0[:, j].copy(),
            x0=self.x0[:, keep],
            predictor_names=self.predictor_names,
            outcome_only=self.outcome_only,
        )

    def without_donor(self, donor: str) -> SynthPanel:
        """The same design with ``donor`` removed from the pool (leave-one-out)."""
        j = self.donors.index(donor)
        keep = [k for k in range(len(self.donors)) if k != j]
        return SynthPanel(
            treated=self.treated,
            donors=tuple(self.donors[k] for k in keep),
            times=self.times,
            pre=self.pre,
            treatment_start=self.treatment_start,
            y1=self.y1,
            y0=self.y0[:, keep],
            x1=self.x1,
            x0=self.x0[:, keep],
            predictor_names=self.predictor_names,
            outcome_only=self.outcome_only,
        )


def wide_to_long(
    wide: Any, *, time: str, outcome: str = "outcome", unit: str = "unit"
) -> pd.DataFrame:
    """Reshape a wide panel (one row per period, one column per unit) to long form.

    Parameters
    ----------
    wide : dataframe
        Column ``time`` holds the periods; every other column is one unit's outcome.
    time, outcome, unit : str
        The time column of ``wide``; names of the outcome and unit columns produced.
    """
    df = to_pandas(wide)
    if time not in df.columns:
        raise DataError(
            f"wide_to_long: time column {time!r} is not in the data; columns are "
            f"{list(map(str, df.columns))[:10]}. Pass time= the column holding the periods."
        )
    long = df.melt(id_vars=[time], var_name=unit, value_name=outcome)
    long[unit] = long[unit].astype(str)
    return long


def _require_columns(df: pd.DataFrame, names: Sequence[str], role: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise DataError(
            f"{role}: column(s) {missing} not found in the data; available columns are "
            f"{list(map(str, df.columns))[:20]}. Check the spelling of the column names."
        )


def _numeric(df: pd.DataFrame, column: str, role: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
        raise DataError(
            f"{role}={column!r} must be numeric; found dtype {df[column].dtype}. "
            "Convert the column to numbers first."
        )
    return df[column].to_numpy(dtype=float)


def outcome_matrix(data: Any, *, outcome: str, unit: str, time: str) -> pd.DataFrame:
    """The outcome as a (time x unit) table from long data, checked to be balanced.

    Refuses duplicated (unit, time) rows, a non-numeric or missing outcome, a
    non-numeric time and units not observed in every period.
    """
    df = to_pandas(data)
    _require_columns(df, [outcome, unit, time], "outcome/unit/time")
    y = _numeric(df, outcome, "outcome")
    _numeric(df, time, "time")
    if np.isnan(y).any():
        bad = df.loc[np.isnan(y), [unit, time]].head(3).to_dict("records")
        raise DataError(
            f"outcome={outcome!r} has {int(np.isnan(y).sum())} missing value(s), e.g. {bad}; "
            "synthetic control needs the outcome of every unit in every period. Drop the "
            "units or periods with gaps, or impute them before fitting."
        )
    dup = df.duplicated([unit, time])
    if dup.any():
        bad = df.loc[dup, [unit, time]].head(3).to_dict("records")
        raise DataError(
            f"unit={unit!r} and time={time!r} do not identify rows: {int(dup.sum())} "
            f"duplicated (unit, time) pair(s), e.g. {bad}. Aggregate to one row per unit "
            "and period."
        )
    table = df.pivot(index=time, columns=unit, values=outcome).sort_index()
    table.columns = table.columns.map(str)
    if table.isna().any().any():
        gaps = table.columns[table.isna().any()].tolist()
        raise DataError(
            f"the panel is unbalanced: unit(s) {gaps[:5]} lack the outcome in some period "
            f"of {table.index.min()}-{table.index.max()}. Synthetic control needs every unit "
            "observed in every period; drop those units or restrict the periods."
        )
    return table


def _period_mean(
    df: pd.DataFrame, variable: str, periods: Sequence[Any], *, unit: str, time: str
) -> pd.Series:
    """Mean of ``variable`` over ``periods`` by unit, skipping missing values."""
    rows = df[df[time].isin(list(periods))]
    return rows.groupby(unit)[variable].mean()


def _label(variable: str, periods: Sequence[Any]) -> str:
    ps = sorted(periods)
    span = f"{ps[0]}" if len(ps) == 1 else f"{ps[0]}-{ps[-1]}"
    return f"{variable} ({span})"


def _special(spec: Any) -> tuple[str, list[Any]]:
    ok = isinstance(spec, (tuple, list)) and len(spec) in (2, 3) and isinstance(spec[0], str)
    if ok and len(spec) == 3 and spec[2] != "mean":
        raise ParameterError(
            f"special_predictors entry {spec!r}: operation {spec[2]!r} is not supported; "
            "expected 'mean'."
        )
    if not ok:
        raise ParameterError(
            f"special_predictors entry {spec!r} is invalid; expected a tuple "
            "(variable, periods, 'mean'), e.g. ('gdpcap', range(1960, 1970), 'mean')."
        )
    periods = [spec[1]] if np.isscalar(spec[1]) else list(spec[1])
    if not periods:
        raise ParameterError(f"special_predictors entry {spec!r} has no periods.")
    return spec[0], periods


def synth_panel(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated_unit: Any,
    treatment_start: Any,
    predictors: Sequence[str] | None = None,
    special_predictors: Sequence[Any] | None = None,
    predictor_period: Sequence[Any] | None = None,
    donors: Sequence[Any] | None = None,
) -> SynthPanel:
    """Validate a long panel and build the arrays of a synthetic-control design.

    Parameters
    ----------
    data : dataframe
        Long panel: one row per unit and period.
    outcome, unit, time : str
        Column names. The outcome and time must be numeric.
    treated_unit : label
        The treated unit's value in ``unit``.
    treatment_start : period
        First period in which the treated unit is treated; earlier periods are the
        pre-period (at least two are required).
    predictors : list of str, optional
        Variables averaged over ``predictor_period`` (default: the whole pre-period).
    special_predictors : list of (variable, periods, "mean"), optional
        Variables averaged over their own periods, e.g. outcome lags
        ``("gdpcap", [1969], "mean")``.
    donors : list of labels, optional
        Donor pool; default every unit other than the treated one.
    """
    df = to_pandas(data)
    table = outcome_matrix(df, outcome=outcome, unit=unit, time=time)
    df = df.assign(**{unit: df[unit].map(str)})
    name = str(treated_unit)
    if name not in table.columns:
        raise DataError(
            f"treated_unit={treated_unit!r} is not a value of unit={unit!r}; units are "
            f"{table.columns.tolist()[:10]}{' ...' if table.shape[1] > 10 else ''}."
        )
    pool = [str(d) for d in donors] if donors is not None else []
    if donors is not None:
        unknown = [d for d in pool if d not in table.columns]
        if unknown or name in pool:
            raise DataError(
                f"donors: {unknown or [name]} "
                f"{'are not units of the data' if unknown else 'is the treated unit'}; "
                "list untreated units only."
            )
    else:
        pool = [c for c in table.columns if c != name]
    if len(pool) < 2:
        raise DataError(
            f"the donor pool has {len(pool)} unit(s); synthetic control needs at least 2 "
            "untreated units to weight."
        )
    times = table.index.to_numpy()
    pre = times < treatment_start
    if pre.sum() < 2 or pre.all():
        raise DataError(
            f"treatment_start={treatment_start!r} leaves {int(pre.sum())} pre-period(s) and "
            f"{int((~pre).sum())} post-period(s) in {times.min()}-{times.max()}; synthetic "
            "control needs at least 2 pre-periods and 1 post-period."
        )
    pre_times = list(times[pre])
    rows: list[pd.Series] = []
    labels: list[str] = []
    if predictors:
        _require_columns(df, list(predictors), "predictors")
        period = pre_times if predictor_period is None else list(predictor_period)
        for var in predictors:
            _numeric(df, var, "predictors")
            rows.append(_period_mean(df, var, period, unit=unit, time=time))
            labels.append(_label(var, period))
    for spec in special_predictors or ():
        var, periods = _special(spec)
        _require_columns(df, [var], "special_predictors")
        _numeric(df, var, "special_predictors")
        late = [p for p in periods if p >= treatment_start]
        if late:
            raise DataError(
                f"special_predictors ({var!r}) uses period(s) {late[:3]} at or after "
                f"treatment_start={treatment_start!r}; predictors must be pre-treatment."
            )
        rows.append(_period_mean(df, var, periods, unit=unit, time=time))
        labels.append(_label(var, periods))
    outcome_only = not rows
    order = [name, *pool]
    if outcome_only:
        pre_table = table.loc[pre, order]
        xmat = pre_table.to_numpy(dtype=float)
        labels = [f"{outcome}[{t}]" for t in pre_table.index]
    else:
        xmat = np.vstack([r.reindex(order).to_numpy(dtype=float) for r in rows])
        missing = np.isnan(xmat)
        if missing.any():
            k, j = np.argwhere(missing)[0]
            raise DataError(
                f"predictor {labels[k]!r} has no value for unit {order[j]!r} in its periods; "
                "choose periods in which every unit is observed, or drop the predictor."
            )
    ymat = table[order].to_numpy(dtype=float)
    return SynthPanel(
        treated=name,
        donors=tuple(pool),
        times=times,
        pre=pre,
        treatment_start=treatment_start,
        y1=ymat[:, 0].copy(),
        y0=ymat[:, 1:].copy(),
        x1=xmat[:, 0].copy(),
        x0=xmat[:, 1:].copy(),
        predictor_names=tuple(labels),
        outcome_only=outcome_only,
    )


def _shift(periods: Sequence[Any], grid: list[Any], steps: int) -> list[Any]:
    pos = {t: i for i, t in enumerate(grid)}
    return [grid[pos[p] - steps] for p in periods if p in pos and pos[p] - steps >= 0]


def cv_panels(
    data: Any,
    args: dict[str, Any],
    panel: SynthPanel,
    predictors: Sequence[str] | None,
    special: Sequence[Any] | None,
    predictor_period: Sequence[Any] | None,
    split: float,
) -> tuple[SynthPanel, SynthPanel, np.ndarray]:
    """Training and final panels and the validation mask of Abadie (2021, section 3.2).

    The pre-period splits into a training window (the first ``split`` share) and a
    validation window. The training panel measures every predictor ``n_val`` periods
    earlier (periods shifted off the grid are dropped); the final panel measures them
    as given. Outcome-only designs use the outcomes of the first ``n_train``
    pre-periods for training and of the last ``n_train`` for the final weights.
    """
    pre_times = list(panel.times[panel.pre])
    n_train = round(split * len(pre_times))
    n_val = len(pre_times) - n_train
    if n_train < 1 or n_val < 1:
        raise ParameterError(
            f"SyntheticControl: cv_split={split} leaves {n_train} training and {n_val} "
            f"validation period(s) of {len(pre_times)}; both need at least one."
        )
    grid = list(panel.times)
    outcome = args["outcome"]
    if panel.outcome_only:
        train_spec = [(outcome, [t], "mean") for t in pre_times[:n_train]]
        final_spec = [(outcome, [t], "mean") for t in pre_times[-n_train:]]
    else:
        period = pre_times if predictor_period is None else list(predictor_period)
        final_spec = [(p, period, "mean") for p in predictors or ()]
        final_spec += [
            (s[0], [s[1]] if np.isscalar(s[1]) else list(s[1]), "mean") for s in special or ()
        ]
        train_spec = [(var, _shift(ps, grid, n_val), "mean") for var, ps, _ in final_spec]
        empty = [var for var, ps, _ in train_spec if not ps]
        if empty:
            raise DataError(
                f"SyntheticControl(v='cv'): predictor(s) {empty} have no period left when "
                f"shifted back {n_val} periods into the training window; raise cv_split or "
                "measure them over more periods."
            )
    train = synth_panel(data, **args, special_predictors=train_spec)
    final = synth_panel(data, **args, special_predictors=final_spec)
    mspe = panel.pre & np.isin(panel.times, pre_times[n_train:])
    keep = panel.outcome_only
    return replace(train, outcome_only=keep), replace(final, outcome_only=keep), mspe
