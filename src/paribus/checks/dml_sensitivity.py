"""Omitted-variable-bias bounds for double ML: "Long story short" (Chernozhukov et al. 2022).

Chernozhukov, Cinelli, Newey, Sharma & Syrgkanis (2022), "Long story short: omitted
variable bias in causal machine learning", NBER WP 30302. With a latent confounder
``A`` the long (true) target ``theta_s = E[m(W, g_s)]`` and the short one that the
data identify differ by at most (Theorem 2, Corollary 1)

    |theta_s - theta|^2 <= rho^2 * C_Y^2 * C_D^2 * S^2,   S^2 = sigma^2 * nu^2,

where ``sigma^2 = E(Y - g(D, X))^2`` is the short regression's residual variance,
``nu^2 = E alpha(D, X)^2`` the Riesz representer's second moment, and

* ``C_Y^2 = cf_y = R^2(Y ~ g_s - g)``: the share of the residual outcome variation
  explained by the confounder,
* ``C_D^2 = cf_d / (1 - cf_d)`` with ``cf_d = 1 - R^2(alpha ~ alpha_s)``: the gain in
  the Riesz representer's variation from adding the confounder,
* ``rho`` in ``[-1, 1]``: the correlation of the two gaps (``|rho| = 1`` is worst case).

``sigma^2`` and ``nu^2`` are estimated from the out-of-fold nuisances as the means of
their Neyman-orthogonal scores, ``nu^2 = mean(2 m(W, alpha) - alpha^2)`` (Sec. 4), with
influence values ``psi_sigma2 = (Y - g)^2 - sigma^2`` and
``psi_nu2 = 2 m(W, alpha) - alpha^2 - nu^2``. The bounds are
``theta_+/- = theta +/- |rho| C_Y C_D S`` with influence values
``phi_theta +/- |rho| C_Y C_D (sigma^2 psi_nu2 + nu^2 psi_sigma2) / (2 S)``, and the
confidence bounds ``theta_- - z se_-`` and ``theta_+ + z se_+`` with
``z = Phi^{-1}(level)`` (one-sided, Sec. 4.2). With a cluster column in the fit the
standard errors sum the influence values within clusters first, as the estimate's own
(Liang & Zeger 1986, with the ``G / (G - 1)`` factor). With repeated cross-fitting
(``repetitions = R > 1``) every repetition is bounded with its own nuisances and
influence values, and the bounds are combined as the estimates are (Chernozhukov et
al. 2018, Sec. 3.4): ``bound = median_r(bound_r)`` (or the mean) with
``se^2 = median_r(se_r^2 + (bound_r - bound)^2)``; the robustness values are then where
the combined bounds reach zero (root search).

Riesz representers: PLR ``alpha = (D - m(X)) / E(D - m(X))^2`` (``m(W, alpha) = nu^2``
by linearity, so ``psi_nu2 = nu^2 - (D - m)^2 nu^4``); IRM/AIPW ATE
``alpha = D / e(X) - (1 - D) / (1 - e(X))``, ``m(W, alpha) = 1 / e + 1 / (1 - e)``;
ATT (weights ``D / p``, ``p = P(D = 1)`` taken as known)
``alpha = D / p - (1 - D) e / (p (1 - e))``, ``m(W, alpha) = D / (p^2 (1 - e))``;
ATC (weights ``(1 - D) / q``, ``q = 1 - p``) ``alpha = D (1 - e) / (q e) - (1 - D) / q``,
``m(W, alpha) = (1 - D) / (q^2 e)``.

Robustness values (Sec. 5): ``RV`` is the ``cf_y = cf_d`` at which the bound on
``theta`` reaches 0 (closed form: ``rv^2 / (1 - rv) = (theta / (rho S))^2``), ``RVa``
the value at which the confidence bound reaches 0 (root search), 0 if it already does.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import optimize, stats

from paribus._core.inference import if_std_error
from paribus.checks._fitted_data import outcome_and_treatment
from paribus.errors import DataError, ParameterError
from paribus.results import Effect

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["DMLSensitivity", "dml_sensitivity", "dml_sensitivity_contour"]

_SUPPORTED = ("PLR", "IRM", "AIPW")


@dataclasses.dataclass(frozen=True)
class DMLSensitivity:
    """Bounds on a double ML estimate under omitted confounding (module docstring).

    Attributes
    ----------
    method : str
        The estimator's method name (``"dml-plr"``, ``"dml-irm"``, ``"aipw"``).
    estimate, theta_lower, theta_upper : float
        The short estimate and the bounds on the long target.
    ci_lower, ci_upper : float
        One-sided confidence bounds at ``level`` around the bounds.
    se_lower, se_upper : float
        Standard errors of ``theta_lower`` and ``theta_upper``.
    rv, rva : float
        Robustness value of the estimate and of its confidence bound (null 0).
    sigma2, nu2 : float
        Residual outcome variance and Riesz representer second moment.
    cf_y, cf_d, rho, level : float
        The sensitivity parameters used.
    n_obs : int
    """

    method: str
    estimate: float
    theta_lower: float
    theta_upper: float
    ci_lower: float
    ci_upper: float
    se_lower: float
    se_upper: float
    rv: float
    rva: float
    sigma2: float
    nu2: float
    cf_y: float
    cf_d: float
    rho: float
    level: float
    n_obs: int

    @property
    def bias_bound(self) -> float:
        """``|rho| C_Y C_D S``: the largest absolute bias under the parameters."""
        return self.theta_upper - self.estimate

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return dataclasses.asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """One row: CI lower, theta lower, estimate, theta upper, CI upper, RV, RVa."""
        import pandas as pd

        cols = ["ci_lower", "theta_lower", "estimate", "theta_upper", "ci_upper", "rv", "rva"]
        return pd.DataFrame([{c: getattr(self, c) for c in cols}], index=[self.method])

    def __str__(self) -> str:
        pct = f"{100 * self.level:g}%"
        return "\n".join(
            [
                f"Sensitivity of {self.method} to omitted confounding (Chernozhukov et al. 2022)",
                f"  cf_y = {self.cf_y:g}, cf_d = {self.cf_d:g}, rho = {self.rho:g}; "
                f"sigma^2 = {self.sigma2:.4g}, nu^2 = {self.nu2:.4g}",
                f"  estimate          {self.estimate:.4g}",
                f"  bounds on theta   [{self.theta_lower:.4g}, {self.theta_upper:.4g}]",
                f"  {pct} bounds       [{self.ci_lower:.4g}, {self.ci_upper:.4g}]",
                f"  robustness value  RV = {100 * self.rv:.2f}%, RVa = {100 * self.rva:.2f}%",
            ]
        )

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Contour plot of the bound over ``(cf_d, cf_y)``; see :func:`dml_sensitivity_contour`."""
        return dml_sensitivity_contour(self, ax=ax, **kwargs)


def _bias_factor(cf_y: float, cf_d: float, rho: float) -> float:
    return abs(rho) * math.sqrt(cf_y * cf_d / (1.0 - cf_d))


def _elements(
    kind: str, estimand: str, nu: dict[str, np.ndarray], theta: float, y: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-unit ``((Y - g)^2, 2 m(W, alpha) - alpha^2, implied theta score)``."""
    if kind == "PLR":
        v = d - nu["m"]
        if "g" in nu:  # IV-type: g is E[Y - theta D | X]
            eps = y - nu["g"] - theta * d
            check = v * (y - nu["g"]) - theta * v * d
        else:
            eps = (y - nu["l"]) - theta * v
            check = v * eps
        nu2 = 1.0 / float(np.mean(v * v))
        riesz = 2 * nu2 - (v * nu2) ** 2
        return eps**2, riesz, check
    g0, g1, e = nu["g0"], nu["g1"], nu["e"]
    eps = y - (d * g1 + (1 - d) * g0)
    if estimand == "ATT":
        p = float(d.mean())
        alpha = d / p - (1 - d) * e / (p * (1 - e))
        m_alpha = d / (p**2 * (1 - e))
        check = d * (y - g0) / p - e * (1 - d) * (y - g0) / (p * (1 - e)) - d * theta / p
    elif estimand == "ATC":
        q = float(1 - d.mean())
        alpha = d * (1 - e) / (q * e) - (1 - d) / q
        m_alpha = (1 - d) / (q**2 * e)
        check = (1 - d) * (g1 - y) / q + (1 - e) * d * (y - g1) / (q * e) - (1 - d) * theta / q
    else:
        alpha = d / e - (1 - d) / (1 - e)
        m_alpha = 1 / e + 1 / (1 - e)
        check = g1 - g0 + alpha * eps - theta
    return eps**2, 2 * m_alpha - alpha**2, check


@dataclasses.dataclass(frozen=True)
class _Repetition:
    """One cross-fitting repetition: its estimate, ``S``, and their influence values."""

    theta: float
    s: float
    phi: np.ndarray
    phi_s: np.ndarray
    sigma2: float
    nu2: float


def _repetition(
    kind: str,
    estimand: str,
    nu: dict[str, np.ndarray],
    theta: float,
    phi: np.ndarray,
    y: np.ndarray,
    d: np.ndarray,
) -> _Repetition:
    sig_el, nu_el, check = _elements(kind, estimand, nu, theta, y, d)
    scale = max(1.0, abs(theta))
    if not abs(float(np.mean(check))) <= 1e-6 * scale * max(1.0, float(np.mean(np.abs(check)))):
        raise DataError(
            "dml_sensitivity: the data do not reproduce the fitted estimate; pass the data "
            "the estimator was fitted on, rows in the same order."
        )
    sigma2, nu2 = float(np.mean(sig_el)), float(np.mean(nu_el))
    if not (sigma2 > 0 and nu2 > 0):
        raise DataError(
            f"dml_sensitivity: sigma^2 = {sigma2:.3g} and nu^2 = {nu2:.3g} must be positive; "
            "the Riesz representer is poorly estimated (check overlap / clipping)."
        )
    s = math.sqrt(sigma2 * nu2)
    # influence values of S = sqrt(sigma^2 nu^2)
    phi_s = (sigma2 * (nu_el - nu2) + nu2 * (sig_el - sigma2)) / (2 * s)
    return _Repetition(theta, s, np.asarray(phi, dtype=float), phi_s, sigma2, nu2)


def _check_estimator(estimator: Any) -> Effect:
    name = type(estimator).__name__
    if name not in _SUPPORTED:
        raise ParameterError(
            f"dml_sensitivity: {name} is not supported; expected a fitted {', '.join(_SUPPORTED)}."
        )
    effect = estimator.result_  # NotFittedError before fit
    if not isinstance(effect, Effect):
        raise ParameterError(
            "dml_sensitivity: the PLR was fitted with several treatments; fit one "
            "treatment at a time for the sensitivity analysis."
        )
    if effect.estimand not in ("ATE", "ATT", "ATC"):
        raise ParameterError(
            f"dml_sensitivity: estimand {effect.estimand!r} is not supported; refit with "
            "estimand='ATE', 'ATT' or 'ATC'."
        )
    if getattr(estimator, "repetitions", 1) != 1 and not getattr(
        estimator, "_repetition_fits", None
    ):
        raise ParameterError(
            "dml_sensitivity: this estimator keeps no per-repetition fits (fitted by an "
            "older paribus); refit it, or refit with repetitions=1."
        )
    return effect


def _check_params(cf_y: float, cf_d: float, rho: float, level: float) -> None:
    for name, value in (("cf_y", cf_y), ("cf_d", cf_d)):
        if not (isinstance(value, (int, float)) and 0 <= value < 1):
            raise ParameterError(
                f"dml_sensitivity: {name}={value!r} must lie in [0, 1) (a share of variation)."
            )
    if not (isinstance(rho, (int, float)) and -1 <= rho <= 1):
        raise ParameterError(f"dml_sensitivity: rho={rho!r} must lie in [-1, 1].")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ParameterError(f"dml_sensitivity: level={level!r} must lie in (0, 1).")


def dml_sensitivity(
    estimator: Any,
    cf_y: float = 0.03,
    cf_d: float = 0.03,
    rho: float = 1.0,
    level: float = 0.95,
    *,
    data: Any = None,
    treatment: str | None = None,
    outcome: str | None = None,
) -> DMLSensitivity:
    """Bounds on a PLR / IRM / AIPW estimate under omitted confounding (module docstring).

    Parameters
    ----------
    estimator : PLR, IRM or AIPW
        Fitted, one treatment, estimand ATE (ATT or ATC for IRM and AIPW). With
        repeated cross-fitting each repetition is bounded on its own nuisances and the
        bounds are combined by the estimator's ``aggregation``, as its estimates are.
    cf_y : float in [0, 1), default 0.03
        Share of the residual outcome variation explained by the confounder.
    cf_d : float in [0, 1), default 0.03
        ``1 - R^2(alpha ~ alpha_s)``: the confounder's gain in the Riesz representer.
    rho : float in [-1, 1], default 1
        Correlation of the confounding in the outcome and in the Riesz representer.
    level : float, default 0.95
        Level of the one-sided confidence bounds.
    data, treatment, outcome
        The data the estimator was fitted on (rows as fitted; a CausalData, or a table
        with the treatment and outcome column names): estimators keep no data.

    Returns
    -------
    DMLSensitivity

    References
    ----------
    Chernozhukov, Cinelli, Newey, Sharma & Syrgkanis (2022), NBER WP 30302.
    """
    _check_params(cf_y, cf_d, rho, level)
    effect = _check_estimator(estimator)
    y, d = outcome_and_treatment(data, treatment, outcome, effect.n_obs, "dml_sensitivity")
    if effect.scores is None:
        raise ParameterError("dml_sensitivity: the estimate carries no influence values.")
    # IRM and AIPW share the interactive model's elements
    kind = "PLR" if type(estimator).__name__ == "PLR" else "IRM"
    fits = getattr(estimator, "_repetition_fits", None)
    if getattr(estimator, "repetitions", 1) == 1 or not fits:
        fits = [(None, estimator.nuisance_)]
    reps = [
        _repetition(
            kind,
            effect.estimand,
            nu,
            effect.estimate if sol is None else sol.estimate,
            effect.scores if sol is None else sol.influence,
            y,
            d,
        )
        for sol, nu in fits
    ]
    n = reps[0].phi.size
    theta = effect.estimate
    z = float(stats.norm.ppf(level))
    # the estimator's cluster codes (rows as fitted) make every standard error
    # cluster-robust, as the estimate's own is
    cluster = getattr(estimator, "_cluster", None)
    # repetitions are combined as the estimates are: a bound is the median (or mean)
    # of the repetitions' bounds, its error sqrt(center(se_r^2 + (bound_r - bound)^2))
    center = np.mean if getattr(estimator, "aggregation", "median") == "mean" else np.median

    def combine(values: list[float], ses: list[float]) -> tuple[float, float]:
        if len(values) == 1:
            return values[0], ses[0]
        v, e = np.asarray(values), np.asarray(ses)
        mid = float(center(v))
        return mid, float(np.sqrt(center(e**2 + (v - mid) ** 2)))

    def bounds(c: float) -> tuple[float, float, float, float]:
        lo, se_lo = combine(
            [r.theta - c * r.s for r in reps],
            [if_std_error(r.phi - c * r.phi_s, cluster) for r in reps],
        )
        hi, se_hi = combine(
            [r.theta + c * r.s for r in reps],
            [if_std_error(r.phi + c * r.phi_s, cluster) for r in reps],
        )
        return lo, hi, se_lo, se_hi

    lo, hi, se_lo, se_hi = bounds(_bias_factor(cf_y, cf_d, rho))

    def toward_zero(cf: float, z_mult: float) -> float:
        # the (confidence) bound on the side of zero, as a signed distance from it
        b_lo, b_hi, s_lo, s_hi = bounds(_bias_factor(cf, cf, rho))
        return b_lo - z_mult * s_lo if theta >= 0 else -(b_hi + z_mult * s_hi)

    def root(z_mult: float) -> float:
        if toward_zero(0.0, z_mult) <= 0:
            return 0.0
        if rho == 0:
            return 1.0
        return float(optimize.brentq(toward_zero, 0.0, 1.0 - 1e-12, args=(z_mult,), xtol=1e-12))

    sigma2 = float(center([r.sigma2 for r in reps]))
    nu2 = float(center([r.nu2 for r in reps]))
    # one repetition: RV in closed form; several: where the combined bound reaches 0
    rv = _robustness_value(theta, rho * reps[0].s) if len(reps) == 1 else root(0.0)
    rva = root(z)
    return DMLSensitivity(
        method=effect.method,
        estimate=theta,
        theta_lower=lo,
        theta_upper=hi,
        ci_lower=lo - z * se_lo,
        ci_upper=hi + z * se_hi,
        se_lower=se_lo,
        se_upper=se_hi,
        rv=rv,
        rva=rva,
        sigma2=sigma2,
        nu2=nu2,
        cf_y=float(cf_y),
        cf_d=float(cf_d),
        rho=float(rho),
        level=float(level),
        n_obs=int(n),
    )


def _robustness_value(theta: float, rho_s: float) -> float:
    """``rv`` solving ``rv^2 / (1 - rv) = a``, ``a = (theta / (rho S))^2``; 1 if ``rho = 0``."""
    if rho_s == 0:
        return 1.0
    a = (theta / rho_s) ** 2
    return float((-a + math.sqrt(a * a + 4 * a)) / 2)


def dml_sensitivity_contour(
    result: DMLSensitivity,
    ax: Axes | None = None,
    bound: str = "lower",
    cf_max: float = 0.15,
    n_grid: int = 61,
) -> Axes:
    """Contours of the bound on theta over ``cf_d`` (x) and ``cf_y`` (y).

    The bound is ``theta -/+ |rho| sqrt(cf_y cf_d / (1 - cf_d)) S`` (module docstring),
    drawn with the zero contour emphasised and the chosen ``(cf_d, cf_y)`` marked.

    Parameters
    ----------
    result : DMLSensitivity
    ax : matplotlib Axes, optional
    bound : {"lower", "upper"}, default "lower"
    cf_max : float in (0, 1), default 0.15
        Upper end of both axes (at least the chosen parameters).
    n_grid : int, default 61
    """
    if bound not in ("lower", "upper"):
        raise ParameterError(f"dml_sensitivity_contour: bound={bound!r}; 'lower' or 'upper'.")
    if not 0 < cf_max < 1:
        raise ParameterError(f"dml_sensitivity_contour: cf_max={cf_max!r} must lie in (0, 1).")
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    top = min(max(cf_max, result.cf_y, result.cf_d) * 1.05, 0.999)
    grid = np.linspace(0, top, n_grid)
    cd, cy = np.meshgrid(grid, grid)
    s = math.sqrt(result.sigma2 * result.nu2)
    sign = -1.0 if bound == "lower" else 1.0
    values = result.estimate + sign * abs(result.rho) * np.sqrt(cy * cd / (1 - cd)) * s
    cs = ax.contour(cd, cy, values, levels=12, colors="0.4", linewidths=0.8)
    ax.clabel(cs, fontsize=7)
    if values.min() < 0 < values.max():
        ax.contour(cd, cy, values, levels=[0.0], colors="firebrick", linewidths=1.5)
    ax.plot([result.cf_d], [result.cf_y], marker="o", color="black")
    ax.annotate(
        f"{result.theta_lower if bound == 'lower' else result.theta_upper:.3g}",
        (result.cf_d, result.cf_y),
        textcoords="offset points",
        xytext=(5, 5),
    )
    ax.set_xlabel("cf_d (gain in Riesz representer variation)")
    ax.set_ylabel("cf_y (share of residual outcome variation)")
    ax.set_title(f"{bound} bound on theta, rho = {result.rho:g}")
    return ax
