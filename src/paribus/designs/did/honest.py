"""Pre-trend tests and the HonestDiD sensitivity analysis of Rambachan & Roth (2023).

An event study estimates ``betahat = (beta_pre, beta_post)`` (the reference period, just
before treatment, is omitted and normalised to zero) with covariance ``sigma``. Write
``beta = delta + (0, tau_post)``: ``delta`` is the bias (the difference in trends) and
``tau_post`` the dynamic effects. Parallel trends says ``delta = 0``; Rambachan & Roth
(2023, *Review of Economic Studies* 90(5), 2555-2591) only ask ``delta`` to lie in a set
``Delta`` and give confidence intervals for ``theta = l' tau_post`` that are valid
uniformly over ``delta in Delta``:

* ``Delta^SD(M)`` (smoothness): with ``delta_0 = 0`` inserted for the reference period,
  every second difference ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M``.
  ``M = 0`` allows exactly linear trends. Inference by fixed-length confidence intervals
  (FLCI, Rambachan & Roth Sec. 4.1; Armstrong & Kolesar 2018, *Econometrica* 86(2)):
  the affine estimator ``v' betahat`` with ``v_post = l`` and the half length
  ``chi = sd(v) * cv_alpha(bias(v) / sd(v))``, ``cv_alpha(t)`` the ``1 - alpha`` quantile
  of ``|N(t, 1)|``, minimised over ``v``. Writing ``v = D2' mu`` with ``D2`` the second
  difference operator, the worst-case bias over ``Delta^SD(M)`` is ``M * ||mu||_1`` (the
  LP dual of ``max v'delta s.t. |D2 delta| <= M``).
* ``Delta^RM(Mbar)`` (relative magnitudes): every post-period first difference
  ``|delta_{t+1} - delta_t|`` (``t >= 0``) is at most ``Mbar`` times the largest
  pre-period first difference. It is the union over the location ``s`` and sign of the
  largest pre-period difference of polyhedra ``{delta : A delta <= 0}``. Each polyhedron
  is tested by the conditional-least-favourable hybrid test of Andrews, Roth & Pakes
  (2023, "Inference for linear conditional moment inequalities", *Review of Economic
  Studies* 90(6)), inverted over a grid of ``theta``; the confidence set is the union.

ARP test for the moments ``Y(theta) = A betahat - d - A_post t1 theta`` with nuisance
``X = A_post N`` (``l' t1 = 1``, ``N`` a basis of ``{tau : l'tau = 0}``): the statistic is
``eta = min_{eta, tau} eta s.t. Y - X tau <= eta sigma_Y`` (``sigma_Y`` the standard
deviations of ``Y``), whose dual is ``max_gamma gamma'Y`` over the vertices of
``{gamma >= 0, X'gamma = 0, sigma_Y'gamma = 1}``. These vertices are enumerated once per
polyhedron, so ``eta``, the optimal vertex ``gamma*`` and the truncation bounds of
ARP's conditional distribution (``gamma*'Y`` given ``gamma*`` optimal and the sufficient
statistic ``S``) are closed forms, vectorised over the grid of ``theta``: with
``b = Sigma gamma* / gamma*' Sigma gamma*``, ``V_lo = max_{v'b < 1} v'S / (1 - v'b)`` and
``V_up = min_{v'b > 1} v'S / (1 - v'b)``. The hybrid first rejects when
``eta > c_LF``, the ``1 - kappa`` quantile of ``eta`` under ``Y ~ N(0, Sigma_Y)``
(simulated), and otherwise runs the conditional test at level
``(alpha - kappa) / (1 - kappa)`` with ``V_up`` capped at ``c_LF``; the critical value is
``max(0, q)`` with ``q`` the truncated-normal quantile (ARP Sec. 5).

Following the reference implementation's default (``postPeriodMomentsOnly``), with more
than one post period the ARP test of each ``Delta^RM`` polyhedron uses only the
inequalities that involve a post-period coefficient; dropping inequalities keeps the
test valid.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.designs.did._honest_arp import _arp_piece, _invert, _union_accept
from paribus.designs.did._honest_flci import _Flci
from paribus.designs.did._honest_restrictions import (
    _l_vec,
    _rm_pieces,
    _smoothness_polyhedron,
    identified_set,
)
from paribus.designs.did._wald import wald_test
from paribus.errors import ParameterError
from paribus.results import EffectTable

__all__ = ["HonestDiDResult", "PretrendTest", "honest_did", "identified_set", "pretrend_test"]

Method = Literal["relative_magnitude", "smoothness"]
Inference = Literal["flci", "hybrid", "conditional"]
_METHODS = ("relative_magnitude", "smoothness")
_INFERENCE = ("flci", "hybrid", "conditional")


# --------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class PretrendTest:
    """Joint Wald test that all pre-period event-study coefficients are zero.

    ``statistic = beta_pre' Sigma_pre^{-1} beta_pre``, chi-square with ``df`` degrees of
    freedom under the null. Note Roth (2022, *AER: Insights* 4(3)): passing this test
    does not make parallel trends hold, and conditioning on passing it can worsen bias;
    use :func:`honest_did` to see how far conclusions survive violations.
    """

    statistic: float
    df: int
    p_value: float


@dataclasses.dataclass(frozen=True)
class HonestDiDResult:
    """Robust confidence intervals for ``theta = l' tau_post`` over a grid of ``M``.

    Attributes
    ----------
    method : {"relative_magnitude", "smoothness"}
    inference : {"flci", "hybrid", "conditional"}
    M : ndarray
        The grid of ``Mbar`` (relative magnitudes) or ``M`` (smoothness).
    lower, upper : ndarray
        The robust interval at each ``M`` (the hull of the accepted ``theta``).
    estimate, std_error : float
        ``l' beta_post`` and its standard error.
    original_lower, original_upper : float
        The interval under parallel trends, ``estimate -/+ z_{1-alpha/2} std_error``.
    breakdown : float
        The largest ``M`` at which the robust interval excludes zero, found by bisection
        (``nan`` when the interval at ``M = 0`` contains zero, ``inf`` when it was
        never found to contain zero up to ``1e6``).
    alpha : float
    l_vec : ndarray
    """

    method: str
    inference: str
    M: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    estimate: float
    std_error: float
    original_lower: float
    original_upper: float
    breakdown: float
    alpha: float
    l_vec: np.ndarray

    @property
    def parameter(self) -> str:
        """``"Mbar"`` for relative magnitudes, ``"M"`` for smoothness."""
        return "Mbar" if self.method == "relative_magnitude" else "M"

    def to_frame(self) -> pd.DataFrame:
        """One row per ``M`` (robust) and a first row for the original interval."""
        robust = pd.DataFrame(
            {
                "kind": "robust",
                self.parameter: self.M,
                "lower": self.lower,
                "upper": self.upper,
                "excludes_zero": (self.lower > 0) | (self.upper < 0),
            }
        )
        orig = pd.DataFrame(
            {
                "kind": ["original"],
                self.parameter: [np.nan],
                "lower": [self.original_lower],
                "upper": [self.original_upper],
                "excludes_zero": [self.original_lower > 0 or self.original_upper < 0],
            }
        )
        return pd.concat([orig, robust], ignore_index=True)

    def plot(self, ax: Any = None) -> Any:
        """Robust intervals against ``M``, with the original interval at the left.

        Returns the matplotlib Axes.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        step = float(np.min(np.diff(self.M))) if self.M.size > 1 else 1.0
        x0 = float(self.M[0]) - step
        ax.vlines(x0, self.original_lower, self.original_upper, color="C1", lw=2.5)
        ax.plot([x0], [self.estimate], "o", color="C1", label="original")
        ax.vlines(self.M, self.lower, self.upper, color="C0", lw=2.5, label=self.inference)
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(self.parameter)
        ax.set_ylabel(f"{100 * (1 - self.alpha):g}% confidence interval")
        ax.set_title(f"HonestDiD sensitivity ({self.method.replace('_', ' ')})")
        ax.legend(loc="best")
        return ax


# --------------------------------------------------------------------------- input
def _as_inputs(
    betahat: Any, sigma: Any, num_pre: Any, num_post: Any
) -> tuple[np.ndarray, np.ndarray, int, int]:
    if isinstance(betahat, EffectTable):
        betahat = [e.estimate for e in betahat]
    beta = np.asarray(betahat, dtype=float)
    if beta.ndim != 1 or beta.size < 2 or not np.all(np.isfinite(beta)):
        raise ParameterError(
            f"betahat must be a finite 1-d vector of event-study coefficients, got shape "
            f"{beta.shape}; pass the coefficients without the reference period."
        )
    if isinstance(num_pre, bool) or not isinstance(num_pre, numbers.Integral) or num_pre < 1:
        raise ParameterError(f"num_pre_periods must be a positive integer, got {num_pre!r}.")
    if int(num_pre) >= beta.size:
        raise ParameterError(
            f"num_pre_periods={num_pre} leaves no post-period coefficient of the {beta.size} "
            "in betahat; pass the pre- and post-period coefficients."
        )
    if num_post is None:
        num_post = beta.size - int(num_pre)
    if isinstance(num_post, bool) or not isinstance(num_post, numbers.Integral) or num_post < 1:
        raise ParameterError(f"num_post_periods must be a positive integer, got {num_post!r}.")
    if int(num_pre) + int(num_post) != beta.size:
        raise ParameterError(
            f"num_pre_periods + num_post_periods = {num_pre} + {num_post} but betahat has "
            f"{beta.size} coefficients; they must match (omit the reference period)."
        )
    cov = np.asarray(sigma, dtype=float)
    if cov.shape != (beta.size, beta.size):
        raise ParameterError(
            f"sigma must be the {beta.size}x{beta.size} covariance matrix of betahat, got "
            f"shape {cov.shape}."
        )
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-14):
        raise ParameterError("sigma must be a finite symmetric covariance matrix.")
    eig = np.linalg.eigvalsh(cov)
    if eig[0] < -1e-10 * max(eig[-1], 1e-300):
        raise ParameterError(
            f"sigma is not positive semi-definite (smallest eigenvalue {eig[0]:.3g}); "
            "pass a valid covariance matrix."
        )
    return beta, (cov + cov.T) / 2, int(num_pre), int(num_post)


def _grid(values: Any, name: str, default: Sequence[float]) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(default if values is None else values, dtype=float))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ParameterError(
            f"{name} must be a non-negative number or a grid of them, got {values!r}."
        )
    return arr


# --------------------------------------------------------------------------- public API
def pretrend_test(betahat: Any, sigma: Any, *, num_pre_periods: int) -> PretrendTest:
    """Wald test of ``beta_pre = 0``: ``beta_pre' Sigma_pre^{-1} beta_pre ~ chi2(T_pre)``.

    ``betahat`` and ``sigma`` as for :func:`honest_did`; the first ``num_pre_periods``
    entries are the pre-period coefficients.
    """
    beta, cov, num_pre, _ = _as_inputs(betahat, sigma, num_pre_periods, None)
    b, v = beta[:num_pre], cov[:num_pre, :num_pre]
    if np.linalg.matrix_rank(v) < num_pre:
        raise ParameterError(
            "the pre-period block of sigma is singular; the Wald test needs it invertible."
        )
    stat, df, p = wald_test(b, v)
    return PretrendTest(statistic=stat, df=df, p_value=p)


def honest_did(
    betahat: Any,
    sigma: Any,
    *,
    num_pre_periods: int,
    num_post_periods: int | None = None,
    method: Method = "relative_magnitude",
    Mbar: Any = None,
    M: Any = None,
    l_vec: Any = None,
    alpha: float = 0.05,
    inference: Inference | None = None,
    hybrid_kappa: float | None = None,
    grid_points: int = 1000,
    post_period_moments_only: bool = True,
    lf_draws: int = 10_000,
    random_state: int = 0,
    breakdown: bool = True,
) -> HonestDiDResult:
    """Robust confidence intervals for ``l' tau_post`` (Rambachan & Roth 2023).

    Parameters
    ----------
    betahat : array-like or EffectTable
        Event-study coefficients ``(beta_pre, beta_post)`` in time order, the reference
        period omitted. An :class:`~paribus.results.EffectTable` from an event study is
        accepted: its estimates are used in order, and ``sigma`` must then be the
        covariance of those estimates in the same order (``Effect`` holds no
        covariances; e.g. pass the event-study estimator's ``vcov``).
    sigma : array-like
        Covariance matrix of ``betahat`` (symmetric positive semi-definite).
    num_pre_periods : int
        Number of pre-period coefficients (they come first).
    num_post_periods : int, optional
        Number of post-period coefficients; defaults to the rest and must add up.
    method : {"relative_magnitude", "smoothness"}
        ``Delta^RM(Mbar)`` or ``Delta^SD(M)``.
    Mbar, M : float or sequence of float
        The grid for the chosen method (``Mbar`` for relative magnitudes, default
        ``0, 0.5, ..., 2``; ``M`` for smoothness, default ten points from 0 to the
        standard error of ``l' beta_post``).
    l_vec : array-like, optional
        Weights on the post-period effects; default the first post period.
    alpha : float
        One minus the confidence level.
    inference : {"flci", "hybrid", "conditional"}, optional
        ``"flci"`` (smoothness only, its default), ``"hybrid"`` (ARP conditional-LF
        hybrid, the default for relative magnitudes) or ``"conditional"`` (ARP).
    hybrid_kappa : float, optional
        First-stage size of the hybrid, default ``alpha / 10``.
    grid_points : int
        Grid of ``theta`` for inverting the ARP test (ends refined by bisection).
    post_period_moments_only : bool
        Use only the inequalities involving a post period in the ARP test (when there is
        more than one post period), as the reference implementation does.
    lf_draws, random_state : int
        Simulation draws and seed for the least-favourable critical value.
    breakdown : bool
        Compute the breakdown value by bisection (else ``nan``).

    Returns
    -------
    HonestDiDResult
    """
    beta, cov, num_pre, num_post = _as_inputs(betahat, sigma, num_pre_periods, num_post_periods)
    if method not in _METHODS:
        raise ParameterError(f"method={method!r} is invalid; expected one of {_METHODS}.")
    if not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} is invalid; expected a number in (0, 1).")
    check_level(1.0 - float(alpha))
    lv = _l_vec(l_vec, num_post)
    se = float(np.sqrt(max(lv @ cov[num_pre:, num_pre:] @ lv, 0.0)))
    est = float(lv @ beta[num_pre:])
    if method == "relative_magnitude":
        if M is not None:
            raise ParameterError("method='relative_magnitude' takes Mbar=, not M=.")
        grid = _grid(Mbar, "Mbar", (0.0, 0.5, 1.0, 1.5, 2.0))
        inference = inference or "hybrid"
        if inference == "flci":
            raise ParameterError(
                "inference='flci' needs a convex, centrosymmetric Delta; Delta^RM is neither. "
                "Use inference='hybrid' or 'conditional'."
            )
    else:
        if Mbar is not None:
            raise ParameterError("method='smoothness' takes M=, not Mbar=.")
        grid = _grid(M, "M", tuple(np.linspace(0.0, se, 10)))
        inference = inference or "flci"
    if inference not in _INFERENCE:
        raise ParameterError(f"inference={inference!r} is invalid; expected one of {_INFERENCE}.")
    kappa = 0.0
    if inference == "hybrid":
        kappa = float(alpha) / 10 if hybrid_kappa is None else float(hybrid_kappa)
        if not 0 < kappa < alpha:
            raise ParameterError(f"hybrid_kappa={hybrid_kappa!r} must lie in (0, alpha).")
    if isinstance(grid_points, bool) or not isinstance(grid_points, numbers.Integral):
        raise ParameterError(f"grid_points must be an integer >= 10, got {grid_points!r}.")
    if grid_points < 10 or lf_draws < 100:
        raise ParameterError(
            f"grid_points >= 10 and lf_draws >= 100 are needed, got {grid_points}, {lf_draws}."
        )
    z = float(stats.norm.ppf(1 - alpha / 2))
    flci = _Flci(beta, cov, num_pre, lv) if inference == "flci" else None

    def interval(m: float) -> tuple[float, float]:
        if flci is not None:
            lo, hi, _ = flci.interval(m, float(alpha))
            return lo, hi
        if method == "smoothness":
            polys = [_smoothness_polyhedron(num_pre, num_post, m)]
        else:
            polys = _rm_pieces(num_pre, num_post, m)
        pieces = [
            _arp_piece(
                beta,
                cov,
                a,
                d,
                num_pre,
                lv,
                kappa,
                post_period_moments_only,
                lf_draws,
                random_state,
            )
            for a, d in polys
        ]
        id_lo, id_hi = identified_set(beta, num_pre_periods=num_pre, method=method, M=m, l_vec=lv)
        if not np.isfinite(id_lo) or not np.isfinite(id_hi):
            id_lo, id_hi = est, est
        return _invert(
            lambda th: _union_accept(pieces, th, float(alpha), kappa),
            id_lo - 20 * se,
            id_hi + 20 * se,
            int(grid_points),
        )

    bounds = np.array([interval(float(m)) for m in grid])
    bd = _breakdown(interval, float(grid.max())) if breakdown else float("nan")
    return HonestDiDResult(
        method=method,
        inference=inference,
        M=grid,
        lower=bounds[:, 0],
        upper=bounds[:, 1],
        estimate=est,
        std_error=se,
        original_lower=est - z * se,
        original_upper=est + z * se,
        breakdown=bd,
        alpha=float(alpha),
        l_vec=lv,
    )


def _breakdown(interval: Any, start: float) -> float:
    """Largest ``M`` whose interval excludes zero, by doubling then bisection."""

    def excludes(m: float) -> bool:
        lo, hi = interval(m)
        return bool(lo > 0 or hi < 0)

    if not excludes(0.0):
        return float("nan")
    lo, hi = 0.0, max(start, 1e-8)
    while excludes(hi):
        lo, hi = hi, 2 * hi
        if hi > 1e6:
            return float("inf")
    while hi - lo > 1e-4 * max(hi, 1e-12):
        mid = 0.5 * (lo + hi)
        if excludes(mid):
            lo = mid
        else:
            hi = mid
    return lo
