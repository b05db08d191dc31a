"""The final stage of the R- and DR-learners: linear (analytic intervals) or any regressor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from paribus._core.inference import if_std_error
from paribus._core.ols import ols
from paribus.effects.meta._learn import fit_on

__all__ = ["ModelCATE", "fit_model_cate", "linear_ate", "linear_coefficients"]


def linear_coefficients(
    design: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``target`` on ``design``: coefficients and HC0 influence values (n, p).

    HC0 (no small-sample factor), the large-sample sandwich; EconML's linear final stages
    default to HC1, which is HC0 times ``sqrt(n / (n - k))``.
    """
    fit = ols(design, target, weights, cov_type="HC0")
    return fit.coef, fit.influence


@dataclass(frozen=True)
class ModelCATE:
    """``tau_k(x)`` from one fitted regressor per treated level."""

    models: tuple[Any, ...]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(X) for m in self.models])


def fit_model_cate(
    learner: Any,
    X: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    seeds: list[int],
    rows: np.ndarray | None = None,
) -> ModelCATE:
    """One clone of ``learner`` per column of ``targets`` (optionally weighted, on ``rows``)."""
    models = []
    for k, seed in enumerate(seeds):
        w = None if weights is None else weights[:, k]
        models.append(fit_on(learner, X, targets[:, k], rows, seed, w))
    return ModelCATE(tuple(models))


def linear_ate(
    coef: np.ndarray, influence: np.ndarray, X: np.ndarray, cluster: np.ndarray | None
) -> tuple[float, float, np.ndarray]:
    """Mean of ``[1, x_i] @ coef`` over the sample, its error and influence values.

    ``phi_i = (tau_i - mean tau) + mean([1, x]) @ phi_beta_i`` (delta method): the
    spread of the covariates plus the coefficients' estimation error.
    """
    D = np.column_stack([np.ones(X.shape[0]), X])
    tau = D @ coef
    phi = (tau - tau.mean()) + influence @ D.mean(axis=0)
    return float(tau.mean()), if_std_error(phi, cluster), phi
