"""The standard check battery: ``paribus.check(estimator, data) -> CheckReport``.

Refuters that perturb the data (placebo treatment, random common cause, subsets) test
that the estimator reacts to the treatment and is stable; they cannot see a wrong
outcome model, because the wrong model is refitted under every perturbation. On a
nonlinear confounded design (../shared/PEERS.md) a linear regression 37% too high
passed all three. The battery therefore adds checks aimed at the outcome model:

* doubly robust agreement: a cross-fitted AIPW estimate with flexible learners (Robins,
  Rotnitzky & Zhao 1994; Chernozhukov et al. 2018) of the same estimand; a difference
  large against ``sqrt(se^2 + se_dr^2)`` (conservative: the two are positively
  correlated) means one of them is wrong, and the DR one needs only one nuisance right;
* linear specification: out-of-fold R^2 of the linear outcome model (the regression's
  own design) against the flexible learner's, with a paired test on squared errors
  (a cross-validated analogue of Ramsey's 1969 RESET);
* dummy outcome: the effect on an outcome with the same dependence on the covariates
  and no treatment effect (:func:`paribus.checks.refuters_more.dummy_outcome`);
* overlap and nuisance quality, from the propensity and outcome predictions.

Each check gives ``pass``, ``warn``, ``fail`` or ``skip`` with the rule it used.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from paribus._core.overlap import EXTREME, EXTREME_SHARE, MIN_ESS_SHARE
from paribus.checks.refute import refute
from paribus.checks.refuters_more import (
    bootstrap_refuter,
    dummy_outcome,
    negative_control_exposure,
    negative_control_outcome,
)
from paribus.errors import OverlapWarning, ParameterError
from paribus.results import Effect

__all__ = ["CHECKS", "CheckReport", "CheckResult", "check"]

Verdict = Literal["pass", "warn", "fail", "skip"]

#: every check the battery knows; the default battery omits the bootstrap (slow)
CHECKS = (
    "placebo_treatment",
    "random_common_cause",
    "data_subset",
    "dummy_outcome",
    "doubly_robust_agreement",
    "linear_specification",
    "overlap",
    "nuisance_quality",
    "bootstrap",
    "negative_control_outcome",
    "negative_control_exposure",
)
DEFAULT_CHECKS = CHECKS[:8]
REFUTER_CHECKS = ("placebo_treatment", "random_common_cause", "data_subset")
#: methods whose estimate rests on a linear outcome model
LINEAR_OUTCOME_METHODS = ("regression",)
#: R^2 gain of the flexible learner over the linear model that fails the specification
R2_GAIN_FAIL = 0.02


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check: its verdict, the statistic and the rule that turned one into the other."""

    name: str
    verdict: Verdict
    statistic: float
    rule: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        stat = None if not np.isfinite(self.statistic) else self.statistic
        return dataclasses.asdict(self) | {"statistic": stat}


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The checks run on one estimate and the overall robustness statement."""

    effect: Effect
    checks: tuple[CheckResult, ...]

    @property
    def verdict(self) -> Verdict:
        """``fail`` if any check failed, else ``warn`` if any warned, else ``pass``."""
        found = {c.verdict for c in self.checks}
        return "fail" if "fail" in found else "warn" if "warn" in found else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict != "fail"

    def __getitem__(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check {name!r}; run: {[c.name for c in self.checks]}")

    def names(self, verdict: Verdict) -> list[str]:
        return [c.name for c in self.checks if c.verdict == verdict]

    @property
    def statement(self) -> str:
        """A plain-language summary of what the checks say about the estimate."""
        run = [c for c in self.checks if c.verdict != "skip"]
        failed, warned = self.names("fail"), self.names("warn")
        if failed:
            text = (
                f"UNRELIABLE: {len(failed)} of {len(run)} checks failed ({', '.join(failed)}). "
                "Do not report this estimate before you understand why."
            )
            if {"doubly_robust_agreement", "linear_specification", "dummy_outcome"} & set(failed):
                text += (
                    " The outcome model looks misspecified: prefer a doubly robust estimate "
                    "with flexible learners (AIPW, IRM)."
                )
            return text
        if warned:
            return f"Use with care: no check failed, {len(warned)} warned ({', '.join(warned)})."
        return (
            f"No check found a problem ({len(run)} run). Checks cannot rule out unobserved "
            "confounding: see the sensitivity analyses (E-value, omitted-variable bias)."
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(c.name, c.verdict, c.statistic, c.rule) for c in self.checks],
            columns=["check", "verdict", "statistic", "rule"],
        ).set_index("check")

    def to_dict(self) -> dict[str, Any]:
        return {
            "effect": self.effect.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "verdict": self.verdict,
            "statement": self.statement,
        }

    def summary(self) -> str:
        e = self.effect
        head = (
            f"Checks of {e.method} {e.estimand} = {e.estimate:,.4g} "
            f"(SE {e.std_error:,.4g}, n = {e.n_obs:,})"
        )
        width = max(len(c.name) for c in self.checks) if self.checks else 5
        lines = [head, "", f"{'check':<{width}}  verdict  rule", "-" * (width + 60)]
        for c in self.checks:
            lines.append(f"{c.name:<{width}}  {c.verdict.upper():<7}  {c.rule}")
            if c.detail:
                lines.append(f"{'':<{width}}           {c.detail}")
        lines += ["", f"Overall: {self.verdict.upper()}. {self.statement}"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# -- inputs ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Inputs:
    estimator: Any  # None when only an Effect was given
    effect: Effect
    frame: pd.DataFrame
    treatment: str
    outcome: str
    covariates: list[str]


def _inputs(
    obj: Any,
    data: Any,
    treatment: str | None,
    outcome: str | None,
    covariates: Sequence[str] | None,
) -> _Inputs:
    from paribus.data.causal_data import CausalData
    from paribus.data.convert import to_pandas

    estimator: Any = None
    if hasattr(obj, "identified") and hasattr(obj, "estimator"):  # workflow.EstimatedEffect
        est_ = obj.identified.estimand
        treatment = treatment or est_.treatment[0]
        outcome = outcome or est_.outcome[0]
        covariates = covariates if covariates is not None else obj.covariates
        data = obj.identified.model.data if data is None else data
        obj = obj.estimator
    if isinstance(obj, Effect):
        effect = obj
    else:
        estimator = obj
        effect = obj.result_
        if covariates is None and hasattr(obj, "feature_names_in_"):
            covariates = [str(c) for c in obj.feature_names_in_]
    if isinstance(data, CausalData):
        treatment, outcome = treatment or data.treatment, outcome or data.outcome
        covariates = covariates if covariates is not None else data.covariates
        frame = data.frame
    elif data is None:
        raise ParameterError(
            "check: pass data= (the table the estimate was fitted on); estimators keep no data."
        )
    else:
        frame = to_pandas(data)
    if treatment is None or outcome is None:
        raise ParameterError("check: name the treatment= and outcome= columns.")
    covs = list(covariates or [])
    if not covs:
        raise ParameterError("check: the battery needs the covariates (covariates=[...]).")
    return _Inputs(estimator, effect, frame, treatment, outcome, covs)


# -- checks that need no refit of the original ------------------------------------------


def _dr_fit(inp: _Inputs, dr_estimator: Any, random_state: int | None, n_jobs: int | None) -> Any:
    from paribus.effects.aipw import AIPW

    if dr_estimator is None:
        dr_estimator = AIPW(random_state=random_state, n_jobs=n_jobs)
        if inp.effect.estimand in ("ATT", "ATC"):
            dr_estimator.set_params(estimand=inp.effect.estimand)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)  # reported by the overlap check
        return dr_estimator.fit(inp.frame, inp.treatment, inp.outcome, inp.covariates)


def _dr_agreement(effect: Effect, dr: Effect) -> CheckResult:
    diff = effect.estimate - dr.estimate
    se = float(np.hypot(effect.std_error, dr.std_error))
    z = abs(diff) / se
    inside = dr.ci_lower <= effect.estimate <= dr.ci_upper
    verdict: Verdict = "fail" if z > 2.576 else "pass" if inside else "warn"
    rule = (
        f"|estimate - DR| = {abs(diff):,.4g} = {z:.2f} combined SE: fails above 2.58, "
        "warns outside the DR interval"
    )
    detail = (
        f"cross-fitted AIPW {dr.estimand} {dr.estimate:,.4g} "
        f"[{dr.ci_lower:,.4g}, {dr.ci_upper:,.4g}]"
    )
    return CheckResult("doubly_robust_agreement", verdict, z, rule, detail)


def _linear_oof(X: np.ndarray, t: np.ndarray, y: np.ndarray, interact: bool, seed: int) -> Any:
    design = np.column_stack(
        [np.ones_like(t), t, X, X * t[:, None]] if interact else [np.ones_like(t), t, X]
    )
    fold = np.random.default_rng(seed).permutation(t.size) % 5
    pred = np.empty_like(y)
    for k in range(5):
        train = fold != k
        coef = np.linalg.lstsq(design[train], y[train], rcond=None)[0]
        pred[~train] = design[~train] @ coef
    return pred


def _linear_specification(inp: _Inputs, nuisance: dict[str, np.ndarray], seed: int) -> CheckResult:
    t = inp.frame[inp.treatment].to_numpy(dtype=float)
    y = inp.frame[inp.outcome].to_numpy(dtype=float)
    X = inp.frame[inp.covariates].to_numpy(dtype=float)
    interact = bool(inp.effect.diagnostics.get("interactions", True))
    lin = _linear_oof(X, t, y, interact, seed)
    flex = t * nuisance["g1"] + (1 - t) * nuisance["g0"]
    d = (y - lin) ** 2 - (y - flex) ** 2
    var_y = float(np.var(y))
    r2_lin, r2_flex = 1 - np.mean((y - lin) ** 2) / var_y, 1 - np.mean((y - flex) ** 2) / var_y
    gain = float(d.mean() / var_y)
    z = float(d.mean() / (d.std(ddof=1) / np.sqrt(d.size)))
    detail = f"out-of-fold R^2: linear {r2_lin:.3f}, flexible {r2_flex:.3f}"
    rule = (
        f"flexible learner's R^2 gain {gain:+.3f} (z = {z:.1f}): fails when above "
        f"{R2_GAIN_FAIL} with z > 3, warns when only z > 3"
    )
    if inp.effect.method not in LINEAR_OUTCOME_METHODS:
        return CheckResult(
            "linear_specification",
            "skip",
            gain,
            f"{inp.effect.method} does not rest on a linear outcome model",
            detail,
        )
    verdict: Verdict = "pass" if z <= 3 else "fail" if gain > R2_GAIN_FAIL else "warn"
    return CheckResult("linear_specification", verdict, gain, rule, detail)


def _overlap(diag: Any, estimand: str) -> CheckResult:
    key = {"ATT": "share_extreme_treated", "ATC": "share_extreme_control"}.get(
        estimand, "share_extreme"
    )
    share = float(diag[key])
    arms = {"ATT": ("control",), "ATC": ("treated",)}.get(estimand, ("treated", "control"))
    ess = min(diag[f"ess_{a}"] / max(1, diag[f"n_{a}"]) for a in arms)
    ok = share <= EXTREME_SHARE and ess >= MIN_ESS_SHARE
    rule = (
        f"{100 * share:.2f}% propensities outside [{EXTREME}, {1 - EXTREME}] (warns above "
        f"{100 * EXTREME_SHARE:.0f}%); smallest ESS share {ess:.2f} (warns below {MIN_ESS_SHARE})"
    )
    return CheckResult("overlap", "pass" if ok else "warn", share, rule)


def _nuisance_quality(inp: _Inputs, nuisance: dict[str, np.ndarray]) -> CheckResult:
    t = inp.frame[inp.treatment].to_numpy(dtype=float)
    y = inp.frame[inp.outcome].to_numpy(dtype=float)
    r2 = []
    for arm, key in ((1, "g1"), (0, "g0")):
        m = t == arm
        r2.append(1 - np.mean((y[m] - nuisance[key][m]) ** 2) / np.var(y[m]))
    e = np.clip(nuisance["e"], 1e-12, 1 - 1e-12)
    p = t.mean()
    ll = -np.mean(t * np.log(e) + (1 - t) * np.log(1 - e))
    ll0 = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    worst = float(min(r2))
    ok = worst > 0 and ll <= ll0
    rule = (
        f"out-of-fold outcome R^2 treated {r2[0]:.3f}, control {r2[1]:.3f} (warns at or "
        f"below 0); propensity log loss {ll:.4f} vs constant {ll0:.4f} (warns when worse)"
    )
    return CheckResult("nuisance_quality", "pass" if ok else "warn", worst, rule)


# -- the battery -------------------------------------------------------------------------


def _from_refutation(r: Any) -> CheckResult:
    lo, hi = getattr(r, "interval", (np.nan, np.nan))
    detail = f"mean re-estimate {r.mean:,.4g} (original {r.original:,.4g})"
    if np.isfinite(lo):
        detail += f", interval [{lo:,.4g}, {hi:,.4g}]"
    return CheckResult(r.refuter, "pass" if r.passed else "fail", r.statistic, r.rule, detail)


def check(
    estimator: Any,
    data: Any = None,
    treatment: str | None = None,
    outcome: str | None = None,
    covariates: Sequence[str] | None = None,
    *,
    checks: Sequence[str] = DEFAULT_CHECKS,
    n_repeats: int = 10,
    subset_fraction: float = 0.8,
    dr_estimator: Any = None,
    negative_control_outcome_column: str | None = None,
    negative_control_exposure_column: str | None = None,
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> CheckReport:
    """Run the standard checks on a fitted estimator (or its ``Effect``) and judge them.

    Parameters
    ----------
    estimator : fitted estimator, ``Effect`` or ``workflow.EstimatedEffect``
        With only an ``Effect`` the checks that refit the estimator are skipped.
    data, treatment, outcome, covariates
        The data the estimate was fitted on and the roles (taken from a CausalData or an
        EstimatedEffect when they carry them; covariates default to the estimator's).
    checks : names from :data:`CHECKS`
        Default: the three refuters, dummy outcome, doubly robust agreement, linear
        specification, overlap and nuisance quality. The negative controls run when
        their columns are given.
    n_repeats : int, default 10
        Repetitions of each refuter; the placebo uses at least 20: its p-value is
        ``(1 + #{|placebo| >= |estimate|}) / (1 + reps)``, which is 0.05 at 19.
    dr_estimator : unfitted estimator with ``nuisance_``, optional
        The doubly robust reference; default ``AIPW`` with boosting nuisances.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise ParameterError(f"unknown check(s) {unknown}; valid: {', '.join(CHECKS)}.")
    inp = _inputs(estimator, data, treatment, outcome, covariates)
    wanted = list(checks)
    for name, col in (
        ("negative_control_outcome", negative_control_outcome_column),
        ("negative_control_exposure", negative_control_exposure_column),
    ):
        if col is not None and name not in wanted:
            wanted.append(name)
    seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
    results: dict[str, CheckResult] = {}
    est, args = inp.estimator, (inp.frame, inp.treatment, inp.outcome, inp.covariates)
    refit_checks = [*REFUTER_CHECKS, "dummy_outcome", "bootstrap", *CHECKS[-2:]]
    if est is None:
        for name in (n for n in wanted if n in refit_checks):
            results[name] = CheckResult(
                name, "skip", np.nan, "needs the fitted estimator to refit (an Effect was given)"
            )
    else:
        for name in (n for n in wanted if n in REFUTER_CHECKS):
            reps = max(20, n_repeats) if name == "placebo_treatment" else n_repeats
            (r,) = refute(
                est,
                *args,
                refuters=(name,),
                n_repeats=reps,
                subset_fraction=subset_fraction,
                random_state=seed,
                n_jobs=n_jobs,
            )
            results[name] = _from_refutation(r)
        if "dummy_outcome" in wanted:
            r = dummy_outcome(
                est, *args, n_repeats=max(2, n_repeats // 2), random_state=seed, n_jobs=n_jobs
            )
            results["dummy_outcome"] = _from_refutation(r)
        if "bootstrap" in wanted:
            r = bootstrap_refuter(
                est, *args, n_repeats=max(20, n_repeats), random_state=seed, n_jobs=n_jobs
            )
            results["bootstrap"] = _from_refutation(r)
        if "negative_control_outcome" in wanted:
            if negative_control_outcome_column is None:
                raise ParameterError(
                    "negative_control_outcome needs negative_control_outcome_column="
                )
            r = negative_control_outcome(
                est,
                inp.frame,
                inp.treatment,
                negative_control_outcome_column,
                inp.covariates,
                random_state=seed,
            )
            results["negative_control_outcome"] = _from_refutation(r)
        if "negative_control_exposure" in wanted:
            if negative_control_exposure_column is None:
                raise ParameterError(
                    "negative_control_exposure needs negative_control_exposure_column="
                )
            r = negative_control_exposure(
                est,
                inp.frame,
                negative_control_exposure_column,
                inp.outcome,
                inp.covariates,
                random_state=seed,
            )
            results["negative_control_exposure"] = _from_refutation(r)
    model_checks = {
        "doubly_robust_agreement",
        "linear_specification",
        "overlap",
        "nuisance_quality",
    }
    if model_checks & set(wanted):
        dr = _dr_fit(inp, dr_estimator, seed, n_jobs)
        own = getattr(est, "nuisance_", None) if est is not None else None
        nuisance = own if own is not None and {"g0", "g1", "e"} <= set(own) else dr.nuisance_
        if "doubly_robust_agreement" in wanted:
            results["doubly_robust_agreement"] = _dr_agreement(inp.effect, dr.result_)
        if "linear_specification" in wanted:
            results["linear_specification"] = _linear_specification(inp, dr.nuisance_, seed)
        if "overlap" in wanted:
            diag = inp.effect.diagnostics
            source = diag if "share_extreme" in diag else dr.result_.diagnostics
            results["overlap"] = _overlap(source, inp.effect.estimand)
        if "nuisance_quality" in wanted:
            results["nuisance_quality"] = _nuisance_quality(inp, nuisance)
    return CheckReport(inp.effect, tuple(results[n] for n in wanted if n in results))
