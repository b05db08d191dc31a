"""Input checks shared by the RD density test and the RD plot."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from paribus.errors import DataError, ParameterError

__all__ = ["check_int", "check_option", "check_real", "column", "split_sides"]


def column(data: Any, name: str, *, role: str) -> np.ndarray:
    """The column ``name`` of a dataframe as floats, refusing missing or non-numeric data."""
    if not isinstance(data, pd.DataFrame):
        try:
            data = pd.DataFrame(data)
        except Exception:
            raise DataError(
                f"data: expected a DataFrame (or dict of columns), found {type(data).__name__}."
            ) from None
    if name not in data.columns:
        raise DataError(
            f"{role} column {name!r} is not in the data; available columns: "
            f"{', '.join(map(str, data.columns[:20]))}."
        )
    values = data[name]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(
            f"{role} column {name!r} must be numeric, found dtype {values.dtype}; convert it "
            "to numbers first."
        )
    arr = values.to_numpy(dtype=float)
    bad = int(np.sum(~np.isfinite(arr)))
    if bad:
        raise DataError(
            f"{role} column {name!r} has {bad} missing or infinite value(s); drop those rows "
            "(e.g. data.dropna(subset=[...])) before calling."
        )
    return arr


def split_sides(x: np.ndarray, cutoff: float, name: str, need: int, why: str) -> None:
    """Refuse a running variable without ``need`` distinct values on each side."""
    left = np.unique(x[x < cutoff]).size
    right = np.unique(x[x >= cutoff]).size
    for side, k in (("below", left), ("at or above", right)):
        if k < need:
            raise DataError(
                f"running variable {name!r}: {k} distinct value(s) {side} the cutoff "
                f"{cutoff:g}; {why} needs at least {need} on each side. Check the cutoff "
                "or lower the polynomial order p."
            )


def check_option(name: str, value: Any, options: tuple[Any, ...]) -> None:
    if value not in options or (isinstance(value, bool) and bool not in map(type, options)):
        raise ParameterError(
            f"{name}={value!r} is invalid; expected one of {', '.join(map(repr, options))}."
        )


def check_int(name: str, value: Any, low: int, high: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        raise ParameterError(
            f"{name}={value!r} is invalid; expected an integer in [{low}, {high}]."
        )
    return int(value)


def check_real(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise ParameterError(f"{name}={value!r} is invalid; expected a finite number.")
    return float(value)
