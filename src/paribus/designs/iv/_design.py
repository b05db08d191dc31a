"""Validating an IV specification at the boundary and turning it into arrays.

The model is ``y = X beta + e`` with ``X = [exog, endog]`` and instruments
``Z = [exog, excluded]``; exogenous regressors instrument themselves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from paribus.data import CausalData
from paribus.designs.iv.covariance import COV_TYPES, CovSpec
from paribus.errors import DataError, ParameterError

__all__ = ["IVDesign", "build_design", "names_of"]

INTERCEPT = "Intercept"


@dataclass(frozen=True)
class IVDesign:
    """Arrays of one IV model (no data frame, no estimator)."""

    y: np.ndarray
    exog: np.ndarray  # (n, p), intercept first when present
    endog: np.ndarray  # (n, m)
    excluded: np.ndarray  # (n, q)
    outcome: str
    exog_names: tuple[str, ...]
    endog_names: tuple[str, ...]
    instrument_names: tuple[str, ...]
    spec: CovSpec

    @property
    def X(self) -> np.ndarray:
        return np.hstack([self.exog, self.endog])

    @property
    def Z(self) -> np.ndarray:
        return np.hstack([self.exog, self.excluded])

    @property
    def names(self) -> tuple[str, ...]:
        return self.exog_names + self.endog_names

    @property
    def n_obs(self) -> int:
        return int(self.y.size)


def names_of(value: str | Sequence[str] | None, arg: str) -> list[str]:
    """A list of column names from one name or a sequence of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        out = [str(v) for v in value]
    except TypeError:
        raise ParameterError(
            f"{arg} must be a column name or a list of column names; got {value!r}."
        ) from None
    return out


def _rank_check(matrix: np.ndarray, names: Sequence[str], what: str, fix: str) -> None:
    scale = np.linalg.norm(matrix, axis=0)
    scale[scale == 0] = 1.0
    _, r = np.linalg.qr(matrix / scale)
    diag = np.abs(np.diag(r))
    bad = np.flatnonzero(diag <= 1e-10)
    if bad.size:
        raise DataError(
            f"the {what} are collinear: {names[bad[0]]!r} is a linear combination of the "
            f"columns before it ({', '.join(repr(c) for c in names[: bad[0]])}); {fix}."
        )


def build_design(
    owner: str,
    data: Any,
    *,
    outcome: str,
    endogenous: str | Sequence[str],
    instruments: str | Sequence[str],
    exog: str | Sequence[str] = (),
    intercept: bool,
    cov_type: str,
    clusters: str | Sequence[str] | None,
    bandwidth: float | None,
    debiased: bool,
    dropna: bool,
) -> IVDesign:
    """Check the specification and data; return the model's arrays."""
    endog = names_of(endogenous, "endogenous")
    instr = names_of(instruments, "instruments")
    exo = names_of(exog, "exog")
    cl = names_of(clusters, "clusters")
    if not endog:
        raise ParameterError(f"{owner}.fit needs endogenous=: at least one endogenous regressor.")
    if not instr:
        raise ParameterError(f"{owner}.fit needs instruments=: at least one excluded instrument.")
    if len(instr) < len(endog):
        raise DataError(
            f"{owner}: the model is under-identified: {len(endog)} endogenous regressors "
            f"({', '.join(endog)}) but only {len(instr)} excluded instruments "
            f"({', '.join(instr)}); add instruments or treat some regressors as exogenous."
        )
    if cov_type not in COV_TYPES:
        raise ParameterError(
            f"{owner}: cov_type={cov_type!r} is invalid; expected one of "
            f"{', '.join(repr(c) for c in COV_TYPES)}."
        )
    if cov_type == "clustered" and not 1 <= len(cl) <= 2:
        raise ParameterError(
            f"{owner}: cov_type='clustered' needs clusters= naming one or two columns; "
            f"got {cl or None}."
        )
    if cl and cov_type != "clustered":
        raise ParameterError(
            f"{owner}: clusters= was given but cov_type={cov_type!r}; pass cov_type='clustered'."
        )
    if bandwidth is not None and (
        isinstance(bandwidth, bool)
        or not isinstance(bandwidth, (int, float))
        or not math.isfinite(bandwidth)
        or bandwidth < 0
    ):
        raise ParameterError(
            f"{owner}: bandwidth={bandwidth!r} is invalid; expected a non-negative number of lags."
        )
    # CausalData does the column checks (missing with close matches, two roles,
    # non-numeric, NaN/inf, dropna); the second cluster dimension rides in the
    # label-encoded "unit" role
    cd = CausalData(
        data,
        outcome=outcome,
        covariates=exo + endog,
        instruments=instr,
        cluster=cl[0] if cl else None,
        unit=cl[1] if len(cl) == 2 else None,
        dropna=dropna,
    )
    frame = cd.frame
    n = cd.n_obs
    for role, cols in (("outcome", [outcome]), ("endogenous", endog), ("instruments", instr)):
        for col in cols:
            values = frame[col].to_numpy(dtype=float)
            if np.ptp(values) == 0:
                raise DataError(
                    f"{role} column {col!r} is constant ({values[0]:g}); it carries no "
                    "information, drop it."
                )
    for col in exo:
        values = frame[col].to_numpy(dtype=float)
        if np.ptp(values) == 0 and intercept:
            raise DataError(
                f"exog column {col!r} is constant ({values[0]:g}) and an intercept is "
                "already included; drop it (or pass intercept=False to use it as the intercept)."
            )
    exog_names = ([INTERCEPT] if intercept else []) + exo
    if INTERCEPT in exo and intercept:
        raise DataError(f"a column is named {INTERCEPT!r}; rename it or pass intercept=False.")
    ex = frame[exo].to_numpy(dtype=float).reshape(n, -1)
    if intercept:
        ex = np.hstack([np.ones((n, 1)), ex])
    en = frame[endog].to_numpy(dtype=float).reshape(n, -1)
    zz = frame[instr].to_numpy(dtype=float).reshape(n, -1)
    _rank_check(
        np.hstack([ex, zz]),
        exog_names + instr,
        "exogenous regressors and instruments",
        "drop the redundant instrument or control",
    )
    _rank_check(
        np.hstack([ex, en]),
        exog_names + endog,
        "regressors",
        "drop the redundant regressor",
    )
    codes = None
    if cl:
        codes = np.column_stack([frame[c].to_numpy() for c in cl]).astype(np.int64)
        for j, col in enumerate(cl):
            g = np.unique(codes[:, j]).size
            if g < 2:
                raise DataError(
                    f"clusters column {col!r} has a single group; cluster-robust inference "
                    "needs at least two (many more for accuracy); use cov_type='robust'."
                )
    if n <= zz.shape[1] + ex.shape[1]:
        raise DataError(
            f"{owner}: {n} rows are too few for {ex.shape[1] + zz.shape[1]} instruments "
            "and exogenous regressors."
        )
    if bandwidth is None:
        # Newey & West (1994) rule of thumb for the Bartlett kernel
        bandwidth = math.floor(4 * (n / 100) ** (2 / 9))
    spec = CovSpec(cov_type, codes, float(bandwidth), bool(debiased))
    return IVDesign(
        y=frame[outcome].to_numpy(dtype=float),
        exog=ex,
        endog=en,
        excluded=zz,
        outcome=outcome,
        exog_names=tuple(exog_names),
        endog_names=tuple(endog),
        instrument_names=tuple(instr),
        spec=spec,
    )
