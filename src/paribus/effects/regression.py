"""Regression adjustment by least squares (Lin 2013; Imbens & Wooldridge 2009, Sec. 5.3)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from paribus._core.inference import if_std_error
from paribus._core.ols import ols
from paribus._core.params import LEVEL, Options
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.results import Effect

__all__ = ["RegressionAdjustment"]


class RegressionAdjustment(EffectEstimator):
    """Average effect from an outcome regression on treatment and covariates.

    With ``interactions=True`` (default) the regression is
    ``y = a + tau*t + (x - c)'b + t*(x - c)'g + e`` with ``c`` the covariate mean
    of the target population (all units for the ATE, the treated for the ATT, the
    controls for the ATC), so ``tau`` is the average over the target of
    ``mu1(x) - mu0(x)`` with arm-specific linear fits (Lin 2013). The standard
    error adds the sampling variation of ``c`` to the coefficient's robust
    variance through the influence function. With ``interactions=False`` the
    single coefficient ``tau`` of ``y = a + tau*t + x'b + e`` is reported, which
    assumes a constant effect (then ATE = ATT = ATC).

    Parameters
    ----------
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
    interactions : bool, default True
        Separate slopes per arm (consistent under effect heterogeneity).
    cov_type : {"HC0", "HC1", "HC2", "HC3"}, default "HC1"
        Heteroskedasticity-robust variance (MacKinnon & White 1985); a ``cluster``
        column in ``fit`` switches to cluster-robust errors.
    level : float, default 0.95

    Attributes
    ----------
    result_ : Effect
    coef_ : pandas.Series
        Regression coefficients (design columns: ``const``, the treatment, the
        centred covariates and, with interactions, ``treatment:covariate`` terms).
    coef_std_error_ : pandas.Series
        Robust standard errors of ``coef_`` (the covariate means taken as fixed).
    """

    _method: ClassVar[str] = "regression"
    _accepts_weights: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE", "ATT", "ATC"))],
        "interactions": [Options((True, False))],
        "cov_type": [Options(("HC0", "HC1", "HC2", "HC3"))],
        "level": [LEVEL],
    }

    def __init__(
        self,
        estimand: Literal["ATE", "ATT", "ATC"] = "ATE",
        interactions: bool = True,
        cov_type: Literal["HC0", "HC1", "HC2", "HC3"] = "HC1",
        level: float = 0.95,
    ) -> None:
        self.estimand = estimand
        self.interactions = interactions
        self.cov_type = cov_type
        self.level = level

    def _estimate(self, data: CausalData) -> Effect:
        t, y, X = data.t, data.y, data.X
        w = data.column("weights")
        cluster = data.column("cluster")
        sw = np.ones_like(t) if w is None else w
        target = {"ATE": np.ones_like(t), "ATT": t, "ATC": 1 - t}[self.estimand] * sw
        center = (target @ X) / target.sum() if X.shape[1] else np.empty(0)
        Xc = X - center
        names = ["const", data.treatment, *data.covariates]
        blocks = [np.ones_like(t), t, Xc]
        if self.interactions and X.shape[1]:
            blocks.append(Xc * t[:, None])
            names += [f"{data.treatment}:{c}" for c in data.covariates]
        design = np.column_stack(blocks)
        cov_type = "cluster" if cluster is not None else self.cov_type
        fit = ols(design, y, w, cov_type, names)
        phi = fit.influence[:, 1].copy()
        if self.interactions and X.shape[1]:
            # the target mean c is estimated: tau(c) = b_t + (c - c0)'g
            gamma = fit.coef[2 + X.shape[1] :]
            phi += target * (Xc @ gamma) / target.mean()
        n = t.size
        self.coef_ = pd.Series(fit.coef, index=names, name="coef")
        self.coef_std_error_ = pd.Series(
            [if_std_error(fit.influence[:, j], cluster) for j in range(design.shape[1])],
            index=names,
            name="std_error",
        )
        se = if_std_error(phi, cluster)
        diagnostics = {
            "cov_type": cov_type,
            "interactions": bool(self.interactions),
            "n_treated": int((t == 1).sum()),
            "n_control": int((t == 0).sum()),
            "n_clusters": int(np.unique(cluster).size) if cluster is not None else None,
            "r_squared": float(
                1
                - np.sum(sw * (y - fit.fitted) ** 2)
                / np.sum(sw * (y - np.average(y, weights=sw)) ** 2)
            ),
        }
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=float(fit.coef[1]),
            std_error=se,
            level=self.level,
            n_obs=n,
            method=self._method,
            inference="influence-function",
            diagnostics=diagnostics,
            scores=phi,
        )
