"""More refuters: dummy outcome, negative controls and the bootstrap.

* dummy outcome: the outcome is replaced by a flexible model's prediction from the
  covariates alone plus permuted residuals, so the true effect is exactly zero while
  the confounding structure of ``E[y | x]`` is kept; an estimator whose outcome model
  cannot represent ``E[y | x]`` reports a nonzero effect (Sharma & Kiciman 2020 use a
  dummy outcome in DoWhy; here the outcome keeps the fitted confounding so that a
  misspecified outcome model is caught).
* negative-control outcome / exposure: a column the user knows the treatment does not
  affect (outcome), or that does not affect the outcome (exposure); the re-estimated
  effect should be zero (Lipsitch, Tchetgen Tchetgen & Cohen 2010).
* bootstrap: re-estimates on resamples with replacement (Efron & Tibshirani 1993);
  their spread should match the reported standard error and their percentile interval
  should cover the original estimate.

Each refits clones of the estimator through the shared parallel backend with seeds
spawned per repetition; the original estimator and its result are never modified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.model_selection import KFold, cross_val_predict

from paribus._core.defaults import default_regressor
from paribus._core.learners import seeded_clone
from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds, seed_sequence
from paribus.checks.refute import Refutation, refit_effect
from paribus.errors import DataError, ParameterError
from paribus.results import Effect

__all__ = [
    "IntervalRefutation",
    "bootstrap_refuter",
    "dummy_outcome",
    "negative_control_exposure",
    "negative_control_outcome",
    "refit_effect",
]


@dataclasses.dataclass(frozen=True)
class IntervalRefutation(Refutation):
    """A :class:`Refutation` that also reports the new estimate's interval."""

    interval: tuple[float, float] = (float("nan"), float("nan"))

    def __str__(self) -> str:
        lo, hi = self.interval
        return f"{super().__str__()}; interval [{lo:,.4g}, {hi:,.4g}]"

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"interval": list(self.interval)}


def _nan_effect_pair() -> tuple[float, float]:
    return float("nan"), float("nan")


def _safe_refit(*args: Any) -> tuple[float, float]:
    try:
        eff = refit_effect(*args)
    except (ValueError, ArithmeticError):
        return _nan_effect_pair()
    return eff.estimate, eff.std_error


def _frame(data: Any, columns: Sequence[str]) -> pd.DataFrame:
    from paribus.data.convert import to_pandas

    frame = to_pandas(data)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"column(s) {missing} not found in data; columns: {list(frame.columns)}.")
    return frame


def _check_repeats(n_repeats: int) -> None:
    if not (isinstance(n_repeats, int) and n_repeats >= 2):
        raise ParameterError(f"n_repeats={n_repeats!r} is invalid; expected an integer >= 2.")


def _covariates(estimator: Any, covariates: Sequence[str] | None) -> list[str] | None:
    if covariates is not None:
        return list(covariates)
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(c) for c in names]


# -- dummy outcome -----------------------------------------------------------------------


def _dummy_task(
    estimator: Any,
    frame: pd.DataFrame,
    fitted: np.ndarray,
    resid: np.ndarray,
    treatment: str,
    outcome: str,
    covs: list[str] | None,
    seed: int,
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    dummy = frame.assign(**{outcome: fitted + rng.permutation(resid)})
    return _safe_refit(estimator, dummy, treatment, outcome, covs, seed)


def dummy_outcome(
    estimator: Any,
    data: Any,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    *,
    n_repeats: int = 10,
    outcome_model: Any = None,
    level: float = 0.95,
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> IntervalRefutation:
    """Re-estimate on outcomes with a known zero effect that keep the confounding.

    The dummy outcome is ``m(x) + r_pi`` with ``m`` a flexible regression of ``y`` on the
    covariates only (default: the package's boosting learner; predicted out of fold so no
    unit's own treatment effect leaks into ``m``) and ``r_pi`` its residuals
    permuted: it depends on ``x`` as ``y`` does but not on the treatment, so the true
    effect is 0. Rule: passes when 0 lies in ``mean re-estimate +/- z * median SE`` (the
    re-estimates' own interval width); repetitions only average out the residual draw,
    not the estimator's bias.
    """
    _check_repeats(n_repeats)
    covs = _covariates(estimator, covariates)
    if not covs:
        raise ParameterError(
            "dummy_outcome needs covariates: the dummy outcome is built from them."
        )
    frame = _frame(data, [treatment, outcome, *covs])
    X = frame[covs].to_numpy(dtype=float)
    y = frame[outcome].to_numpy(dtype=float)
    root = seed_sequence(random_state)
    model_seed, *seeds = child_seeds(root, n_repeats + 1)
    model = default_regressor() if outcome_model is None else outcome_model
    # out of fold: an in-sample fit would leak each unit's own treatment effect into m(x)
    folds = KFold(5, shuffle=True, random_state=model_seed)
    fitted = cross_val_predict(seeded_clone(model, model_seed), X, y, cv=folds)
    resid = y - fitted
    tasks = [(estimator, frame, fitted, resid, treatment, outcome, covs, s) for s in seeds]
    pairs = np.asarray(run_tasks(_dummy_task, tasks, n_jobs=n_jobs, desc="dummy_outcome"))
    draws, ses = pairs[:, 0], pairs[:, 1]
    ok = np.isfinite(draws)
    mean, se = float(np.mean(draws[ok])), float(np.median(ses[ok]))
    z = float(norm.ppf(0.5 + level / 2))
    interval = (mean - z * se, mean + z * se)
    stat = abs(mean) / se
    passed = bool(interval[0] <= 0 <= interval[1])
    rule = (
        f"true effect 0; mean re-estimate is {stat:.2f} SE from 0: passes when 0 lies in "
        f"its {100 * level:.0f}% interval"
    )
    original = float(estimator.result_.estimate)
    return IntervalRefutation(
        "dummy_outcome", original, tuple(draws.tolist()), stat, passed, rule, interval
    )


# -- negative controls -------------------------------------------------------------------


def _single(
    name: str,
    estimator: Any,
    frame: pd.DataFrame,
    treatment: str,
    outcome: str,
    covs: list[str] | None,
    level: float,
    random_state: int | None,
) -> IntervalRefutation:
    eff = refit_effect(estimator, frame, treatment, outcome, covs, random_state).at_level(level)
    passed = bool(eff.ci_lower <= 0 <= eff.ci_upper)
    stat = float(abs(eff.estimate) / eff.std_error)
    rule = (
        f"true effect 0; estimate is {stat:.2f} SE from 0 (p = {eff.p_value:.3f}): passes "
        f"when 0 lies in its {100 * level:.0f}% interval"
    )
    return IntervalRefutation(
        name,
        float(estimator.result_.estimate),
        (eff.estimate,),
        stat,
        passed,
        rule,
        (eff.ci_lower, eff.ci_upper),
    )


def negative_control_outcome(
    estimator: Any,
    data: Any,
    treatment: str,
    control_outcome: str,
    covariates: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    random_state: int | None = None,
) -> IntervalRefutation:
    """The effect of the treatment on a column it cannot affect; should be zero.

    A nonzero effect on a negative-control outcome that shares the outcome's confounders
    points to residual confounding or a misspecified adjustment (Lipsitch et al. 2010).
    Rule: passes when 0 lies in the re-estimate's interval.
    """
    covs = _covariates(estimator, covariates)
    frame = _frame(data, [treatment, control_outcome, *(covs or [])])
    return _single(
        "negative_control_outcome",
        estimator,
        frame,
        treatment,
        control_outcome,
        covs,
        level,
        random_state,
    )


def negative_control_exposure(
    estimator: Any,
    data: Any,
    control_exposure: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    random_state: int | None = None,
) -> IntervalRefutation:
    """The effect of a binary column known not to affect the outcome; should be zero.

    Rule: passes when 0 lies in the re-estimate's interval (Lipsitch et al. 2010).
    """
    covs = _covariates(estimator, covariates)
    frame = _frame(data, [control_exposure, outcome, *(covs or [])])
    return _single(
        "negative_control_exposure",
        estimator,
        frame,
        control_exposure,
        outcome,
        covs,
        level,
        random_state,
    )


# -- bootstrap ---------------------------------------------------------------------------


def _boot_task(
    estimator: Any,
    frame: pd.DataFrame,
    treatment: str,
    outcome: str,
    covs: list[str] | None,
    seed: int,
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(frame), len(frame))
    sample = frame.iloc[rows].reset_index(drop=True)
    return _safe_refit(estimator, sample, treatment, outcome, covs, seed)


def bootstrap_refuter(
    estimator: Any,
    data: Any,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    *,
    n_repeats: int = 50,
    level: float = 0.95,
    se_ratio_bounds: tuple[float, float] = (2 / 3, 1.5),
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> IntervalRefutation:
    """Nonparametric bootstrap of the whole estimation (Efron & Tibshirani 1993).

    Rule: passes when the bootstrap standard error is within ``se_ratio_bounds`` of the
    reported one and the percentile interval covers the original estimate. A reported
    error far below the bootstrap's means the estimate's interval is too narrow.
    """
    _check_repeats(n_repeats)
    lo_b, hi_b = se_ratio_bounds
    if not 0 < lo_b < 1 < hi_b:
        raise ParameterError(
            f"se_ratio_bounds={se_ratio_bounds!r}: expected (a, b), 0 < a < 1 < b."
        )
    covs = _covariates(estimator, covariates)
    frame = _frame(data, [treatment, outcome, *(covs or [])])
    effect: Effect = estimator.result_
    seeds = child_seeds(seed_sequence(random_state), n_repeats)
    tasks = [(estimator, frame, treatment, outcome, covs, s) for s in seeds]
    pairs = np.asarray(run_tasks(_boot_task, tasks, n_jobs=n_jobs, desc="bootstrap"))
    draws = pairs[:, 0]
    ok = draws[np.isfinite(draws)]
    alpha = 1 - level
    interval = (float(np.quantile(ok, alpha / 2)), float(np.quantile(ok, 1 - alpha / 2)))
    ratio = float(np.std(ok, ddof=1) / effect.std_error)
    covered = interval[0] <= effect.estimate <= interval[1]
    passed = bool(lo_b <= ratio <= hi_b and covered)
    rule = (
        f"bootstrap SE / reported SE = {ratio:.2f} (passes within [{lo_b:.2f}, {hi_b:.2f}]) "
        f"and the {100 * level:.0f}% percentile interval "
        + ("covers" if covered else "does NOT cover")
        + " the original estimate"
    )
    return IntervalRefutation(
        "bootstrap", effect.estimate, tuple(draws.tolist()), ratio, passed, rule, interval
    )
