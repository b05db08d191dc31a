"""Refuters: re-estimate under a perturbation that should (or should not) move the estimate.

* placebo treatment: the treatment permuted at random has no effect, so the
  re-estimates should centre on zero; the original estimate's permutation
  p-value is the share of placebo estimates at least as large in magnitude.
* random common cause: an independent random covariate added to the
  adjustment set should leave the estimate unchanged.
* data subsets: re-estimates on random subsamples should scatter around the
  original as its standard error predicts.

Where the perturbation allows, a refuter reuses the fitted estimator's cross-fitted
nuisances and influence values instead of refitting (:mod:`paribus.checks.refit_free`):
the placebo for AIPW, IRM and PLR and the subsets for any estimate with scores. The
random common cause changes the covariates, so it always refits, and ``reuse=False``
refits everything. Refits run a clone of the fitted estimator (its own folds serial
when the repetitions are spread over workers), repetitions go through the shared
parallel backend with seeds spawned per repetition; the original result is never
modified.

The random common cause refits keep the estimator's own ``random_state``: the folds
and learner seeds are those of the original fit and only the added column differs,
so a shift is the column's doing (a fresh fold split per repetition would add its
own noise to every shift). With the default LightGBM learners the original
covariates, identical in every repetition and fold, are then binned once per worker
(:mod:`paribus._core.binned_boosting`) instead of in every one of the 15 nuisance
fits of an AIPW refit, and a regression nuisance is not refitted at all when the noise
column provably enters none of its trees (:mod:`paribus._core.unused_column`): the
fit without the column is then the refit, to the bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from paribus._core.binned_boosting import binned_base
from paribus._core.config import effective_n_jobs
from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds, seed_sequence
from paribus.checks.refit_free import placebo_estimates, pooled_outcome, subset_estimates
from paribus.errors import ParameterError
from paribus.results import Effect

__all__ = ["REFUTERS", "Refutation", "refit_effect", "refute"]


@dataclasses.dataclass(frozen=True)
class Refutation:
    """The outcome of one refuter: the re-estimates, the rule applied and the verdict."""

    refuter: str
    original: float
    estimates: tuple[float, ...]
    statistic: float
    passed: bool
    rule: str
    refit: bool = dataclasses.field(default=True, kw_only=True)

    @property
    def mean(self) -> float:
        return float(np.nanmean(self.estimates))

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        how = "" if self.refit else " [stored nuisances, no refit]"
        return (
            f"{self.refuter:<20} {verdict:<7} mean re-estimate {self.mean:,.4g} "
            f"(original {self.original:,.4g}); {self.rule}{how}"
        )

    def plot(self, ax: Any = None) -> Any:
        """Histogram of the re-estimates with the original estimate (and zero) marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        draws = np.asarray(self.estimates, dtype=float)
        draws = draws[np.isfinite(draws)]
        ax.hist(draws, bins=max(5, min(30, draws.size // 3)), color="0.7", edgecolor="0.4")
        ax.axvline(self.original, color="C3", lw=2, label=f"original {self.original:,.3g}")
        if self.refuter == "placebo_treatment":
            ax.axvline(0.0, color="k", ls="--", lw=1, label="no effect")
        ax.set_xlabel("re-estimate")
        ax.set_ylabel("repetitions")
        verdict = "passed" if self.passed else "FAILED"
        ax.set_title(f"{self.refuter.replace('_', ' ')}: {verdict}")
        ax.legend(fontsize="small")
        return ax

    def to_dict(self) -> dict[str, Any]:
        return {
            "refuter": self.refuter,
            "original": self.original,
            "estimates": [None if np.isnan(e) else e for e in self.estimates],
            "statistic": self.statistic,
            "passed": self.passed,
            "rule": self.rule,
            "refit": self.refit,
        }


def refit_effect(
    estimator: Any,
    frame: pd.DataFrame,
    treatment: str,
    outcome: str,
    covariates: list[str] | None,
    seed: int | None,
    inner_jobs: int | None = None,
) -> Effect:
    """The result of a fresh clone of ``estimator`` fitted on ``frame`` (seeded, no progress).

    ``inner_jobs`` caps the clone's own workers (its folds run serially when the
    repetitions are already spread over workers).
    """
    est = clone(estimator)
    params = est.get_params(deep=False)
    if "random_state" in params and seed is not None:
        est.set_params(random_state=seed)
    if inner_jobs is not None and "n_jobs" in params:
        est.set_params(n_jobs=inner_jobs)
    if "show_progress" in params:
        est.set_params(show_progress=False)
    effect: Effect = est.fit(frame, treatment, outcome, covariates).result_
    return effect


def _placebo(frame: pd.DataFrame, treatment: str, seed: int, _: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame.assign(**{treatment: rng.permutation(frame[treatment].to_numpy())})


def _common_cause(frame: pd.DataFrame, _t: str, seed: int, _f: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame.assign(_random_common_cause=rng.normal(size=len(frame)))


def _subset(frame: pd.DataFrame, _t: str, seed: int, fraction: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keep = rng.random(len(frame)) < fraction
    return frame.loc[keep].reset_index(drop=True)


REFUTERS = {
    "placebo_treatment": _placebo,
    "random_common_cause": _common_cause,
    "data_subset": _subset,
}


def _task(
    estimator: Any,
    frame: pd.DataFrame,
    name: str,
    treatment: str,
    outcome: str,
    covariates: list[str] | None,
    seed: int,
    fraction: float,
    inner_jobs: int | None = None,
) -> float:
    perturbed = REFUTERS[name](frame, treatment, seed, fraction)
    scope: Any = nullcontext()
    if name == "random_common_cause":
        if covariates:
            # the original covariates are the same in every repetition: LightGBM nuisances
            # bin them once per process (the noise column comes last in X)
            scope = _shared_covariates(frame, covariates)
        covariates = [*(covariates or []), "_random_common_cause"]
    # the random common cause keeps the estimator's own seed (its folds and learner
    # seeds), so a shift measures the added column alone, not a new fold split; the
    # other refits reseed, as their perturbation changes the rows anyway
    refit_seed = None if name == "random_common_cause" else seed
    try:
        with scope:
            return refit_effect(
                estimator, perturbed, treatment, outcome, covariates, refit_seed, inner_jobs
            ).estimate
    except (ValueError, ArithmeticError):
        return float("nan")


def _shared_covariates(frame: pd.DataFrame, covariates: list[str]) -> Any:
    """The binned-base context of :mod:`paribus._core.binned_boosting`, or a no-op."""
    try:
        X0 = frame[covariates].to_numpy(dtype=float)
    except (KeyError, TypeError, ValueError):
        return nullcontext()  # the refit reports the problem
    return binned_base(X0)


def _verdict(
    name: str, effect: Effect, draws: np.ndarray, fraction: float
) -> tuple[float, bool, str]:
    ok = draws[np.isfinite(draws)]
    if name == "placebo_treatment":
        p = float((1 + np.sum(np.abs(ok) >= abs(effect.estimate))) / (1 + ok.size))
        return (
            p,
            p < 0.05,
            (
                f"permutation p-value {p:.3f}: passes when the original estimate "
                "is larger than 95% of placebo estimates"
                + ("" if ok.size >= 20 else f" (impossible with {ok.size} repetitions: use 20+)")
            ),
        )
    if name == "random_common_cause":
        shift = float(np.max(np.abs(ok - effect.estimate)) / effect.std_error)
        return shift, shift < 0.5, (f"largest shift {shift:.2f} SE: passes below 0.5 SE")
    # a subsample of share f has SE about se * sqrt((1 - f) / f) around the full estimate
    expected = effect.std_error * np.sqrt((1 - fraction) / fraction)
    z = float(abs(ok.mean() - effect.estimate) / (expected / np.sqrt(ok.size)))
    return z, z < 3, f"mean subset shift {z:.2f} of its SE: passes below 3"


def refute(
    estimator: Any,
    data: Any,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    *,
    refuters: Sequence[str] = ("placebo_treatment", "random_common_cause", "data_subset"),
    n_repeats: int = 20,
    subset_fraction: float = 0.8,
    random_state: int | None = None,
    n_jobs: int | None = None,
    reuse: bool = True,
) -> list[Refutation]:
    """Run refuters on a fitted estimator (its ``result_`` is the original estimate).

    Parameters
    ----------
    estimator : fitted estimator
        Refits use an unfitted clone; the estimator and its result are not changed.
    data, treatment, outcome, covariates
        The table the estimator was fitted on and its roles.
    refuters : names from :data:`REFUTERS`
    n_repeats : int, default 20
        Repetitions per refuter (the placebo's p-value needs 20 or more to reach 0.05).
    subset_fraction : float in (0, 1), default 0.8
    random_state : int or None
        Seeds every repetition (spawned per refuter and repetition).
    n_jobs : int, optional
        Workers for the refits; None takes ``paribus.config``.
    reuse : bool, default True
        Reuse the fitted nuisances and influence values where the perturbation allows
        (module docstring); False refits the estimator for every repetition.
    """
    unknown = [r for r in refuters if r not in REFUTERS]
    if unknown:
        raise ParameterError(f"unknown refuter(s) {unknown}; valid: {', '.join(REFUTERS)}.")
    if not (isinstance(n_repeats, int) and n_repeats >= 2):
        raise ParameterError(f"n_repeats={n_repeats!r} is invalid; expected an integer >= 2.")
    if not 0 < subset_fraction < 1:
        raise ParameterError(f"subset_fraction={subset_fraction!r} must lie in (0, 1).")
    effect: Effect = estimator.result_
    from paribus.data.convert import to_pandas

    frame = to_pandas(data)
    covs = list(covariates) if covariates else None
    # repetitions spread over workers: each refit runs its own folds serially
    inner_jobs = 1 if effective_n_jobs(n_jobs) > 1 else None
    out = []
    for name, root in zip(refuters, seed_sequence(random_state).spawn(len(refuters)), strict=True):
        seeds = child_seeds(root, n_repeats)
        draws = (
            _without_refit(
                name, estimator, effect, frame, treatment, outcome, seeds, subset_fraction
            )
            if reuse
            else None
        )
        if draws is None:
            tasks = [
                (estimator, frame, name, treatment, outcome, covs, s, subset_fraction, inner_jobs)
                for s in seeds
            ]
            draws = np.asarray(run_tasks(_task, tasks, n_jobs=n_jobs, desc=name), dtype=float)
            refit = True
        else:
            refit = False
        statistic, passed, rule = _verdict(name, effect, draws, subset_fraction)
        out.append(
            Refutation(
                name, effect.estimate, tuple(draws.tolist()), statistic, passed, rule, refit=refit
            )
        )
    return out


def _without_refit(
    name: str,
    estimator: Any,
    effect: Effect,
    frame: pd.DataFrame,
    treatment: str,
    outcome: str,
    seeds: list[int],
    fraction: float,
) -> np.ndarray | None:
    """Re-estimates from the stored nuisances or scores, or None where a refit is needed."""
    if name == "data_subset":
        if effect.scores is None or effect.scores.size != len(frame):
            return None
        return subset_estimates(effect, fraction, seeds)
    if name != "placebo_treatment":
        return None
    ell = pooled_outcome(estimator, len(frame))
    if ell is None:
        return None
    t = frame[treatment].to_numpy(dtype=float)
    y = frame[outcome].to_numpy(dtype=float)
    if not (np.isfinite(t).all() and np.isfinite(y).all()):
        return None
    return placebo_estimates(t, y, ell, seeds)
