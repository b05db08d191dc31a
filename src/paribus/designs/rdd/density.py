"""Manipulation test: is the running variable's density continuous at the cutoff?

Cattaneo, Jansson & Ma (2020, JASA, "Simple local polynomial density estimators") and
the rddensity package (Cattaneo, Jansson & Ma 2018, Stata Journal, "Manipulation testing
based on density discontinuity"). The density on each side of the cutoff is the slope of
a local polynomial fit of the empirical CDF; bandwidths are MSE-optimal for order ``p``
and the test uses the order ``p + 1`` fit at those bandwidths (robust bias correction),
``T = (f_right - f_left) / se``, with a jackknife (default) or plug-in standard error.
Under no manipulation ``T`` is approximately standard normal.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.designs.rdd._density_bw import select_bandwidths
from paribus.designs.rdd._density_fit import ecdf_values, fit_sides
from paribus.designs.rdd._density_input import (
    check_int,
    check_option,
    check_real,
    column,
    split_sides,
)
from paribus.designs.rdd._density_kernels import KERNELS
from paribus.designs.rdd._density_plot import DensityCurves, density_curves, draw_density
from paribus.errors import DataError, ParameterError

__all__ = ["DensityTest", "density_test"]

BWSELECT = ("comb", "each", "diff", "sum")
FITSELECT = ("unrestricted", "restricted")
VCE = ("jackknife", "plugin")


@dataclasses.dataclass(frozen=True, eq=False)
class DensityTest:
    """Result of :func:`density_test`.

    Attributes
    ----------
    statistic, p_value : float
        Bias-corrected ``T = (f_right - f_left) / se`` and its two-sided normal p-value.
    density_left, density_right : float
        Density estimates at the cutoff from each side (order ``p + 1`` fits).
    std_error_left, std_error_right, std_error_diff : float
        Their standard errors and that of the difference.
    bandwidth_left, bandwidth_right : float
    n_obs, n_left, n_right, n_eff_left, n_eff_right : int
        Sample sizes: all, each side, and inside each bandwidth.
    cutoff, p, kernel, bwselect, fitselect, vce, level
        The settings used (``level`` for the plot's bands).
    """

    statistic: float
    p_value: float
    density_left: float
    density_right: float
    std_error_left: float
    std_error_right: float
    std_error_diff: float
    bandwidth_left: float
    bandwidth_right: float
    n_obs: int
    n_left: int
    n_right: int
    n_eff_left: int
    n_eff_right: int
    cutoff: float
    p: int
    kernel: str
    bwselect: str
    fitselect: str
    vce: str
    level: float = 0.95
    running: str = "running variable"
    curves: DensityCurves | None = dataclasses.field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """Rows left, right, difference: density, std. error, bandwidth, n, T, p."""
        nan = float("nan")
        return pd.DataFrame(
            {
                "density": [
                    self.density_left,
                    self.density_right,
                    self.density_right - self.density_left,
                ],
                "std_error": [self.std_error_left, self.std_error_right, self.std_error_diff],
                "bandwidth": [self.bandwidth_left, self.bandwidth_right, nan],
                "n_effective": [
                    self.n_eff_left,
                    self.n_eff_right,
                    self.n_eff_left + self.n_eff_right,
                ],
                "statistic": [nan, nan, self.statistic],
                "p_value": [nan, nan, self.p_value],
            },
            index=pd.Index(["left", "right", "difference"], name="side"),
        )

    def __str__(self) -> str:
        lines = [
            f"Manipulation test at {self.running} = {self.cutoff:g} (Cattaneo, Jansson & Ma 2020)",
            f"  p={self.p}, kernel={self.kernel}, bwselect={self.bwselect}, "
            f"fit={self.fitselect}, vce={self.vce}",
            f"  {'':10}{'density':>10}{'std.err':>10}{'bandwidth':>11}{'n (h)':>8}{'n':>8}",
        ]
        for name, f, se, h, ne, nn in (
            (
                "left",
                self.density_left,
                self.std_error_left,
                self.bandwidth_left,
                self.n_eff_left,
                self.n_left,
            ),
            (
                "right",
                self.density_right,
                self.std_error_right,
                self.bandwidth_right,
                self.n_eff_right,
                self.n_right,
            ),
        ):
            lines.append(f"  {name:10}{f:>10.4g}{se:>10.4g}{h:>11.4g}{ne:>8,}{nn:>8,}")
        p = "<0.001" if self.p_value < 0.001 else f"{self.p_value:.4f}"
        lines.append(f"  T = {self.statistic:.4f}, p-value = {p} (H0: continuous density)")
        return "\n".join(lines)

    __repr__ = __str__

    def plot(self, ax: Any = None) -> Any:
        """Histogram and estimated densities with pointwise bands on each side."""
        if self.curves is None:
            raise ParameterError("this DensityTest was built without plot curves.")
        return draw_density(self.curves, self.cutoff, self.level, ax, self.running)


def _bandwidths(
    h: float | tuple[float, float] | None,
    x: np.ndarray,
    p: int,
    kernel: str,
    restricted: bool,
    vce: str,
    bwselect: str,
    mass_points: bool,
    regularize: bool,
    n_local_min: int,
    n_unique_min: int,
) -> tuple[float, float]:
    if h is not None:
        pair: tuple[Any, ...] = tuple(h) if isinstance(h, (tuple, list)) else (h, h)
        if len(pair) != 2 or not all(check_real("h", v) > 0 for v in pair):
            raise ParameterError(
                f"h={h!r} is invalid; expected a positive number or a (left, right) pair."
            )
        return float(pair[0]), float(pair[1])
    bw = select_bandwidths(
        x, p, kernel, restricted, vce, mass_points, regularize, n_local_min, n_unique_min
    ).h
    if restricted:
        if bwselect == "each":
            raise ParameterError(
                "bwselect='each' gives two bandwidths, but fitselect='restricted' needs one "
                "common bandwidth; use 'comb', 'diff' or 'sum'."
            )
        common = {"diff": bw[2], "sum": bw[3], "comb": min(bw[2], bw[3])}[bwselect]
        return float(common), float(common)
    if bwselect == "each":
        return float(bw[0]), float(bw[1])
    if bwselect in ("diff", "sum"):
        k = 2 if bwselect == "diff" else 3
        return float(bw[k]), float(bw[k])
    return (
        float(statistics.median([bw[0], bw[2], bw[3]])),
        float(statistics.median([bw[1], bw[2], bw[3]])),
    )


def density_test(
    data: Any,
    running: str,
    *,
    cutoff: float = 0.0,
    p: int = 2,
    kernel: str = "triangular",
    bwselect: str = "comb",
    fitselect: str = "unrestricted",
    vce: str = "jackknife",
    h: float | tuple[float, float] | None = None,
    mass_points: bool = True,
    regularize: bool = True,
    n_local_min: int | None = None,
    n_unique_min: int | None = None,
    level: float = 0.95,
) -> DensityTest:
    """Test for a discontinuity of the running variable's density at the cutoff.

    Parameters
    ----------
    data : DataFrame
    running : str
        The running-variable column.
    cutoff : float
    p : int, 1-7
        Local polynomial order of the density estimators (bandwidths are MSE-optimal for
        ``p``; the test statistic uses order ``p + 1``, the robust bias correction).
    kernel : {"triangular", "epanechnikov", "uniform"}
    bwselect : {"comb", "each", "diff", "sum"}
        MSE-optimal bandwidth for each density ("each", two bandwidths), for their
        difference or sum (one common bandwidth), or "comb": the median of (each, diff,
        sum) per side when unrestricted, ``min(diff, sum)`` when restricted.
    fitselect : {"unrestricted", "restricted"}
        Separate fits per side, or a common CDF intercept and higher-order terms.
    vce : {"jackknife", "plugin"}
        Standard errors: jackknife or asymptotic plug-in.
    h : float or (float, float), optional
        Bandwidths (left, right) that replace the data-driven ones.
    mass_points : bool
        Treat tied values as one mass point (CDF and jackknife terms).
    regularize, n_local_min, n_unique_min
        Keep at least ``n_local_min`` observations and ``n_unique_min`` distinct values
        (default ``21 + p``) inside each bandwidth and bandwidths within the data range.
    level : float
        Level of the plot's pointwise bands.

    Returns
    -------
    DensityTest

    References
    ----------
    Cattaneo, Jansson & Ma (2020), JASA 115(531); Cattaneo, Jansson & Ma (2018), Stata
    Journal 18(1).
    """
    p = check_int("p", p, 1, 7)
    check_option("kernel", kernel, KERNELS)
    check_option("bwselect", bwselect, BWSELECT)
    check_option("fitselect", fitselect, FITSELECT)
    check_option("vce", vce, VCE)
    check_option("mass_points", mass_points, (True, False))
    check_option("regularize", regularize, (True, False))
    cutoff = check_real("cutoff", cutoff)
    level = check_level(level)
    n_local_min = 21 + p if n_local_min is None else check_int("n_local_min", n_local_min, 0, 10**9)
    n_unique_min = (
        21 + p if n_unique_min is None else check_int("n_unique_min", n_unique_min, 0, 10**9)
    )
    raw = column(data, running, role="running variable")
    split_sides(raw, cutoff, running, p + 3, f"a density fit of order p + 1 = {p + 1}")
    x = np.sort(raw) - cutoff
    n = x.size
    restricted = fitselect == "restricted"
    ties = mass_points and np.unique(x).size < n
    hl, hr = _bandwidths(
        h, x, p, kernel, restricted, vce, bwselect, ties, regularize, n_local_min, n_unique_min
    )
    if restricted and hl != hr:
        raise ParameterError(
            f"h={h!r}: fitselect='restricted' needs one common bandwidth; pass a single h."
        )
    y = ecdf_values(x, ties)
    inside = (x >= -hl) & (x <= hr)
    xh, yh = x[inside], y[inside]
    nlh = int(np.sum(xh < 0))
    if min(np.unique(xh[xh < 0]).size, np.unique(xh[xh >= 0]).size) < p + 2:
        raise DataError(
            f"running variable {running!r}: too few distinct values within the bandwidths "
            f"({hl:g}, {hr:g}) for order p + 1 = {p + 1}; widen h or lower p."
        )
    fit = fit_sides(xh, yh, n, hl, hr, p + 1, 1, kernel, restricted, vce, ties)
    se = np.sqrt(fit.var)
    stat = float(fit.hat[2] / se[2])
    pval = float(2 * stats.norm.sf(abs(stat)))
    curves = density_curves(x, y, hl, hr, p, kernel)
    return DensityTest(
        statistic=stat,
        p_value=pval,
        density_left=float(fit.hat[0]),
        density_right=float(fit.hat[1]),
        std_error_left=float(se[0]),
        std_error_right=float(se[1]),
        std_error_diff=float(se[2]),
        bandwidth_left=hl,
        bandwidth_right=hr,
        n_obs=n,
        n_left=int(np.sum(x < 0)),
        n_right=int(np.sum(x >= 0)),
        n_eff_left=nlh,
        n_eff_right=xh.size - nlh,
        cutoff=cutoff,
        p=p,
        kernel=kernel,
        bwselect=bwselect,
        fitselect=fitselect,
        vce=vce,
        level=level,
        running=running,
        curves=curves,
    )
