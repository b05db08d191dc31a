"""A/B(/n) test analysis: every metric, every arm against control, one table.

For each metric and each non-control arm ``a`` the estimand is the average treatment
effect ``E[Y(a)] - E[Y(control)]`` over the randomisation units (or, with
``relative=True``, the relative lift ``E[Y(a)] / E[Y(control)] - 1``). Randomisation
makes the arm means unbiased for the arm's potential-outcome means (Neyman 1923), so

* plain metrics use the difference in means with Welch, Neyman or pooled variance
  (:mod:`paribus.experiments._contrast`);
* ratio metrics (:class:`~paribus.experiments.ratio.Ratio`) compare ratios of means with
  the delta-method variance of Deng, Knoblich & Lu (2018);
* cluster-randomised experiments treat every arm mean as a ratio of cluster totals over
  cluster sizes, the cluster-robust delta-method variance (Deng et al. 2018, section 3.2);
* covariates switch on variance reduction (:mod:`paribus.experiments.variance_reduction`):
  CUPED (default), CUPAC or Lin's interacted regression.

Every arm is summarised once per metric (``np.bincount`` over integer arm codes computed
once) and the contrasts are built from those summaries, so the cost is a few passes over
each metric column and memory holds one float64 copy of one column at a time: float32
input is read column by column and promoted there.

p-values are adjusted across all metric x arm rows by Holm (1979; familywise error) or
Benjamini & Hochberg (1995; false discovery rate).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.params import (
    NONE,
    RANDOM_STATE,
    HasMethods,
    Interval,
    Options,
    check_level,
    validate_params,
)
from paribus._core.progress import progress
from paribus.data.convert import to_pandas
from paribus.errors import DataError, ParameterError
from paribus.experiments._contrast import MeanContrast, t_effect
from paribus.experiments._multiple import adjust_pvalues
from paribus.experiments.ratio import Ratio, grouped_mean_var, grouped_ratio, relative_lift
from paribus.experiments.variance_reduction import (
    CupedBasis,
    _hc2_intercept,
    crossfit_predictions,
)
from paribus.results import Effect, EffectTable

__all__ = ["ABTest", "Metric"]

Metric = str | Ratio | tuple[str, str]
_CORRECTIONS = {"holm": "holm", "bh": "fdr_bh"}


@dataclasses.dataclass(frozen=True)
class _ArmStats:
    """Per-arm summaries of one metric: units, mean, sample variance, variance of the mean.

    ``exact`` is True for plain means (Welch/pooled t inference applies) and False for
    delta-method or HC2 summaries (normal inference).
    """

    n: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    var_mean: np.ndarray
    exact: bool


def _mean_stats(y: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> _ArmStats:
    mean, var = grouped_mean_var(y, codes, counts)
    return _ArmStats(counts, mean, var, var / counts, exact=True)


def _contrast(stats: _ArmStats, a: int, c: int, variance: str) -> MeanContrast:
    """The ``_contrast.mean_contrast`` formulas applied to per-arm summaries."""
    nt, nc = int(stats.n[a]), int(stats.n[c])
    vt, vc = float(stats.var[a]), float(stats.var[c])
    at, ac = float(stats.var_mean[a]), float(stats.var_mean[c])
    if not stats.exact:
        se2, df = at + ac, math.inf
    elif variance == "pooled":
        sp = ((nt - 1) * vt + (nc - 1) * vc) / (nt + nc - 2)
        se2, df = sp * (1 / nt + 1 / nc), float(nt + nc - 2)
    else:
        se2 = at + ac
        denom = at**2 / (nt - 1) + ac**2 / (nc - 1)
        df = math.inf if variance == "neyman" or denom <= 0 else se2**2 / denom
    return MeanContrast(
        mean_treated=float(stats.mean[a]),
        mean_control=float(stats.mean[c]),
        var_treated=vt,
        var_control=vc,
        n_treated=nt,
        n_control=nc,
        estimate=float(stats.mean[a] - stats.mean[c]),
        std_error=math.sqrt(se2),
        df=df,
    )


class ABTest(BaseEstimator):
    """Analyse a randomised experiment with any number of arms and metrics.

    Parameters
    ----------
    control : scalar, optional
        The control arm's value in the ``variant`` column; default the first arm in sorted
        order.
    level : float, default 0.95
        Confidence level of the intervals; ``1 - level`` is the significance level of
        ``diagnostics["significant"]``.
    variance : {"welch", "neyman", "pooled"}, default "welch"
        Variance of a difference in means (``_contrast``). Ratio, cluster and Lin
        estimates always use their delta-method / HC2 variance with normal inference.
    relative : bool, default False
        Report the relative lift ``mean_a / mean_control - 1`` (delta-method SE) instead
        of the difference. The lift and its interval are always in the diagnostics.
    correction : {"holm", "bh", None}, default "holm"
        Multiple-testing adjustment across all metric x arm rows.
    adjustment : {"cuped", "lin", "cupac", None}, optional
        Variance reduction when ``covariates`` are given (default ``"cuped"`` then).
    cupac_learner : scikit-learn regressor, optional
        CUPAC's prediction model; default :func:`paribus.learners.default_regressor`.
    n_folds : int, default 5
        CUPAC's cross-fitting folds.
    random_state : int, optional
        Seeds CUPAC's folds and learners.

    Attributes
    ----------
    result_ : EffectTable
        One row per metric and non-control arm, labelled ``"metric: arm vs control"``.
    arms_ : list
        The arms in sorted order.
    control_ : scalar
        The control arm.
    n_per_arm_ : dict
        Units (rows) per arm.
    n_clusters_per_arm_ : dict or None
        Clusters per arm in a cluster-randomised experiment.
    adjustment_ : str or None
        The variance reduction applied to plain metrics.

    Notes
    -----
    Ratio metrics are not covariate-adjusted (they are reported unadjusted, with
    ``diagnostics["adjustment"] = None``), and covariates cannot be combined with
    ``cluster``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "level": [Interval(0, 1, closed="neither")],
        "variance": [Options(("welch", "neyman", "pooled"))],
        "relative": [Options((True, False))],
        "correction": [Options(("holm", "bh")), NONE],
        "adjustment": [Options(("cuped", "lin", "cupac")), NONE],
        "cupac_learner": [HasMethods(("fit", "predict")), NONE],
        "n_folds": [Interval(2, None, integer=True)],
        "random_state": [RANDOM_STATE],
    }

    def __init__(
        self,
        *,
        control: Any = None,
        level: float = 0.95,
        variance: Literal["welch", "neyman", "pooled"] = "welch",
        relative: bool = False,
        correction: Literal["holm", "bh"] | None = "holm",
        adjustment: Literal["cuped", "lin", "cupac"] | None = None,
        cupac_learner: Any = None,
        n_folds: int = 5,
        random_state: int | None = None,
    ) -> None:
        self.control = control
        self.level = level
        self.variance = variance
        self.relative = relative
        self.correction = correction
        self.adjustment = adjustment
        self.cupac_learner = cupac_learner
        self.n_folds = n_folds
        self.random_state = random_state

    # -- fit ---------------------------------------------------------------------------------

    def fit(
        self,
        data: Any,
        *,
        variant: str,
        metrics: Metric | Sequence[Metric],
        covariates: str | Sequence[str] | None = None,
        cluster: str | None = None,
    ) -> EffectTable:
        """Compare every non-control arm with control on every metric.

        Parameters
        ----------
        data : DataFrame
            pandas, polars or pyarrow table (anything :func:`paribus.data.convert.to_pandas`
            reads), one row per randomisation unit (per observation with ``cluster``).
        variant : str
            Column with the arm of each row.
        metrics : str, Ratio, (numerator, denominator) or a sequence of them
            Numeric columns (continuous, 0/1, counts) and ratio metrics.
        covariates : str or sequence of str, optional
            Pre-period covariates for variance reduction.
        cluster : str, optional
            Column naming the randomisation cluster of each row.

        Returns
        -------
        EffectTable
            Also stored in ``result_``.
        """
        validate_params("ABTest", self.get_params(deep=False), self._parameter_constraints)
        level = check_level(self.level)
        frame = to_pandas(data)
        specs = _metric_specs(metrics)
        covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
        adjustment = self._resolve_adjustment(covs, cluster)
        codes, arms, counts = _arm_codes(frame, variant)
        control = self._control_index(arms, variant)
        _check_arm_sizes(arms, counts, variant)
        clusters = _Clusters.build(frame, cluster, codes, arms) if cluster else None
        basis = CupedBasis(_covariate_matrix(frame, covs)) if adjustment else None

        rows: list[tuple[str, Effect]] = []
        for label, spec in progress(specs, len(specs), "ABTest metrics"):
            if isinstance(spec, Ratio):
                num = _numeric_column(frame, spec.numerator, "ratio numerator")
                den = _numeric_column(frame, spec.denominator, "ratio denominator")
                stats, method = self._ratio_stats(num, den, codes, counts, clusters)
                rows += self._rows(label, stats, None, arms, control, method, None, clusters)
                continue
            y = _numeric_column(frame, spec, "metric")
            raw = clusters.stats(y) if clusters else _mean_stats(y, codes, counts)
            if adjustment is None:
                method = "cluster-delta-method" if clusters else "difference-in-means"
                rows += self._rows(label, raw, None, arms, control, method, None, clusters)
                continue
            assert basis is not None
            if adjustment == "lin":
                for a in range(len(arms)):
                    if a != control:
                        stats = _lin_stats(y, codes, a, control, len(arms), basis)
                        rows += self._rows(
                            label, stats, raw, arms, control, "lin", None, None, only=a
                        )
                continue
            if adjustment == "cupac":
                pred = crossfit_predictions(
                    y,
                    basis.centred,
                    self.cupac_learner,
                    n_folds=self.n_folds,
                    random_state=self.random_state,
                )
                adj, theta = CupedBasis(pred).adjust(y)
            else:
                adj, theta = basis.adjust(y)
            stats = _mean_stats(adj, codes, counts)
            extra = {"theta": [float(t) for t in theta]}
            rows += self._rows(label, stats, raw, arms, control, adjustment, extra, None)

        table = self._corrected_table(rows, level)
        self.result_ = table
        self.arms_ = list(arms)
        self.control_ = arms[control]
        self.n_per_arm_ = {arm: int(n) for arm, n in zip(arms, counts, strict=True)}
        self.n_clusters_per_arm_ = (
            {arm: int(n) for arm, n in zip(arms, clusters.counts, strict=True)}
            if clusters
            else None
        )
        self.adjustment_ = adjustment
        return table

    # -- settings ----------------------------------------------------------------------------

    def _resolve_adjustment(self, covs: list[str], cluster: str | None) -> str | None:
        if not covs:
            if self.adjustment is not None:
                raise ParameterError(
                    f"ABTest: adjustment={self.adjustment!r} needs pre-period covariates; "
                    "pass covariates=[...] to fit, or leave adjustment=None."
                )
            return None
        if cluster is not None:
            raise ParameterError(
                "ABTest: covariate adjustment is not supported with cluster=...; analyse "
                "cluster-level totals, or drop covariates for a cluster-robust comparison."
            )
        return self.adjustment or "cuped"

    def _control_index(self, arms: list[Any], variant: str) -> int:
        if len(arms) < 2:
            raise DataError(
                f"column {variant!r} has a single arm {arms!r}; an A/B test needs at least "
                "two. Check the variant column and any filtering."
            )
        if self.control is None:
            return 0
        for i, arm in enumerate(arms):
            if arm == self.control:
                return i
        raise ParameterError(
            f"ABTest: control={self.control!r} is not an arm of {variant!r}; the arms are "
            f"{arms!r}. Pass one of them."
        )

    # -- per-metric pieces -------------------------------------------------------------------

    def _ratio_stats(
        self,
        num: np.ndarray,
        den: np.ndarray,
        codes: np.ndarray,
        counts: np.ndarray,
        clusters: _Clusters | None,
    ) -> tuple[_ArmStats, str]:
        if clusters is not None:
            num, den = clusters.totals(num), clusters.totals(den)
            codes, counts = clusters.arm_codes, clusters.counts
        ratio, var_mean, _ = grouped_ratio(num, den, codes, counts)
        stats = _ArmStats(counts, ratio, var_mean * counts, var_mean, exact=False)
        return stats, "ratio-delta-method"

    def _rows(
        self,
        label: str,
        stats: _ArmStats,
        raw: _ArmStats | None,
        arms: list[Any],
        control: int,
        method: str,
        extra: dict[str, Any] | None,
        clusters: _Clusters | None,
        only: int | None = None,
    ) -> list[tuple[str, Effect]]:
        out = []
        for a in range(len(arms)):
            if a == control or (only is not None and a != only):
                continue
            mc = _contrast(stats, a, control, self.variance)
            diag: dict[str, Any] = {
                "metric": label,
                "arm": _plain(arms[a]),
                "control": _plain(arms[control]),
                "adjustment": method if method in ("cuped", "cupac", "lin") else None,
                "variance": self.variance if stats.exact else _asymptotic_name(method),
            }
            lift, lift_se = relative_lift(
                mc.mean_treated,
                float(stats.var_mean[a]),
                mc.mean_control,
                float(stats.var_mean[control]),
            )
            rel = t_effect(
                estimate=lift,
                std_error=lift_se,
                df=math.inf,
                level=self.level,
                n_obs=mc.n_treated + mc.n_control,
                method=method,
            )
            diag.update(
                relative_lift=lift,
                relative_std_error=lift_se,
                relative_ci_lower=rel.ci_lower,
                relative_ci_upper=rel.ci_upper,
            )
            if raw is not None:
                raw_se2 = _contrast(raw, a, control, self.variance).std_error ** 2
                diag["std_error_unadjusted"] = math.sqrt(raw_se2)
                diag["variance_reduction"] = 1.0 - mc.std_error**2 / raw_se2
            if clusters is not None:
                diag["n_clusters_treated"] = int(clusters.counts[a])
                diag["n_clusters_control"] = int(clusters.counts[control])
                diag["n_clusters"] = diag["n_clusters_treated"] + diag["n_clusters_control"]
            diag.update(extra or {})
            if self.relative:
                diag["absolute_estimate"] = mc.estimate
                diag["absolute_std_error"] = mc.std_error
                effect = dataclasses.replace(rel, estimand="relative lift", diagnostics=diag)
            else:
                effect = mc.effect(level=self.level, method=method, diagnostics=diag)
            out.append((f"{label}: {arms[a]} vs {arms[control]}", effect))
        return out

    def _corrected_table(self, rows: list[tuple[str, Effect]], level: float) -> EffectTable:
        alpha = 1.0 - level
        pvals = np.array([e.p_value for _, e in rows], dtype=float)
        if self.correction is None or not np.isfinite(pvals).all():
            adjusted = pvals
        else:
            adjusted = adjust_pvalues(pvals, _CORRECTIONS[self.correction])
        reject = adjusted <= alpha
        effects = []
        for (_, effect), p_adj, rej in zip(rows, adjusted, reject, strict=True):
            diag = dict(effect.diagnostics)
            diag.update(
                correction=self.correction,
                p_adjusted=float(p_adj),
                significant=bool(rej),
            )
            effects.append(dataclasses.replace(effect, diagnostics=diag))
        return EffectTable(effects, [label for label, _ in rows], title="A/B test")


# -- data access -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars (JSON-safe diagnostics)."""
    return value.item() if isinstance(value, np.generic) else value


def _asymptotic_name(method: str) -> str:
    return "HC2" if method == "lin" else "delta-method"


def _metric_specs(metrics: Any) -> list[tuple[str, str | Ratio]]:
    if isinstance(metrics, (str, Ratio)) or (
        isinstance(metrics, tuple)
        and len(metrics) == 2
        and all(isinstance(m, str) for m in metrics)
    ):
        metrics = [metrics]
    specs: list[tuple[str, str | Ratio]] = []
    for m in metrics:
        if isinstance(m, tuple) and len(m) == 2 and all(isinstance(s, str) for s in m):
            m = Ratio(m[0], m[1])
        if isinstance(m, Ratio):
            specs.append((m.label, m))
        elif isinstance(m, str):
            specs.append((m, m))
        else:
            raise ParameterError(
                f"metrics: {m!r} is not a column name, a Ratio or a (numerator, denominator) "
                "pair of column names."
            )
    if not specs:
        raise ParameterError("metrics is empty; name at least one metric column.")
    labels = [label for label, _ in specs]
    if len(set(labels)) != len(labels):
        raise ParameterError(f"metrics lists a metric twice: {labels}; name each once.")
    return specs


def _require_column(frame: pd.DataFrame, name: Any, role: str) -> pd.Series:
    if name not in frame.columns:
        shown = list(frame.columns[:12])
        raise DataError(
            f"{role} column {name!r} is not in the data; the columns are {shown}"
            f"{' ...' if frame.shape[1] > 12 else ''}. Check the spelling."
        )
    return frame[name]


def _numeric_column(frame: pd.DataFrame, name: str, role: str) -> np.ndarray:
    """The column as float64 (a copy of one column at most), refusing text and NaN."""
    col = _require_column(frame, name, role)
    if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)):
        raise DataError(
            f"{role} column {name!r} has dtype {col.dtype}, expected numbers (continuous, "
            "0/1 or counts); convert it, e.g. with pd.to_numeric or .astype(int)."
        )
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"{role} column {name!r} has {int(bad.sum())} missing or infinite value(s); "
            "drop those rows or impute them before the analysis."
        )
    return values


def _covariate_matrix(frame: pd.DataFrame, covs: list[str]) -> np.ndarray:
    x = np.empty((frame.shape[0], len(covs)), dtype=np.float64)
    for j, name in enumerate(covs):
        x[:, j] = _numeric_column(frame, name, "covariate")
    return x


def _arm_codes(frame: pd.DataFrame, variant: str) -> tuple[np.ndarray, list[Any], np.ndarray]:
    col = _require_column(frame, variant, "variant")
    codes, uniques = pd.factorize(col, sort=True)
    if (codes < 0).any():
        raise DataError(
            f"variant column {variant!r} has {int((codes < 0).sum())} missing value(s); "
            "drop rows without an assigned arm."
        )
    arms = [_plain(u) for u in uniques]
    counts = np.bincount(codes, minlength=len(arms)).astype(np.float64)
    return codes.astype(np.intp, copy=False), arms, counts


def _check_arm_sizes(arms: list[Any], counts: np.ndarray, variant: str) -> None:
    small = {arm: int(n) for arm, n in zip(arms, counts, strict=True) if n < 2}
    if small:
        raise DataError(
            f"arm(s) {small} of {variant!r} have fewer than 2 units, so no variance can be "
            "estimated; collect more data or drop/merge those arms."
        )


@dataclasses.dataclass(frozen=True)
class _Clusters:
    """Cluster codes of the rows, each cluster's arm and size (computed once)."""

    codes: np.ndarray
    arm_codes: np.ndarray
    sizes: np.ndarray
    counts: np.ndarray

    @classmethod
    def build(
        cls, frame: pd.DataFrame, cluster: str, arm_of_row: np.ndarray, arms: list[Any]
    ) -> _Clusters:
        col = _require_column(frame, cluster, "cluster")
        codes, uniques = pd.factorize(col)
        if (codes < 0).any():
            raise DataError(
                f"cluster column {cluster!r} has {int((codes < 0).sum())} missing value(s); "
                "every row needs its randomisation cluster."
            )
        g = len(uniques)
        arm_codes = np.zeros(g, dtype=np.intp)
        arm_codes[codes] = arm_of_row
        mixed = np.flatnonzero(arm_codes[codes] != arm_of_row)
        if mixed.size:
            name = _plain(uniques[codes[mixed[0]]])
            raise DataError(
                f"cluster {name!r} of column {cluster!r} appears in more than one arm, but "
                "randomisation by cluster puts each cluster in one arm; check the cluster "
                "and variant columns."
            )
        counts = np.bincount(arm_codes, minlength=len(arms)).astype(np.float64)
        _check_arm_sizes(arms, counts, f"{cluster!r} clusters by arm")
        sizes = np.bincount(codes, minlength=g).astype(np.float64)
        return cls(codes.astype(np.intp, copy=False), arm_codes, sizes, counts)

    def totals(self, y: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=y, minlength=self.sizes.size)

    def stats(self, y: np.ndarray) -> _ArmStats:
        """Arm means as ratios of cluster totals to cluster sizes, delta-method variance."""
        ratio, var_mean, _ = grouped_ratio(self.totals(y), self.sizes, self.arm_codes, self.counts)
        return _ArmStats(self.counts, ratio, var_mean * self.counts, var_mean, exact=False)


def _lin_stats(
    y: np.ndarray, codes: np.ndarray, a: int, c: int, k: int, basis: CupedBasis
) -> _ArmStats:
    """Lin's per-arm intercepts (adjusted means) and HC2 variances for arms ``a`` and ``c``,
    the covariates centred at the two arms' pooled mean."""
    pair = (codes == a) | (codes == c)
    x = basis.centred[pair]
    x -= x.mean(axis=0)
    yp, cp = y[pair], codes[pair]
    n, mean, var_mean = np.zeros(k), np.zeros(k), np.zeros(k)
    for arm in (a, c):
        sel = cp == arm
        mean[arm], var_mean[arm], _ = _hc2_intercept(yp[sel], x[sel])
        n[arm] = sel.sum()
    return _ArmStats(n, mean, var_mean * n, var_mean, exact=False)
