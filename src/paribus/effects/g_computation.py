"""G-computation: the parametric g-formula / plug-in outcome-model estimator (Robins 1986)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from sklearn.base import is_classifier
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from paribus._core.bootstrap import bootstrap_draws
from paribus._core.learners import model_name, seeded_clone
from paribus._core.params import (
    LEVEL,
    N_JOBS,
    NONE,
    RANDOM_STATE,
    HasMethods,
    Interval,
    Options,
)
from paribus._core.random import child_seeds, seed_sequence
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.errors import DataError, ParibusWarning
from paribus.results import Effect

__all__ = ["GComputation"]

#: fewest bootstrap replicates accepted: fewer give a standard error too noisy to report
MIN_BOOTSTRAP = 20
#: warn when more than this share of bootstrap replicates could not be fitted
MAX_FAILED_SHARE = 0.05


@dataclass(frozen=True)
class _GFormula:
    """Fit the outcome model(s) and average ``mu1(x) - mu0(x)`` over the target units."""

    learner: Any
    separate_models: bool
    estimand: str

    def predict_arms(
        self, X: np.ndarray, y: np.ndarray, t: np.ndarray, seeds: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted potential outcomes ``(mu1, mu0)`` for every row of ``X``."""
        if self.separate_models:
            treated = t == 1
            m1 = seeded_clone(self.learner, seeds[0]).fit(X[treated], y[treated])
            m0 = seeded_clone(self.learner, seeds[1]).fit(X[~treated], y[~treated])
            return _predict(m1, X), _predict(m0, X)
        # one model with the treatment as the last feature, evaluated at t = 1 and t = 0
        model = seeded_clone(self.learner, seeds[0]).fit(np.column_stack([X, t]), y)
        ones = np.ones((X.shape[0], 1))
        return (_predict(model, np.hstack([X, ones])), _predict(model, np.hstack([X, 0 * ones])))

    def effect(self, mu1: np.ndarray, mu0: np.ndarray, t: np.ndarray) -> float:
        rows = {"ATE": np.ones(t.size, dtype=bool), "ATT": t == 1, "ATC": t == 0}[self.estimand]
        return float(np.mean(mu1[rows] - mu0[rows]))


def _predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Regressors predict the outcome; classifiers the probability that it is 1."""
    if is_classifier(model):
        classes = list(model.classes_)
        return np.asarray(model.predict_proba(X)[:, classes.index(1)], dtype=float)
    return np.asarray(model.predict(X), dtype=float).reshape(-1)


@dataclass(frozen=True)
class _Replicate:
    """One bootstrap replicate of the whole procedure: refit on the resample, re-average."""

    formula: _GFormula
    X: np.ndarray
    y: np.ndarray
    t: np.ndarray

    def __call__(self, idx: np.ndarray, seed: int) -> float:
        s1, s0 = np.random.SeedSequence(seed).generate_state(2)
        X, y, t = self.X[idx], self.y[idx], self.t[idx]
        try:
            mu1, mu0 = self.formula.predict_arms(X, y, t, (int(s1), int(s0)))
            return self.formula.effect(mu1, mu0, t)
        except (ValueError, ArithmeticError, RuntimeError):
            # a learner that cannot be fitted on this resample (e.g. one outcome class in an
            # arm); counted as failed in the diagnostics rather than aborting the bootstrap
            return math.nan


class GComputation(EffectEstimator):
    """Average effect by g-computation: predict both potential outcomes, average the difference.

    With outcome models ``mu_a(x) = E[Y | T = a, X = x]`` fitted by ``outcome_model``,
    the estimate is the plug-in g-formula (Robins 1986)

    ``tau = mean over target units i of (mu1(x_i) - mu0(x_i))``

    where the target units are all units (ATE), the treated (ATT) or the controls
    (ATC). With ``separate_models=True`` one model is fitted per arm (the
    "T-learner"); with ``False`` a single model learns ``E[Y | T, X]`` with the
    treatment as an extra feature and is evaluated at ``T = 1`` and ``T = 0``.
    With the default :class:`~sklearn.linear_model.LinearRegression` and separate
    models the estimate equals :class:`~paribus.effects.regression.RegressionAdjustment`
    with ``interactions=True`` (Lin 2013). A classifier as ``outcome_model`` (a 0/1
    outcome) is evaluated through ``predict_proba``, giving a risk difference.

    Identification rests on no unmeasured confounding and overlap; consistency of
    the estimate rests on the outcome model being correctly specified (no
    propensity model protects it, unlike AIPW).

    The standard error is the standard deviation of the estimate over
    ``n_bootstrap`` nonparametric bootstrap replicates of the whole procedure
    (models refitted on every resample, Efron & Tibshirani 1993), drawn within
    treatment arms, or by whole clusters when ``fit`` gets a ``cluster`` column;
    the interval is normal with that standard error. Replicates whose models
    cannot be fitted are dropped and counted in ``diagnostics["n_failed"]``.

    Parameters
    ----------
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
    outcome_model : regressor or classifier, optional
        Any object with ``fit``/``predict`` (scikit-learn API); cloned before every
        fit. Default: standardised :class:`~sklearn.linear_model.LinearRegression`. Models that
        handle missing values natively (e.g. ``HistGradientBoostingRegressor``)
        accept NaN covariates.
    separate_models : bool, default True
        One model per treatment arm (True) or one model with the treatment as a
        feature (False; with a linear model this assumes a constant effect).
    n_bootstrap : int, default 200
        Bootstrap replicates; at least 20 (fewer give a standard error too noisy
        to report).
    level : float, default 0.95
    random_state : int, optional
        Seeds the resampling and every unset ``random_state`` of the outcome
        models; the same seed gives the same result bit for bit for any ``n_jobs``.
    n_jobs : int, optional
        Workers for the bootstrap replicates; None takes ``paribus.config(n_jobs=...)``.
        Learners' own threads are bounded so the cores are not oversubscribed.
    show_progress : bool, optional
        Draw a progress bar over the replicates; None draws one only on an
        interactive terminal.

    Attributes
    ----------
    result_ : Effect
        ``inference="bootstrap"``; ``scores`` is None.
    bootstrap_draws_ : ndarray of shape (n_bootstrap,)
        The replicate estimates (NaN for failed replicates).

    References
    ----------
    Robins, J. (1986). A new approach to causal inference in mortality studies with a
    sustained exposure period. Mathematical Modelling 7, 1393-1512.
    """

    _method: ClassVar[str] = "g-computation"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE", "ATT", "ATC"))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "separate_models": [Options((True, False))],
        "n_bootstrap": [Interval(MIN_BOOTSTRAP, None, integer=True)],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
        "n_jobs": [N_JOBS],
        "show_progress": [NONE, Options((True, False))],
    }

    def __init__(
        self,
        estimand: Literal["ATE", "ATT", "ATC"] = "ATE",
        outcome_model: Any = None,
        separate_models: bool = True,
        n_bootstrap: int = 200,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.separate_models = separate_models
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.show_progress = show_progress

    def _learner(self) -> Any:
        if self.outcome_model is None:
            # standardising first: scikit-learn's LinearRegression truncates small singular
            # values (tol=1e-6), which gave a wrong fit on Lalonde's earnings-squared terms
            return make_pipeline(StandardScaler(), LinearRegression())
        return self.outcome_model

    def _learners(self) -> list[Any]:
        return [self._learner()]

    def _estimate(self, data: CausalData) -> Effect:
        name = type(self).__name__
        t, y, X = data.t, data.y, data.X
        cluster = data.column("cluster")
        learner = self._learner()
        if is_classifier(learner) and not np.isin(y, (0.0, 1.0)).all():
            raise DataError(
                f"{name}: outcome_model {type(learner).__name__} is a classifier, so "
                f"outcome column {data.outcome!r} must be 0/1; pass a regressor for "
                "a continuous outcome."
            )
        if X.shape[1] == 0:
            X = np.zeros((t.size, 1))  # no covariates: each arm's model learns its mean
        formula = _GFormula(learner, bool(self.separate_models), self.estimand)
        fit_root, boot_root = seed_sequence(self.random_state).spawn(2)
        s1, s0 = child_seeds(fit_root, 2)
        mu1, mu0 = formula.predict_arms(X, y, t, (s1, s0))
        estimate = formula.effect(mu1, mu0, t)

        draws = bootstrap_draws(
            _Replicate(formula, X, y, t),
            self.n_bootstrap,
            boot_root,
            strata=t,
            cluster=cluster,
            n_jobs=self.n_jobs,
            show_progress=self.show_progress,
        )
        finite = draws[np.isfinite(draws)]
        n_failed = int(draws.size - finite.size)
        if finite.size < 2:
            raise DataError(
                f"{name}: only {finite.size} of {draws.size} bootstrap replicates "
                "could be fitted, so no standard error can be computed; the outcome "
                "model fails on resamples of these data. Use a simpler "
                "outcome_model or more data."
            )
        if n_failed > MAX_FAILED_SHARE * draws.size:
            warnings.warn(
                f"{name}: {n_failed} of {draws.size} bootstrap replicates could not be "
                "fitted and were dropped; the standard error rests on the rest and may "
                "be too small. Use a simpler outcome_model or more data.",
                ParibusWarning,
                stacklevel=3,
            )
        draws.setflags(write=False)
        self.bootstrap_draws_ = draws

        observed = np.where(t == 1, mu1, mu0)
        diagnostics: dict[str, Any] = {
            "n_bootstrap": int(self.n_bootstrap),
            "n_failed": n_failed,
            "outcome_model": model_name(learner),
            "separate_models": bool(self.separate_models),
            "n_treated": int((t == 1).sum()),
            "n_control": int((t == 0).sum()),
            "n_clusters": int(np.unique(cluster).size) if cluster is not None else None,
        }
        for arm, rows in (("treated", t == 1), ("control", t == 0)):
            diagnostics.update(_fit_quality(y[rows], observed[rows], arm))
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=estimate,
            std_error=float(np.std(finite, ddof=1)),
            level=self.level,
            n_obs=t.size,
            method=self._method,
            inference="bootstrap",
            diagnostics=diagnostics,
        )


def _fit_quality(y: np.ndarray, fitted: np.ndarray, arm: str) -> dict[str, float]:
    """In-sample R^2 and RMSE of the outcome model on one arm."""
    sse = float(np.sum((y - fitted) ** 2))
    sst = float(np.sum((y - y.mean()) ** 2))
    return {
        f"r_squared_{arm}": 1 - sse / sst if sst > 0 else math.nan,
        f"rmse_{arm}": math.sqrt(sse / y.size),
    }
