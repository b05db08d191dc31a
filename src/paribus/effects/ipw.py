"""Inverse propensity weighting (Horvitz & Thompson 1952; Hirano, Imbens & Ridder 2003)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from paribus._core.bootstrap import bootstrap_draws
from paribus._core.inference import if_std_error
from paribus._core.learners import model_name
from paribus._core.logit import Logit
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.params import LEVEL, N_JOBS, NONE, RANDOM_STATE, HasMethods, Interval, Options
from paribus._core.propensity import (
    balancing_weights,
    crump_threshold,
    fit_propensity,
    weight_derivative_factor,
)
from paribus._core.random import child_seeds, seed_sequence
from paribus.data import CausalData
from paribus.effects._base import EffectEstimator
from paribus.errors import OverlapError, ParameterError
from paribus.results import Effect

__all__ = ["IPW"]


class IPW(EffectEstimator):
    """Average effect by inverse propensity weighting.

    Each arm's mean outcome over the target population is a weighted mean with
    the balancing weights ``w`` (ATE: 1/e for the treated and 1/(1-e) for controls;
    ATT: 1 and e/(1-e); ATC: (1-e)/e and 1). The normalised (Hajek) estimator
    divides by the sum of the weights in each arm; Horvitz–Thompson divides by the
    size of the target population instead. Identification needs unconfoundedness
    and overlap (0 < e(x) < 1).

    Parameters
    ----------
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
    propensity_model : classifier, optional
        Any scikit-learn classifier with ``predict_proba``. Default: unpenalized
        logistic regression (:class:`paribus.Logit`) on the covariates.
    normalize : bool, default True
        Hajek (normalised) weights; ``False`` gives Horvitz–Thompson.
    stabilized : bool, default False
        Multiply the reported ``weights_`` by the marginal probability of each
        unit's arm (Robins, Hernán & Brumback 2000) so they average about one per
        arm. The point estimate is unchanged (normalisation absorbs the constant).
    trim : float in [0, 0.5), "crump" or None, default None
        Drop units with propensity outside ``[trim, 1 - trim]``; ``"crump"`` picks
        the threshold of Crump, Hotz, Imbens & Mitnik (2009). Trimming changes the
        estimand to the effect on the trimmed population.
    inference : {"auto", "sandwich", "bootstrap"}, default "auto"
        ``"sandwich"``: influence-function (M-estimation) errors that account for
        the estimated logistic propensity (Lunceford & Davidian 2004); available
        for :class:`paribus.Logit` propensities only. ``"bootstrap"``: refit the
        propensity model on ``n_bootstrap`` resamples. ``"auto"`` picks the
        sandwich for Logit, else the bootstrap.
    n_bootstrap : int, default 200
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional
        Workers for the bootstrap replicates; None takes ``paribus.config(n_jobs=...)``.

    Attributes
    ----------
    result_ : Effect
    propensity_ : ndarray
        Fitted propensity scores.
    weights_ : ndarray
        Balancing weights (zero for trimmed units).
    """

    _method: ClassVar[str] = "ipw"
    _accepts_weights: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE", "ATT", "ATC"))],
        "propensity_model": [NONE, HasMethods(("fit", "predict_proba"))],
        "normalize": [Options((True, False))],
        "stabilized": [Options((True, False))],
        "trim": [NONE, Interval(0, 0.5, closed="left"), Options(("crump",))],
        "inference": [Options(("auto", "sandwich", "bootstrap"))],
        "n_bootstrap": [Interval(20, None, integer=True)],
        "level": [LEVEL],
        "random_state": [RANDOM_STATE],
        "n_jobs": [N_JOBS],
    }

    def __init__(
        self,
        estimand: Literal["ATE", "ATT", "ATC"] = "ATE",
        propensity_model: Any = None,
        normalize: bool = True,
        stabilized: bool = False,
        trim: float | Literal["crump"] | None = None,
        inference: Literal["auto", "sandwich", "bootstrap"] = "auto",
        n_bootstrap: int = 200,
        level: float = 0.95,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.estimand = estimand
        self.propensity_model = propensity_model
        self.normalize = normalize
        self.stabilized = stabilized
        self.trim = trim
        self.inference = inference
        self.n_bootstrap = n_bootstrap
        self.level = level
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _learners(self) -> list[Any]:
        return [self.propensity_model if self.propensity_model is not None else Logit()]

    def _use_sandwich(self) -> bool:
        is_logit = self.propensity_model is None or isinstance(self.propensity_model, Logit)
        if self.inference == "sandwich" and not is_logit:
            raise ParameterError(
                "IPW: inference='sandwich' accounts for the estimated propensity only when it "
                "is the unpenalized logit (propensity_model=None or paribus.Logit()); use "
                "inference='bootstrap' with other models."
            )
        return self.inference == "sandwich" or (self.inference == "auto" and is_logit)

    def _estimate(self, data: CausalData) -> Effect:
        t, y, X = data.t, data.y, data.X
        s = data.column("weights")
        cluster = data.column("cluster")
        sandwich = self._use_sandwich()
        root = seed_sequence(self.random_state)
        prop_seed, boot_root = child_seeds(root, 1)[0], root.spawn(1)[0]
        model, e = fit_propensity(self.propensity_model, X, t, prop_seed, s)
        point = self._point(e, t, y, s)
        self.propensity_ = e
        weights = np.where(point.keep, balancing_weights(e, t, self.estimand), 0.0)
        if self.stabilized:
            weights = weights * np.where(t == 1, t.mean(), 1 - t.mean())
        self.weights_ = weights
        kept = point.keep  # diagnostics describe the analysed (trimmed) sample
        diag = overlap_diagnostics(
            e[kept], t[kept], weights[kept], share_trimmed=1 - point.keep.mean()
        )
        diag |= {
            "trim_threshold": point.alpha,
            "normalize": bool(self.normalize),
            "propensity_model": model_name(model),
            "max_weight_share": float(weights.max() / weights.sum()),
        }
        warn_if_poor_overlap(diag, "IPW", self.estimand)
        if sandwich:
            phi = point.influence + self._propensity_correction(X, t, y, e, point, s)
            return Effect.from_normal(
                estimand=self.estimand,
                estimate=point.estimate,
                std_error=if_std_error(phi, cluster),
                level=self.level,
                n_obs=t.size,
                method=self._method,
                inference="influence-function",
                diagnostics=diag,
                scores=phi,
            )

        def statistic(idx: np.ndarray, seed: int) -> float:
            _, e_b = fit_propensity(
                self.propensity_model, X[idx], t[idx], seed, None if s is None else s[idx]
            )
            return self._point(e_b, t[idx], y[idx], None if s is None else s[idx]).estimate

        draws = bootstrap_draws(statistic, self.n_bootstrap, boot_root, t, cluster, self.n_jobs)
        ok = draws[np.isfinite(draws)]
        diag |= {"n_bootstrap": self.n_bootstrap, "n_failed": int(draws.size - ok.size)}
        return Effect.from_normal(
            estimand=self.estimand,
            estimate=point.estimate,
            std_error=float(np.std(ok, ddof=1)),
            level=self.level,
            n_obs=t.size,
            method=self._method,
            inference="bootstrap",
            diagnostics=diag,
        )

    # -- estimator and its influence function -------------------------------------------------

    def _point(self, e: np.ndarray, t: np.ndarray, y: np.ndarray, s: np.ndarray | None) -> _Point:
        alpha = crump_threshold(e) if self.trim == "crump" else float(self.trim or 0.0)
        keep = (e >= alpha) & (e <= 1 - alpha) if alpha > 0 else np.ones(t.size, dtype=bool)
        if not (keep & (t == 1)).any() or not (keep & (t == 0)).any():
            raise OverlapError(
                f"IPW: trimming at {alpha:.3g} left no treated or no control units; lower trim."
            )
        ec = np.clip(e, 1e-12, 1 - 1e-12)
        base = balancing_weights(ec, t, self.estimand) * keep * (1.0 if s is None else s)
        target = {"ATE": np.ones_like(t), "ATT": t, "ATC": 1 - t}[self.estimand]
        target = target * keep * (1.0 if s is None else s)
        means, phis, omegas, nus = [], [], [], []
        for arm in (1, 0):
            omega = base * (t == arm)
            nu = omega if self.normalize else target
            mu = float(np.sum(omega * y) / np.sum(nu))
            means.append(mu)
            phis.append((omega * y - mu * nu) / nu.mean())
            omegas.append(omega)
            nus.append(nu)
        return _Point(means[0] - means[1], phis[0] - phis[1], keep, alpha, means, omegas, nus)

    def _propensity_correction(
        self,
        X: np.ndarray,
        t: np.ndarray,
        y: np.ndarray,
        e: np.ndarray,
        point: _Point,
        s: np.ndarray | None,
    ) -> np.ndarray:
        """Influence of the estimated logit coefficients on the estimate (delta method).

        ``d omega / d eta = omega * c`` (see ``weight_derivative_factor``); the
        gradient of each arm mean is ``mean(omega c (y - mu) x) / mean(nu)`` for
        Hajek and ``mean(omega c y x) / mean(nu)`` for Horvitz–Thompson.
        """
        sw = np.ones_like(t) if s is None else s
        design = np.column_stack([np.ones_like(t), X])
        info = (design * (sw * e * (1 - e))[:, None]).T @ design / t.size
        if_beta = np.linalg.solve(info, (design * (sw * (t - e))[:, None]).T).T  # (n, k)
        c = weight_derivative_factor(e, t, self.estimand)
        grad = np.zeros(design.shape[1])
        for sign, mu, omega, nu in zip(
            (1.0, -1.0), point.means, point.omegas, point.nus, strict=True
        ):
            resid = y - mu if self.normalize else y
            grad += sign * (design.T @ (omega * c * resid)) / t.size / nu.mean()
        return if_beta @ grad


@dataclass(frozen=True)
class _Point:
    """A point estimate with the pieces its influence function reuses."""

    estimate: float
    influence: np.ndarray
    keep: np.ndarray
    alpha: float
    means: list[float]
    omegas: list[np.ndarray]
    nus: list[np.ndarray]
