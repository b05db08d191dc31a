"""Non-compliance: intention to treat and the effect on compliers.

When units assigned to the treatment do not all take it up (and some controls get it),
the comparison of arms as randomised is the intention-to-treat effect
``ITT_Y = E[Y | Z=1] - E[Y | Z=0]``, the effect of *offering* the treatment. With the
assignment ``Z`` as an instrument for the exposure ``D`` (Angrist, Imbens & Rubin 1996,
*JASA* 91, 444-455), under exclusion and monotonicity (no defiers), the Wald ratio

    LATE = ITT_Y / ITT_D,   ITT_D = E[D | Z=1] - E[D | Z=0],

is the average effect on compliers, the units whose exposure follows their assignment;
``ITT_D`` is the share of compliers (the first stage). With one-sided non-compliance
(no control is exposed) compliers are the exposed treated, and the LATE is the ATT
(Bloom 1984, *Evaluation Review* 8, 225-246).

Inference is by the delta method on the influence function

    phi_i = (Z_i / p - (1 - Z_i) / (1 - p)) (u_i - ubar_{Z_i}) / ITT_D,
    u_i = Y_i - LATE * D_i,  p = n_1 / n,

whose variance ``sum(phi^2) / n^2`` equals the heteroskedasticity-robust HC0 sandwich
variance of just-identified two-stage least squares (White 1980) of ``Y`` on ``(1, D)``
with instruments ``(1, Z)``. With covariates ``X`` the estimate is 2SLS of ``Y`` on
``(1, D, X)`` with instruments ``(1, Z, X)`` and HC0 variance; it is then a weighted
average of covariate-specific complier effects (Angrist & Pischke 2009, *Mostly Harmless
Econometrics*, Sec. 4.5). A first stage with robust F below 10 raises a
:class:`~paribus.errors.WeakInstrumentWarning` (Staiger & Stock 1997); one with no
compliers is refused.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from paribus._core.params import check_level
from paribus.data import CausalData
from paribus.errors import DataError, WeakInstrumentWarning
from paribus.experiments._contrast import mean_contrast
from paribus.results import Effect

__all__ = ["complier_effect", "intention_to_treat"]

_WEAK_F = 10.0


def intention_to_treat(data: Any, *, assignment: str, outcome: str, level: float = 0.95) -> Effect:
    """The ITT effect ``E[Y | Z=1] - E[Y | Z=0]``: difference in means by assignment.

    Welch standard error and t interval (:func:`~paribus.experiments._contrast.mean_contrast`).
    ``estimand`` is ``"ITT"``.
    """
    check_level(level)
    cd = CausalData(data, treatment=assignment, outcome=outcome)
    z = cd.t.astype(bool)
    return mean_contrast(cd.y[z], cd.y[~z]).effect(
        level=level, estimand="ITT", method="difference-in-means"
    )


def _iv_hc0(
    y: np.ndarray, x: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Just-identified IV ``(Z'X)^{-1} Z'y``: coefficients, HC0 covariance, influence values."""
    n = y.size
    zx = z.T @ x
    coef = np.linalg.solve(zx, z.T @ y)
    resid = y - x @ coef
    # phi_i = n (Z'X)^{-1} z_i e_i, so beta_hat - beta ~= mean(phi) and var = sum(phi phi') / n^2
    phi = n * np.linalg.solve(zx, (z * resid[:, None]).T).T
    cov = phi.T @ phi / n**2
    return coef, cov, phi


def _first_stage(d: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """OLS of ``d`` on ``(1, z, w)``: the coefficient of ``z`` and its robust (HC0) F."""
    x = np.column_stack([np.ones_like(d), z, w])
    coef, cov, _ = _iv_hc0(d, x, x)
    var = cov[1, 1]
    return float(coef[1]), (float(coef[1] ** 2 / var) if var > 0 else math.inf)


def complier_effect(
    data: Any,
    *,
    assignment: str,
    exposure: str,
    outcome: str,
    covariates: str | Sequence[str] | None = None,
    level: float = 0.95,
) -> Effect:
    """The complier average effect (LATE) by the Wald estimator / 2SLS (module docstring).

    Parameters
    ----------
    data : table
    assignment : str
        Randomised 0/1 assignment ``Z``.
    exposure : str
        Treatment actually received ``D`` (0/1 for the complier reading; numeric works).
    outcome : str
    covariates : str or list of str, optional
        Pre-treatment covariates: 2SLS with covariates.
    level : float, default 0.95

    Returns
    -------
    Effect
        ``estimand="LATE"``, ``method="wald"`` (``"2sls"`` with covariates), normal
        inference from HC0 robust standard errors, per-unit ``scores``. ``diagnostics``:
        ``compliance_rate`` (``ITT_D``, the first-stage coefficient of ``Z``;
        covariate-adjusted when ``covariates`` are given), ``exposure_assigned`` and
        ``exposure_control`` (take-up in each arm), ``first_stage_f`` (robust),
        ``itt_outcome``, ``one_sided``, ``cov_type="HC0"``.

    Raises
    ------
    paribus.errors.DataError
        Non-binary assignment, a constant exposure, or no compliers (``ITT_D = 0``).

    Warns
    -----
    paribus.errors.WeakInstrumentWarning
        Robust first-stage F below 10.
    """
    check_level(level)
    covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if exposure in covs or exposure in (assignment, outcome):
        raise DataError(
            f"exposure column {exposure!r} is also given as assignment, outcome or a "
            "covariate; each column plays one role."
        )
    cd = CausalData(data, treatment=assignment, outcome=outcome, covariates=[exposure, *covs])
    z, y = cd.t, cd.y
    xall = cd.X
    d, w = xall[:, 0], xall[:, 1:]
    if np.ptp(d) == 0:
        raise DataError(
            f"exposure column {exposure!r} is constant ({d[0]:g}); no unit's exposure "
            "follows its assignment, so there is no complier effect to estimate. Report the "
            "intention-to-treat effect instead."
        )
    zb = z.astype(bool)
    take_t, take_c = float(d[zb].mean()), float(d[~zb].mean())
    itt_d, f_stat = _first_stage(d, z, w)
    if abs(itt_d) < 1e-12:
        raise DataError(
            f"assignment {assignment!r} does not change exposure {exposure!r} (first stage "
            f"{itt_d:.3g}; take-up {take_t:.1%} assigned vs {take_c:.1%} control): there are "
            "no compliers. Report the intention-to-treat effect instead."
        )
    if f_stat < _WEAK_F:
        warnings.warn(
            f"complier_effect: weak first stage: robust F = {f_stat:.3g} is below "
            f"{_WEAK_F:g} (Staiger & Stock 1997); compliance rate {itt_d:.3g}. The Wald "
            "interval may undercover; report the intention-to-treat effect alongside, or "
            "use weak-instrument-robust inference (paribus.designs.iv.IV2SLS(...)."
            "result_.anderson_rubin()).",
            WeakInstrumentWarning,
            stacklevel=2,
        )
    ones = np.ones_like(y)
    x = np.column_stack([ones, d, w])
    inst = np.column_stack([ones, z, w])
    coef, cov, phi = _iv_hc0(y, x, inst)
    itt_y = float(y[zb].mean() - y[~zb].mean())
    return Effect.from_normal(
        estimand="LATE",
        estimate=float(coef[1]),
        std_error=math.sqrt(cov[1, 1]),
        level=level,
        n_obs=y.size,
        method="2sls" if covs else "wald",
        inference="influence-function",
        diagnostics={
            "compliance_rate": itt_d,
            "exposure_assigned": take_t,
            "exposure_control": take_c,
            "first_stage_f": f_stat,
            "itt_outcome": itt_y,
            "one_sided": bool(take_c == 0.0),
            "cov_type": "HC0",
            "covariates": covs,
        },
        scores=phi[:, 1],
    )
