"""Exclusion-restriction sensitivity: Conley, Hansen & Rossi (2012) "plausibly exogenous".

The model ``y = X beta + Z gamma + e`` relaxes the exclusion ``gamma = 0`` to a
user-given range of direct effects ``gamma in G``. For each ``gamma0`` in ``G`` the
IV estimate of ``beta`` from ``y - Z gamma0`` has a ``level`` confidence interval; the
union of these intervals (their "union of confidence intervals" method, sec. 3.2) covers
``beta`` with probability at least ``level`` whatever ``gamma`` in ``G`` is true.
``G`` is a box, searched on a grid (its corners included).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paribus._core.params import check_level
from paribus.designs.iv._design import names_of
from paribus.errors import ParameterError

__all__ = ["PlausiblyExogenous", "plausibly_exogenous"]


@dataclass(frozen=True)
class PlausiblyExogenous:
    """Union-of-confidence-intervals bounds per endogenous regressor."""

    bounds: pd.DataFrame  # index: endogenous; columns lower, upper
    level: float
    gamma_range: Mapping[str, tuple[float, float]]

    def __str__(self) -> str:
        ranges = ", ".join(f"{k} in [{a:g}, {b:g}]" for k, (a, b) in self.gamma_range.items())
        return (
            f"plausibly exogenous bounds ({self.level:.0%}, direct effects {ranges}):\n"
            + self.bounds.to_string(float_format=lambda x: f"{x:.4f}")
        )


def plausibly_exogenous(
    estimator: Any,
    data: pd.DataFrame,
    *,
    gamma: Mapping[str, tuple[float, float]] | tuple[float, float],
    level: float = 0.95,
    grid: int = 21,
    **fit_args: Any,
) -> PlausiblyExogenous:
    """Conley-Hansen-Rossi UCI bounds for a range of direct effects of the instruments.

    Parameters
    ----------
    estimator : IV2SLS, IVLIML or IVGMM
        Refitted (on a copy of the data) for each ``gamma0``.
    data : DataFrame
    gamma : (low, high) or {instrument: (low, high)}
        Range of each instrument's direct effect on the outcome; a pair applies to
        every instrument.
    level : float
    grid : int
        Points per instrument on the range.
    **fit_args
        ``outcome=``, ``endogenous=``, ``instruments=`` and the rest of ``fit``'s arguments.
    """
    from sklearn.base import clone

    check_level(level)
    instruments = names_of(fit_args.get("instruments"), "instruments")
    outcome = fit_args.get("outcome")
    if not instruments or not isinstance(outcome, str):
        raise ParameterError("plausibly_exogenous needs outcome= and instruments= as for fit.")
    if isinstance(gamma, Mapping):
        ranges = {k: (float(v[0]), float(v[1])) for k, v in gamma.items()}
        unknown = set(ranges) - set(instruments)
        if unknown or set(ranges) != set(instruments):
            raise ParameterError(
                f"gamma must give a (low, high) range for every instrument "
                f"({', '.join(instruments)}); got {sorted(ranges)}."
            )
    else:
        lo, hi = gamma
        ranges = {z: (float(lo), float(hi)) for z in instruments}
    for z, (lo, hi) in ranges.items():
        if not lo <= hi:
            raise ParameterError(f"gamma range for {z!r} must have low <= high; got ({lo}, {hi}).")
    axes = [np.unique(np.linspace(lo, hi, grid)) for lo, hi in ranges.values()]
    frame = pd.DataFrame(data).copy()
    base = frame[outcome].to_numpy(dtype=float)
    lower: dict[str, float] = {}
    upper: dict[str, float] = {}
    for point in itertools.product(*axes):
        shift = sum(g * frame[z].to_numpy(dtype=float) for z, g in zip(ranges, point, strict=True))
        frame[outcome] = base - shift
        res = clone(estimator).fit(frame, **fit_args).result_
        ci = res.conf_int(level)
        for name in res.endogenous:
            lower[name] = min(lower.get(name, np.inf), float(ci.loc[name, "lower"]))
            upper[name] = max(upper.get(name, -np.inf), float(ci.loc[name, "upper"]))
    bounds = pd.DataFrame({"lower": lower, "upper": upper})
    bounds.index.name = "endogenous"
    return PlausiblyExogenous(bounds, level, ranges)
