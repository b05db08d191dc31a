"""Front-door adjustment (Pearl 1995): an effect through mediators despite latent confounding.

When mediators ``M`` intercept every directed path from a binary treatment ``X``
to ``Y``, nothing confounds ``X`` and ``M``, and ``X`` blocks every back-door path
from ``M`` to ``Y``,

    E[Y | do(X = x)] = sum_m P(m | x) sum_x' P(x') E[Y | m, x'],

which the plug-in estimator evaluates as ``mean over units with X = x`` of
``sum_x' P(X = x') mu(M_i, x')`` with ``mu`` any regression of ``Y`` on
``(M, X)``. With a linear ``mu`` the ATE is the product-of-coefficients
``b_M * (E[M | X=1] - E[M | X=0])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
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
    Satisfies,
)
from paribus._core.random import child_seeds, seed_sequence
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.errors import ParameterError
from paribus.results import Effect

__all__ = ["FrontDoor"]


def frontdoor_means(
    model: Any, mediators: np.ndarray, t: np.ndarray, y: np.ndarray, seed: int
) -> tuple[float, float]:
    """Plug-in ``(E[Y | do(X=1)], E[Y | do(X=0)])`` with ``model`` as ``E[Y | M, X]``."""
    mu = seeded_clone(model, seed).fit(np.column_stack([mediators, t]), y)
    p1 = t.mean()
    ones, zeros = np.ones_like(t), np.zeros_like(t)
    mixed = p1 * mu.predict(np.column_stack([mediators, ones])) + (1 - p1) * mu.predict(
        np.column_stack([mediators, zeros])
    )
    return float(mixed[t == 1].mean()), float(mixed[t == 0].mean())


class FrontDoor(EffectEstimator):
    """Average effect of a binary treatment by front-door adjustment through ``mediators``.

    Parameters
    ----------
    mediators : list of str
        The front-door set (see :func:`paribus.graph.frontdoor.frontdoor_sets`).
    estimand : {"ATE"}
    outcome_model : regressor, optional
        ``E[Y | M, X]``; default standardised linear regression.
    n_bootstrap : int, default 200
        The standard error is the bootstrap SD of the whole procedure.
    level, random_state, n_jobs, show_progress
        As elsewhere.
    """

    _method: ClassVar[str] = "frontdoor"
    _estimands: ClassVar[tuple[str, ...]] = ("ATE",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "mediators": [
            Satisfies(
                lambda v: (
                    len(v) > 0 and all(isinstance(m, str) for m in v) and not isinstance(v, str)
                ),
                "a non-empty list of column names",
            )
        ],
        "estimand": [Options(("ATE",))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "n_bootstrap": [Interval(20, None, integer=True)],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
        "n_jobs": [N_JOBS],
        "show_progress": [NONE, Options((True, False))],
    }

    def __init__(
        self,
        mediators: Sequence[str] = (),
        estimand: Literal["ATE"] = "ATE",
        outcome_model: Any = None,
        n_bootstrap: int = 200,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.mediators = mediators
        self.estimand = estimand
        self.outcome_model = outcome_model
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.show_progress = show_progress

    def _model(self) -> Any:
        if self.outcome_model is None:
            return make_pipeline(StandardScaler(), LinearRegression())
        return self.outcome_model

    def _learners(self) -> list[Any]:
        return [self._model()]

    def fit(
        self,
        data: Any,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> FrontDoor:
        """Estimate the effect; the mediators come from the ``mediators`` setting."""
        if covariates:
            raise ParameterError(
                "FrontDoor uses no covariates: name the front-door set with "
                "FrontDoor(mediators=[...])."
            )
        self._validate_settings()
        super().fit(data, treatment, outcome, list(self.mediators), **kwargs)
        return self

    def _estimate(self, data: CausalData) -> Effect:
        t, y, m = data.t, data.y, data.X
        model = self._model()
        root = seed_sequence(self.random_state)
        fit_seed = child_seeds(root, 1)[0]
        mu1, mu0 = frontdoor_means(model, m, t, y, fit_seed)

        def statistic(idx: np.ndarray, seed: int) -> float:
            b1, b0 = frontdoor_means(model, m[idx], t[idx], y[idx], seed)
            return b1 - b0

        draws = bootstrap_draws(
            statistic,
            self.n_bootstrap,
            root.spawn(1)[0],
            t,
            data.column("cluster"),
            self.n_jobs,
            self.show_progress,
        )
        ok = draws[np.isfinite(draws)]
        diagnostics = {
            "mediators": list(self.mediators),
            "outcome_model": model_name(model),
            "mean_do_treated": mu1,
            "mean_do_control": mu0,
            "n_bootstrap": self.n_bootstrap,
            "n_failed": int(draws.size - ok.size),
        }
        return Effect.from_normal(
            estimand="ATE",
            estimate=mu1 - mu0,
            std_error=float(np.std(ok, ddof=1)),
            level=self.level,
            n_obs=t.size,
            method=self._method,
            inference="bootstrap",
            diagnostics=diagnostics,
        )
