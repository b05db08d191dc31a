"""What every meta-learner shares: treatment levels, CATE prediction, intervals and the ATE.

A meta-learner reduces CATE estimation to ordinary supervised learning (Künzel,
Sekhon, Bickel & Yu 2019). Each subclass implements ``_fit_cate(X, y, arm, seeds)``
returning a fitted :class:`CATEFit` (a function ``X -> (n, K)`` of the effects of the
``K`` treated levels against the control level); this base turns it into the public
interface of DESIGN.md:

* ``effect(X, treatment=None)``: CATEs, shape ``(n,)`` always;
* ``effect_interval(X, level=None, treatment=None)``: pointwise intervals, analytic
  where the final stage is linear (:class:`LinearCATE`), otherwise normal intervals with
  bootstrap standard errors over the ``n_bootstrap`` refits done at ``fit``;
* ``ate()``: the sample-average effect as an :class:`~paribus.Effect` (also ``result_``).

Treatments are binary or, where a learner supports it, multi-valued (a few discrete
levels): level ``control`` (default: the smallest) is the reference and one effect is
reported per other level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from scipy import stats

from paribus._core.bootstrap import resample_indices
from paribus._core.parallel import run_tasks
from paribus._core.params import check_level
from paribus._core.random import child_seeds, seed_sequence
from paribus.data import CausalData
from paribus.data.convert import to_pandas
from paribus.effects._base import EffectEstimator, learner_allows_nan
from paribus.errors import DataError, ParameterError, ParibusError
from paribus.results import Effect, EffectTable

__all__ = ["MAX_LEVELS", "CATEEstimator", "CATEFit", "LinearCATE"]

#: more distinct treatment values than this is a continuous treatment, not levels
MAX_LEVELS = 20


class CATEFit(Protocol):
    """A fitted CATE function: effects of the K treated levels, shape (n, K)."""

    def predict(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LinearCATE:
    """``tau_k(x) = [1, x] @ coef[k]`` with the coefficients' robust covariance ``cov[k]``.

    A linear final stage gives analytic intervals: ``var tau_k(x) = [1, x] cov_k [1, x]'``.
    ``influence[k]`` holds the coefficients' per-unit influence values (n, p + 1).
    """

    coef: np.ndarray  # (K, p + 1)
    influence: np.ndarray  # (K, n, p + 1)

    def design(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(X.shape[0]), X])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.design(X) @ self.coef.T

    def std_errors(self, X: np.ndarray) -> np.ndarray:
        D = self.design(X)
        n = self.influence.shape[1]
        out = np.empty((X.shape[0], self.coef.shape[0]))
        for k, phi in enumerate(self.influence):
            cov = phi.T @ phi / n**2
            out[:, k] = np.sqrt(np.einsum("ij,jk,ik->i", D, cov, D))
        return out


def _ate_task(
    owner: CATEEstimator, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seed: int
) -> tuple[CATEFit, np.ndarray] | None:
    """One bootstrap replicate: the refit and its average effects on the resample."""
    rng_seed, fit_seed = np.random.SeedSequence(seed).generate_state(2)
    idx = resample_indices(int(rng_seed), arm, owner._cluster)
    try:
        fit = owner._bootstrap_fit(idx, X, y, arm, np.random.SeedSequence(int(fit_seed)))
    except (ParibusError, np.linalg.LinAlgError, ValueError):
        return None  # a degenerate resample (an arm too small for a learner) counts as failed
    return fit, fit.predict(X[idx]).mean(axis=0)


class CATEEstimator(EffectEstimator):
    """Base of the conditional-average-treatment-effect learners (module docstring)."""

    _binary_treatment: ClassVar[bool] = False
    #: False for learners of a binary treatment only
    _multi_valued: ClassVar[bool] = True
    #: True when the ATE and intervals come from refits (no analytic final stage)
    _uses_bootstrap: ClassVar[bool] = True
    _min_per_arm: ClassVar[int] = 2

    _estimands: ClassVar[tuple[str, ...]] = ("ATE",)

    estimand: str
    n_bootstrap: int
    level: float
    random_state: int | None
    n_jobs: int | None

    # -- fitting ------------------------------------------------------------------------------

    def fit(
        self,
        data: Any,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        *,
        weights: str | None = None,
        cluster: str | None = None,
        dropna: bool = False,
        control: Any = None,
    ) -> CATEEstimator:
        """Learn the CATE of ``treatment`` on ``outcome`` as a function of ``covariates``.

        ``control`` names the reference level (default: the smallest). Sampling
        ``weights`` are refused (no meta-learner here supports them). Returns ``self``;
        ``result_`` holds the average effect(s) (:meth:`ate`).
        """
        self._validate_settings()
        name = type(self).__name__
        cd = self._causal_data(data, treatment, outcome, covariates, weights, cluster, dropna)
        if not cd.covariates:
            raise DataError(
                f"{name}: a CATE is a function of covariates; pass covariates=[...] (the "
                "effect modifiers, which must also be all the confounders)."
            )
        arm = self._arms(cd, control)
        X, y = cd.X, cd.y
        self._cluster = cd.column("cluster")
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(cd.covariates, dtype=object)
        self._allow_nan = all(learner_allows_nan(m) for m in self._learners())
        root = seed_sequence(self.random_state)
        fit_root, boot_root = root.spawn(2)
        self.cate_ = self._fit_cate(X, y, arm, fit_root)
        self._tau = self.cate_.predict(X)  # the sample's CATEs, shared by the summaries
        self._X, self._y, self._arm = X, y, arm
        self._boot: list[tuple[CATEFit, np.ndarray]] = []
        self._n_failed = 0
        if self._needs_bootstrap() and self.n_bootstrap > 0:
            tasks = [(self, X, y, arm, s) for s in child_seeds(boot_root, self.n_bootstrap)]
            draws = run_tasks(_ate_task, tasks, n_jobs=self.n_jobs, desc=f"{name} bootstrap")
            self._boot = [d for d in draws if d is not None]
            self._n_failed = len(draws) - len(self._boot)
            if len(self._boot) < 2:
                raise DataError(
                    f"{name}: {self._n_failed} of {self.n_bootstrap} bootstrap refits failed "
                    "(an arm too small in a resample); use more data or a simpler learner."
                )
        effects = self._ate_effects(X)
        control_label = self._label(self.control_)
        labels = [f"{self._label(v)} vs {control_label}" for v in self.treatment_levels_]
        self.result_ = effects[0] if len(effects) == 1 else EffectTable(effects, labels, name)  # type: ignore[assignment]
        return self

    def _arms(self, cd: CausalData, control: Any) -> np.ndarray:
        """Code the treatment as arms 0 (control) .. K and record the levels."""
        name = type(self).__name__
        t = cd.t
        levels = np.unique(t)  # CausalData has refused a constant treatment
        if levels.size > MAX_LEVELS:
            raise DataError(
                f"{name}: treatment {cd.treatment!r} has {levels.size} distinct values; "
                f"meta-learners compare at most {MAX_LEVELS} discrete levels. For a continuous "
                "treatment use PLR (dml-plr)."
            )
        if levels.size > 2 and not self._multi_valued:
            raise DataError(
                f"{name} handles a binary treatment; {cd.treatment!r} has {levels.size} levels "
                f"({', '.join(self._label(v) for v in levels)}). Use TLearner, XLearner or "
                "DRLearner for several levels."
            )
        if control is None:
            control = levels[0]
        if not np.any(levels == control):
            raise ParameterError(
                f"{name}: control={control!r} is not a level of {cd.treatment!r}; its levels "
                f"are {', '.join(self._label(v) for v in levels)}."
            )
        ordered = np.concatenate([[control], levels[levels != control]])
        arm = np.empty(t.size, dtype=np.intp)
        for j, value in enumerate(ordered):
            arm[t == value] = j
        counts = np.bincount(arm, minlength=ordered.size)
        need = self._min_rows_per_arm()
        if counts.min() < need:
            small = ordered[int(np.argmin(counts))]
            raise DataError(
                f"{name}: treatment level {self._label(small)} has {counts.min()} rows; each "
                f"level needs at least {need} here."
            )
        self.control_ = float(control)
        self.treatment_levels_ = ordered[1:].astype(float)
        return arm

    @staticmethod
    def _label(value: Any) -> str:
        v = float(value)
        return str(int(v)) if v.is_integer() else f"{v:g}"

    def _min_rows_per_arm(self) -> int:
        return max(self._min_per_arm, int(getattr(self, "folds", 2)))

    def _needs_bootstrap(self) -> bool:
        return self._uses_bootstrap

    # -- what subclasses implement ---------------------------------------------------------------

    def _fit_cate(
        self, X: np.ndarray, y: np.ndarray, arm: np.ndarray, seeds: np.random.SeedSequence
    ) -> CATEFit:
        raise NotImplementedError

    def _bootstrap_fit(
        self,
        idx: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        arm: np.ndarray,
        seeds: np.random.SeedSequence,
    ) -> CATEFit:
        """One bootstrap refit on rows ``idx``; by default the whole learner."""
        return self._fit_cate(X[idx], y[idx], arm[idx], seeds)

    def _ate_effects(self, X: np.ndarray) -> list[Effect]:
        """The average effects; by default the mean CATE with its bootstrap error."""
        tau = self._tau
        draws = np.array([ate for _, ate in self._boot]).reshape(-1, tau.shape[1])
        out = []
        for k in range(tau.shape[1]):
            se = float(np.std(draws[:, k], ddof=1)) if len(draws) > 1 else float("nan")
            out.append(
                self._effect(
                    float(tau[:, k].mean()),
                    se,
                    "bootstrap" if len(draws) > 1 else "none",
                    k,
                    None,
                    {"n_bootstrap": self.n_bootstrap, "n_failed": self._n_failed},
                )
            )
        return out

    def _effect(
        self,
        estimate: float,
        std_error: float,
        inference: str,
        k: int,
        scores: np.ndarray | None,
        extra: dict[str, Any],
    ) -> Effect:
        diag = {
            "treatment_level": float(self.treatment_levels_[k]),
            "control_level": self.control_,
            "cate_std": float(np.std(self._tau[:, k])),
            **self._diagnostics(),
            **extra,
        }
        return Effect.from_normal(
            estimand="ATE",
            estimate=estimate,
            std_error=std_error,
            level=self.level,
            n_obs=self._X.shape[0],
            method=self._method,
            inference=inference,
            diagnostics=diag,
            scores=scores,
        )

    def _diagnostics(self) -> dict[str, Any]:
        return {}

    # -- the fitted interface --------------------------------------------------------------------

    def _matrix(self, X: Any) -> np.ndarray:
        """Covariates for prediction, in the order seen at fit (columns matched by name)."""
        name = type(self).__name__
        names = [str(c) for c in self.feature_names_in_]
        if isinstance(X, np.ndarray):
            M = np.asarray(X, dtype=float)
            if M.ndim == 1:
                M = M.reshape(1, -1) if len(names) > 1 else M.reshape(-1, 1)
            if M.ndim != 2 or M.shape[1] != len(names):
                raise DataError(
                    f"{name}.effect: X has shape {np.shape(X)}; expected (n, {len(names)}) "
                    f"columns in the order {names}."
                )
        else:
            frame = to_pandas(X)
            missing = [c for c in names if c not in frame.columns]
            if missing:
                raise DataError(
                    f"{name}.effect: X lacks the covariate column(s) {missing} used at fit; "
                    f"pass a table with {names}."
                )
            try:
                M = frame[names].to_numpy(dtype=float)
            except (TypeError, ValueError) as exc:
                raise DataError(f"{name}.effect: covariates must be numeric ({exc}).") from exc
        if not self._allow_nan and np.isnan(M).any():
            raise DataError(
                f"{name}.effect: X has missing values and the learners do not accept them; "
                "impute first, or use learners that handle NaN (the default boosting does)."
            )
        if np.isinf(M).any():
            raise DataError(f"{name}.effect: X has infinite values.")
        return M

    def _column(self, treatment: Any) -> int:
        levels = self.treatment_levels_
        if treatment is None:
            if levels.size == 1:
                return 0
            raise ParameterError(
                f"{type(self).__name__}: there are {levels.size} treated levels "
                f"({', '.join(self._label(v) for v in levels)}); pass treatment=<level> to "
                "effect(...) to say which comparison with the control level you want."
            )
        hits = np.flatnonzero(levels == treatment)
        if hits.size == 0:
            raise ParameterError(
                f"{type(self).__name__}: treatment={treatment!r} is not a treated level; "
                f"choose from {', '.join(self._label(v) for v in levels)}."
            )
        return int(hits[0])

    def effect(self, X: Any, treatment: Any = None) -> np.ndarray:
        """CATE of ``treatment`` (a level; needed when there are several) against control.

        ``X``: a table with the fitted covariate columns, or an (n, p) array in their
        order. Returns shape ``(n,)``.
        """
        k = self._column(treatment)
        return np.asarray(self.cate_.predict(self._matrix(X))[:, k], dtype=float)

    def effect_interval(
        self, X: Any, level: float | None = None, treatment: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``level`` intervals ``(lower, upper)`` for :meth:`effect` (see module)."""
        level = check_level(self.level if level is None else level)
        k = self._column(treatment)
        M = self._matrix(X)
        tau = self.cate_.predict(M)[:, k]
        se = self._pointwise_se(M)[:, k]
        z = stats.norm.ppf(0.5 + level / 2)
        return tau - z * se, tau + z * se

    def _pointwise_se(self, M: np.ndarray) -> np.ndarray:
        if isinstance(self.cate_, LinearCATE):
            return self.cate_.std_errors(M)
        if not self._boot:
            raise ParameterError(
                f"{type(self).__name__}: intervals for a nonlinear final stage come from the "
                "bootstrap; refit with n_bootstrap > 0 (e.g. 100)."
            )
        preds = np.stack([fit.predict(M) for fit, _ in self._boot])
        return np.asarray(np.std(preds, axis=0, ddof=1))

    def plot(
        self,
        X: Any,
        by: str | None = None,
        treatment: Any = None,
        level: float | None = None,
        ax: Any = None,
    ) -> Any:
        """The CATEs on ``X``: a histogram, or against covariate ``by`` with intervals."""
        from paribus.report.plots import plot_cate

        k = self._column(treatment)
        M = self._matrix(X)
        names = [str(c) for c in self.feature_names_in_]
        if by is not None and by not in names:
            raise ParameterError(
                f"{type(self).__name__}.plot: by={by!r} is not a fitted covariate; choose "
                f"from {names}."
            )
        ate = self.ate(treatment).estimate
        tau = self.cate_.predict(M)[:, k]
        if by is None:
            return plot_cate(tau, ate=ate, ax=ax)
        lower, upper = self.effect_interval(M, level=level, treatment=treatment)
        column = M[:, names.index(by)]
        return plot_cate(tau, lower=lower, upper=upper, by=column, by_label=by, ate=ate, ax=ax)

    def ate(self, treatment: Any = None) -> Effect:
        """The sample-average effect of ``treatment`` against control (an :class:`Effect`)."""
        k = self._column(treatment)
        result = self.result_
        return list(result)[k] if isinstance(result, EffectTable) else result
