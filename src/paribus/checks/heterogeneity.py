"""Validating a CATE model: BLP, GATES and CLAN with sample-splitting inference.

Chernozhukov, Demirer, Duflo & Fernández-Val (2018/2020), "Generic machine learning
inference on heterogeneous treatment effects in randomized experiments" (NBER WP
24678) test what any CATE model's predictions ``S(X)`` (the *proxy*) say about the
true effect ``tau(X)`` without assuming the model is consistent:

* **BLP**, the best linear predictor of ``tau(X)`` by the proxy,
  ``beta1 + beta2 (S - E S)``: ``beta1 = E[tau]`` (the ATE) and
  ``beta2 = Cov(tau, S) / Var(S)``. ``beta2 > 0`` (significantly) means the proxy
  carries real heterogeneity; ``beta2 = 1`` means it is calibrated.
* **GATES**, ``gamma_k = E[tau | S in group k]`` for quantile groups of ``S``, and
  the spread ``gamma_K - gamma_1`` between the most and least affected groups.
* **CLAN**, the means of chosen covariates in the most and least affected groups
  and their difference.

Scores. The paper's randomized-experiment estimators weight by the known
propensity ``p`` (its weighted-residual and Horvitz-Thompson strategies). With
observational data ``p(X)`` must be estimated, and the Horvitz-Thompson transform
``H Y``, ``H = (D - p) / (p (1 - p))``, is then both noisy and first-order sensitive
to propensity errors. The common adaptation (Semenova & Chernozhukov 2021,
"Debiased machine learning of conditional average treatment effects and other
causal functions", Econometrics Journal) replaces it by the doubly robust AIPW
pseudo-outcome

    psi = g1 - g0 + D (Y - g1) / e - (1 - D)(Y - g0) / (1 - e),

with cross-fitted outcome models ``g1, g0`` and propensity ``e``. ``E[psi | X] =
tau(X)`` when either nuisance is right, and the score is Neyman orthogonal, so
nuisance errors enter only as a product. BLP is then the least squares fit
``psi = beta1 + beta2 (S - mean S) + e``, and GATES the regression of ``psi`` on the
group indicators (group means of ``psi``), with HC1 errors. ``beta1`` is the AIPW
estimate of the ATE with the AIPW error ``sd(psi) / sqrt(n)``: the OLS intercept
error would treat the centring ``mean S`` as known and understate it by
``beta2^2 Var(S) / n``. With a known propensity (``propensity=``) the same score
is used with ``e = p``; it is unbiased for ``tau(X)`` whatever the outcome models.

Sample splitting. Given an unfitted ``cate_model``, each of ``splits`` random halvings
(stratified by treatment) fits the model on the auxiliary half, predicts ``S`` on the
main half and computes BLP, GATES and CLAN there; the splits are combined by the
paper's median rule (:mod:`paribus.checks.heterogeneity_report`): median estimates,
medians of interval bounds computed at level ``1 - alpha`` for a reported level
``1 - 2 alpha``, and doubled median p-values. The nuisances behind ``psi`` are
cross-fitted once on the full sample and shared by every split (the splits only decide
who trains the proxy), which is what makes many splits affordable; the paper instead
fits its baseline proxy on each auxiliary half, which the orthogonal score makes
unnecessary.

Given ``predictions`` instead (out-of-sample predictions the user already has, e.g.
cross-fitted), everything is computed once on the full sample with ordinary normal
inference and per-unit influence values in each ``Effect.scores``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paribus._core.crossfit import Nuisance, cross_fit, make_folds
from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.groups import group_means, quantile_groups
from paribus._core.learners import model_name, seeded_clone
from paribus._core.ols import ols
from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.parallel import run_tasks
from paribus._core.params import (
    LEVEL,
    N_JOBS,
    NONE,
    RANDOM_STATE,
    HasMethods,
    Interval,
    validate_params,
)
from paribus._core.propensity import balancing_weights
from paribus._core.random import child_seeds, seed_sequence
from paribus.checks.heterogeneity_report import HeterogeneityReport, build_tables, table_labels
from paribus.data import CausalData
from paribus.effects._base import learner_allows_nan
from paribus.effects.aipw import aipw_score_elements
from paribus.errors import DataError, ParameterError

__all__ = ["HeterogeneityReport", "dr_pseudo_outcomes", "validate_heterogeneity"]

_OWNER = "validate_heterogeneity"
#: fewest units per quantile group the sample (the main half, when splitting) must allow
MIN_PER_GROUP = 10

_CONSTRAINTS: dict[str, list[Any]] = {
    "cate_model": [NONE, HasMethods(("fit", "effect"))],
    "n_groups": [Interval(2, None, integer=True)],
    "splits": [Interval(1, None, integer=True)],
    "outcome_model": [NONE, HasMethods(("fit", "predict"))],
    "propensity_model": [NONE, HasMethods(("fit", "predict_proba"))],
    "folds": [Interval(1, None, integer=True)],
    "clip": [Interval(0, 0.5, closed="left")],
    "level": [LEVEL],
    "random_state": [RANDOM_STATE],
    "n_jobs": [N_JOBS],
}


# -- the doubly robust pseudo-outcome ---------------------------------------------------------


def _causal_data(
    data: Any,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    learners: Sequence[Any],
) -> CausalData:
    allow_nan = bool(learners) and all(learner_allows_nan(m) for m in learners)
    return CausalData(
        data,
        treatment=treatment,
        outcome=outcome,
        covariates=list(covariates),
        allow_missing_covariates=allow_nan,
    )


def _known_propensity(propensity: Any, n: int) -> np.ndarray:
    p = np.asarray(propensity, dtype=float)
    if p.ndim == 0:
        p = np.full(n, float(p))
    if p.shape != (n,):
        raise DataError(
            f"propensity has shape {p.shape}; expected a number or an array of shape ({n},), "
            "one assignment probability per row."
        )
    if not np.all(np.isfinite(p)) or np.any((p <= 0) | (p >= 1)):
        raise DataError(
            "propensity must lie strictly between 0 and 1 for every row (a unit certain to be "
            "treated or untreated has no counterfactual); drop such units first."
        )
    return p


def _scores(
    cd: CausalData,
    outcome_model: Any,
    propensity_model: Any,
    propensity: Any,
    folds: int,
    clip: float,
    root: np.random.SeedSequence,
    n_jobs: int | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The AIPW pseudo-outcome of every unit and the nuisance diagnostics.

    Seeds are drawn from ``root`` exactly as :class:`paribus.AIPW` draws them, so with the
    same learners, folds and ``random_state`` BLP's ``beta1`` is AIPW's ATE.
    """
    t, y, X = cd.t, cd.y, cd.X
    cd.require_arms(max(2, folds), f"{_OWNER} with folds={folds}")
    known = None if propensity is None else _known_propensity(propensity, t.size)
    outcome = default_regressor() if outcome_model is None else outcome_model
    fold_seed = child_seeds(root, 1)[0]
    plan = make_folds(folds, t, fold_seed)
    nuisances = [
        Nuisance("g0", outcome, "outcome", "control"),
        Nuisance("g1", outcome, "outcome", "treated"),
    ]
    if known is None:
        model = default_classifier() if propensity_model is None else propensity_model
        nuisances.append(Nuisance("e", model, "treatment"))
    pred = cross_fit(nuisances, X, y, t, plan, root.spawn(1)[0], n_jobs)
    diag: dict[str, Any] = {"folds": folds, "outcome_model": model_name(outcome)}
    if known is None:
        e_raw = pred["e"]
        e = np.clip(e_raw, clip, 1 - clip) if clip > 0 else e_raw
        clipped = float(np.mean((e_raw < clip) | (e_raw > 1 - clip)))
        diag |= {"propensity_model": model_name(model), "clip": clip}
    else:
        e, clipped = known, 0.0
        diag |= {"propensity_model": "known", "clip": 0.0}
    overlap = overlap_diagnostics(e, t, balancing_weights(e, t, "ATE"), share_clipped=clipped)
    warn_if_poor_overlap(overlap, _OWNER, "ATE")
    _, psi = aipw_score_elements("ATE", y, t, pred["g0"], pred["g1"], e)
    return psi, diag | overlap


def dr_pseudo_outcomes(
    data: Any,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    outcome_model: Any = None,
    propensity_model: Any = None,
    propensity: float | np.ndarray | None = None,
    folds: int = 5,
    clip: float = 0.01,
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Doubly robust (AIPW) pseudo-outcomes ``psi_i`` with ``E[psi | X] = tau(X)``.

    ``psi = g1 - g0 + D (Y - g1) / e - (1 - D)(Y - g0) / (1 - e)`` with outcome models
    and propensity cross-fitted over ``folds`` (Robins, Rotnitzky & Zhao 1994;
    Chernozhukov et al. 2018). Their mean is the AIPW estimate of the ATE; binned by a
    CATE model's predictions they are the realised effects of
    :func:`paribus.report.plot_calibration`. Settings as in
    :func:`validate_heterogeneity`, which uses the same pseudo-outcomes (same
    ``random_state``, same values).
    """
    settings = {
        "outcome_model": outcome_model,
        "propensity_model": propensity_model,
        "folds": folds,
        "clip": clip,
        "random_state": random_state,
        "n_jobs": n_jobs,
    }
    validate_params("dr_pseudo_outcomes", settings, {k: _CONSTRAINTS[k] for k in settings})
    _check_propensity_args(propensity, propensity_model)
    cd = _causal_data(data, treatment, outcome, covariates, [outcome_model, propensity_model])
    root = seed_sequence(random_state)
    psi, _ = _scores(cd, outcome_model, propensity_model, propensity, folds, clip, root, n_jobs)
    return psi


def _check_propensity_args(propensity: Any, propensity_model: Any) -> None:
    if propensity is not None and propensity_model is not None:
        raise ParameterError(
            f"{_OWNER}: pass propensity= (known assignment probabilities) or "
            "propensity_model= (a classifier to estimate them), not both."
        )


# -- BLP, GATES and CLAN on one sample --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Sample:
    """BLP, GATES and CLAN on one sample, in the order of ``table_labels``."""

    estimates: np.ndarray
    std_errors: np.ndarray
    n_obs: np.ndarray
    scores: np.ndarray | None  # (n, m) influence values, predictions path only
    group_predictions: np.ndarray
    mean_prediction: float
    lambda_blp: float
    lambda_gates: float


def _check_proxy(s: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(s, dtype=float)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ParameterError(
            f"{what} has shape {arr.shape}; expected ({n},), one predicted effect per row "
            f"(a CATE model's effect(X) returns shape (n,))."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{what} has {int(bad.sum())} non-finite values (first at row "
            f"{int(np.flatnonzero(bad)[0])}); predicted effects must be finite numbers."
        )
    scale = max(1.0, float(np.max(np.abs(arr))))
    if np.ptp(arr) <= 1e-12 * scale:
        raise DataError(
            f"{what} is constant ({arr[0]:.6g} for every unit): BLP's heterogeneity loading "
            "beta2 is not identified and no quantile groups can be formed. A proxy that "
            "predicts no heterogeneity cannot be validated; use a CATE model whose "
            "predictions vary across units."
        )
    return arr


def _analyse(
    psi: np.ndarray, s: np.ndarray, z: np.ndarray, n_groups: int, what: str, keep_scores: bool
) -> _Sample:
    """BLP, GATES and CLAN of the pseudo-outcomes ``psi`` by the proxy ``s`` (module doc)."""
    n = psi.size
    s_bar = float(s.mean())
    blp = ols(np.column_stack([np.ones(n), s - s_bar]), psi, cov_type="HC1")
    beta1, beta2 = float(blp.coef[0]), float(blp.coef[1])
    phi_b1 = psi - beta1  # the AIPW influence values (module docstring)
    phi_b2 = blp.influence[:, 1]

    groups = quantile_groups(s, n_groups)
    sizes = np.bincount(groups, minlength=n_groups)
    if sizes.min() < 2:
        distinct = np.unique(s).size
        raise DataError(
            f"{what} takes {distinct} distinct values, too few for {n_groups} quantile groups "
            f"(group sizes {sizes.tolist()}); use n_groups <= {max(2, distinct)} or a proxy "
            "with finer predictions."
        )
    gates = group_means(psi, groups, n_groups)
    top, bottom = n_groups - 1, 0
    phi_gates = [gates.influence(k) for k in range(n_groups)]
    phi_gates.append(phi_gates[top] - phi_gates[bottom])

    clan = group_means(z, groups, n_groups)
    m = z.shape[1]
    phi_top, phi_bottom = clan.influence(top), clan.influence(bottom)
    phi_clan = []
    for j in range(m):
        phi_clan += [phi_top[:, j], phi_bottom[:, j], phi_top[:, j] - phi_bottom[:, j]]

    phi = np.column_stack([phi_b1, phi_b2, *phi_gates, *phi_clan])
    estimates = np.concatenate(
        [
            [beta1, beta2],
            gates.means,
            [gates.means[top] - gates.means[bottom]],
            np.column_stack(
                [clan.means[top], clan.means[bottom], clan.means[top] - clan.means[bottom]]
            ).ravel(),
        ]
    )
    std_errors = np.sqrt(np.sum(phi**2, axis=0)) / n
    n_obs = np.concatenate(
        [
            [n, n],
            sizes,
            [sizes[top] + sizes[bottom]],
            np.tile([sizes[top], sizes[bottom], sizes[top] + sizes[bottom]], m),
        ]
    )
    predicted = np.bincount(groups, weights=s, minlength=n_groups) / sizes
    return _Sample(
        estimates=estimates,
        std_errors=std_errors,
        n_obs=n_obs,
        scores=phi if keep_scores else None,
        group_predictions=predicted,
        mean_prediction=s_bar,
        # the paper's criteria for choosing among proxies: larger is better
        lambda_blp=beta2**2 * float(np.var(s)),
        lambda_gates=float(np.sum(gates.means**2 * sizes) / n),
    )


# -- sample splitting -------------------------------------------------------------------------


def _halves(t: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(auxiliary, main) row indices: each arm halved at random."""
    rng = np.random.default_rng(seed)
    main = []
    for arm in (0.0, 1.0):
        idx = rng.permutation(np.flatnonzero(t == arm))
        main.append(idx[: idx.size // 2])
    main_idx = np.sort(np.concatenate(main))
    return np.setdiff1d(np.arange(t.size), main_idx), main_idx


def _fresh(model: Any, seed: int) -> Any:
    """An unfitted copy for one split, seeded; its own bootstrap and progress bar off.

    Only ``effect(X)`` is used, so bootstrap refits for the model's own intervals (the
    ``n_bootstrap`` of paribus's meta-learners) would multiply the cost for nothing.
    """
    if not hasattr(model, "get_params"):
        return copy.deepcopy(model)
    fresh = seeded_clone(model, seed)
    params = fresh.get_params(deep=False)
    off = {k: v for k, v in (("n_bootstrap", 0), ("show_progress", False)) if k in params}
    return fresh.set_params(**off) if off else fresh


def _split_task(
    k: int,
    model: Any,
    frame: pd.DataFrame,
    roles: tuple[str, str, list[str]],
    X: np.ndarray,
    psi: np.ndarray,
    z: np.ndarray,
    aux: np.ndarray,
    main: np.ndarray,
    n_groups: int,
    seed: int,
) -> _Sample:
    treatment, outcome, covariates = roles
    fitted = _fresh(model, seed)
    fitted.fit(
        frame.iloc[aux].reset_index(drop=True),
        treatment=treatment,
        outcome=outcome,
        covariates=covariates,
    )
    what = f"cate_model.effect(X) on the main half of split {k}"
    s = _check_proxy(fitted.effect(X[main]), main.size, what)
    return _analyse(psi[main], s, z[main], n_groups, what, keep_scores=False)


# -- the entry point --------------------------------------------------------------------------


def validate_heterogeneity(
    data: Any,
    cate_model: Any = None,
    *,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    predictions: Any = None,
    n_groups: int = 5,
    splits: int = 100,
    clan_covariates: Sequence[str] | None = None,
    outcome_model: Any = None,
    propensity_model: Any = None,
    propensity: float | np.ndarray | None = None,
    folds: int = 5,
    clip: float = 0.01,
    level: float = 0.95,
    random_state: int | None = None,
    n_jobs: int | None = None,
    show_progress: bool | None = None,
) -> HeterogeneityReport:
    """Test a CATE model's predictions against the data: BLP, GATES and CLAN.

    Chernozhukov, Demirer, Duflo & Fernández-Val (2018), with doubly robust scores
    for observational data (module docstring). Pass exactly one of ``cate_model``
    (refitted on random halves, the paper's sample-splitting inference) or
    ``predictions`` (already out of sample, used once).

    Parameters
    ----------
    data : table
        Anything :class:`~paribus.CausalData` accepts.
    cate_model : object, optional
        Unfitted CATE model with ``fit(data, treatment=, outcome=, covariates=)`` and
        ``effect(X) -> (n,)``, where ``X`` is the float array of ``covariates`` in that
        order (e.g. paribus's meta-learners). Cloned, with its unset ``random_state``
        seeded and its own bootstrap (``n_bootstrap``) off, and fitted on the auxiliary
        half of every split.
    treatment, outcome : str
        Binary treatment and outcome columns.
    covariates : list of str
        Confounders for the nuisance models, and the CATE model's features.
    predictions : array of shape (n,), optional
        Out-of-sample predicted effects (e.g. cross-fitted). In-sample predictions
        overfit the noise and overstate ``beta2``.
    n_groups : int, default 5
        Quantile groups of the proxy for GATES and CLAN.
    splits : int, default 100
        Random main/auxiliary halvings (with ``cate_model``; unused with ``predictions``).
        The paper uses 100; fewer make the medians depend more on the seed.
    clan_covariates : list of str, optional
        Columns described by CLAN (numeric, complete); default ``covariates``.
    outcome_model, propensity_model : estimator, optional
        Nuisance learners of the pseudo-outcomes (default: gradient boosting).
    propensity : float or array of shape (n,), optional
        Known assignment probabilities (a randomized experiment) instead of a model.
    folds : int, default 5
        Cross-fitting folds of the nuisances (1 = none, for parametric models only).
    clip : float, default 0.01
        Estimated propensities are clipped to ``[clip, 1 - clip]``.
    level : float, default 0.95
        Interval level; with splits the per-split level is ``1 - (1 - level) / 2``.
    random_state : int, optional
        Seeds the folds, the splits and every learner whose ``random_state`` is None.
    n_jobs : int, optional
        Workers for the nuisance fits and the splits (None: ``paribus.config``).
    show_progress : bool, optional
        Progress bar over splits; None draws it on an interactive terminal only.

    Returns
    -------
    HeterogeneityReport

    Raises
    ------
    ParameterError
        Neither or both of ``cate_model`` and ``predictions``; an invalid setting;
        ``n_groups`` too large for the sample; a proxy of the wrong shape.
    DataError
        Invalid data (see CausalData); predictions non-finite or constant, or with too
        few distinct values for ``n_groups``.
    """
    settings = {
        "cate_model": cate_model,
        "n_groups": n_groups,
        "splits": splits,
        "outcome_model": outcome_model,
        "propensity_model": propensity_model,
        "folds": folds,
        "clip": clip,
        "level": level,
        "random_state": random_state,
        "n_jobs": n_jobs,
    }
    validate_params(_OWNER, settings, _CONSTRAINTS)
    if (cate_model is None) == (predictions is None):
        got = "both" if cate_model is not None else "neither"
        raise ParameterError(
            f"{_OWNER} needs exactly one of cate_model= (an unfitted CATE model, refitted on "
            "random halves of the data) or predictions= (out-of-sample predicted effects, "
            f"one per row); got {got}."
        )
    _check_propensity_args(propensity, propensity_model)
    cd = _causal_data(data, treatment, outcome, covariates, [outcome_model, propensity_model])
    clan_cols = list(covariates if clan_covariates is None else clan_covariates)
    z = CausalData(data, covariates=clan_cols).X if clan_cols else np.empty((cd.n_obs, 0))
    n = cd.n_obs
    n_sample = n if cate_model is None else n // 2
    if n_sample < MIN_PER_GROUP * n_groups:
        where = "the data have" if cate_model is None else "each main half has"
        raise ParameterError(
            f"{_OWNER}: n_groups={n_groups} needs at least {MIN_PER_GROUP} units per group but "
            f"{where} {n_sample} rows; use n_groups <= {max(2, n_sample // MIN_PER_GROUP)}."
        )
    proxy = None if predictions is None else _check_proxy(predictions, n, "predictions")

    root = seed_sequence(random_state)
    psi, diag = _scores(cd, outcome_model, propensity_model, propensity, folds, clip, root, n_jobs)
    labels = table_labels(n_groups, clan_cols)

    if proxy is not None:
        samples = [_analyse(psi, proxy, z, n_groups, "predictions", keep_scores=True)]
        diag["proxy"] = "predictions"
    else:
        split_root = root.spawn(1)[0]
        frame, t, X = cd.frame, cd.t, cd.X
        roles = (cd.treatment, cd.outcome, cd.covariates)
        tasks = []
        for k, stream in enumerate(split_root.spawn(int(splits))):
            split_seed, model_seed = child_seeds(stream, 2)
            aux, main = _halves(t, split_seed)
            tasks.append((k, cate_model, frame, roles, X, psi, z, aux, main, n_groups, model_seed))
        samples = run_tasks(
            _split_task,
            tasks,
            n_jobs=n_jobs,
            desc="heterogeneity splits",
            show_progress=show_progress,
        )
        diag["proxy"] = "cate_model"
        diag["cate_model"] = model_name(cate_model)

    estimates = np.array([s.estimates for s in samples])
    std_errors = np.array([s.std_errors for s in samples])
    n_obs = np.median(np.array([s.n_obs for s in samples]), axis=0).astype(int)
    scores = samples[0].scores if proxy is not None else None
    tables = build_tables(labels, estimates, std_errors, n_obs, level, scores)
    diag["blp_lambda"] = float(np.median([s.lambda_blp for s in samples]))
    diag["gates_lambda"] = float(np.median([s.lambda_gates for s in samples]))
    split_mode = proxy is None
    return HeterogeneityReport(
        blp=tables["BLP"],
        gates=tables["GATES"],
        clan=tables["CLAN"],
        group_predictions=tuple(np.median([s.group_predictions for s in samples], axis=0)),
        mean_prediction=float(np.median([s.mean_prediction for s in samples])),
        n_groups=n_groups,
        n_obs=n,
        level=level,
        splits=int(splits) if split_mode else None,
        diagnostics=diag,
        split_estimates=estimates if split_mode else None,
        split_std_errors=std_errors if split_mode else None,
    )
