"""IVResults: coefficients, covariance and instrument diagnostics of one IV fit.

Immutable and data-free: re-inference (another level, an Anderson-Rubin set at
another level, a CLR test at another null) works from stored summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.designs.iv.diagnostics import EffectiveF, FirstStage, Test
from paribus.designs.iv.late import ComplianceShares
from paribus.designs.iv.weak import ARSet, ReducedForm
from paribus.errors import ParameterError
from paribus.results import Effect

__all__ = ["IVResults"]


@dataclass(frozen=True, eq=False)
class IVResults:
    """The fit of an IV model (2SLS, LIML/Fuller or GMM).

    Attributes
    ----------
    params, std_errors, tstats, pvalues : Series
        Coefficients and normal-approximation inference.
    cov : DataFrame
        Their covariance (``cov_type``).
    first_stage : tuple of FirstStage
        Partial R^2 and the excluded instruments' Wald/F, per endogenous regressor.
    kleibergen_paap : Test
        rk Wald statistic for under-identification (chi2(q - m + 1)).
    effective_f : EffectiveF or None
        Montiel Olea-Pflueger effective F with critical values (one endogenous regressor).
    overid : dict of Test
        Sargan / Hansen J over-identification tests (empty when exactly identified).
    endogeneity : dict of Test
        Durbin and Wu-Hausman tests that the endogenous regressors are exogenous.
    compliance : ComplianceShares or None
        Complier, always- and never-taker shares (binary instrument and treatment).
    """

    method: str
    estimand: str
    params: pd.Series
    cov: pd.DataFrame
    n_obs: int
    cov_type: str
    endogenous: tuple[str, ...]
    instruments: tuple[str, ...]
    first_stage: tuple[FirstStage, ...]
    kleibergen_paap: Test
    effective_f: EffectiveF | None
    overid: dict[str, Test]
    endogeneity: dict[str, Test]
    kappa: float | None = None
    compliance: ComplianceShares | None = None
    n_clusters: tuple[int, ...] = ()
    reduced_form: ReducedForm | None = field(default=None, repr=False)

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index)

    @property
    def tstats(self) -> pd.Series:
        return self.params / self.std_errors

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.norm.sf(np.abs(self.tstats)), index=self.params.index)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Normal (Wald) intervals at ``level``: columns ``lower``, ``upper``."""
        z = float(stats.norm.ppf(0.5 + check_level(level) / 2))
        se = self.std_errors
        return pd.DataFrame({"lower": self.params - z * se, "upper": self.params + z * se})

    # -- weak-instrument-robust inference ---------------------------------------------------

    def _reduced(self, what: str) -> ReducedForm:
        if self.reduced_form is None:
            raise ParameterError(
                f"{what} is available for one endogenous regressor; this model has "
                f"{len(self.endogenous)} ({', '.join(self.endogenous)})."
            )
        return self.reduced_form

    def anderson_rubin(self, level: float = 0.95) -> ARSet:
        """Anderson-Rubin confidence set for the endogenous coefficient (may be unbounded)."""
        return self._reduced("the Anderson-Rubin set").ar_set(check_level(level))

    def ar_test(self, beta0: float = 0.0) -> Test:
        """Anderson-Rubin test of ``beta = beta0``, robust to weak instruments."""
        rf = self._reduced("the Anderson-Rubin test")
        stat, p = rf.ar_test(beta0)
        return Test("Anderson-Rubin", stat, p, (float(rf.q),), "chi2")

    def clr_test(self, beta0: float = 0.0) -> Test:
        """Moreira's (2003) conditional likelihood-ratio test of ``beta = beta0``."""
        rf = self._reduced("the CLR test")
        stat, p = rf.clr_test(beta0)
        return Test("conditional LR", stat, p, (float(rf.q),), "conditional")

    # -- paribus results --------------------------------------------------------------------

    @property
    def diagnostics(self) -> dict[str, Any]:
        """Every diagnostic as a JSON-safe dict."""
        out: dict[str, Any] = {
            "first_stage": [f.to_dict() for f in self.first_stage],
            "kleibergen_paap": self.kleibergen_paap.to_dict(),
            "effective_f": None if self.effective_f is None else self.effective_f.to_dict(),
            "overid": {k: v.to_dict() for k, v in self.overid.items()},
            "endogeneity": {k: v.to_dict() for k, v in self.endogeneity.items()},
            "cov_type": self.cov_type,
            "instruments": list(self.instruments),
        }
        if self.kappa is not None:
            out["kappa"] = self.kappa
        if self.n_clusters:
            out["n_clusters"] = list(self.n_clusters)
        if self.compliance is not None:
            out["compliance"] = self.compliance.to_dict()
        if self.reduced_form is not None:
            out["anderson_rubin"] = self.anderson_rubin().to_dict()
        return out

    def effect(self, name: str | None = None, level: float = 0.95) -> Effect:
        """The coefficient of endogenous regressor ``name`` as a paribus :class:`Effect`."""
        if name is None:
            name = self.endogenous[0]
        if name not in self.endogenous:
            raise ParameterError(
                f"effect(name={name!r}): expected an endogenous regressor, one of "
                f"{', '.join(repr(e) for e in self.endogenous)}."
            )
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=float(self.params[name]),
            std_error=float(self.std_errors[name]),
            level=check_level(level),
            n_obs=self.n_obs,
            method=self.method,
            inference="influence-function" if self.cov_type != "unadjusted" else "homoskedastic",
            diagnostics=self.diagnostics,
        )

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per coefficient: estimate, std_error, t, p_value, interval."""
        ci = self.conf_int(level)
        return pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "t": self.tstats,
                "p_value": self.pvalues,
                "ci_lower": ci["lower"],
                "ci_upper": ci["upper"],
            }
        )

    def summary(self) -> str:
        """A readable text table of the coefficients and diagnostics."""
        lines = [
            f"IV estimation: {self.method} ({self.estimand}), n = {self.n_obs}, "
            f"covariance: {self.cov_type}"
            + (f" ({' x '.join(map(str, self.n_clusters))} clusters)" if self.n_clusters else ""),
            f"endogenous: {', '.join(self.endogenous)}; instruments: {', '.join(self.instruments)}",
            "",
            self.to_frame().to_string(float_format=lambda x: f"{x:.4f}"),
            "",
            "first stage:",
        ]
        for f in self.first_stage:
            lines.append(
                f"  {f.endogenous}: partial R2 = {f.partial_rsquared:.4f}, F = {f.f_stat:.2f} "
                f"(Wald chi2({f.wald.df[0]:g}) = {f.wald.statistic:.2f}, "
                f"p = {f.wald.p_value:.3g})"
            )
        kp = self.kleibergen_paap
        lines.append(
            f"Kleibergen-Paap rk Wald = {kp.statistic:.2f} (chi2({kp.df[0]:g}), "
            f"p = {kp.p_value:.3g})"
        )
        if self.effective_f is not None:
            cv = self.effective_f.critical_values
            lines.append(
                f"effective F (Montiel Olea-Pflueger) = {self.effective_f.statistic:.2f}; "
                f"5% critical values tau=10%: {cv[0.1]:.2f}, tau=20%: {cv[0.2]:.2f}"
            )
        for t in (*self.overid.values(), *self.endogeneity.values()):
            lines.append(f"{t.name} = {t.statistic:.3f} (p = {t.p_value:.3g})")
        if self.reduced_form is not None:
            lines.append(f"Anderson-Rubin 95% set: {self.anderson_rubin()}")
        if self.compliance is not None:
            c = self.compliance
            lines.append(
                f"compliers {c.compliers:.3f}, always-takers {c.always_takers:.3f}, "
                f"never-takers {c.never_takers:.3f}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
