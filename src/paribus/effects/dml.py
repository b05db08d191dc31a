"""Double/debiased machine learning: the partially linear (PLR) and interactive (IRM) models.

Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018),
"Double/debiased machine learning for treatment and structural parameters",
*Econometrics Journal* 21(1). Both estimators solve a Neyman-orthogonal score that is
linear in the effect, ``psi = psi_a * theta + psi_b``, with nuisances predicted out
of fold (the paper's DML2: one moment equation pooled over the folds), and report an
influence-function standard error.

**PLR** (Sec. 4.1): ``Y = theta D + g(X) + e``, ``D = m(X) + v``, ``E[e | X, D] = 0``,
``E[v | X] = 0``; ``D`` continuous or binary, ``theta`` a constant effect.

* ``"partialling out"`` (the paper's eq. 4.4, Robinson's residual-on-residual):
  ``psi_a = -(D - m)^2``, ``psi_b = (Y - l)(D - m)`` with ``l(X) = E[Y | X]``.
* ``"IV-type"`` (eq. 4.3): ``psi_a = -D (D - m)``, ``psi_b = (Y - g)(D - m)``. ``g``
  is not a regression of ``Y`` on ``X`` alone, so it is learned in two steps, as the
  paper suggests (an initial estimator of ``theta`` to form ``Y - theta D``):
  (1) cross-fit ``l`` and ``m`` and solve the partialling-out score for
  ``theta_init``; (2) cross-fit ``g`` by regressing ``Y - theta_init D`` on ``X``
  with the outcome model, on the same folds. ``theta_init`` is in the diagnostics.

**IRM** (Sec. 5.1): ``Y = g(D, X) + U``, ``D`` binary, heterogeneous effects; the
ATE/ATT/ATC scores are the AIPW scores of :mod:`paribus.effects.aipw` (the ATT is the
paper's ATTE form, ``p = P(D = 1)`` estimated by the sample share).

**Repeated cross-fitting** (Sec. 3.4): with ``repetitions = S > 1`` the estimator is
run on ``S`` independent splits and aggregated by the median (or mean) of the
estimates, with ``se^2 = median_s(se_s^2 + (theta_s - theta)^2)``
(:mod:`paribus._core.repeated`). ``result_.scores`` then holds the influence values
averaged over the repetitions; diagnostics and ``nuisance_`` describe the first.

**Joint inference**: :meth:`PLR.bootstrap_interval` (and :meth:`IRM.bootstrap_interval`)
give multiplier-bootstrap intervals from the stored influence values, simultaneous
(sup-t) over several treatments (:mod:`paribus._core.multiplier`).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from sklearn.base import is_classifier

from paribus._core.crossfit import Nuisance, cross_fit, make_folds
from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.learners import model_name
from paribus._core.linear_score import LinearScoreSolution, solve_linear_score
from paribus._core.multiplier import max_t_draws
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.params import (
    LEVEL,
    N_JOBS,
    NONE,
    RANDOM_STATE,
    HasMethods,
    Interval,
    Options,
    check_level,
)
from paribus._core.propensity import balancing_weights
from paribus._core.repeated import (
    FOLDS,
    Aggregate,
    Folds,
    Repetition,
    aggregate_repetitions,
    plan_repetitions,
    require_both_arms,
)
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.effects.aipw import aipw_score_elements
from paribus.errors import DataError, ParameterError
from paribus.results import Effect, EffectTable

__all__ = ["IRM", "PLR"]

_REPEATED: dict[str, list[Any]] = {
    "folds": FOLDS,
    "repetitions": [Interval(1, None, integer=True)],
    "aggregation": [Options(("median", "mean"))],
    "level": [LEVEL],
    "random_state": [RANDOM_STATE],
    "n_jobs": [N_JOBS],
}


def _or_default(model: Any, default: Any) -> Any:
    # not `model or default`: an unfitted ensemble's __len__ raises
    return default if model is None else model


def _is_binary(v: np.ndarray) -> bool:
    return bool(np.all((v == 0) | (v == 1)))


def _predicts_proba(model: Any) -> bool:
    # the rule cross_fit applies: classifiers are asked for P(target = 1 | X)
    return is_classifier(model) or hasattr(model, "predict_proba")


def _log_loss(target: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(target * np.log(p) + (1 - target) * np.log(1 - p)))


def _repeat_diagnostics(agg: Aggregate, plan: Sequence[Repetition], how: str) -> dict[str, Any]:
    return {
        "folds": len(plan[0].folds),
        "repetitions": len(plan),
        "aggregation": how,
        "estimates_by_repetition": list(agg.estimates),
        "std_errors_by_repetition": list(agg.std_errors),
    }


def _joint_effects(
    effects: Sequence[Effect],
    cluster: np.ndarray | None,
    n_boot: int,
    level: float,
    method: Literal["normal", "bayes", "wild"],
    random_state: int | None,
) -> list[Effect]:
    """Multiplier-bootstrap intervals, simultaneous over ``effects`` (sup-t band).

    The critical value is a quantile of the studentised maximum, so the intervals are
    ``estimate +- c * std_error`` with each effect's reported error; p-values are the
    single-step max-t adjusted ones, ``P*(max_j |t*_j| >= |t_j|)``.
    """
    scores = np.column_stack([np.asarray(e.scores) for e in effects])
    draws = max_t_draws(scores, n_boot, random_state, method, cluster)
    c = float(np.quantile(draws, level))
    out = []
    for e in effects:
        t = abs(e.estimate / e.std_error)
        out.append(
            dataclasses.replace(
                e,
                ci_lower=e.estimate - c * e.std_error,
                ci_upper=e.estimate + c * e.std_error,
                level=level,
                p_value=float(np.mean(draws >= t)),
                inference="multiplier-bootstrap",
                diagnostics=dict(e.diagnostics)
                | {
                    "critical_value": c,
                    "n_boot": n_boot,
                    "multiplier": method,
                    "joint_over": len(effects),
                },
            )
        )
    return out


class _DoubleML(EffectEstimator):
    """What PLR and IRM share once fitted: bootstrap intervals from the stored scores."""

    _cluster: np.ndarray | None

    def bootstrap_interval(
        self,
        n_boot: int = 1000,
        level: float | None = None,
        method: Literal["normal", "bayes", "wild"] = "normal",
        random_state: int | None = None,
    ) -> Effect | EffectTable:
        """Multiplier-bootstrap interval(s) from the stored influence values; no refit.

        Parameters
        ----------
        n_boot : int, default 1000
            Bootstrap draws.
        level : float, optional
            Defaults to the estimator's ``level``.
        method : {"normal", "bayes", "wild"}, default "normal"
            The multiplier distribution (:mod:`paribus._core.multiplier`).
        random_state : int, optional
            Seeds the multipliers; defaults to the estimator's ``random_state``.

        Returns
        -------
        Effect or EffectTable
            Like ``result_``, with ``inference="multiplier-bootstrap"``. With several
            treatments the intervals hold jointly (sup-t) and the p-values are max-t
            adjusted; the critical value is in ``diagnostics["critical_value"]``.
        """
        result = self.result_
        effects = list(result) if isinstance(result, EffectTable) else [result]
        level = check_level(self.level if level is None else level)
        seed = self.random_state if random_state is None else random_state
        new = _joint_effects(effects, self._cluster, n_boot, level, method, seed)
        if isinstance(result, EffectTable):
            return EffectTable(new, result.labels, result.title)
        return new[0]


# -- PLR ---------------------------------------------------------------------------------------


#: residual treatment variance below this share of Var(D) counts as none (theta not identified)
_MIN_RESIDUAL_SHARE = 1e-10


def _plr_one(
    name: str,
    y: np.ndarray,
    d: np.ndarray,
    X: np.ndarray,
    folds: Folds,
    stream: np.random.SeedSequence,
    outcome: Any,
    treatment_model: Any,
    score: str,
    cluster: np.ndarray | None,
    n_jobs: int | None,
) -> tuple[LinearScoreSolution, dict[str, np.ndarray], float | None]:
    """One repetition of the PLR for one treatment: solution, predictions, theta_init."""
    first, second = stream.spawn(2)
    nuisances = [Nuisance("l", outcome, "outcome"), Nuisance("m", treatment_model, "treatment")]
    pred = cross_fit(nuisances, X, y, d, folds, first, n_jobs)
    v = d - pred["m"]
    # without residual variation psi_a averages to ~0 and theta is not identified
    if not np.mean(v * v) > _MIN_RESIDUAL_SHARE * np.var(d):
        raise DataError(
            f"PLR: treatment {name!r} has no variation left after partialling out the "
            f"covariates (out-of-fold residual variance {np.mean(v * v):.3g} against a "
            f"treatment variance of {np.var(d):.3g}); theta is not identified. Drop the "
            "covariates that determine the treatment."
        )
    psi_a, psi_b = -v * v, v * (y - pred["l"])
    if score == "partialling out":
        return solve_linear_score(psi_a, psi_b, cluster), pred, None
    theta_init = -float(np.mean(psi_b)) / float(np.mean(psi_a))
    g = cross_fit(
        [Nuisance("g", outcome, "outcome")], X, y - theta_init * d, d, folds, second, n_jobs
    )
    pred["g"] = g["g"]
    return solve_linear_score(-v * d, v * (y - pred["g"]), cluster), pred, theta_init


class PLR(_DoubleML):
    """Double ML in the partially linear model: a constant effect of a continuous or binary D.

    ``Y = theta D + g(X) + e`` and ``D = m(X) + v`` (module docstring); ``theta`` is
    reported with ``estimand="ATE"`` (under effect heterogeneity it is a variance-
    weighted average effect, weights ``Var(D | X)``).

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
    outcome_model : regressor, optional
        Learns ``l(X) = E[Y | X]``, and for ``score="IV-type"`` also ``g(X)``. A
        classifier (``predict_proba``) is allowed for a 0/1 outcome with partialling
        out. Default: shallow histogram gradient boosting (as :class:`~paribus.AIPW`).
    treatment_model : regressor or classifier, optional
        Learns ``m(X) = E[D | X]``; a classifier's ``predict_proba`` is used (0/1
        treatment only), a regressor's ``predict`` otherwise. Default: boosting, a
        classifier for a 0/1 treatment and a regressor otherwise.
    score : {"partialling out", "IV-type"}, default "partialling out"
    folds : int or list, default 5
        Cross-fitting folds (stratified by a 0/1 treatment; whole clusters with a
        cluster column). ``folds=1`` fits and predicts on the full sample: the classical
        estimator, valid for parametric nuisances only (with OLS nuisances it is the
        OLS coefficient, Frisch-Waugh-Lovell). Or explicit splits: a list of
        ``(train, test)`` row-index pairs whose test sets partition the rows, or a list
        of such lists, one per repetition.
    repetitions : int, default 1
        Independent sample splits (repeated cross-fitting).
    aggregation : {"median", "mean"}, default "median"
        How repetitions are combined (module docstring).
    level : float, default 0.95
    random_state : int or None
        Seeds the folds and every learner whose ``random_state`` is None.
    n_jobs : int, optional
        Workers for the nuisance fits (every (nuisance, fold) pair is one task); None
        takes ``paribus.config(n_jobs=...)``, by default every core. Learners' own
        threads are bounded so the cores are not oversubscribed. Results are identical
        whatever its value.

    Attributes
    ----------
    result_ : Effect or EffectTable
        An :class:`Effect` (``method="dml-plr"``) with per-unit influence values in
        ``scores``; with several treatments an :class:`EffectTable` labelled by treatment.
    nuisance_ : dict of ndarray
        Out-of-fold ``l``, ``m`` (and ``g`` for IV-type) of the first repetition; with
        several treatments, one such dict per treatment name.

    Notes
    -----
    Several treatments: ``fit(data, treatment=["d1", "d2"], ...)`` estimates one
    partially linear coefficient per treatment, each with the other treatments added
    to the covariates of its nuisance models (Chernozhukov et al. 2018, Sec. 4.1, for
    each component of ``D``), on shared folds; :meth:`bootstrap_interval` then gives
    simultaneous intervals.
    """

    nuisance_: dict[str, Any]

    _method: ClassVar[str] = "dml-plr"
    _binary_treatment: ClassVar[bool] = False
    _estimands: ClassVar[tuple[str, ...]] = ("ATE",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE",))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "treatment_model": [NONE, HasMethods(("fit", "predict"))],
        "score": [Options(("partialling out", "IV-type"))],
        **_REPEATED,
    }

    def __init__(
        self,
        estimand: Literal["ATE"] = "ATE",
        outcome_model: Any = None,
        treatment_model: Any = None,
        score: Literal["partialling out", "IV-type"] = "partialling out",
        folds: int | Sequence[Any] = 5,
        repetitions: int = 1,
        aggregation: Literal["median", "mean"] = "median",
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.treatment_model = treatment_model
        self.score = score
        self.folds = folds
        self.repetitions = repetitions
        self.aggregation = aggregation
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        return [
            _or_default(self.outcome_model, default_regressor()),
            _or_default(self.treatment_model, default_regressor()),
        ]

    def fit(
        self,
        data: Any,
        treatment: str | Sequence[str] | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        *,
        weights: str | None = None,
        cluster: str | None = None,
        dropna: bool = False,
    ) -> PLR:
        """Estimate the effect of ``treatment`` (one column or a list) on ``outcome``.

        With a list of treatments ``result_`` is an :class:`EffectTable` labelled by
        treatment (class docstring). Returns ``self``.
        """
        if treatment is None or isinstance(treatment, str):
            super().fit(
                data,
                treatment,
                outcome,
                covariates,
                weights=weights,
                cluster=cluster,
                dropna=dropna,
            )
            return self
        names = list(treatment)
        if not names or not all(isinstance(t, str) for t in names) or len(set(names)) < len(names):
            raise ParameterError(
                f"PLR.fit: treatment={names!r} is invalid; expected a column name or a list of "
                "distinct column names."
            )
        if len(names) == 1:
            return self.fit(
                data, names[0], outcome, covariates, weights=weights, cluster=cluster, dropna=dropna
            )
        self._validate_settings()
        if isinstance(data, CausalData) and covariates is None:
            covariates = data.roles["covariates"]
        covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
        # one validation (and any dropna) over every role column, then one view per treatment
        first = self._causal_data(
            data, names[0], outcome, covs + names[1:], weights, cluster, dropna
        )
        frame, y_name, c_name = first.frame, first.outcome, first.roles["cluster"]
        views = [first] + [
            self._causal_data(
                frame,
                name,
                y_name,
                covs + [other for other in names if other != name],
                None,
                c_name[0] if c_name else None,
                False,
            )
            for name in names[1:]
        ]
        effects, nuisance = self._run(views)
        self.result_ = EffectTable(effects, names, title=self._method)  # type: ignore[assignment]
        self.nuisance_ = dict(zip(names, nuisance, strict=True))
        self.n_features_in_ = len(covs)
        self.feature_names_in_ = np.asarray(covs, dtype=object)
        return self

    def _estimate(self, data: CausalData) -> Effect:
        effects, nuisance = self._run([data])
        self.nuisance_ = nuisance[0]
        return effects[0]

    def _check_learners(self, y: np.ndarray, d: np.ndarray, name: str) -> tuple[Any, Any]:
        binary = _is_binary(d)
        outcome = _or_default(self.outcome_model, default_regressor())
        if self.treatment_model is not None:
            treat = self.treatment_model
        else:
            treat = default_classifier() if binary else default_regressor()
        if _predicts_proba(treat) and not binary:
            raise ParameterError(
                f"PLR: treatment_model {model_name(treat)} is a classifier but treatment "
                f"{name!r} is not 0/1; pass a regressor."
            )
        if _predicts_proba(outcome):
            if self.score == "IV-type":
                raise ParameterError(
                    f"PLR: score='IV-type' learns g from y - theta*d, so outcome_model "
                    f"{model_name(outcome)} must be a regressor, not a classifier."
                )
            if not _is_binary(y):
                raise ParameterError(
                    f"PLR: outcome_model {model_name(outcome)} is a classifier but the outcome "
                    "is not 0/1; pass a regressor."
                )
        return outcome, treat

    def _run(self, views: Sequence[CausalData]) -> tuple[list[Effect], list[dict[str, np.ndarray]]]:
        y, cluster, n = views[0].y, views[0].column("cluster"), views[0].n_obs
        self._cluster = cluster
        d0 = views[0].t
        single_binary = len(views) == 1 and _is_binary(d0)
        if single_binary and isinstance(self.folds, numbers.Integral):
            views[0].require_arms(max(2, int(self.folds)), f"PLR with folds={self.folds}")

        def split(k: int, seed: int) -> Folds:
            strata = d0 if single_binary else np.zeros(n)
            return make_folds(k, strata, seed, stratify=single_binary, groups=cluster)

        plan = plan_repetitions(
            self.folds, self.repetitions, n, self.random_state, split, cluster, "PLR"
        )
        learners = [self._check_learners(y, v.t, v.treatment) for v in views]
        # runs[j][r]: treatment j, repetition r
        runs: list[list[tuple[LinearScoreSolution, dict[str, np.ndarray], float | None]]] = [
            [] for _ in views
        ]
        for rep in plan:
            streams = rep.seed_root.spawn(len(views))
            for j, (view, (outcome, treat)) in enumerate(zip(views, learners, strict=True)):
                runs[j].append(
                    _plr_one(
                        view.treatment,
                        y,
                        view.t,
                        view.X,
                        rep.folds,
                        streams[j],
                        outcome,
                        treat,
                        self.score,
                        cluster,
                        self.n_jobs,
                    )
                )
        # each repetition's (estimate, influence values) and nuisances, for
        # post-estimation tools that redo a repetition (dml_sensitivity)
        self._repetition_fits: list[tuple[LinearScoreSolution, dict[str, np.ndarray]]] | None = (
            [(r[0], r[1]) for r in runs[0]] if len(views) == 1 else None
        )
        effects, nuisance = [], []
        for view, (outcome, treat), reps in zip(views, learners, runs, strict=True):
            d = view.t
            _, pred, theta_init = reps[0]
            agg = aggregate_repetitions([r[0] for r in reps], self.aggregation)
            v = d - pred["m"]
            diag: dict[str, Any] = {
                "treatment": view.treatment,
                "treatment_kind": "binary" if _is_binary(d) else "continuous",
                "score": self.score,
                **_repeat_diagnostics(agg, plan, self.aggregation),
                "outcome_model": model_name(outcome),
                "treatment_model": model_name(treat),
                "outcome_rmse": float(np.sqrt(np.mean((y - pred["l"]) ** 2))),
                "treatment_rmse": float(np.sqrt(np.mean(v**2))),
                "treatment_residual_share": float(np.mean(v**2) / np.var(d)),
            }
            if _predicts_proba(treat):
                diag["treatment_log_loss"] = _log_loss(d, pred["m"])
            if theta_init is not None:
                diag["theta_initial"] = theta_init
                diag["g_rmse"] = float(np.sqrt(np.mean((y - theta_init * d - pred["g"]) ** 2)))
            effects.append(
                Effect.from_normal(
                    estimand=self.estimand,
                    estimate=agg.estimate,
                    std_error=agg.std_error,
                    level=self.level,
                    n_obs=n,
                    method=self._method,
                    inference="influence-function",
                    diagnostics=diag,
                    scores=agg.influence,
                )
            )
            nuisance.append(pred)
        return effects, nuisance


# -- IRM ---------------------------------------------------------------------------------------


class IRM(_DoubleML):
    """Double ML in the interactive regression model: the ATE, ATT or ATC of a 0/1 treatment.

    ``Y = g(D, X) + U``, ``D = m(X) + V`` with ``D`` binary (Chernozhukov et al. 2018,
    Sec. 5.1). The score is AIPW's (:func:`paribus.effects.aipw.aipw_score_elements`),
    with the same nuisances (outcome models in each arm, a propensity model), clipping
    and overlap diagnostics: on the same folds it is :class:`~paribus.AIPW`'s estimate.
    IRM adds explicit splits and repeated cross-fitting.

    Parameters
    ----------
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
        The ATT is the paper's (and DoubleML's) "ATTE" score.
    outcome_model : regressor, optional
        Learns ``E[Y | X, D = d]`` in each arm. Default: boosting as in AIPW.
    propensity_model : classifier, optional
        Learns ``P(D = 1 | X)`` (``predict_proba``). Default: boosting as in AIPW.
    folds : int or list, default 5
        As in :class:`PLR` (stratified by treatment; ``folds=1`` is the classical,
        non-cross-fitted AIPW).
    repetitions : int, default 1
    aggregation : {"median", "mean"}, default "median"
    clip : float in [0, 0.5), default 0.01
        Propensities are clipped to ``[clip, 1 - clip]`` in the score.
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional
        As in :class:`PLR`.

    Attributes
    ----------
    result_ : Effect
        ``method="dml-irm"``, per-unit influence values in ``scores``.
    nuisance_ : dict of ndarray
        Out-of-fold ``g0``, ``g1`` and (clipped) ``e`` of the first repetition.
    """

    _method: ClassVar[str] = "dml-irm"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE", "ATT", "ATC"))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "propensity_model": [NONE, HasMethods(("fit", "predict_proba"))],
        "clip": [Interval(0, 0.5, closed="left")],
        **_REPEATED,
    }

    def __init__(
        self,
        estimand: Literal["ATE", "ATT", "ATC"] = "ATE",
        outcome_model: Any = None,
        propensity_model: Any = None,
        folds: int | Sequence[Any] = 5,
        repetitions: int = 1,
        aggregation: Literal["median", "mean"] = "median",
        clip: float = 0.01,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.propensity_model = propensity_model
        self.folds = folds
        self.repetitions = repetitions
        self.aggregation = aggregation
        self.clip = clip
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        return [
            _or_default(self.outcome_model, default_regressor()),
            _or_default(self.propensity_model, default_classifier()),
        ]

    def _estimate(self, data: CausalData) -> Effect:
        t, y, X, n = data.t, data.y, data.X, data.n_obs
        cluster = data.column("cluster")
        self._cluster = cluster
        if isinstance(self.folds, numbers.Integral):
            data.require_arms(max(2, int(self.folds)), f"IRM with folds={self.folds}")
        plan = plan_repetitions(
            self.folds,
            self.repetitions,
            n,
            self.random_state,
            lambda k, seed: make_folds(k, t, seed, groups=cluster),
            cluster,
            "IRM",
        )
        require_both_arms(plan, t, "IRM")
        outcome, propensity = self._learners()
        nuisances = [
            Nuisance("g0", outcome, "outcome", "control"),
            Nuisance("g1", outcome, "outcome", "treated"),
            Nuisance("e", propensity, "treatment"),
        ]
        solutions: list[LinearScoreSolution] = []
        first: dict[str, np.ndarray] = {}
        self._repetition_fits: list[tuple[LinearScoreSolution, dict[str, np.ndarray]]] = []
        for r, rep in enumerate(plan):
            pred = cross_fit(nuisances, X, y, t, rep.folds, rep.seed_root, self.n_jobs)
            e = np.clip(pred["e"], self.clip, 1 - self.clip) if self.clip > 0 else pred["e"]
            psi_a, psi_b = aipw_score_elements(self.estimand, y, t, pred["g0"], pred["g1"], e)
            solutions.append(solve_linear_score(psi_a, psi_b, cluster))
            self._repetition_fits.append(
                (solutions[-1], {"g0": pred["g0"], "g1": pred["g1"], "e": e})
            )
            if r == 0:
                first = {"g0": pred["g0"], "g1": pred["g1"], "e": e, "e_raw": pred["e"]}
        agg = aggregate_repetitions(solutions, self.aggregation)
        e, e_raw = first["e"], first.pop("e_raw")
        self.nuisance_ = first
        clipped = float(np.mean((e_raw < self.clip) | (e_raw > 1 - self.clip)))
        diag = overlap_diagnostics(
            e, t, balancing_weights(e, t, self.estimand), share_clipped=clipped
        )
        diag |= _repeat_diagnostics(agg, plan, self.aggregation) | {
            "clip": self.clip,
            "outcome_model": model_name(outcome),
            "propensity_model": model_name(propensity),
            "outcome_rmse_treated": float(np.sqrt(np.mean((y - first["g1"])[t == 1] ** 2))),
            "outcome_rmse_control": float(np.sqrt(np.mean((y - first["g0"])[t == 0] ** 2))),
            "propensity_log_loss": _log_loss(t, e_raw),
        }
        warn_if_poor_overlap(diag, "IRM", self.estimand)
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=agg.estimate,
            std_error=agg.std_error,
            level=self.level,
            n_obs=n,
            method=self._method,
            inference="influence-function",
            diagnostics=diag,
            scores=agg.influence,
        )
