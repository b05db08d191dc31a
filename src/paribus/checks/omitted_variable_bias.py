"""Sensitivity of a regression estimate to omitted variables, in partial R² terms.

Cinelli, C. & Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable
bias. *Journal of the Royal Statistical Society B* 82(1), 39-67.

For the OLS coefficient ``tau`` of a treatment ``D`` in ``Y ~ D + X`` (``dof`` residual
degrees of freedom, classical standard error ``se``), an omitted confounder ``Z`` with
partial R² ``R2_DZ|X`` with the treatment and ``R2_YZ|DX`` with the outcome changes the
estimate by (the partial-R² form of the omitted-variable bias)

    |bias| = se * sqrt(dof) * sqrt(R2_YZ|DX * R2_DZ|X / (1 - R2_DZ|X)),
    se_adj = se * sqrt((1 - R2_YZ|DX) / (1 - R2_DZ|X) * dof / (dof - 1)),

so the adjusted estimate is ``tau -+ |bias|`` (towards zero when ``reduce``), with
``t_adj = tau_adj / se_adj`` and intervals from Student's t on ``dof - 1`` degrees.

With ``f = t / sqrt(dof)`` the partial Cohen's f of the treatment, ``R2_YD|X = t² / (t² +
dof)`` and the robustness value

    RV_q = (sqrt(f_q^4 + 4 f_q^2) - f_q^2) / 2,            f_q = q |f|,

is the equal strength of both partial R² that would reduce the estimate by ``100 q``
percent; ``RV_{q,alpha}`` replaces ``f_q`` by ``f_q - f*`` with ``f* = |t*_{alpha, dof-1}| /
sqrt(dof - 1)`` (0 when ``f_q <= f*``, and ``(f_q² - f*²) / (1 + f_q²)`` when ``f_q f* > 1``,
where the outcome bound ``R2_YZ|DX = 1`` binds first).

Benchmarks (bounds from observed covariates): a confounder ``k_D`` times as strong as covariate
``X_j`` in explaining the treatment and ``k_Y`` times in explaining the outcome has

    R2_DZ|X  = k_D * f²_{D~Xj|X-j},
    R2_YZ|DX <= eta² * f²_{Y~Xj|D,X-j},  eta = (sqrt(k_Y) + |R_{Z~Xj|D,X-j}|) /
                                               sqrt(1 - R²_{Z~Xj|D,X-j}),
    R²_{Z~Xj|D,X-j} = k_D * R²_{D~Xj|X-j}² / ((1 - k_D R²_{D~Xj|X-j}) (1 - R²_{D~Xj|X-j})),

with ``f² = R² / (1 - R²)`` and the benchmark's partial R² from the observed regressions.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from paribus.data import CausalData
from paribus.data.convert import to_pandas
from paribus.errors import DataError, ParameterError
from paribus.results._frozen import FrozenMapping

__all__ = ["OmittedVariableBias"]


def _check_fraction(name: str, value: Any, *, open_right: bool = True) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    high_ok = arr < 1 if open_right else arr <= 1
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or not np.all(high_ok):
        bound = "[0, 1)" if open_right else "[0, 1]"
        raise ParameterError(f"OmittedVariableBias: {name} must lie in {bound}; got {value!r}.")
    return arr


def _rss(y: np.ndarray, X: np.ndarray) -> float:
    """Residual sum of squares of the least-squares fit of ``y`` on ``X``."""
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    return float(resid @ resid)


def _partial_r2(y: np.ndarray, full: np.ndarray, keep: np.ndarray) -> float:
    """Partial R² of the columns of ``full`` not in ``keep``: 1 - RSS_full / RSS_reduced."""
    return 1.0 - _rss(y, full) / _rss(y, full[:, keep])


class _Text:
    """Plain text that prints as itself and renders as preformatted HTML."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.text)}</pre>"


@dataclasses.dataclass(frozen=True, eq=False)
class OmittedVariableBias:
    """Omitted-variable-bias sensitivity of one OLS coefficient (Cinelli & Hazlett 2020).

    Build it from raw numbers, ``OmittedVariableBias(estimate, std_error, dof)``, from data
    (:meth:`from_data`) or from a fitted non-interacted
    :class:`~paribus.RegressionAdjustment` (:meth:`from_regression`); the last two also
    measure the benchmark covariates.

    Parameters
    ----------
    estimate, std_error : float
        The treatment coefficient and its classical (homoskedastic) standard error.
    dof : int
        Residual degrees of freedom of the regression.
    treatment : str, default "treatment"
        Name used in printouts.
    q : float, default 1.0
        Fraction of the estimate to be explained away in the robustness value.
    alpha : float, default 0.05
        Significance level of ``RV_{q,alpha}`` and of the adjusted intervals.
    reduce : bool, default True
        Whether confounding is taken to move the estimate towards zero.
    benchmarks : mapping, optional
        ``{name: (R2_{D~Xj|X-j}, R2_{Y~Xj|D,X-j})}``: the partial R² of each benchmark
        covariate (or group of columns) with the treatment and with the outcome.
    n_obs : int, optional
    """

    estimate: float
    std_error: float
    dof: int
    treatment: str = "treatment"
    q: float = 1.0
    alpha: float = 0.05
    reduce: bool = True
    benchmarks: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=FrozenMapping)
    n_obs: int | None = None

    def __post_init__(self) -> None:
        for name in ("estimate", "std_error"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ParameterError(
                    f"OmittedVariableBias: {name} must be a finite number; got {value!r}."
                )
            object.__setattr__(self, name, float(value))
        if self.std_error <= 0:
            raise ParameterError(
                f"OmittedVariableBias: std_error must be positive; got {self.std_error!r}."
            )
        if isinstance(self.dof, bool) or int(self.dof) != self.dof or self.dof < 2:
            raise ParameterError(
                f"OmittedVariableBias: dof must be an integer of at least 2; got {self.dof!r}."
            )
        object.__setattr__(self, "dof", int(self.dof))
        if not (isinstance(self.q, (int, float)) and self.q > 0):
            raise ParameterError(f"OmittedVariableBias: q must be positive; got {self.q!r}.")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha < 1):
            raise ParameterError(
                f"OmittedVariableBias: alpha must lie in (0, 1); got {self.alpha!r}."
            )
        clean: dict[str, tuple[float, float]] = {}
        for name, pair in dict(self.benchmarks).items():
            r2d, r2y = (float(x) for x in pair)
            _check_fraction(f"benchmark {name!r} partial R² with the treatment", r2d)
            _check_fraction(f"benchmark {name!r} partial R² with the outcome", r2y)
            clean[str(name)] = (r2d, r2y)
        object.__setattr__(self, "benchmarks", FrozenMapping(clean))

    # -- construction from data ----------------------------------------------------------------

    @classmethod
    def from_data(
        cls,
        data: Any,
        treatment: str,
        outcome: str,
        covariates: str | Sequence[str] = (),
        *,
        fixed_effects: str | Sequence[str] = (),
        benchmarks: str | Sequence[str | Sequence[str]] = (),
        q: float = 1.0,
        alpha: float = 0.05,
        reduce: bool = True,
    ) -> OmittedVariableBias:
        """Fit ``outcome ~ 1 + treatment + covariates + fixed effects`` by OLS and measure.

        ``fixed_effects`` columns enter as category dummies (first level dropped). Each
        benchmark is a covariate or fixed-effect name, or a list of them taken as one
        group; its partial R² with the treatment comes from ``treatment ~ X`` and with the
        outcome from ``outcome ~ treatment + X`` (1 - RSS_full / RSS_without).
        """
        frame = data.frame if isinstance(data, CausalData) else to_pandas(data)
        covs = [covariates] if isinstance(covariates, str) else list(covariates)
        fes = [fixed_effects] if isinstance(fixed_effects, str) else list(fixed_effects)
        groups: list[list[str]] = [
            [b] if isinstance(b, str) else list(b)
            for b in ([benchmarks] if isinstance(benchmarks, str) else benchmarks)
        ]
        used = [treatment, outcome, *covs, *fes]
        missing = [c for c in dict.fromkeys(used) if c not in frame.columns]
        if missing:
            raise DataError(
                f"OmittedVariableBias: columns {missing} are not in the data; available: "
                f"{list(frame.columns)}."
            )
        for group in groups:
            unknown = [c for c in group if c not in covs and c not in fes]
            if unknown:
                raise ParameterError(
                    f"OmittedVariableBias: benchmark {unknown} must be among the covariates "
                    f"{covs} or fixed effects {fes}."
                )
        sub = frame[list(dict.fromkeys(used))]
        na = [c for c in sub.columns if sub[c].isna().any()]
        if na:
            raise DataError(
                f"OmittedVariableBias: columns {na} have missing values; drop those rows first."
            )
        blocks: list[np.ndarray] = [np.ones((len(sub), 1))]
        owner: list[str] = ["const"]
        for c in covs:
            try:
                blocks.append(sub[c].to_numpy(dtype=float)[:, None])
            except (TypeError, ValueError):
                raise DataError(
                    f"OmittedVariableBias: covariate {c!r} is not numeric; pass it in "
                    "fixed_effects= to enter it as dummies."
                ) from None
            owner.append(c)
        for c in fes:
            dummies = pd.get_dummies(sub[c].astype("category"), drop_first=True, dtype=float)
            blocks.append(dummies.to_numpy())
            owner += [c] * dummies.shape[1]
        X = np.hstack(blocks)
        owners = np.asarray(owner, dtype=object)
        try:
            d = sub[treatment].to_numpy(dtype=float)
            y = sub[outcome].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise DataError(
                f"OmittedVariableBias: treatment {treatment!r} and outcome {outcome!r} must "
                "be numeric."
            ) from None
        full = np.column_stack([d, X])
        n, k = full.shape
        if np.linalg.matrix_rank(full) < k:
            raise DataError(
                "OmittedVariableBias: the regression design is rank deficient; drop "
                "redundant covariates or fixed effects."
            )
        # Frisch-Waugh-Lovell: the treatment coefficient from the residualised variables
        qx, _ = np.linalg.qr(X)
        d_res = d - qx @ (qx.T @ d)
        y_res = y - qx @ (qx.T @ y)
        estimate = float(d_res @ y_res / (d_res @ d_res))
        dof = n - k
        resid = y_res - estimate * d_res
        se = math.sqrt(float(resid @ resid) / dof / float(d_res @ d_res))
        bench: dict[str, tuple[float, float]] = {}
        for group in groups:
            drop = np.isin(owners, group)
            r2d = _partial_r2(d, X, ~drop)
            r2y = _partial_r2(y, full, np.concatenate([[True], ~drop]))
            bench[" + ".join(group)] = (r2d, r2y)
        return cls(
            estimate=estimate,
            std_error=se,
            dof=dof,
            treatment=treatment,
            q=q,
            alpha=alpha,
            reduce=reduce,
            benchmarks=bench,
            n_obs=n,
        )

    @classmethod
    def from_regression(
        cls,
        estimator: Any,
        data: Any,
        outcome: str | None = None,
        *,
        fixed_effects: str | Sequence[str] = (),
        benchmarks: str | Sequence[str | Sequence[str]] = (),
        q: float = 1.0,
        alpha: float = 0.05,
        reduce: bool = True,
    ) -> OmittedVariableBias:
        """From a fitted ``RegressionAdjustment(interactions=False)`` and its data.

        The estimator keeps no data, so the regression is refitted on ``data`` with the
        estimator's treatment and covariates (plus ``fixed_effects`` when the fitted
        covariates held only the non-dummy columns, else none) and checked against the
        fitted coefficient. The sensitivity uses the classical standard error, as the
        paper's formulas do; robust or clustered errors of the estimator are not used.
        """
        from paribus.effects.regression import RegressionAdjustment

        if not isinstance(estimator, RegressionAdjustment):
            raise ParameterError(
                "OmittedVariableBias.from_regression needs a fitted RegressionAdjustment; "
                f"got {type(estimator).__name__}. Use OmittedVariableBias(estimate, "
                "std_error, dof) for other estimates."
            )
        coef = estimator.coef_  # NotFittedError before fit
        if estimator.interactions:
            raise ParameterError(
                "OmittedVariableBias.from_regression needs RegressionAdjustment("
                "interactions=False): the omitted-variable-bias formulas are for a single "
                "OLS coefficient on the treatment."
            )
        treatment = str(coef.index[1])
        if isinstance(data, CausalData):
            outcome = outcome or data.outcome
            if data.column("weights") is not None:
                raise ParameterError(
                    "OmittedVariableBias: weighted regressions are not supported; the "
                    "formulas are for ordinary least squares."
                )
        if outcome is None:
            raise ParameterError(
                "OmittedVariableBias.from_regression needs outcome= (the estimator does not "
                "store it) unless data is a CausalData."
            )
        out = cls.from_data(
            data,
            treatment,
            outcome,
            [str(c) for c in estimator.feature_names_in_],
            fixed_effects=fixed_effects,
            benchmarks=benchmarks,
            q=q,
            alpha=alpha,
            reduce=reduce,
        )
        fitted = float(coef.iloc[1])
        if not math.isclose(out.estimate, fitted, rel_tol=1e-6, abs_tol=1e-10):
            raise DataError(
                f"OmittedVariableBias: refitting on data gives {out.estimate!r} but the "
                f"estimator's coefficient is {fitted!r}; pass the data (rows, columns, no "
                "weights) the estimator was fitted on."
            )
        return out

    # -- the observed estimate -------------------------------------------------------------------

    @property
    def t_value(self) -> float:
        """``estimate / std_error``."""
        return self.estimate / self.std_error

    @property
    def partial_r2(self) -> float:
        """Partial R² of the treatment with the outcome, ``t² / (t² + dof)``."""
        t2 = self.t_value**2
        return t2 / (t2 + self.dof)

    @property
    def partial_f(self) -> float:
        """Partial Cohen's f of the treatment with the outcome, ``|t| / sqrt(dof)``."""
        return abs(self.t_value) / math.sqrt(self.dof)

    def robustness_value(self, q: float | None = None, alpha: float | None = None) -> float:
        """``RV_q`` (``alpha=None``) or ``RV_{q,alpha}`` (Cinelli & Hazlett 2020).

        ``q`` defaults to the object's ``q``; pass ``alpha`` for the version that brings the
        ``1 - alpha`` interval to include ``(1 - q) * estimate``.
        """
        q = self.q if q is None else q
        if not q > 0:
            raise ParameterError(f"robustness_value: q must be positive; got {q!r}.")
        fq = q * self.partial_f
        if alpha is None:
            return 0.5 * (math.sqrt(fq**4 + 4 * fq**2) - fq**2)
        if not 0 < alpha < 1:
            raise ParameterError(f"robustness_value: alpha must lie in (0, 1); got {alpha!r}.")
        fcrit = abs(float(stats.t.ppf(alpha / 2, self.dof - 1))) / math.sqrt(self.dof - 1)
        if fq <= fcrit:
            return 0.0
        if fq * fcrit > 1:
            return (fq**2 - fcrit**2) / (1 + fq**2)
        fqa = fq - fcrit
        return 0.5 * (math.sqrt(fqa**4 + 4 * fqa**2) - fqa**2)

    # -- hypothetical confounders ----------------------------------------------------------------

    def bias(self, r2dz_x: Any, r2yz_dx: Any) -> np.ndarray | float:
        """``|bias| = se sqrt(dof) sqrt(R2_YZ|DX R2_DZ|X / (1 - R2_DZ|X))``."""
        r2d = _check_fraction("r2dz_x", r2dz_x)
        r2y = _check_fraction("r2yz_dx", r2yz_dx, open_right=False)
        out = self.std_error * math.sqrt(self.dof) * np.sqrt(r2y * r2d / (1 - r2d))
        return float(out) if out.ndim == 0 else out

    def adjusted(self, r2dz_x: Any, r2yz_dx: Any) -> dict[str, Any]:
        """Bias-adjusted estimate, standard error, t-value and interval.

        ``r2dz_x`` and ``r2yz_dx`` broadcast (scalars or arrays); returns a dict with keys
        ``estimate``, ``std_error``, ``t_value``, ``ci_lower``, ``ci_upper``.
        """
        r2d = _check_fraction("r2dz_x", r2dz_x)
        r2y = _check_fraction("r2yz_dx", r2yz_dx, open_right=False)
        b = np.asarray(self.bias(r2d, r2y))
        sign = 1.0 if self.estimate >= 0 else -1.0
        est = self.estimate - sign * b if self.reduce else self.estimate + sign * b
        se = self.std_error * np.sqrt((1 - r2y) / (1 - r2d) * self.dof / (self.dof - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = est / se
        crit = float(stats.t.ppf(1 - self.alpha / 2, self.dof - 1))
        out = {
            "estimate": est,
            "std_error": se,
            "t_value": t,
            "ci_lower": est - crit * se,
            "ci_upper": est + crit * se,
        }
        return {k: float(v) if np.ndim(v) == 0 else v for k, v in out.items()}

    def benchmark_r2(
        self, benchmark: str, kd: float = 1.0, ky: float | None = None
    ) -> tuple[float, float]:
        """``(R2_DZ|X, R2_YZ|DX)`` of a confounder ``kd``/``ky`` times as strong as a
        benchmark; the outcome bound is capped at 1."""
        if benchmark not in self.benchmarks:
            raise ParameterError(
                f"OmittedVariableBias: unknown benchmark {benchmark!r}; measured: "
                f"{list(self.benchmarks) or 'none (pass benchmarks= to from_data)'}."
            )
        ky = kd if ky is None else ky
        if not (kd > 0 and ky > 0):
            raise ParameterError(
                f"OmittedVariableBias: kd and ky must be positive; got {kd}, {ky}."
            )
        r2dxj, r2yxj = self.benchmarks[benchmark]
        r2dz = kd * r2dxj / (1 - r2dxj)
        if r2dz >= 1:
            raise ParameterError(
                f"OmittedVariableBias: kd={kd} times {benchmark!r} would explain all the "
                f"treatment's residual variance (R2_DZ|X = {r2dz:.3g} >= 1); use a smaller kd."
            )
        r2zxj = kd * r2dxj**2 / ((1 - kd * r2dxj) * (1 - r2dxj))
        if r2zxj >= 1:
            raise ParameterError(
                f"OmittedVariableBias: kd={kd} is impossible for benchmark {benchmark!r}."
            )
        eta = (math.sqrt(ky) + math.sqrt(r2zxj)) / math.sqrt(1 - r2zxj)
        r2yz = min(1.0, eta**2 * r2yxj / (1 - r2yxj))
        return r2dz, r2yz

    def bounds(
        self,
        benchmark: str | None = None,
        kd: float | Sequence[float] = (1.0, 2.0, 3.0),
        ky: float | Sequence[float] | None = None,
    ) -> pd.DataFrame:
        """Adjusted estimates for confounders ``kd``/``ky`` times as strong as benchmarks.

        One row per benchmark (all when ``benchmark`` is None) and multiplier pair.
        """
        names = list(self.benchmarks) if benchmark is None else [benchmark]
        kds = [float(kd)] if np.ndim(kd) == 0 else [float(k) for k in kd]  # type: ignore[union-attr, arg-type]
        if ky is None:
            kys = kds
        else:
            kys = [float(ky)] if np.ndim(ky) == 0 else [float(k) for k in ky]  # type: ignore[union-attr, arg-type]
        if len(kys) != len(kds):
            raise ParameterError("OmittedVariableBias: kd and ky must have the same length.")
        rows = []
        for name in names:
            for a, b in zip(kds, kys, strict=True):
                r2d, r2y = self.benchmark_r2(name, a, b)
                adj = self.adjusted(r2d, r2y)
                rows.append(
                    {"benchmark": name, "kd": a, "ky": b, "r2dz_x": r2d, "r2yz_dx": r2y} | adj
                )
        return pd.DataFrame(rows)

    # -- reports ---------------------------------------------------------------------------------

    def summary(self, kd: float | Sequence[float] = (1.0, 2.0, 3.0)) -> _Text:
        """A printable summary: estimate, partial R², robustness values and benchmark bounds."""
        pct = f"{100 * self.q:g}%"
        lines = [
            "Sensitivity to omitted variables (Cinelli & Hazlett 2020)",
            f"  treatment {self.treatment!r}: estimate {self.estimate:.5g}, "
            f"std.err {self.std_error:.5g}, t {self.t_value:.5g}, dof {self.dof}",
            f"  partial R2 of treatment with outcome  R2_YD|X    = {self.partial_r2:.4f}",
            f"  robustness value ({pct} of the estimate)  RV_q       = "
            f"{self.robustness_value():.4f}",
            f"  robustness value, alpha = {self.alpha:g}        RV_q,alpha = "
            f"{self.robustness_value(alpha=self.alpha):.4f}",
        ]
        if self.benchmarks:
            table = self.bounds(kd=kd)
            lines.append("  bounds on confounders k times as strong as a benchmark:")
            header = (
                f"    {'benchmark':<14}{'kd':>5}{'ky':>5}{'R2_DZ|X':>10}{'R2_YZ|DX':>10}"
                f"{'estimate':>11}{'std.err':>10}{'t':>9}  interval"
            )
            lines.append(header)
            for r in table.itertuples():
                lines.append(
                    f"    {r.benchmark!s:<14}{r.kd:>5g}{r.ky:>5g}{r.r2dz_x:>10.4f}"
                    f"{r.r2yz_dx:>10.4f}{r.estimate:>11.4f}{r.std_error:>10.4f}"
                    f"{r.t_value:>9.4f}  [{r.ci_lower:.4f}, {r.ci_upper:.4f}]"
                )
        return _Text("\n".join(lines))

    def __str__(self) -> str:
        return str(self.summary())

    def plot_contour(
        self,
        kind: Literal["estimate", "t_value"] = "estimate",
        *,
        benchmark: str | None = None,
        kd: float | Sequence[float] = (1.0, 2.0, 3.0),
        ky: float | Sequence[float] | None = None,
        lim: float | None = None,
        lim_y: float | None = None,
        levels: int = 10,
        ax: Any = None,
    ) -> Any:
        """Contours of the adjusted estimate or t-value over (R2_DZ|X, R2_YZ|DX).

        The critical contour (zero for the estimate, the ``1 - alpha/2`` Student t quantile
        for the t-value) is drawn red and dashed; the unadjusted estimate sits at the origin
        and benchmark bounds are marked as points. Returns the matplotlib Axes.
        """
        import matplotlib.pyplot as plt

        if kind not in ("estimate", "t_value"):
            raise ParameterError(
                f"plot_contour: kind={kind!r} is not supported; expected 'estimate' or 't_value'."
            )
        table = self.bounds(benchmark, kd, ky) if self.benchmarks else pd.DataFrame()
        top = 0.4
        if len(table):
            top = max(top, 1.25 * float(table[["r2dz_x", "r2yz_dx"]].to_numpy().max()))
        lim = min(top, 0.99) if lim is None else lim
        lim_y = min(top, 1.0) if lim_y is None else lim_y
        _check_fraction("lim", lim)
        _check_fraction("lim_y", lim_y, open_right=False)
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 5))
        gx, gy = np.meshgrid(np.linspace(0, lim, 200), np.linspace(0, lim_y, 200))
        z = self.adjusted(gx, gy)[kind]
        critical = (
            0.0 if kind == "estimate" else float(stats.t.ppf(1 - self.alpha / 2, self.dof - 1))
        )
        cs = ax.contour(gx, gy, z, levels=levels, colors="grey", linewidths=0.8)
        ax.clabel(cs, fontsize=8)
        if np.nanmin(z) < critical < np.nanmax(z):
            crit = ax.contour(gx, gy, z, levels=[critical], colors="C3", linestyles="--")
            ax.clabel(crit, fontsize=8)
        observed = self.estimate if kind == "estimate" else self.t_value
        ax.plot(0, 0, "^", color="black", clip_on=False)
        ax.annotate(f"unadjusted ({observed:.3g})", (0, 0), (6, 6), textcoords="offset points")
        for rec in table.to_dict("records"):
            value = float(rec["estimate"] if kind == "estimate" else rec["t_value"])
            point = (float(rec["r2dz_x"]), float(rec["r2yz_dx"]))
            ax.plot(*point, "D", color="C3")
            label = f"{float(rec['kd']):g}x {rec['benchmark']!s} ({value:.3g})"
            ax.annotate(label, point, (6, 6), textcoords="offset points", fontsize=8)
        ax.set_xlim(0, lim)
        ax.set_ylim(0, lim_y)
        ax.set_xlabel("partial R² of confounder(s) with the treatment")
        ax.set_ylabel("partial R² of confounder(s) with the outcome")
        ax.set_title(f"adjusted {'estimate' if kind == 'estimate' else 't-value'}")
        ax.figure.tight_layout()
        return ax
