"""Data-driven bandwidths: MSE-optimal (Calonico, Cattaneo & Titiunik 2014) and
CER-optimal (Calonico, Cattaneo & Farrell 2020), common or side-specific.

The plug-in runs in three stages on each side (CCT 2014, Section 3.1 and the
rdrobust Stata Journal articles, Calonico, Cattaneo, Farrell & Titiunik 2017):

1. a pilot ``d`` for the ``(q+1)``-th derivative, from a ``(q+1)``-th order fit at the
   rule-of-thumb ``c = C_K min(sd, IQR/1.349) n^{-1/5}``, its bias estimated by a
   ``(q+2)``-th order global fit;
2. the bias bandwidth ``b`` (``q``-th order fit, the ``(p+1)``-th derivative), its bias
   estimated at ``d``;
3. the main bandwidth ``h`` (``p``-th order fit, the ``nu``-th derivative), its bias
   estimated at ``b``.

Each stage estimates, per side, the variance constant ``V``, the bias constant ``B``
and a regularisation term ``R`` (three times the variance of the bias estimate), and
sets ``h = (V / (B^2 + R))^{1/(2o+3)}``; a common bandwidth (``*rd``) uses
``(V_- + V_+) / ((B_+ - B_-)^2 + R_- + R_+)``, the "sum" variant ``(B_+ + B_-)^2``.
CER-optimal bandwidths shrink the MSE-optimal ``h`` by ``n^{-p / ((3+p)(3+2p))}``.

Only ``q = p + 1`` is selected (the estimator refuses other ``q`` without fixed
bandwidths): rdrobust 2.1.1 takes the bias of each stage from the highest coefficient
of the bias fit, which is the ``(o+1)``-th one only then. Without clusters or
covariates each stage runs on kernel-weighted moment sums (:mod:`._moments`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from paribus.designs.rdd._moments import hankel, hc_combined, meat_sums, moment_sums, window
from paribus.designs.rdd.checks import n_distinct
from paribus.designs.rdd.kernels import pilot_constant
from paribus.designs.rdd.local_poly import SideData, inverse_gram, powers, residuals
from paribus.designs.rdd.residuals import nn_residuals
from paribus.designs.rdd.variance import meat

__all__ = ["BWSELECT", "Bandwidths", "select_bandwidths"]

BWSELECT = (
    "mserd",
    "msetwo",
    "msesum",
    "msecomb1",
    "msecomb2",
    "cerrd",
    "certwo",
    "cersum",
    "cercomb1",
    "cercomb2",
)


_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class Bandwidths:
    """Main (``h``) and bias (``b``) bandwidths on each side of the cutoff."""

    h_left: float
    h_right: float
    b_left: float
    b_right: float


@dataclass(frozen=True)
class _Terms:
    v: float
    b: float
    r: float


def _combination(
    beta: np.ndarray, side: SideData, r: np.ndarray, w: np.ndarray, n_out: int, nu: int
) -> np.ndarray:
    """The outcome combination ``s`` used in one side's pilot fit.

    Covariates are partialled out of the side's own fit; fuzzy designs linearise the
    ratio of the side's outcome and treatment ``nu``-th coefficients.
    """
    k = side.d.shape[1]
    s = np.zeros(k)
    s[0] = 1.0
    gamma = None
    if k > n_out:
        a = r * w[:, None]
        z = side.d[:, n_out:]
        ginv = inverse_gram(r, w)
        top = (w[:, None] * z).T @ side.d - (a.T @ z).T @ ginv @ (a.T @ side.d)
        gamma = np.linalg.solve(top[:, n_out:], top[:, :n_out])
        s[n_out:] = -gamma[:, 0]
    if n_out == 2:
        s_t = np.zeros(k)
        s_t[1] = 1.0
        if gamma is not None:
            s_t[n_out:] = -gamma[:, 1]
        tau_y = float(s @ beta[nu])
        tau_t = float(s_t @ beta[nu])
        s = s / tau_t - tau_y / tau_t**2 * s_t
    return s


def _window_residuals(
    side: SideData,
    win: SideData,
    r: np.ndarray,
    w: np.ndarray,
    ginv: np.ndarray,
    vce: str,
    nnmatch: int,
    h: float,
    cache: dict[Any, Any],
) -> np.ndarray:
    """Residuals in a window; nearest-neighbour ones depend only on the window, and
    every stage shares the pilot ``c``, so ``cache`` keeps them per side and bandwidth."""
    if vce != "nn" or side.clusters is not None:
        return residuals(win, r, w, ginv, vce, nnmatch)
    if h not in cache:
        cache[h] = residuals(win, r, w, ginv, vce, nnmatch)
    return cache[h]


def _terms(
    side: SideData,
    o: int,
    nu: int,
    o_b: int,
    h_v: float,
    h_b: float,
    scale: float,
    kernel: str,
    vce: str,
    nnmatch: int,
    n_out: int,
    cache: dict[Any, Any],
) -> _Terms:
    """Variance, bias and regularisation constants of one side at one stage."""
    if side.clusters is not None or side.d.shape[1] > n_out:
        return _terms_general(side, o, nu, o_b, h_v, h_b, scale, kernel, vce, nnmatch, n_out, cache)
    # the variance part depends only on (o, nu, h_v): the combined selectors share it
    key = ("v", o, nu, h_v)
    if key not in cache:
        cache[key] = _variance_part(side, o, nu, h_v, kernel, vce, nnmatch, n_out, cache)
    var, b_const, s = cache[key]
    lo, hi = window(side.u, h_b, kernel)
    u_b, d_b = side.u[lo:hi], side.d[lo:hi]
    sums_b, t_b = moment_sums(u_b, d_b, h_b, kernel, 2 * o_b, o_b)
    ginv_b = np.linalg.inv(hankel(sums_b, o_b))
    beta_b = ginv_b @ t_b
    bias_coef = beta_b[o + 1] / h_b ** (o + 1)
    reg = 0.0
    if scale > 0:
        e_b = _combined_residuals(side, lo, hi, s, beta_b, ginv_b, h_b, kernel, vce, nnmatch, cache)
        meat_b = hankel(meat_sums(u_b, e_b, h_b, kernel, o_b), o_b)
        v_b = float((ginv_b @ meat_b @ ginv_b)[o + 1, o + 1]) / h_b ** (2 * (o + 1))
        reg = 3.0 * b_const**2 * v_b
    bias = math.sqrt(2 * (o + 1 - nu)) * b_const * float(s @ bias_coef)
    return _Terms(v=var, b=bias, r=scale**2 * 2 * (o + 1 - nu) * reg)


def _combined_residuals(
    side: SideData,
    lo: int,
    hi: int,
    s: np.ndarray,
    beta: np.ndarray,
    ginv: np.ndarray,
    h: float,
    kernel: str,
    vce: str,
    nnmatch: int,
    cache: dict[Any, Any],
) -> np.ndarray:
    """Residuals of the outcome combination ``s`` in the window ``[lo, hi)``."""
    if vce == "nn":
        # nearest-neighbour residuals depend only on the window: cached per window
        if (lo, hi) not in cache:
            cache[(lo, hi)] = nn_residuals(side.u[lo:hi], side.d[lo:hi], nnmatch)
        res = cache[(lo, hi)]
        if res.shape[1] == 1 and s[0] == 1.0:
            return res[:, 0]
        return res @ s
    return hc_combined(side.u[lo:hi], side.d[lo:hi], s, beta, ginv, h, kernel, vce)


def _variance_part(
    side: SideData,
    o: int,
    nu: int,
    h_v: float,
    kernel: str,
    vce: str,
    nnmatch: int,
    n_out: int,
    cache: dict[Any, Any],
) -> tuple[float, float, np.ndarray]:
    """Variance constant, bias constant and outcome combination at the pilot ``h_v``."""
    lo, hi = window(side.u, h_v, kernel)
    u, d = side.u[lo:hi], side.d[lo:hi]
    sums, t_sums = moment_sums(u, d, h_v, kernel, 2 * o + 1, o)
    ginv = np.linalg.inv(hankel(sums, o))
    beta_sc = ginv @ t_sums
    beta = beta_sc / (h_v ** np.arange(o + 1))[:, None]
    s = _combination(beta, side, np.empty((0, o + 1)), np.empty(0), n_out, nu)
    e = _combined_residuals(side, lo, hi, s, beta_sc, ginv, h_v, kernel, vce, nnmatch, cache)
    meat_v = hankel(meat_sums(u, e, h_v, kernel, o), o)
    v_v = float((ginv @ meat_v @ ginv)[nu, nu]) / h_v ** (2 * nu)
    # leading bias of coefficient nu per unit of the (o+1)-th coefficient, in h units
    b_const = float((ginv @ sums[o + 1 : 2 * o + 2])[nu])
    return (2 * nu + 1) * h_v ** (2 * nu + 1) * v_v, b_const, s


def _terms_general(
    side: SideData,
    o: int,
    nu: int,
    o_b: int,
    h_v: float,
    h_b: float,
    scale: float,
    kernel: str,
    vce: str,
    nnmatch: int,
    n_out: int,
    cache: dict[Any, Any],
) -> _Terms:
    """:func:`_terms` with clusters or covariates, from the weighted design matrices."""
    win, w = side.kernel_window(h_v, kernel)
    r = powers(win.u / h_v, o)
    ginv = inverse_gram(r, w)
    a = r * w[:, None]
    beta = (ginv @ (a.T @ win.d)) / (h_v ** np.arange(o + 1))[:, None]
    s = _combination(beta, win, r, w, n_out, nu)
    res = _window_residuals(side, win, r, w, ginv, vce, nnmatch, h_v, cache)
    v_v = float((ginv @ meat(a, res @ s, win.clusters) @ ginv)[nu, nu]) / h_v ** (2 * nu)
    # leading bias of coefficient nu per unit of the (o+1)-th coefficient, in h units
    b_const = float((ginv @ (a.T @ (win.u / h_v) ** (o + 1)))[nu])

    win_b, wb = side.kernel_window(h_b, kernel)
    rb = powers(win_b.u / h_b, o_b)
    ginv_b = inverse_gram(rb, wb)
    ab = rb * wb[:, None]
    beta_b = (ginv_b @ (ab.T @ win_b.d))[o + 1] / h_b ** (o + 1)
    reg = 0.0
    if scale > 0:
        res_b = _window_residuals(side, win_b, rb, wb, ginv_b, vce, nnmatch, h_b, cache)
        v_b = float((ginv_b @ meat(ab, res_b @ s, win_b.clusters) @ ginv_b)[o + 1, o + 1])
        v_b /= h_b ** (2 * (o + 1))
        reg = 3.0 * b_const**2 * v_b
    bias = math.sqrt(2 * (o + 1 - nu)) * b_const * float(s @ beta_b)
    var = (2 * nu + 1) * h_v ** (2 * nu + 1) * v_v
    return _Terms(v=var, b=bias, r=scale**2 * 2 * (o + 1 - nu) * reg)


def _sorted_quantile(x: np.ndarray, level: float) -> float:
    """``np.percentile(x, 100 level)`` (linear interpolation) of a sorted array."""
    pos = level * (x.shape[0] - 1)
    below = math.floor(pos)
    above = min(below + 1, x.shape[0] - 1)
    frac = pos - below
    return float(x[below] + frac * (x[above] - x[below]))


def _common(left: _Terms, right: _Terms, rate: float, sign: float) -> float:
    denom = (right.b + sign * left.b) ** 2 + left.r + right.r
    return float(((left.v + right.v) / denom) ** rate)


def _own(t: _Terms, rate: float) -> float:
    return float((t.v / (t.b**2 + t.r)) ** rate)


@dataclass(frozen=True)
class _Limits:
    lo_left: float
    lo_right: float
    lo: float
    hi_left: float
    hi_right: float
    hi: float

    def clip(self, h: float, side: str = "") -> float:
        lo = {"left": self.lo_left, "right": self.lo_right}.get(side, self.lo)
        hi = {"left": self.hi_left, "right": self.hi_right}.get(side, self.hi)
        return min(max(h, lo), hi)


def _stage(
    left: SideData,
    right: SideData,
    kind: str,
    pilot: tuple[float, float],
    o: int,
    nu: int,
    o_b: int,
    c_bw: float,
    scale: float,
    limits: _Limits,
    opts: dict[str, Any],
    caches: tuple[dict[Any, Any], dict[Any, Any]],
) -> tuple[float, float]:
    """One plug-in stage for a selector family ("rd", "two", "sum")."""
    tl = _terms(left, o, nu, o_b, c_bw, pilot[0], scale, **opts, cache=caches[0])
    tr = _terms(right, o, nu, o_b, c_bw, pilot[1], scale, **opts, cache=caches[1])
    rate = 1.0 / (2 * o + 3)
    if kind == "two":
        return limits.clip(_own(tl, rate), "left"), limits.clip(_own(tr, rate), "right")
    h = limits.clip(_common(tl, tr, rate, -1.0 if kind == "rd" else 1.0))
    return h, h


def _family(
    left: SideData,
    right: SideData,
    kind: str,
    p: int,
    q: int,
    deriv: int,
    c_bw: float,
    scaleregul: float,
    limits: _Limits,
    opts: dict[str, Any],
    stage1: tuple[_Terms, _Terms],
    pilot_limits: _Limits,
    caches: tuple[dict[Any, Any], dict[Any, Any]],
) -> tuple[float, float, float, float]:
    """``(h_-, h_+, b_-, b_+)`` MSE-optimal for one family."""
    tl, tr = stage1
    rate = 1.0 / (2 * (q + 1) + 3)
    if kind == "two":
        d = (
            pilot_limits.clip(_own(tl, rate), "left"),
            pilot_limits.clip(_own(tr, rate), "right"),
        )
    else:
        dd = pilot_limits.clip(_common(tl, tr, rate, -1.0 if kind == "rd" else 1.0))
        d = (dd, dd)
    b = _stage(left, right, kind, d, q, p + 1, q + 1, c_bw, scaleregul, limits, opts, caches)
    h = _stage(left, right, kind, b, p, deriv, q, c_bw, scaleregul, limits, opts, caches)
    return h[0], h[1], b[0], b[1]


def select_bandwidths(
    left: SideData,
    right: SideData,
    *,
    p: int,
    q: int,
    deriv: int,
    kernel: str,
    bwselect: str,
    vce: str,
    nnmatch: int,
    n_out: int,
    scaleregul: float = 1.0,
    bwcheck: int | None = None,
    bwrestrict: bool = True,
    masspoints: bool = False,
) -> Bandwidths:
    """Bandwidths for ``bwselect`` (one of :data:`BWSELECT`), in the units of ``u``.

    The running variable is standardised (divided by its standard deviation) during
    the search, as rdrobust does by default, and the result is scaled back.
    """
    u_all = np.concatenate([left.u, right.u])  # sorted: the sides are sorted slices
    n = u_all.shape[0]
    sd = float(np.std(u_all, ddof=1))
    left = SideData(left.u / sd, left.d, left.clusters)
    right = SideData(right.u / sd, right.d, right.clusters)
    q75, q25 = _sorted_quantile(u_all, 0.75) / sd, _sorted_quantile(u_all, 0.25) / sd
    # with mass-point adjustment the rates count distinct running values
    n_rate = n_distinct(left.u) + n_distinct(right.u) if masspoints else n
    c_bw = pilot_constant(kernel) * min(1.0, (q75 - q25) / 1.349) * n_rate ** (-0.2)
    hi_l, hi_r = abs(float(left.u.min())), abs(float(right.u.max()))
    lo_l = lo_r = 0.0
    if bwcheck is not None:
        # the bwcheck-th closest distinct value (or the farthest, if fewer)
        dist_l = np.unique(np.abs(left.u))
        dist_r = np.unique(np.abs(right.u))
        lo_l = float(dist_l[min(bwcheck, dist_l.shape[0]) - 1]) * (1 + _SQRT_EPS)
        lo_r = float(dist_r[min(bwcheck, dist_r.shape[0]) - 1]) * (1 + _SQRT_EPS)
    if not bwrestrict:
        hi_l = hi_r = math.inf
    # bwcheck bounds the pilots c and d from below; every stage is bounded by the range
    c_bw = min(max(c_bw, lo_l, lo_r), max(hi_l, hi_r))
    limits = _Limits(0.0, 0.0, 0.0, hi_l, hi_r, max(hi_l, hi_r))
    pilot_limits = _Limits(lo_l, lo_r, max(lo_l, lo_r), hi_l, hi_r, max(hi_l, hi_r))
    caches: tuple[dict[Any, Any], dict[Any, Any]] = ({}, {})
    opts: dict[str, Any] = {"kernel": kernel, "vce": vce, "nnmatch": nnmatch, "n_out": n_out}
    # stage 1 estimates its bias by a global fit over each side's whole range
    range_l = abs(float(left.u.min())) + 1e-8
    range_r = abs(float(right.u.max())) + 1e-8
    o = q + 1
    stage1 = (
        _terms(left, o, o, o + 1, c_bw, range_l, 0.0, **opts, cache=caches[0]),
        _terms(right, o, o, o + 1, c_bw, range_r, 0.0, **opts, cache=caches[1]),
    )
    family = bwselect[3:]
    args = (p, q, deriv, c_bw, scaleregul, limits, opts, stage1, pilot_limits, caches)
    if family in ("rd", "two", "sum"):
        bw = _family(left, right, family, *args)
    else:
        rd = _family(left, right, "rd", *args)
        sm = _family(left, right, "sum", *args)
        if family == "comb1":
            bw = tuple(min(a, c) for a, c in zip(rd, sm, strict=True))  # type: ignore[assignment]
        else:
            two = _family(left, right, "two", *args)
            bw = tuple(  # type: ignore[assignment]
                float(np.median([a, t, c])) for a, t, c in zip(rd, two, sm, strict=True)
            )
    h_l, h_r, b_l, b_r = (x * sd for x in bw)
    if bwselect.startswith("cer"):
        # with clusters the sample size of the rate is the number of clusters per side
        n_cer = n
        if left.clusters is not None and right.clusters is not None:
            n_cer = np.unique(left.clusters).shape[0] + np.unique(right.clusters).shape[0]
        shrink = n_cer ** (-p / ((3 + p) * (3 + 2 * p)))
        h_l, h_r = h_l * shrink, h_r * shrink
    return Bandwidths(h_l, h_r, b_l, b_r)
