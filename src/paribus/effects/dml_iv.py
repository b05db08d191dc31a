"""Double/debiased machine learning with instruments: PLIV and IIVM (the LATE).

Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018),
"Double/debiased machine learning for treatment and structural parameters",
*Econometrics Journal* 21(1). As in :mod:`paribus.effects.dml`, each estimator solves a
Neyman-orthogonal score linear in the effect, ``psi = psi_a * theta + psi_b``, with
nuisances predicted out of fold (DML2), and reports an influence-function standard
error; repetitions, explicit folds, clusters and :meth:`bootstrap_interval` work as there.

**PLIV** (Sec. 4.2): ``Y = theta D + g(X) + e``, ``Z = m(X) + v``, ``E[e | X, Z] = 0``;
``D`` may be endogenous (correlated with ``e``), ``theta`` a constant effect. With
``l(X) = E[Y | X]``, ``r(X) = E[D | X]``, ``m(X) = E[Z | X]``:

* ``"partialling out"`` (the paper's eq. 4.8): ``psi_a = -(D - r)(Z - m)``,
  ``psi_b = (Y - l)(Z - m)``: the IV regression of ``Y - l`` on ``D - r`` with
  instrument ``Z - m``.
* ``"IV-type"`` (eq. 4.7): ``psi_a = -D (Z - m)``, ``psi_b = (Y - g)(Z - m)``, with
  ``g(X) = E[Y - theta D | X]`` learned in two steps as PLR's IV-type score:
  ``theta_init`` from the partialling-out score, then ``Y - theta_init D`` on ``X``.

Several instruments (partialling out only) are combined as two-stage least squares
does: the residualised treatment ``D - r`` is regressed by least squares on an
intercept and the residualised instruments ``Z_j - m_j`` over the whole sample, and its
fitted value ``v*`` is the single instrument, ``psi_a = -(D - r) v*``,
``psi_b = (Y - l) v*``. (The first-stage coefficients are estimated at the parametric
rate and the score is orthogonal to them, so the error needs no correction.)

**IIVM** (Sec. 5.2): ``Z`` and ``D`` binary, effects heterogeneous; under
monotonicity (no defiers) the parameter is the local average treatment effect of the
compliers, ``theta = E[g(1, X) - g(0, X)] / E[r(1, X) - r(0, X)]`` with
``g(z, X) = E[Y | Z = z, X]``, ``r(z, X) = E[D | Z = z, X]``, ``m(X) = P(Z = 1 | X)``:

* ``psi_b = g(1,X) - g(0,X) + Z (Y - g(1,X)) / m - (1 - Z)(Y - g(0,X)) / (1 - m)``,
* ``psi_a = -(r(1,X) - r(0,X) + Z (D - r(1,X)) / m - (1 - Z)(D - r(0,X)) / (1 - m))``,

the ratio of two AIPW contrasts of the instrument. Without always-takers
(``D = 0`` whenever ``Z = 0``, one-sided noncompliance) ``r(0, X) = 0`` is known and
not learned; without never-takers ``r(1, X) = 1``.

**Identification check.** The first stage is ``mean((D - r)(Z - m))``, the covariance
of the residualised treatment and instrument (PLIV; ``-psi_a`` of the partialling-out
score, whichever score is used), or ``-mean(psi_a)``, the instrument's effect on the
treatment (IIVM; the complier share). Its squared t-statistic (cluster-robust where
clusters are given) is reported as ``first_stage_F``; for several instruments it is the
robust Wald statistic of the residualised first stage divided by their number. When it
is below the ``level`` critical value the instrument does not detectably move the
treatment and the fit is refused: with one instrument that is exactly when the
weak-instrument-robust (Fieller / Anderson-Rubin) confidence set for ``theta`` at that
level is unbounded. Below 10 (Staiger & Stock 1997) a
:class:`~paribus.errors.WeakInstrumentWarning` says the normal interval may undercover.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self

import numpy as np
from scipy import stats

from paribus._core.crossfit import Nuisance, cross_fit, make_folds
from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.inference import if_std_error
from paribus._core.learners import model_name
from paribus._core.linear_score import LinearScoreSolution, solve_linear_score
from paribus._core.ols import ols
from paribus._core.params import NONE, HasMethods, Interval, Options, Satisfies
from paribus._core.repeated import Folds, Repetition, aggregate_repetitions, plan_repetitions
from paribus.data import CausalData
from paribus.effects.dml import (
    _REPEATED,
    _DoubleML,
    _is_binary,
    _log_loss,
    _or_default,
    _predicts_proba,
    _repeat_diagnostics,
)
from paribus.errors import DataError, ParameterError, WeakInstrumentWarning
from paribus.results import Effect

__all__ = ["IIVM", "PLIV", "iivm_score_elements"]

#: a first-stage F below this is weak (Staiger & Stock 1997): warn
_WEAK_F = 10.0


def _rmse(residual: np.ndarray) -> float:
    return float(np.sqrt(np.mean(residual**2)))


def _t_squared(x: np.ndarray, cluster: np.ndarray | None) -> float:
    """Squared t-statistic of ``mean(x)``, with a (cluster-)robust standard error."""
    mean, se = float(np.mean(x)), if_std_error(x - np.mean(x), cluster)
    if se > 0:
        return mean**2 / se**2
    return float("inf") if mean != 0 else 0.0


def _refuse_unidentified(owner: str, f_stat: float, n_instruments: int, level: float) -> None:
    """Refuse a first stage indistinguishable from zero at ``level`` (module docstring)."""
    critical = float(stats.chi2.ppf(level, n_instruments)) / n_instruments
    if not f_stat >= critical:
        raise DataError(
            f"{owner}: the instrument does not detectably move the treatment once the "
            f"covariates are partialled out (first-stage F = {f_stat:.3g}, below the "
            f"{100 * level:g}% critical value {critical:.3g}); theta is not identified by these "
            "data. Use a stronger instrument, or drop covariates that absorb its variation."
        )


def _warn_if_weak(owner: str, f_stat: float) -> None:
    if f_stat < _WEAK_F:
        warnings.warn(
            f"{owner}: weak instrument: first-stage F = {f_stat:.3g} is below {_WEAK_F:g} "
            "(Staiger & Stock 1997); the estimate may be far from normal and its interval "
            "may undercover. Prefer a stronger instrument or weak-instrument-robust inference.",
            WeakInstrumentWarning,
            stacklevel=4,  # the caller of fit
        )


class _DoubleMLIV(_DoubleML):
    """What PLIV and IIVM share: ``fit`` with an ``instrument=`` column (or the data's role)."""

    _accepts_weights: ClassVar[bool] = False
    _instrumented: ClassVar[bool] = True

    def fit(
        self,
        data: Any,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        *,
        instrument: str | Sequence[str] | None = None,
        weights: str | None = None,
        cluster: str | None = None,
        dropna: bool = False,
    ) -> Self:
        """Estimate the effect of ``treatment`` on ``outcome`` using ``instrument``.

        ``instrument`` names the excluded instrument column(s); with a
        :class:`~paribus.CausalData` its ``instruments`` role is used when omitted.
        Returns ``self``; the result is in ``result_``.
        """
        self._validate_settings()
        cd = self._iv_data(
            data, treatment, outcome, covariates, instrument, weights, cluster, dropna
        )
        self.result_ = self._estimate(cd)
        self.n_features_in_ = len(cd.covariates)
        self.feature_names_in_ = np.asarray(cd.covariates, dtype=object)
        return self

    def _iv_data(
        self,
        data: Any,
        treatment: str | None,
        outcome: str | None,
        covariates: str | Sequence[str] | None,
        instrument: str | Sequence[str] | None,
        weights: str | None,
        cluster: str | None,
        dropna: bool,
    ) -> CausalData:
        """The base class's role resolution and validation, and varying instruments."""
        name = type(self).__name__
        cd = self._causal_data(
            data, treatment, outcome, covariates, weights, cluster, dropna, instrument
        )
        instruments = cd.roles["instruments"]
        Z = cd.Z
        for j, col in enumerate(instruments):
            values = np.unique(Z[:, j])
            if values.size < 2:
                raise DataError(
                    f"{name}: instrument column {col!r} is constant ({values[0]:g}); an "
                    "instrument must vary to shift the treatment."
                )
        return cd


# -- PLIV --------------------------------------------------------------------------------------


def _combine_instruments(
    w: np.ndarray, V: np.ndarray, names: Sequence[str], cluster: np.ndarray | None
) -> tuple[np.ndarray, float, float]:
    """Two-stage least squares first stage on the residuals (module docstring).

    Returns the combined instrument (fitted values of ``w`` on ``[1, V]``), the robust
    Wald statistic of the slopes divided by their number, and the first-stage R^2.
    """
    n, k = V.shape
    design = np.column_stack([np.ones(n), V])
    try:
        fit = ols(design, w, cov_type="HC0" if cluster is None else "cluster")
    except DataError:
        raise DataError(
            f"PLIV: the residualised instruments {list(names)} are collinear; drop redundant "
            "instruments."
        ) from None
    phi = fit.influence[:, 1:]
    if cluster is None:
        vcov = phi.T @ phi / n**2
    else:
        codes = np.unique(cluster, return_inverse=True)[1]
        sums = np.stack([np.bincount(codes, weights=phi[:, j]) for j in range(k)], axis=1)
        g = sums.shape[0]
        vcov = g / (g - 1) * sums.T @ sums / n**2
    slopes = fit.coef[1:]
    wald = float(slopes @ np.linalg.solve(vcov, slopes))
    r2 = 1.0 - float(np.sum((w - fit.fitted) ** 2) / np.sum((w - w.mean()) ** 2))
    return fit.fitted, wald / k, r2


def _pliv_one(
    y: np.ndarray,
    d: np.ndarray,
    Z: np.ndarray,
    X: np.ndarray,
    names: Sequence[str],
    folds: Folds,
    stream: np.random.SeedSequence,
    learners: tuple[Any, Any, list[Any]],
    score: str,
    cluster: np.ndarray | None,
    n_jobs: int | None,
) -> tuple[LinearScoreSolution, dict[str, np.ndarray], dict[str, float]]:
    """One repetition of the PLIV: solution, predictions, first-stage statistics."""
    outcome, treat, instr = learners
    first, second = stream.spawn(2)
    keys = ["m"] if len(names) == 1 else [f"m[{name}]" for name in names]
    nuisances = [Nuisance("l", outcome, "outcome"), Nuisance("r", treat, "treatment")]
    nuisances += [
        Nuisance(key, model, "instrument", column=j)
        for j, (key, model) in enumerate(zip(keys, instr, strict=True))
    ]
    pred = cross_fit(nuisances, X, y, d, folds, first, n_jobs, z=Z)
    w, u = d - pred["r"], y - pred["l"]
    V = Z - np.column_stack([pred[key] for key in keys])
    if len(names) == 1:
        v = V[:, 0]
        f_stat = _t_squared(w * v, cluster)
        spread = np.var(w) * np.var(v)
        r2 = float(np.cov(w, v, bias=True)[0, 1] ** 2 / spread) if spread > 0 else 0.0
    else:
        v, f_stat, r2 = _combine_instruments(w, V, names, cluster)
    info = {"first_stage_F": f_stat, "first_stage_partial_r2": r2}
    if score == "partialling out":
        return solve_linear_score(-w * v, u * v, cluster), pred, info
    theta_init = float(np.mean(u * v) / np.mean(w * v))
    g = cross_fit(
        [Nuisance("g", outcome, "outcome")], X, y - theta_init * d, d, folds, second, n_jobs
    )
    pred["g"] = g["g"]
    info["theta_initial"] = theta_init
    return solve_linear_score(-d * v, (y - pred["g"]) * v, cluster), pred, info


class PLIV(_DoubleMLIV):
    """Double ML in the partially linear IV model: a constant effect of an endogenous D.

    ``Y = theta D + g(X) + e``, ``Z = m(X) + v`` with ``E[e | X, Z] = 0``
    (Chernozhukov et al. 2018, Sec. 4.2; module docstring for the scores). ``theta`` is
    a constant structural effect, reported with ``estimand="ATE"`` as :class:`PLR`'s.

    Parameters
    ----------
    estimand : {"ATE"}, default "ATE"
    outcome_model : regressor, optional
        Learns ``l(X) = E[Y | X]`` (and ``g`` for ``score="IV-type"``). A classifier is
        allowed for a 0/1 outcome with partialling out. Default: boosting.
    treatment_model : regressor or classifier, optional
        Learns ``r(X) = E[D | X]``; a classifier for a 0/1 treatment only. Default:
        boosting, a classifier for a 0/1 treatment and a regressor otherwise.
    instrument_model : regressor or classifier, optional
        Learns ``m(X) = E[Z | X]`` for every instrument; a classifier for 0/1
        instruments only. Default: boosting, a classifier for a 0/1 instrument.
    score : {"partialling out", "IV-type"}, default "partialling out"
        ``"IV-type"`` needs exactly one instrument.
    folds : int or list, default 5
        As in :class:`PLR` (stratified by a single 0/1 instrument).
    repetitions : int, default 1
    aggregation : {"median", "mean"}, default "median"
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional
        As in :class:`PLR`.

    Attributes
    ----------
    result_ : Effect
        ``method="dml-pliv"``, per-unit influence values in ``scores``; the first stage
        in ``diagnostics["first_stage_F"]`` and ``["first_stage_partial_r2"]``.
    nuisance_ : dict of ndarray
        Out-of-fold ``l``, ``r``, ``m`` (``m[<name>]`` per instrument when there are
        several) and, for IV-type, ``g``, of the first repetition.
    """

    nuisance_: dict[str, np.ndarray]

    _method: ClassVar[str] = "dml-pliv"
    _binary_treatment: ClassVar[bool] = False
    _estimands: ClassVar[tuple[str, ...]] = ("ATE",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("ATE",))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "treatment_model": [NONE, HasMethods(("fit", "predict"))],
        "instrument_model": [NONE, HasMethods(("fit", "predict"))],
        "score": [Options(("partialling out", "IV-type"))],
        **_REPEATED,
    }

    def __init__(
        self,
        estimand: Literal["ATE"] = "ATE",
        outcome_model: Any = None,
        treatment_model: Any = None,
        instrument_model: Any = None,
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
        self.instrument_model = instrument_model
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
            _or_default(self.instrument_model, default_regressor()),
        ]

    def _check_learners(
        self, y: np.ndarray, d: np.ndarray, Z: np.ndarray, data: CausalData
    ) -> tuple[Any, Any, list[Any]]:
        outcome = _or_default(self.outcome_model, default_regressor())
        if _predicts_proba(outcome):
            if self.score == "IV-type":
                raise ParameterError(
                    f"PLIV: score='IV-type' learns g from y - theta*d, so outcome_model "
                    f"{model_name(outcome)} must be a regressor, not a classifier."
                )
            if not _is_binary(y):
                raise ParameterError(
                    f"PLIV: outcome_model {model_name(outcome)} is a classifier but outcome "
                    f"{data.outcome!r} is not 0/1; pass a regressor."
                )
        binary_d = _is_binary(d)
        treat = self.treatment_model
        if treat is None:
            treat = default_classifier() if binary_d else default_regressor()
        elif _predicts_proba(treat) and not binary_d:
            raise ParameterError(
                f"PLIV: treatment_model {model_name(treat)} is a classifier but treatment "
                f"{data.treatment!r} is not 0/1; pass a regressor."
            )
        instr = []
        for j, name in enumerate(data.roles["instruments"]):
            binary_z = _is_binary(Z[:, j])
            model = self.instrument_model
            if model is None:
                model = default_classifier() if binary_z else default_regressor()
            elif _predicts_proba(model) and not binary_z:
                raise ParameterError(
                    f"PLIV: instrument_model {model_name(model)} is a classifier but "
                    f"instrument {name!r} is not 0/1; pass a regressor."
                )
            instr.append(model)
        return outcome, treat, instr

    def _estimate(self, data: CausalData) -> Effect:
        y, d, Z, X, n = data.y, data.t, data.Z, data.X, data.n_obs
        names = data.roles["instruments"]
        cluster = data.column("cluster")
        self._cluster = cluster
        if len(names) > 1 and self.score == "IV-type":
            raise ParameterError(
                f"PLIV: score='IV-type' takes one instrument; got {len(names)} ({names}). "
                "Use score='partialling out', which combines several instruments by 2SLS."
            )
        learners = self._check_learners(y, d, Z, data)
        binary_z = len(names) == 1 and _is_binary(Z[:, 0])
        if binary_z and isinstance(self.folds, numbers.Integral):
            n1 = int(Z[:, 0].sum())
            if min(n1, n - n1) < max(2, int(self.folds)):
                raise DataError(
                    f"PLIV with folds={self.folds} needs at least {max(2, int(self.folds))} "
                    f"units with each value of instrument {names[0]!r}; found {n1} with 1 and "
                    f"{n - n1} with 0."
                )

        def split(k: int, seed: int) -> Folds:
            strata = Z[:, 0] if binary_z else np.zeros(n)
            return make_folds(k, strata, seed, stratify=binary_z, groups=cluster)

        plan = plan_repetitions(
            self.folds, self.repetitions, n, self.random_state, split, cluster, "PLIV"
        )
        runs = []
        for rep in plan:
            run = _pliv_one(
                y,
                d,
                Z,
                X,
                names,
                rep.folds,
                rep.seed_root,
                learners,
                self.score,
                cluster,
                self.n_jobs,
            )
            _refuse_unidentified("PLIV", run[2]["first_stage_F"], len(names), self.level)
            runs.append(run)
        agg = aggregate_repetitions([r[0] for r in runs], self.aggregation)
        _, pred, info = runs[0]
        _warn_if_weak("PLIV", info["first_stage_F"])
        outcome, treat, instr = learners
        self.nuisance_ = pred
        keys = ["m"] if len(names) == 1 else [f"m[{name}]" for name in names]
        diag: dict[str, Any] = {
            "treatment": data.treatment,
            "instruments": list(names),
            "treatment_kind": "binary" if _is_binary(d) else "continuous",
            "score": self.score,
            **_repeat_diagnostics(agg, plan, self.aggregation),
            "outcome_model": model_name(outcome),
            "treatment_model": model_name(treat),
            "instrument_model": ", ".join(dict.fromkeys(map(model_name, instr))),
            "outcome_rmse": _rmse(y - pred["l"]),
            "treatment_rmse": _rmse(d - pred["r"]),
            "instrument_rmse": [_rmse(Z[:, j] - pred[key]) for j, key in enumerate(keys)],
            **info,
        }
        if "g" in pred:
            diag["g_rmse"] = _rmse(y - info["theta_initial"] * d - pred["g"])
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


# -- IIVM --------------------------------------------------------------------------------------


def iivm_score_elements(
    y: np.ndarray,
    d: np.ndarray,
    z: np.ndarray,
    g0: np.ndarray,
    g1: np.ndarray,
    r0: np.ndarray,
    r1: np.ndarray,
    m: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The LATE score elements ``(psi_a, psi_b)`` (module docstring; the paper's Sec. 5.2).

    ``psi_b`` is the AIPW contrast of the instrument's effect on ``Y``, ``-psi_a`` that
    of its effect on ``D``, with ``m = P(Z = 1 | X)`` (clipped by the caller).
    """
    psi_b = g1 - g0 + z * (y - g1) / m - (1 - z) * (y - g0) / (1 - m)
    psi_a = -(r1 - r0 + z * (d - r1) / m - (1 - z) * (d - r0) / (1 - m))
    return psi_a, psi_b


def _is_subgroups(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"always_takers", "never_takers"}
        and all(isinstance(v, bool) for v in value.values())
    )


def _iivm_strata(d: np.ndarray, z: np.ndarray, n_folds: int) -> np.ndarray:
    """Fold strata: the four (Z, D) cells when each present one fills the folds, else Z."""
    cells = 2 * z + d
    counts = np.bincount(cells.astype(int), minlength=4)
    return cells if counts[counts > 0].min() >= n_folds else z


def _require_instrument_arms(plan: Sequence[Repetition], z: np.ndarray, name: str) -> None:
    for r, rep in enumerate(plan):
        for k, (train, _) in enumerate(rep.folds):
            n1 = int(np.sum(z[train] == 1))
            if n1 == 0 or n1 == train.size:
                raise DataError(
                    f"IIVM: training fold {k} of repetition {r} has {n1} units with instrument "
                    f"{name!r} = 1 and {train.size - n1} with 0; every training fold needs "
                    "both (stratify the folds by the instrument)."
                )


class IIVM(_DoubleMLIV):
    """Double ML in the interactive IV model: the LATE of a 0/1 treatment, 0/1 instrument.

    Chernozhukov et al. (2018, Sec. 5.2); module docstring for the score. Needs the
    instrument to be as good as random given ``X``, to affect ``Y`` only through ``D``,
    and monotonicity (no defiers); ``theta`` is the average effect on the compliers.

    Parameters
    ----------
    estimand : {"LATE"}, default "LATE"
    outcome_model : regressor, optional
        Learns ``g(z, X) = E[Y | Z = z, X]`` in each instrument arm (a classifier for a
        0/1 outcome is allowed). Default: boosting.
    treatment_model : classifier, optional
        Learns ``r(z, X) = P(D = 1 | Z = z, X)`` in each instrument arm
        (``predict_proba``). Default: boosting.
    propensity_model : classifier, optional
        Learns the instrument propensity ``m(X) = P(Z = 1 | X)``. Default: boosting.
    subgroups : dict, optional
        ``{"always_takers": bool, "never_takers": bool}``, both True by default. With
        ``always_takers=False`` (one-sided noncompliance: nobody with ``Z = 0`` is
        treated) ``r(0, X) = 0``; with ``never_takers=False`` ``r(1, X) = 1``; those
        nuisances are then not learned. The data must agree.
    folds : int or list, default 5
        As in :class:`PLR`, stratified by the instrument and, where every cell fills the
        folds, by treatment within it.
    repetitions : int, default 1
    aggregation : {"median", "mean"}, default "median"
    clip : float in [0, 0.5), default 0.01
        ``m`` is clipped to ``[clip, 1 - clip]`` in the score.
    level : float, default 0.95
    random_state : int or None
    n_jobs : int, optional
        As in :class:`PLR`.

    Attributes
    ----------
    result_ : Effect
        ``method="dml-iivm"``, ``estimand="LATE"``, per-unit influence values in
        ``scores``; ``diagnostics["first_stage"]`` is the instrument's estimated effect
        on the treatment (the complier share) and ``["first_stage_F"]`` its squared
        t-statistic.
    nuisance_ : dict of ndarray
        Out-of-fold ``g0``, ``g1``, ``r0``, ``r1`` and (clipped) ``m`` of the first
        repetition (``r0``/``r1`` constant when fixed by ``subgroups``).
    """

    nuisance_: dict[str, np.ndarray]

    _method: ClassVar[str] = "dml-iivm"
    _estimands: ClassVar[tuple[str, ...]] = ("LATE",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimand": [Options(("LATE",))],
        "outcome_model": [NONE, HasMethods(("fit", "predict"))],
        "treatment_model": [NONE, HasMethods(("fit", "predict_proba"))],
        "propensity_model": [NONE, HasMethods(("fit", "predict_proba"))],
        "subgroups": [
            NONE,
            Satisfies(_is_subgroups, "None or {'always_takers': bool, 'never_takers': bool}"),
        ],
        "clip": [Interval(0, 0.5, closed="left")],
        **_REPEATED,
    }

    def __init__(
        self,
        estimand: Literal["LATE"] = "LATE",
        outcome_model: Any = None,
        treatment_model: Any = None,
        propensity_model: Any = None,
        subgroups: dict[str, bool] | None = None,
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
        self.treatment_model = treatment_model
        self.propensity_model = propensity_model
        self.subgroups = subgroups
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
            _or_default(self.treatment_model, default_classifier()),
            _or_default(self.propensity_model, default_classifier()),
        ]

    def _check_data(self, data: CausalData) -> tuple[np.ndarray, bool, bool]:
        """The 0/1 instrument, and which noncomplier groups are present (checked)."""
        names = data.roles["instruments"]
        if len(names) != 1:
            raise ParameterError(
                f"IIVM takes one 0/1 instrument; got {len(names)} ({names}). Use PLIV for "
                "several instruments."
            )
        z = data.Z[:, 0]
        if not _is_binary(z):
            raise DataError(
                f"IIVM: instrument column {names[0]!r} takes values other than 0/1 "
                f"({np.unique(z)[:5].tolist()}); recode a binary instrument to 0/1, or use "
                "PLIV for a continuous one."
            )
        d = data.t
        groups = self.subgroups or {"always_takers": True, "never_takers": True}
        always, never = groups["always_takers"], groups["never_takers"]
        n_always, n_never = int(np.sum((z == 0) & (d == 1))), int(np.sum((z == 1) & (d == 0)))
        for present, count, group, arm, other in (
            (always, n_always, "always_takers", 0, "treated"),
            (never, n_never, "never_takers", 1, "untreated"),
        ):
            if present and count == 0:
                raise DataError(
                    f"IIVM: no unit with instrument {names[0]!r} = {arm} is {other}, so there "
                    f"are no {group.replace('_', '-')} to learn from; pass "
                    f"subgroups={groups | {group: False}}."
                )
            if not present and count > 0:
                raise DataError(
                    f"IIVM: subgroups says there are no {group.replace('_', '-')}, but "
                    f"{count} units with instrument {names[0]!r} = {arm} are {other}; pass "
                    f"subgroups={groups | {group: True}}."
                )
        return z, always, never

    def _estimate(self, data: CausalData) -> Effect:
        y, d, X, n = data.y, data.t, data.X, data.n_obs
        z, always, never = self._check_data(data)
        name = data.roles["instruments"][0]
        cluster = data.column("cluster")
        self._cluster = cluster
        outcome, treat, propensity = self._learners()
        if _predicts_proba(outcome) and not _is_binary(y):
            raise ParameterError(
                f"IIVM: outcome_model {model_name(outcome)} is a classifier but outcome "
                f"{data.outcome!r} is not 0/1; pass a regressor."
            )
        if isinstance(self.folds, numbers.Integral):
            n1, need = int(z.sum()), max(2, int(self.folds))
            if min(n1, n - n1) < need:
                raise DataError(
                    f"IIVM with folds={self.folds} needs at least {need} units with each value "
                    f"of instrument {name!r}; found {n1} with 1 and {n - n1} with 0."
                )
        plan = plan_repetitions(
            self.folds,
            self.repetitions,
            n,
            self.random_state,
            lambda k, seed: make_folds(k, _iivm_strata(d, z, k), seed, groups=cluster),
            cluster,
            "IIVM",
        )
        _require_instrument_arms(plan, z, name)
        nuisances = [
            Nuisance("g0", outcome, "outcome", "instrument=0"),
            Nuisance("g1", outcome, "outcome", "instrument=1"),
            Nuisance("m", propensity, "instrument"),
        ]
        if always:
            nuisances.append(Nuisance("r0", treat, "treatment", "instrument=0"))
        if never:
            nuisances.append(Nuisance("r1", treat, "treatment", "instrument=1"))
        solutions: list[LinearScoreSolution] = []
        first: dict[str, np.ndarray] = {}
        stage: dict[str, float] = {}
        for r, rep in enumerate(plan):
            pred = cross_fit(nuisances, X, y, d, rep.folds, rep.seed_root, self.n_jobs, z=z)
            pred.setdefault("r0", np.zeros(n))
            pred.setdefault("r1", np.ones(n))
            m = np.clip(pred["m"], self.clip, 1 - self.clip) if self.clip > 0 else pred["m"]
            psi_a, psi_b = iivm_score_elements(
                y, d, z, pred["g0"], pred["g1"], pred["r0"], pred["r1"], m
            )
            f_stat = _t_squared(psi_a, cluster)
            _refuse_unidentified("IIVM", f_stat, 1, self.level)
            solutions.append(solve_linear_score(psi_a, psi_b, cluster))
            if r == 0:
                first = {k: pred[k] for k in ("g0", "g1", "r0", "r1")} | {"m": m}
                stage = {"first_stage": -float(np.mean(psi_a)), "first_stage_F": f_stat}
                m_raw = pred["m"]
        agg = aggregate_repetitions(solutions, self.aggregation)
        _warn_if_weak("IIVM", stage["first_stage_F"])
        self.nuisance_ = first
        diag: dict[str, Any] = {
            "treatment": data.treatment,
            "instrument": name,
            **_repeat_diagnostics(agg, plan, self.aggregation),
            **stage,
            "always_takers": always,
            "never_takers": never,
            "clip": self.clip,
            "share_clipped": float(np.mean((m_raw < self.clip) | (m_raw > 1 - self.clip))),
            "instrument_propensity_min": float(m_raw.min()),
            "instrument_propensity_max": float(m_raw.max()),
            "outcome_model": model_name(outcome),
            "treatment_model": model_name(treat),
            "propensity_model": model_name(propensity),
            "outcome_rmse_z1": _rmse((y - first["g1"])[z == 1]),
            "outcome_rmse_z0": _rmse((y - first["g0"])[z == 0]),
            "propensity_log_loss": _log_loss(z, m_raw),
        }
        if always:
            diag["treatment_log_loss_z0"] = _log_loss(d[z == 0], first["r0"][z == 0])
        if never:
            diag["treatment_log_loss_z1"] = _log_loss(d[z == 1], first["r1"][z == 1])
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
