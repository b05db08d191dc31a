"""Regression discontinuity plots: binned means and a global polynomial on each side.

Calonico, Cattaneo & Titiunik (2015, JASA, "Optimal data-driven regression discontinuity
plots"): the support on each side of the cutoff is cut into evenly spaced (ES) or
quantile spaced (QS) bins whose number is IMSE-optimal or "mimics the variance" of the
raw data (see :mod:`._rdplot_bins`); bin means of the outcome are drawn over a global
polynomial of order ``p`` (default 4) fitted separately on each side, weighted by a
kernel over the whole side (uniform by default, i.e. ordinary least squares).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.designs.rdd._density_input import (
    check_int,
    check_option,
    check_real,
    column,
    split_sides,
)
from paribus.designs.rdd._density_kernels import KERNELS, kernel_weights
from paribus.designs.rdd._rdplot_bins import BINSELECT, select_bins
from paribus.errors import ParameterError

__all__ = ["RDPlot", "rd_plot"]


@dataclasses.dataclass(frozen=True, eq=False)
class RDPlot:
    """Result of :func:`rd_plot`.

    Attributes
    ----------
    bins : DataFrame
        One row per non-empty bin: side, edges, midpoint, mean of x and y, count, standard
        error of the mean and a ``level`` t-interval.
    nbins, nbins_imse, nbins_mv : (int, int)
        Bins used (left, right), and the IMSE-optimal and mimicking-variance numbers.
    coef_left, coef_right : ndarray
        Global polynomial coefficients in powers of ``x - cutoff`` (lowest first).
    ax : matplotlib Axes
    """

    bins: pd.DataFrame = dataclasses.field(repr=False)
    nbins: tuple[int, int]
    nbins_imse: tuple[int, int]
    nbins_mv: tuple[int, int]
    coef_left: np.ndarray = dataclasses.field(repr=False)
    coef_right: np.ndarray = dataclasses.field(repr=False)
    cutoff: float
    p: int
    binselect: str
    ax: Any = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("coef_left", "coef_right"):
            arr = np.array(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The fitted global polynomial at ``x`` (left fit below the cutoff)."""
        x = np.asarray(x, dtype=float)
        d = x - self.cutoff
        return np.where(
            x < self.cutoff,
            np.polynomial.polynomial.polyval(d, self.coef_left),
            np.polynomial.polynomial.polyval(d, self.coef_right),
        )


def _poly(x: np.ndarray, y: np.ndarray, p: int, h: float, kernel: str) -> np.ndarray:
    u = x / h
    w = np.where(np.abs(u) <= 1, kernel_weights(np.clip(u, -1, 1), kernel), 0.0)
    design = x[:, None] ** np.arange(p + 1)
    sw = np.sqrt(w)
    return np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)[0]


def _binned(
    x: np.ndarray, y: np.ndarray, edges: np.ndarray, side: str, level: float
) -> pd.DataFrame:
    j = edges.size - 1
    # bins are [a, b) except the last, [a, b]
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, j - 1)
    frame = pd.DataFrame({"bin": idx, "x": x, "y": y}).groupby("bin")
    agg = frame.agg(mean_x=("x", "mean"), mean_y=("y", "mean"), n=("y", "size"), sd=("y", "std"))
    b = agg.index.to_numpy()
    se = agg["sd"].fillna(0.0).to_numpy() / np.sqrt(agg["n"].to_numpy())
    q = stats.t.ppf(0.5 + level / 2, np.maximum(agg["n"].to_numpy() - 1, 1))
    return pd.DataFrame(
        {
            "side": side,
            "lower_edge": edges[b],
            "upper_edge": edges[b + 1],
            "midpoint": (edges[b] + edges[b + 1]) / 2,
            "mean_x": agg["mean_x"].to_numpy(),
            "mean_y": agg["mean_y"].to_numpy(),
            "n": agg["n"].to_numpy(),
            "std_error": se,
            "ci_lower": agg["mean_y"].to_numpy() - q * se,
            "ci_upper": agg["mean_y"].to_numpy() + q * se,
        }
    )


def rd_plot(
    data: Any,
    outcome: str,
    running: str,
    *,
    cutoff: float = 0.0,
    p: int = 4,
    binselect: str = "esmv",
    nbins: int | tuple[int, int] | None = None,
    kernel: str = "uniform",
    ci: bool = False,
    level: float = 0.95,
    ax: Any = None,
) -> RDPlot:
    """Binned means and global polynomial fits on each side of the cutoff.

    Parameters
    ----------
    data : DataFrame
    outcome, running : str
        Outcome and running-variable columns.
    cutoff : float
    p : int, 0-10
        Order of the global polynomial on each side.
    binselect : {"esmv", "es", "espr", "esmvpr", "qs", "qspr", "qsmv", "qsmvpr"}
        Evenly ("es") or quantile ("qs") spaced bins; IMSE-optimal, or mimicking variance
        ("mv"); variances from spacings, or from polynomial regression ("pr").
    nbins : int or (int, int), optional
        Numbers of bins (left, right) replacing the data-driven ones (spacing still
        follows ``binselect``).
    kernel : {"uniform", "triangular", "epanechnikov"}
        Weights of the global fits over each whole side.
    ci : bool
        Draw ``level`` intervals of the bin means.
    ax : matplotlib Axes, optional

    Returns
    -------
    RDPlot

    References
    ----------
    Calonico, Cattaneo & Titiunik (2015), JASA 110(512), 1753-1769.
    """
    import matplotlib.pyplot as plt

    p = check_int("p", p, 0, 10)
    check_option("binselect", binselect, BINSELECT)
    check_option("kernel", kernel, KERNELS)
    check_option("ci", ci, (True, False))
    cutoff = check_real("cutoff", cutoff)
    level = check_level(level)
    x = column(data, running, role="running variable")
    y = column(data, outcome, role="outcome")
    split_sides(x, cutoff, running, p + 2, f"a global polynomial of order p = {p}")
    x_min, x_max = float(x.min()), float(x.max())
    chosen, j_imse, j_mv = select_bins(x, y, cutoff, x_min, x_max, binselect)
    left = x < cutoff
    for side, mask in ((0, left), (1, ~left)):
        if np.var(y[mask]) == 0.0:
            chosen = (1, chosen[1]) if side == 0 else (chosen[0], 1)
    if nbins is not None:
        pair: tuple[Any, ...] = tuple(nbins) if isinstance(nbins, (tuple, list)) else (nbins, nbins)
        if len(pair) != 2 or not all(check_int("nbins", k, 1, 10**6) for k in pair):
            raise ParameterError(
                f"nbins={nbins!r} is invalid; expected a positive integer or a (left, right) pair."
            )
        chosen = (int(pair[0]), int(pair[1]))
    if binselect.startswith("es"):
        edges_l = np.linspace(x_min, cutoff, chosen[0] + 1)
        edges_r = np.linspace(cutoff, x_max, chosen[1] + 1)
    else:
        edges_l = np.quantile(x[left], np.linspace(0, 1, chosen[0] + 1))
        edges_r = np.quantile(x[~left], np.linspace(0, 1, chosen[1] + 1))
    bins = pd.concat(
        [
            _binned(x[left], y[left], edges_l, "left", level),
            _binned(x[~left], y[~left], edges_r, "right", level),
        ],
        ignore_index=True,
    )
    d = x - cutoff
    coef_l = _poly(d[left], y[left], p, cutoff - x_min, kernel)
    coef_r = _poly(d[~left], y[~left], p, x_max - cutoff, kernel)

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(bins["midpoint"], bins["mean_y"], s=14, color="C0", zorder=3, label="bin means")
    if ci:
        ax.errorbar(
            bins["midpoint"],
            bins["mean_y"],
            yerr=[bins["mean_y"] - bins["ci_lower"], bins["ci_upper"] - bins["mean_y"]],
            fmt="none",
            ecolor="C0",
            alpha=0.6,
        )
    for coef, lo, hi in ((coef_l, x_min, cutoff), (coef_r, cutoff, x_max)):
        grid = np.linspace(lo, hi, 200)
        ax.plot(grid, np.polynomial.polynomial.polyval(grid - cutoff, coef), color="C3", lw=2)
    ax.axvline(cutoff, color="black", lw=0.8)
    ax.set_xlabel(running)
    ax.set_ylabel(outcome)
    ax.set_title(f"RD plot: {binselect} bins ({chosen[0]}, {chosen[1]}), polynomial order {p}")
    ax.figure.tight_layout()
    return RDPlot(
        bins=bins,
        nbins=chosen,
        nbins_imse=j_imse,
        nbins_mv=j_mv,
        coef_left=coef_l,
        coef_right=coef_r,
        cutoff=cutoff,
        p=p,
        binselect=binselect,
        ax=ax,
    )
