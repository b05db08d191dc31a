"""IV2SLS, IVLIML (Fuller-k) and IVGMM: the estimators and their shared fit.

Each keeps scikit-learn's contract: settings in ``__init__``, ``fit`` validates and
returns ``self``, the :class:`IVResults` lands in ``result_``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.params import NONE, Instance, Interval, Options, validate_params
from paribus.designs.iv._design import IVDesign, build_design
from paribus.designs.iv.covariance import COV_TYPES, CovSpec
from paribus.designs.iv.diagnostics import (
    coef_covariance,
    durbin_wu_hausman,
    effective_f,
    first_stages,
    kleibergen_paap,
    overidentification,
    partial_out,
)
from paribus.designs.iv.formula import parse_formula
from paribus.designs.iv.kclass import Estimate, gmm, kclass, liml_kappa
from paribus.designs.iv.late import compliance_shares, is_binary
from paribus.designs.iv.results import IVResults
from paribus.designs.iv.weak import ReducedForm
from paribus.errors import NotFittedError, WeakInstrumentWarning

__all__ = ["IV2SLS", "IVGMM", "IVLIML"]


def _reduced_form(d: IVDesign, p: Any) -> ReducedForm | None:
    if d.endog.shape[1] != 1:
        return None
    y_coef = p.zz_inv @ (p.z.T @ p.y)
    v = np.column_stack([p.y - p.z @ y_coef, p.resid[:, 0]])
    zy = p.z.T @ np.column_stack([p.y, p.x[:, 0]])
    return ReducedForm(
        pi_y=y_coef,
        pi_x=p.coef[:, 0],
        cov=coef_covariance(p, v, d),
        zz=p.z.T @ p.z,
        zy=zy,
        omega=v.T @ v / (d.n_obs - d.Z.shape[1]),
    )


class _IVEstimator(BaseEstimator):
    """Shared fit: validate, estimate, diagnose, warn on weak instruments."""

    _method: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "intercept": [Instance((bool,))],
    }

    def _estimate(self, d: IVDesign) -> Estimate:
        raise NotImplementedError

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        endogenous: str | Sequence[str],
        instruments: str | Sequence[str],
        exog: str | Sequence[str] = (),
        cov_type: str = "robust",
        clusters: str | Sequence[str] | None = None,
        bandwidth: float | None = None,
        debiased: bool = False,
        dropna: bool = False,
    ) -> Self:
        """Estimate ``outcome = exog b + endogenous beta + e`` with ``instruments``.

        ``cov_type`` is ``"unadjusted"``, ``"robust"``, ``"clustered"`` (``clusters``
        names one or two columns) or ``"kernel"`` (Bartlett, ``bandwidth`` lags; default
        ``floor(4 (n/100)^(2/9))``). ``debiased`` scales by ``n / (n - k)``. Rows with a
        missing value are refused unless ``dropna=True``.
        """
        name = type(self).__name__
        validate_params(name, self.get_params(deep=False), self._parameter_constraints)
        d = build_design(
            name,
            data,
            outcome=outcome,
            endogenous=endogenous,
            instruments=instruments,
            exog=exog,
            intercept=self.intercept,
            cov_type=cov_type,
            clusters=clusters,
            bandwidth=bandwidth,
            debiased=debiased,
            dropna=dropna,
        )
        est = self._estimate(d)
        p = partial_out(d)
        fs = first_stages(d, p)
        eff = effective_f(d, p)
        kp = kleibergen_paap(d, p)
        late = (
            len(d.endog_names) == 1
            and len(d.instrument_names) == 1
            and d.exog_names == ("Intercept",)
            and is_binary(d.endog[:, 0])
            and is_binary(d.excluded[:, 0])
        )
        names = list(d.names)
        self.result_ = IVResults(
            method=self._method,
            estimand="LATE" if late else "coefficient",
            params=pd.Series(est.params, index=names),
            cov=pd.DataFrame(est.cov, index=names, columns=names),
            n_obs=d.n_obs,
            cov_type=cov_type,
            endogenous=d.endog_names,
            instruments=d.instrument_names,
            first_stage=fs,
            kleibergen_paap=kp,
            effective_f=eff,
            overid=overidentification(d, est, is_gmm=self._method == "gmm"),
            endogeneity=durbin_wu_hausman(d, p),
            kappa=None if self._method == "gmm" else est.kappa,
            compliance=compliance_shares(d.endog[:, 0], d.excluded[:, 0]) if late else None,
            n_clusters=d.spec.n_clusters,
            reduced_form=_reduced_form(d, p),
        )
        self._warn_weak(self.result_)
        self.n_features_in_ = len(names)
        return self

    @staticmethod
    def _warn_weak(res: IVResults) -> None:
        if res.effective_f is not None:
            stat = res.effective_f.statistic
            crit = res.effective_f.critical_values[0.1]
            if stat < crit:
                warnings.warn(
                    f"weak instruments: effective F = {stat:.2f} is below the Montiel "
                    f"Olea-Pflueger 5% critical value {crit:.2f} (worst-case bias 10% of "
                    "OLS's); Wald intervals may undercover. Use result_.anderson_rubin() "
                    "(or clr_test()) for weak-instrument-robust inference, or find "
                    "stronger instruments.",
                    WeakInstrumentWarning,
                    stacklevel=3,
                )
            return
        rk_f = res.kleibergen_paap.statistic / len(res.instruments)
        if rk_f < 10:
            warnings.warn(
                f"weak instruments: Kleibergen-Paap rk Wald F = {rk_f:.2f} is below 10 "
                "(Staiger & Stock's rule); Wald intervals may undercover. Prefer IVLIML "
                "(fuller=1) and report the instruments' strength, or find stronger ones.",
                WeakInstrumentWarning,
                stacklevel=3,
            )

    @classmethod
    def from_formula(
        cls,
        formula: str,
        data: Any,
        *,
        cov_type: str = "robust",
        clusters: str | Sequence[str] | None = None,
        bandwidth: float | None = None,
        debiased: bool = False,
        dropna: bool = False,
        **settings: Any,
    ) -> Self:
        """Fit from ``"y ~ 1 + x + [d ~ z1 + z2]"``; returns the fitted estimator.

        ``0`` (or ``-1``) on the right drops the intercept; ``settings`` go to the
        constructor (e.g. ``fuller=1``).
        """
        parsed = parse_formula(formula)
        est = cls(intercept=parsed.intercept, **settings)
        return est.fit(
            data,
            outcome=parsed.outcome,
            endogenous=list(parsed.endogenous),
            instruments=list(parsed.instruments),
            exog=list(parsed.exog),
            cov_type=cov_type,
            clusters=clusters,
            bandwidth=bandwidth,
            debiased=debiased,
            dropna=dropna,
        )

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def summary(self) -> str:
        """The fitted model's text summary."""
        return self.result_.summary()


class IV2SLS(_IVEstimator):
    """Two-stage least squares: ``beta = (X'P_Z X)^{-1} X'P_Z y`` (Theil 1953; Basmann 1957).

    Parameters
    ----------
    intercept : bool, default True
        Include a constant among the exogenous regressors.
    """

    _method = "2sls"

    def __init__(self, intercept: bool = True) -> None:
        self.intercept = intercept

    def _estimate(self, d: IVDesign) -> Estimate:
        return kclass(d, 1.0)


class IVLIML(_IVEstimator):
    """Limited-information maximum likelihood and Fuller's modification (k-class).

    ``k`` is LIML's smallest eigenvalue (Anderson & Rubin 1949) less
    ``fuller / (n - L)`` (Fuller 1977; ``fuller=1`` is nearly unbiased, ``4`` minimises
    mean squared error); ``kappa`` fixes ``k`` instead (``1`` is 2SLS, ``0`` OLS).

    Parameters
    ----------
    intercept : bool, default True
    fuller : float, default 0
    kappa : float, optional
    """

    _method = "liml"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "intercept": [Instance((bool,))],
        "fuller": [Interval(0, None)],
        "kappa": [NONE, Interval(0, None)],
    }

    def __init__(
        self, intercept: bool = True, fuller: float = 0.0, kappa: float | None = None
    ) -> None:
        self.intercept = intercept
        self.fuller = fuller
        self.kappa = kappa

    def _estimate(self, d: IVDesign) -> Estimate:
        if self.kappa is not None:
            return kclass(d, float(self.kappa))
        k = liml_kappa(d) - self.fuller / (d.n_obs - d.Z.shape[1])
        return kclass(d, k)


class IVGMM(_IVEstimator):
    """Efficient two-step GMM (Hansen 1982) with the weight matrix of ``weight_type``.

    Parameters
    ----------
    intercept : bool, default True
    weight_type : {"unadjusted", "robust", "clustered", "kernel"}, optional
        How the first-step moment covariance is estimated; default: as ``cov_type``
        (with the fit's clusters or bandwidth). ``"unadjusted"`` gives 2SLS.
    """

    _method = "gmm"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "intercept": [Instance((bool,))],
        "weight_type": [NONE, Options(COV_TYPES)],
    }

    def __init__(self, intercept: bool = True, weight_type: str | None = None) -> None:
        self.intercept = intercept
        self.weight_type = weight_type

    def _estimate(self, d: IVDesign) -> Estimate:
        spec = d.spec
        if self.weight_type is not None and self.weight_type != spec.cov_type:
            if self.weight_type == "clustered" and spec.clusters is None:
                from paribus.errors import ParameterError

                raise ParameterError(
                    "IVGMM(weight_type='clustered') needs clusters= in fit "
                    "(with cov_type='clustered')."
                )
            spec = CovSpec(self.weight_type, spec.clusters, spec.bandwidth, spec.debiased)
        return gmm(d, spec)
