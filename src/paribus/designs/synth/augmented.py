"""AugmentedSyntheticControl: ridge-augmented synthetic control (Ben-Michael et al. 2021).

Ben-Michael, Feller & Rothstein (2021), "The Augmented Synthetic Control Method",
JASA 116(536), 1789-1803. With ``X0`` the donors' pre-period outcomes (``J x T0``),
``X1`` the treated unit's and ``gamma_scm`` the synthetic-control weights (simplex,
fitted to the pre-period outcomes), the ridge-augmented estimate of the treated unit's
untreated outcome in a post period ``t`` is (eq. 5)

    Y0_hat_1t = sum_j gamma_scm_j Y_jt + (X1 - X0' gamma_scm)' eta_hat_t,

the synthetic control plus a ridge regression of ``Y_t`` on the centred pre-period
outcomes applied to the remaining imbalance. Equivalently (Lemma 1) it is a weighting
estimator ``sum_j gamma_aug_j Y_jt`` with

    gamma_aug = gamma_scm + Xc (Xc' Xc + lambda I)^(-1) (X1 - X0' gamma_scm),

``Xc`` the pre-period outcomes centred by the donor means. These weights sum to one
but may be negative: they solve ``min ||X1c - Xc' g||^2 + lambda ||g - gamma_scm||^2``,
trading pre-period balance against extrapolation away from the simplex. As
``lambda -> infinity`` the estimator is the synthetic control.

``lambda`` is chosen by cross validation on the treated unit's pre-period as in the
paper (section 4.3): each pre-period ``s`` is held out in turn, the synthetic control
and ridge weights are fitted on the other pre-periods, and the error is the treated
unit's squared gap in period ``s``; ``lambda`` is the largest value of a log-spaced
grid (20 values from the largest squared singular value of ``Xc`` down by a factor
``1e-8``) whose mean error is within one standard error of the smallest.

The standard error is the leave-one-donor-out jackknife (the paper's ``jackknife``
inference): each donor is dropped in turn and the synthetic control and ridge weights
refitted with ``lambda`` held fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.params import NONE, Interval, Options, check_level, validate_params
from paribus.designs.synth._data import SynthPanel, synth_panel
from paribus.designs.synth.sdid import simplex_least_squares
from paribus.errors import NotFittedError, ParameterError
from paribus.results import Effect

__all__ = ["AugmentedSyntheticControl", "ridge_augmented_weights"]

_N_LAMBDA = 20
_LAMBDA_MIN_RATIO = 1e-8


def ridge_augmented_weights(
    x0: np.ndarray, x1: np.ndarray, scm: np.ndarray, lambda_: float
) -> np.ndarray:
    """Ridge ASCM weights ``gamma_scm + Xc (Xc'Xc + lambda I)^-1 (X1 - X0' gamma_scm)``.

    Parameters
    ----------
    x0 : ndarray (J, T0)
        Donors' pre-period outcomes.
    x1 : ndarray (T0,)
        Treated unit's pre-period outcomes.
    scm : ndarray (J,)
        Synthetic-control weights.
    lambda_ : float
        Ridge penalty (positive; ``inf`` returns ``scm``).
    """
    if math.isinf(lambda_):
        return scm.copy()
    xc = x0 - x0.mean(axis=0)
    imbalance = x1 - x0.T @ scm
    gram = xc.T @ xc + lambda_ * np.eye(xc.shape[1])
    return scm + xc @ np.linalg.solve(gram, imbalance)


def _scm_weights(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Synthetic-control weights on the simplex fitted to the pre-period outcomes."""
    return simplex_least_squares(x0.T, x1)


def _lambda_grid(x0: np.ndarray) -> np.ndarray:
    xc = x0 - x0.mean(axis=0)
    top = float(np.linalg.svd(xc, compute_uv=False)[0] ** 2)
    return np.geomspace(top, top * _LAMBDA_MIN_RATIO, _N_LAMBDA)


def _cross_validate(x0: np.ndarray, x1: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Squared held-out errors: rows are the held-out pre-periods, columns ``grid``."""
    t0 = x0.shape[1]
    errors = np.empty((t0, grid.size))
    for s in range(t0):
        train0, train1 = np.delete(x0, s, axis=1), np.delete(x1, s)
        scm = _scm_weights(train0, train1)
        for k, lam in enumerate(grid):
            w = ridge_augmented_weights(train0, train1, scm, float(lam))
            errors[s, k] = (x1[s] - w @ x0[:, s]) ** 2
    return errors


def _one_se_choice(grid: np.ndarray, errors: np.ndarray) -> tuple[float, pd.DataFrame]:
    mean = errors.mean(axis=0)
    se = errors.std(axis=0, ddof=1) / math.sqrt(errors.shape[0])
    best = int(np.argmin(mean))
    ok = mean <= mean[best] + se[best]
    chosen = float(grid[ok].max())
    table = pd.DataFrame({"lambda": grid, "cv_error": mean, "cv_se": se})
    return chosen, table


@dataclass(frozen=True)
class _Arrays:
    x0: np.ndarray  # (J, T0)
    x1: np.ndarray  # (T0,)
    y0: np.ndarray  # (J, T)
    y1: np.ndarray  # (T,)
    pre: np.ndarray  # (T,) bool


def _arrays(panel: SynthPanel) -> _Arrays:
    return _Arrays(
        x0=panel.y0[panel.pre].T.copy(),
        x1=panel.y1[panel.pre].copy(),
        y0=panel.y0.T.copy(),
        y1=panel.y1.copy(),
        pre=panel.pre,
    )


def _weights(arr: _Arrays, lambda_: float) -> tuple[np.ndarray, np.ndarray]:
    scm = _scm_weights(arr.x0, arr.x1)
    return scm, ridge_augmented_weights(arr.x0, arr.x1, scm, lambda_)


def _att(arr: _Arrays, w: np.ndarray) -> float:
    gaps = arr.y1 - w @ arr.y0
    return float(gaps[~arr.pre].mean())


def _jackknife(arr: _Arrays, lambda_: float) -> np.ndarray:
    """Leave-one-donor-out ATTs with ``lambda`` fixed."""
    n = arr.x0.shape[0]
    out = np.empty(n)
    for j in range(n):
        keep = np.delete(np.arange(n), j)
        sub = _Arrays(arr.x0[keep], arr.x1, arr.y0[keep], arr.y1, arr.pre)
        out[j] = _att(sub, _weights(sub, lambda_)[1])
    return out


class AugmentedSyntheticControl(BaseEstimator):
    """Ridge-augmented synthetic control for one treated unit.

    Parameters
    ----------
    lambda_ : float, optional
        Ridge penalty; by default chosen by cross validation (see the module notes).
        ``float("inf")`` gives the synthetic control.
    progfunc : {"ridge", "none"}, default "ridge"
        Outcome model of the augmentation; ``"none"`` is the plain synthetic control.
    level : float, default 0.95

    Attributes
    ----------
    result_ : Effect
        Average effect on the treated unit over the post-periods, jackknife error.
        ``diagnostics`` holds ``lambda``, the pre-period L2 imbalance of the synthetic
        control and of the augmented weights, and the numbers of donors and periods.
    weights_ : Series
        Augmented donor weights (sum to one, may be negative).
    scm_weights_ : Series
        Synthetic-control weights (simplex).
    chosen_lambda_ : float
        The penalty used (``inf`` for ``progfunc="none"``).
    cv_results_ : DataFrame or None
        ``lambda``, ``cv_error``, ``cv_se`` of the cross validation (None when
        ``lambda_`` was given or ``progfunc="none"``).
    gaps_ : Series
        Treated minus augmented synthetic control in every period.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "lambda_": [NONE, Interval(0, None, closed="neither")],
        "progfunc": [Options(("ridge", "none"))],
        "level": [Interval(0, 1, closed="neither")],
    }

    def __init__(
        self, lambda_: float | None = None, progfunc: str = "ridge", level: float = 0.95
    ) -> None:
        self.lambda_ = lambda_
        self.progfunc = progfunc
        self.level = level

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        unit: str,
        time: str,
        treated_unit: Any,
        treatment_start: Any,
    ) -> AugmentedSyntheticControl:
        """Estimate the effect on ``treated_unit`` from ``treatment_start`` on.

        Parameters
        ----------
        data : dataframe
            Balanced long panel: one row per unit and period; every unit other than
            ``treated_unit`` is a donor.
        outcome, unit, time : str
            Column names (outcome and time numeric).
        treated_unit : label
        treatment_start : period
            First treated period (at least 2 periods before it).
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        level = check_level(self.level)
        panel = synth_panel(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            treated_unit=treated_unit,
            treatment_start=treatment_start,
        )
        arr = _arrays(panel)
        cv: pd.DataFrame | None = None
        if self.progfunc == "none":
            lam = math.inf
        elif self.lambda_ is not None:
            lam = float(self.lambda_)
        else:
            grid = _lambda_grid(arr.x0)
            lam, cv = _one_se_choice(grid, _cross_validate(arr.x0, arr.x1, grid))
        scm, w = _weights(arr, lam)
        att = _att(arr, w)
        reps = _jackknife(arr, lam)
        n = reps.size
        se = math.sqrt((n - 1) / n * float(np.sum((reps - reps.mean()) ** 2)))
        donors = list(panel.donors)
        self.weights_ = pd.Series(w, index=donors, name="weight")
        self.scm_weights_ = pd.Series(scm, index=donors, name="weight")
        self.chosen_lambda_ = lam
        self.cv_results_ = cv
        self.gaps_ = pd.Series(arr.y1 - w @ arr.y0, index=panel.times, name="gap")
        self.panel_ = panel
        self.treated_ = pd.Series(arr.y1, index=panel.times, name=str(panel.treated))
        self.synthetic_ = pd.Series(w @ arr.y0, index=panel.times, name="synthetic")
        self.result_ = Effect.from_normal(
            estimand="ATT",
            estimate=att,
            std_error=se,
            level=level,
            n_obs=n + 1,
            method="augmented-synthetic-control"
            if self.progfunc == "ridge"
            else "synthetic-control",
            inference="jackknife",
            diagnostics={
                "lambda": lam if math.isfinite(lam) else None,
                "l2_imbalance_scm": float(np.linalg.norm(arr.x1 - arr.x0.T @ scm)),
                "l2_imbalance": float(np.linalg.norm(arr.x1 - arr.x0.T @ w)),
                "n_donors": n,
                "n_pre": int(panel.pre.sum()),
                "n_post": int((~panel.pre).sum()),
                "treated_unit": panel.treated,
            },
        )
        return self

    def plot(self, kind: str = "path", ax: Any = None) -> Any:
        """``"path"``: treated and augmented synthetic paths; ``"gap"``: their difference."""
        from paribus.designs.synth.plots import gap_plot, path_plot

        plots = {"path": path_plot, "gap": gap_plot}
        if kind not in plots:
            raise ParameterError(f"kind={kind!r} is invalid; expected 'path' or 'gap'.")
        return plots[kind](self, ax=ax)

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
