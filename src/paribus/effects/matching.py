"""Nearest-neighbour matching (Abadie & Imbens 2006, 2011; Rosenbaum & Rubin 1985).

Each target unit ``i`` is compared with the ``M`` units of the other arm that are
closest to it, ``J(i)``; their mean outcome imputes the missing potential
outcome. The effect is the mean over target units of ``Yhat1_i - Yhat0_i``, with
``Yhat_w(i) = Y_i`` for a unit's own arm ``w`` and, for the other arm,

    Yhat_w(i) = 1/|J(i)| sum_{j in J(i)} Y_j                        (plain)
    Yhat_w(i) = 1/|J(i)| sum_{j in J(i)} [Y_j + mu_w(X_i) - mu_w(X_j)]  (bias-corrected)

where ``mu_w`` is the least-squares regression of ``Y`` on the covariates among
the units of arm ``w`` (Abadie & Imbens 2011). The standard error is Abadie &
Imbens' (2006, Theorem 7) estimator of the variance around the *population*
effect, written for any set of matches: with ``R`` the matched target units,
``N = |R|``, ``a_i = 1[i in R]``, ``w_i = sum_{i': i in J(i')} 1/|J(i')|`` and
``u_i = sum_{i': i in J(i')} 1/|J(i')|^2``,

    V = 1/N^2 sum_{i in R} (Yhat1_i - Yhat0_i - tau)^2
        + 1/N^2 sum_i [(a_i + w_i)^2 - a_i - u_i] sigma^2(X_i, W_i).

With ``M`` matches per unit (``w_i = K_i/M``, ``u_i = K_i/M^2``, ``K_i`` the number
of times unit i is used) this is AI's ``sum[(K_i/M)^2 + (2M-1)/M K_i/M] sigma_i^2``
for the ATE and ``sum_{controls} K_i (K_i - 1)/M^2 sigma_i^2`` for the ATT. (The
estimate is the linear form ``1/N sum_i (2 W_i - 1)(a_i + w_i) Y_i`` plus fixed
terms; the first sum already holds ``a_i + u_i`` times each ``sigma_i^2`` besides
the spread of the unit effects, and the second tops it up to the conditional
variance ``sum_i (a_i + w_i)^2 sigma_i^2``.) The bias-corrected estimator uses the
same formula with its own imputations (Abadie & Imbens 2011). The conditional
variance is estimated by matching within the arm:
``sigma^2_i = J/(J+1) (Y_i - mean of its J nearest same-arm neighbours' Y)^2``.

Identification rests on unconfoundedness given the covariates and overlap.
Neighbours are found by a sort (scores) or a k-d tree (Mahalanobis) in
:mod:`paribus._core.match_kernels`, in ``O(n log n)``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logit

from paribus._core.logit import Logit
from paribus._core.match_kernels import greedy, nearest
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
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
from paribus._core.propensity import balancing_weights, fit_propensity
from paribus._core.random import child_seeds, seed_sequence
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.errors import DataError, DataWarning, OverlapError, ParameterError
from paribus.results import Effect

__all__ = ["Matching"]


def _names_or_none(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, str) for v in value)
    )


class Matching(EffectEstimator):
    """Average effect by nearest-neighbour matching, with Abadie–Imbens standard errors.

    Every unit of the target population (all units for the ATE, the treated for
    the ATT, the controls for the ATC) is matched to its ``n_neighbors`` nearest
    units of the other arm, whose mean outcome stands in for its missing
    potential outcome (see the module docstring for the estimator and its
    variance). Identification needs unconfoundedness given the covariates and
    overlap; matching on the propensity score further needs the propensity model
    to be right (Rosenbaum & Rubin 1983).

    Parameters
    ----------
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
    distance : {"propensity", "logit", "mahalanobis"}, default "propensity"
        What "nearest" means. ``"propensity"``: ``|e(X_i) - e(X_j)|`` with ``e``
        the fitted ``P(T=1|X)``; ``"logit"``: the same on ``log(e / (1 - e))``;
        ``"mahalanobis"``: ``sqrt((X_i - X_j)' S^{-1} (X_i - X_j))`` with ``S`` the
        pooled within-arm covariance ``(S_treated + S_control) / 2``, computed as a
        Euclidean distance between covariates whitened by the Cholesky factor of ``S``.
    propensity_model : classifier, optional
        Any scikit-learn classifier with ``predict_proba``, cloned before fitting
        (its ``random_state``, when None, is drawn from ``random_state``).
        Default: unpenalized logistic regression (:class:`paribus.Logit`) on the
        covariates. Ignored for ``distance="mahalanobis"``.
    n_neighbors : int, default 1
        ``M``, the matches per target unit. Exactly ``M`` are taken: ties at the
        ``M``-th distance go to the unit that comes first in the data (no tie
        expansion), so the estimate is deterministic for a given row order.
    replace : bool, default True
        Match with replacement (a unit may serve as a match many times; the
        setting the Abadie–Imbens theory covers). ``False``: greedy matching —
        target units, in a random order drawn from ``random_state``, each take
        their ``M`` nearest units not already taken. The ATT then needs
        ``M * n_treated <= n_control`` (the ATC the reverse, the ATE both, i.e.
        equal arms and ``M = 1``); otherwise a ParameterError is raised.
    caliper : float, optional
        Only counterparts within ``caliper`` standard deviations of the matching
        distance qualify: the pooled within-arm SD ``sqrt((s1^2 + s0^2) / 2)`` of
        the (logit) score (Rosenbaum & Rubin 1985; Austin 2011), or whitened units
        for Mahalanobis. Target units with no qualifying counterpart are dropped
        (a :class:`~paribus.errors.DataWarning` says how many): the estimand
        becomes the effect on the matched target units.
    exact : list of str, optional
        Covariates that must match exactly; matching runs within their cells
        and target units in cells without counterparts are dropped, as above.
    bias_correction : bool, default False
        Abadie & Imbens (2011) regression adjustment of each match, which
        removes the bias of order ``N^{-1/k}`` that matching on ``k`` continuous
        covariates leaves.
    variance_neighbors : int, default 1
        ``J``, same-arm neighbours (same distance, same exact cell) in the
        conditional-variance estimate.
    level : float, default 0.95
    random_state : int or None
        Seeds the propensity model and the order of greedy matching.
    n_jobs : int, default 1
        Threads for the k-d tree queries of Mahalanobis matching.

    Attributes
    ----------
    result_ : Effect
        With ``inference="abadie-imbens"`` and ``scores=None``.
    propensity_ : ndarray or None
        Fitted propensity scores (None for Mahalanobis distance).
    matches_ : ndarray of int, shape (n, n_neighbors)
        Row positions (in the data as fitted) of each target unit's matches,
        nearest first; ``-1`` where there are fewer, and for non-target units.
    match_counts_ : ndarray of int, shape (n,)
        How often each unit serves as a match (``K_i``).
    weights_ : ndarray, shape (n,)
        The weight of each unit's outcome in the estimate, ``a_i + w_i`` above.
    match_order_ : ndarray of int or None
        Row positions of the target units in the order greedy matching
        processed them (None with replacement).
    n_matched_, n_dropped_ : int
        Target units matched / dropped by the caliper or exact cells.

    Notes
    -----
    For propensity-score matching the variance treats the score as known.
    Abadie & Imbens (2016) show that estimating it lowers the variance of the
    ATE estimator, so this error is conservative there; for the ATT the
    correction can go either way. The bootstrap is not valid for matching with
    a fixed number of neighbours (Abadie & Imbens 2008) and is not offered.
    Without replacement the same variance formula is applied to the matched
    sample (``K_i <= 1``); it ignores the dependence the greedy order creates.

    References
    ----------
    Abadie & Imbens (2006), Large sample properties of matching estimators for
    average treatment effects, Econometrica 74(1). Abadie & Imbens (2008), On
    the failure of the bootstrap for matching estimators, Econometrica 76(6).
    Abadie & Imbens (2011), Bias-corrected matching estimators for average
    treatment effects, JBES 29(1). Abadie & Imbens (2016), Matching on the
    estimated propensity score, Econometrica 84(2). Rosenbaum & Rubin (1985),
    The American Statistician 39(1). Austin (2011), Pharmaceutical Statistics 10(2).
    """

    _method: ClassVar[str] = "matching"
    _accepts_cluster: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE", "ATT", "ATC"))],
        "distance": [Options(("propensity", "logit", "mahalanobis"))],
        "propensity_model": [NONE, HasMethods(("fit", "predict_proba"))],
        "n_neighbors": [Interval(1, None, integer=True)],
        "replace": [Options((True, False))],
        "caliper": [NONE, Interval(0, None, closed="neither")],
        "exact": [Satisfies(_names_or_none, "None or a non-empty list of covariate names")],
        "bias_correction": [Options((True, False))],
        "variance_neighbors": [Interval(1, None, integer=True)],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
        "n_jobs": [N_JOBS],
    }

    def __init__(
        self,
        estimand: Literal["ATE", "ATT", "ATC"] = "ATE",
        distance: Literal["propensity", "logit", "mahalanobis"] = "propensity",
        propensity_model: Any = None,
        n_neighbors: int = 1,
        replace: bool = True,
        caliper: float | None = None,
        exact: Sequence[str] | None = None,
        bias_correction: bool = False,
        variance_neighbors: int = 1,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = 1,
    ) -> None:
        self.estimand = estimand
        self.distance = distance
        self.propensity_model = propensity_model
        self.n_neighbors = n_neighbors
        self.replace = replace
        self.caliper = caliper
        self.exact = exact
        self.bias_correction = bias_correction
        self.variance_neighbors = variance_neighbors
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        # only the propensity model sees the covariates when nothing else does
        if self.distance == "mahalanobis" or self.bias_correction or self.exact:
            return []
        return [self.propensity_model if self.propensity_model is not None else Logit()]

    # -- estimation -----------------------------------------------------------------------------

    def _estimate(self, data: CausalData) -> Effect:
        t, X = data.t, data.X
        n, M = t.size, int(self.n_neighbors)
        if X.shape[1] == 0:
            raise DataError("Matching needs covariates to match on; pass covariates=[...].")
        exact = self._exact_columns(data.covariates)
        arms = {"ATE": (1, 0), "ATT": (1,), "ATC": (0,)}[self.estimand]
        self._check_supply(t, arms, M)
        prop_seed, order_seed = child_seeds(seed_sequence(self.random_state), 2)

        diag: dict[str, Any] = {}
        if self.distance == "mahalanobis":
            points = self._whiten(X, t, data.covariates)
            width = float(self.caliper) if self.caliper is not None else np.inf
            self.propensity_ = None
        else:
            model, e = fit_propensity(self.propensity_model, X, t, prop_seed)
            self.propensity_ = e
            points = e if self.distance == "propensity" else logit(np.clip(e, 1e-12, 1 - 1e-12))
            sd = np.sqrt((np.var(points[t == 1], ddof=1) + np.var(points[t == 0], ddof=1)) / 2)
            width = float(self.caliper) * sd if self.caliper is not None else np.inf
            ec = np.clip(e, 1e-12, 1 - 1e-12)
            ipw = balancing_weights(ec, t, self.estimand)
            diag = overlap_diagnostics(e, t, ipw)
            diag["propensity_model"] = type(model).__name__
            warn_if_poor_overlap(diag, "Matching", self.estimand)
        cells = (
            np.unique(X[:, exact], axis=0, return_inverse=True)[1].ravel()
            if exact
            else np.zeros(n, dtype=np.int64)
        )

        matches = np.full((n, M), -1, dtype=np.int64)
        dists = np.full((n, M), np.inf)
        rng = np.random.default_rng(order_seed)
        orders = []
        for arm in arms:
            q, r = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
            if self.replace:
                idx, d = nearest(
                    points[r], cells[r], points[q], cells[q], M, width, workers=self._workers()
                )
            else:
                order = rng.permutation(q.size)
                orders.append(q[order])
                idx, d = greedy(points[r], cells[r], points[q], cells[q], M, width, order)
            matches[q] = np.where(idx >= 0, r[np.maximum(idx, 0)], -1)
            dists[q] = d
        self.match_order_ = None if self.replace else np.concatenate(orders)
        return self._finish(data, points, cells, matches, dists, arms, width, diag)

    def _finish(
        self,
        data: CausalData,
        points: np.ndarray,
        cells: np.ndarray,
        matches: np.ndarray,
        dists: np.ndarray,
        arms: tuple[int, ...],
        width: float,
        diag: dict[str, Any],
    ) -> Effect:
        t, y, X = data.t, data.y, data.X
        n = t.size
        target = np.isin(t, arms)
        valid = matches >= 0
        count = valid.sum(axis=1)
        kept = target & (count > 0)
        n_target, n_kept = int(target.sum()), int(kept.sum())
        n_dropped = n_target - n_kept
        if n_kept == 0:
            raise OverlapError(
                f"Matching: none of the {n_target} target units has a counterpart within "
                f"{self._restriction()}; widen or remove the caliper, or match exactly on "
                "fewer columns."
            )
        if n_dropped:
            warnings.warn(
                f"Matching: {n_dropped} of {n_target} target units "
                f"({100 * n_dropped / n_target:.1f}%) have no counterpart within "
                f"{self._restriction()} and were dropped; the "
                f"estimate is the {self.estimand} over the matched units only.",
                DataWarning,
                stacklevel=4,
            )

        rows, cols = np.nonzero(valid)
        used = matches[rows, cols]
        inv = 1.0 / np.maximum(count, 1)
        w = np.bincount(used, weights=inv[rows], minlength=n)
        u = np.bincount(used, weights=inv[rows] ** 2, minlength=n)
        uses = np.bincount(used, minlength=n)
        if self.bias_correction:
            # Yhat(i) = mean_j [Y_j - mu(X_j)] + mu(X_i), mu fitted in the matches' arm
            fits = {arm: self._arm_fit(X, y, t == arm) for arm in (0, 1)}
            mu_own = np.where(t == 1, fits[1], fits[0])
            mu_other = np.where(t == 1, fits[0], fits[1])
            y_other = np.bincount(rows, (y[used] - mu_own[used]) * inv[rows], minlength=n)
            y_other += mu_other
        else:
            y_other = np.bincount(rows, y[used] * inv[rows], minlength=n)
        diff = np.where(t == 1, y - y_other, y_other - y)[kept]
        tau = float(diff.mean())

        a = kept.astype(float)
        coef = (a + w) ** 2 - a - u
        sigma2 = self._conditional_variance(points, cells, t, y, coef > 1e-12)
        var = (np.sum((diff - tau) ** 2) + np.sum(coef * sigma2)) / n_kept**2

        self.matches_ = np.where(target[:, None], matches, -1)
        self.match_counts_ = uses
        self.weights_ = a + w
        self.n_matched_, self.n_dropped_ = n_kept, n_dropped
        md = dists[valid]
        diag |= {
            "n_treated": int((t == 1).sum()),
            "n_control": int((t == 0).sum()),
            "n_target": n_target,
            "n_matched": n_kept,
            "n_dropped": n_dropped,
            "share_dropped": n_dropped / n_target,
            "distance": self.distance,
            "caliper": self.caliper,
            "caliper_width": float(width) if np.isfinite(width) else None,
            "exact": list(self._exact_names()),
            "n_cells": int(cells.max()) + 1,
            "n_neighbors": int(self.n_neighbors),
            "replace": bool(self.replace),
            "bias_correction": bool(self.bias_correction),
            "variance_neighbors": int(self.variance_neighbors),
            "mean_match_distance": float(md.mean()),
            "max_match_distance": float(md.max()),
            "mean_matches_per_unit": float(count[kept].mean()),
            "max_uses": int(uses.max()),
            "n_counterparts_used": int((uses > 0).sum()),
        }
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=tau,
            std_error=float(np.sqrt(var)),
            level=self.level,
            n_obs=n,
            method=self._method,
            inference="abadie-imbens",
            diagnostics=diag,
            scores=None,
        )

    # -- pieces ---------------------------------------------------------------------------------

    def _exact_names(self) -> list[str]:
        if self.exact is None:
            return []
        return [self.exact] if isinstance(self.exact, str) else list(self.exact)

    def _exact_columns(self, covariates: list[str]) -> list[int]:
        names = self._exact_names()
        missing = [c for c in names if c not in covariates]
        if missing:
            raise ParameterError(
                f"Matching: exact={names!r} names {', '.join(map(repr, missing))}, which is not "
                f"among the covariates ({', '.join(covariates)}); exact-match columns must also "
                "be covariates. Add it to covariates=[...] or remove it from exact."
            )
        return [covariates.index(c) for c in names]

    def _check_supply(self, t: np.ndarray, arms: tuple[int, ...], M: int) -> None:
        if self.replace:
            return
        counts = {1: int((t == 1).sum()), 0: int((t == 0).sum())}
        label = {1: "treated", 0: "control"}
        for arm in arms:
            need, have = M * counts[arm], counts[1 - arm]
            if have < need:
                raise ParameterError(
                    f"Matching: replace=False with n_neighbors={M} for the {self.estimand} needs "
                    f"{M} distinct {label[1 - arm]} units per {label[arm]} unit, i.e. {need}, but "
                    f"there are {have}. Each unit may be used once, so the target arm cannot all "
                    "be matched (for the ATE both arms are targets, which needs equal arms and "
                    "n_neighbors=1). Use replace=True, or fewer neighbours."
                )

    def _restriction(self) -> str:
        parts = []
        if self.caliper is not None:
            unit = "whitened units" if self.distance == "mahalanobis" else "pooled SDs"
            parts.append(f"caliper={self.caliper:g} ({unit} of the {self.distance} distance)")
        if self.exact:
            parts.append(f"its exact={self._exact_names()!r} cell")
        return " and ".join(parts) or "the data"

    def _workers(self) -> int:
        if self.n_jobs is None:
            return 1
        # joblib's convention: -1 is every core, -2 all but one, ...
        n = int(self.n_jobs)
        return n if n > 0 else max(1, (os.cpu_count() or 1) + 1 + n)

    @staticmethod
    def _whiten(X: np.ndarray, t: np.ndarray, names: list[str]) -> np.ndarray:
        """Covariates times the inverse Cholesky factor of the pooled within-arm covariance."""
        S = (
            np.atleast_2d(np.cov(X[t == 1], rowvar=False))
            + np.atleast_2d(np.cov(X[t == 0], rowvar=False))
        ) / 2
        scale = np.sqrt(np.clip(np.diag(S), 0, None))
        flat = [names[j] for j in np.flatnonzero(scale <= 1e-12 * max(scale.max(), 1e-300))]
        try:
            if flat:
                raise np.linalg.LinAlgError
            D = np.diag(1 / scale)
            L = np.linalg.cholesky(D @ S @ D)
            if np.min(np.diag(L)) < 1e-7:
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            what = (
                f"covariates {flat} are constant within both arms"
                if flat
                else "the covariates are (nearly) collinear"
            )
            raise DataError(
                f"Matching: the pooled within-arm covariance of the covariates is singular "
                f"({what}), so the Mahalanobis distance is undefined; drop redundant columns "
                "or use distance='propensity'."
            ) from None
        Xs = (X - X.mean(axis=0)) / scale
        return np.ascontiguousarray(solve_triangular(L, Xs.T, lower=True).T)

    @staticmethod
    def _arm_fit(X: np.ndarray, y: np.ndarray, arm: np.ndarray) -> np.ndarray:
        """Least-squares fit of y on (1, X) within one arm, predicted for every unit."""
        design = np.column_stack([np.ones(X.shape[0]), X])
        coef = np.linalg.lstsq(design[arm], y[arm], rcond=None)[0]
        return np.asarray(design @ coef)

    def _conditional_variance(
        self, points: np.ndarray, cells: np.ndarray, t: np.ndarray, y: np.ndarray, need: np.ndarray
    ) -> np.ndarray:
        """``J/(J+1) (Y_i - mean of J nearest same-arm Y)^2`` for the units in ``need``.

        Neighbours come from the unit's own exact cell; a unit alone in its cell
        and arm borrows them from the whole arm.
        """
        J = int(self.variance_neighbors)
        sigma2 = np.zeros(t.size)
        for arm in (0, 1):
            r = np.flatnonzero(t == arm)
            q = np.flatnonzero(need & (t == arm))
            if q.size == 0:
                continue
            local = np.searchsorted(r, q)
            idx, _ = nearest(
                points[r],
                cells[r],
                points[q],
                cells[q],
                J,
                query_self=local,
                workers=self._workers(),
            )
            alone = (idx < 0).all(axis=1)
            if alone.any():
                zero = np.zeros(r.size, dtype=np.int64)
                idx[alone], _ = nearest(
                    points[r],
                    zero,
                    points[q[alone]],
                    zero[: alone.sum()],
                    J,
                    query_self=local[alone],
                    workers=self._workers(),
                )
            ok = idx >= 0
            c = ok.sum(axis=1)
            ybar = np.where(ok, y[r][np.maximum(idx, 0)], 0.0).sum(axis=1) / c
            sigma2[q] = c / (c + 1) * (y[q] - ybar) ** 2
        return sigma2
