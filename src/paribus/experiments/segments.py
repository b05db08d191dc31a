"""Effects by segment, with multiplicity-adjusted p-values and a heterogeneity test.

Each segment's effect is the difference in means within the segment
(:func:`paribus.experiments._contrast.mean_contrast`, Welch by default). Looking at
many segments multiplies the chances of a spurious "win", so the p-values are
adjusted (Holm 1979 by default, any method of
``statsmodels.stats.multitest.multipletests``); the adjusted p-value sits in each
effect's ``diagnostics["p_adjusted"]``.

Whether the effect really differs across segments is Cochran's Q test (Cochran 1954,
*Biometrics* 10, 101-129) on the segment estimates ``theta_s`` with inverse-variance
weights ``w_s = 1 / se_s^2``:

    theta_bar = sum w_s theta_s / sum w_s,   Q = sum w_s (theta_s - theta_bar)^2 ~ chi^2(S - 1),

with ``I^2 = max(0, (Q - (S - 1)) / Q)``, the share of the spread in the estimates
beyond sampling error (Higgins & Thompson 2002, *Statistics in Medicine* 21,
1539-1558). A small p-value says the effect is not the same everywhere; it does not
say which segments differ.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.data import CausalData
from paribus.data.convert import to_pandas
from paribus.errors import DataError, ParameterError
from paribus.experiments._contrast import mean_contrast
from paribus.experiments._multiple import CORRECTIONS, adjust_pvalues, check_correction
from paribus.results import EffectTable

__all__ = ["CORRECTIONS", "HeterogeneityTest", "heterogeneity_test", "segment_effects"]


@dataclasses.dataclass(frozen=True)
class HeterogeneityTest:
    """Cochran's Q test of equal effects across segments, with I² (module docstring).

    Attributes
    ----------
    statistic, df, p_value : float
        ``Q``, ``S - 1`` and the chi-square p-value.
    i_squared : float
        Higgins-Thompson ``I^2`` in [0, 1].
    pooled : float
        The inverse-variance weighted mean effect ``theta_bar``.
    n_segments : int
    """

    statistic: float
    df: int
    p_value: float
    i_squared: float
    pooled: float
    n_segments: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return (
            f"Cochran's Q = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.4g}; "
            f"I^2 = {self.i_squared:.1%} of the spread across {self.n_segments} segments "
            "is beyond sampling error."
        )

    __repr__ = __str__


def labels_column(frame: pd.DataFrame, column: str, argument: str) -> pd.Series:
    """The label column ``column`` (any type), refused when absent or with missing values."""
    if column not in frame.columns:
        raise DataError(
            f"{argument} column {column!r} is not in the data; available columns: "
            f"{', '.join(map(str, list(frame.columns)[:20]))}."
        )
    values = frame[column]
    if values.isna().any():
        raise DataError(
            f"{argument} column {column!r} has {int(values.isna().sum())} missing values; "
            "drop those rows or give them their own label."
        )
    return values.reset_index(drop=True)


def segment_effects(
    data: Any,
    *,
    treatment: str,
    outcome: str,
    segment: str,
    correction: str = "holm",
    level: float = 0.95,
    variance: str = "welch",
) -> EffectTable:
    """Difference in means within each segment, p-values adjusted for multiplicity.

    Parameters
    ----------
    data : table
        Unit-level rows (pandas, polars, pyarrow, dict of columns).
    treatment, outcome : str
        A 0/1 (or boolean) treatment column and a numeric outcome column.
    segment : str
        Segment labels (any type); one row of the result per segment, in sorted order.
    correction : str, default "holm"
        One of :data:`CORRECTIONS` (``multipletests`` methods, or ``"none"``).
    level : float, default 0.95
    variance : {"welch", "neyman", "pooled"}
        Passed to :func:`~paribus.experiments._contrast.mean_contrast`.

    Returns
    -------
    EffectTable
        One ATE per segment; ``diagnostics`` hold the arm means and sizes, ``share``
        (segment share of all units), ``treated_share``, ``p_adjusted`` and
        ``correction``. The raw p-value is ``p_value``.

    Raises
    ------
    paribus.errors.DataError
        Missing columns or values, a non-binary treatment, or a segment with fewer
        than 2 units in an arm (merge small segments first).
    paribus.errors.ParameterError
        Unknown ``correction`` or ``variance``, ``level`` outside (0, 1).
    """
    check_level(level)
    check_correction(correction)
    if variance not in ("welch", "neyman", "pooled"):
        raise ParameterError(f"variance must be 'welch', 'neyman' or 'pooled', got {variance!r}.")
    cd = CausalData(data, treatment=treatment, outcome=outcome)
    seg = labels_column(to_pandas(data), segment, "segment")
    return effects_by_group(
        cd.t,
        cd.y,
        seg,
        level=level,
        correction=correction,
        variance=variance,
        title=f"Effect of {treatment} on {outcome} by {segment} ({correction})",
    )


def effects_by_group(
    treated: np.ndarray,
    y: np.ndarray,
    groups: pd.Series,
    *,
    level: float,
    correction: str,
    variance: str = "welch",
    title: str | None = None,
) -> EffectTable:
    """Difference in means within each level of ``groups`` (validated arrays)."""
    t = np.asarray(treated).astype(bool)
    n = t.size
    labels, contrasts, extra = [], [], []
    for value in ordered_levels(groups):
        mask = (groups == value).to_numpy()
        try:
            mc = mean_contrast(y[mask & t], y[mask & ~t], variance=variance)  # type: ignore[arg-type]
        except DataError as exc:
            raise DataError(
                f"{groups.name or 'segment'}={value!s}: {exc} Or merge small segments."
            ) from None
        labels.append(str(value))
        contrasts.append(mc)
        extra.append({"share": float(mask.sum() / n), "treated_share": float(t[mask].mean())})
    raw = [mc.effect(level=level).p_value for mc in contrasts]
    adjusted = adjust_pvalues(np.array(raw), correction)
    effects = [
        mc.effect(
            level=level,
            diagnostics={**ex, "p_adjusted": float(pa), "correction": correction},
        )
        for mc, ex, pa in zip(contrasts, extra, adjusted, strict=True)
    ]
    return EffectTable(effects, labels, title=title)


def _sort_key(value: Any) -> tuple[int, Any]:
    # numbers first in numeric order, everything else by its text
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def heterogeneity_test(table: EffectTable) -> HeterogeneityTest:
    """Cochran's Q test that every effect in ``table`` is the same (module docstring).

    Raises
    ------
    paribus.errors.DataError
        Fewer than 2 effects, or a standard error that is not positive and finite.
    """
    est = np.array([e.estimate for e in table], dtype=float)
    se = np.array([e.std_error for e in table], dtype=float)
    if est.size < 2:
        raise DataError(f"heterogeneity_test needs at least 2 segment effects, got {est.size}.")
    if not (np.isfinite(se).all() and (se > 0).all()):
        raise DataError(
            "heterogeneity_test: every effect needs a positive, finite std_error; got "
            f"{se.tolist()}. Merge segments whose outcome is constant within an arm."
        )
    w = 1.0 / se**2
    pooled = float(np.sum(w * est) / np.sum(w))
    q = float(np.sum(w * (est - pooled) ** 2))
    df = est.size - 1
    return HeterogeneityTest(
        statistic=q,
        df=df,
        p_value=float(stats.chi2.sf(q, df)),
        i_squared=max(0.0, (q - df) / q) if q > 0 else 0.0,
        pooled=pooled,
        n_segments=int(est.size),
    )


def period_column(frame: pd.DataFrame, column: str, freq: str | None) -> pd.Series:
    """The ``time`` column as ordered periods: datetimes bucketed by ``freq`` (default a day)."""
    values = labels_column(frame, column, "time")
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        try:
            return values.dt.to_period(freq or "D")
        except ValueError as exc:
            raise ParameterError(
                f"freq={freq!r} is not a pandas period frequency ({exc}); use e.g. 'D' or 'W'."
            ) from None
    if freq is not None:
        raise ParameterError(
            f"freq={freq!r} applies to a datetime time column, but {column!r} has dtype "
            f"{values.dtype}; drop freq (each distinct value is a period) or convert the "
            "column with pd.to_datetime."
        )
    return values


def ordered_levels(values: pd.Series) -> list[Any]:
    """Distinct values in order: numbers and periods by value, anything else by text."""
    unique = list(values.unique())
    if isinstance(values.dtype, pd.PeriodDtype):
        return sorted(unique)
    return sorted(unique, key=_sort_key)
