"""The cross-fitting template: folds, nuisance fits and out-of-fold predictions.

An estimator declares its nuisance functions as :class:`Nuisance` entries (which
learner, which target, trained on which arm); :func:`cross_fit` fits each one on
every training fold, in parallel through the shared backend, and returns
out-of-fold predictions for every unit (Chernozhukov et al. 2018, "Double/debiased
machine learning", Definition 3.1). With ``folds=1`` nuisances are fitted and
predicted on the full sample: the classical (non-cross-fitted) estimator, valid for
parametric nuisance models.

Instrumental-variable models add a third variable: with ``cross_fit(..., z=Z)`` a
nuisance may learn an instrument column (``target="instrument"``) or train on one arm
of a 0/1 instrument (``rows="instrument=1"`` / ``"instrument=0"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

from paribus._core.binned_boosting import fit_predict_binned
from paribus._core.learners import seeded_clone
from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds
from paribus.errors import DataError, ParameterError

__all__ = ["Nuisance", "cross_fit", "make_folds"]


@dataclass(frozen=True)
class Nuisance:
    """One nuisance function to learn.

    Attributes
    ----------
    name : str
        Key of its predictions in the returned dict.
    learner : scikit-learn estimator
        Cloned for every fold; classifiers predict ``P(target = 1 | X)``.
    target : {"outcome", "treatment", "instrument"}
    rows : {"all", "treated", "control", "instrument=1", "instrument=0"}
        Which training rows it learns from (e.g. the outcome model of the control arm,
        or of the units whose instrument is 1).
    column : int, default 0
        The instrument column meant by ``target="instrument"`` and the instrument rows.
    """

    name: str
    learner: Any
    target: Literal["outcome", "treatment", "instrument"]
    rows: Literal["all", "treated", "control", "instrument=1", "instrument=0"] = "all"
    column: int = 0


def make_folds(
    n_folds: int,
    t: np.ndarray,
    seed: int,
    stratify: bool = True,
    groups: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs, stratified by the treatment so every fold has both arms.

    With ``groups`` (cluster codes) whole clusters stay in one fold, so no cluster's
    outcomes inform its own out-of-fold predictions.
    """
    n = t.size
    if n_folds == 1:
        idx = np.arange(n)
        return [(idx, idx)]
    if groups is not None:
        if np.unique(groups).size < n_folds:
            raise DataError(
                f"{n_folds} folds need at least {n_folds} clusters; found {np.unique(groups).size}."
            )
        splitter: Any = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), t, groups))
    if stratify:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), t))
    return list(KFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(n)))


def _instrument(nuisance: Nuisance, z: np.ndarray | None) -> np.ndarray:
    if z is None:
        raise ParameterError(
            f"nuisance {nuisance.name!r} needs the instrument: pass cross_fit(z=...)."
        )
    return z[:, nuisance.column]


def _training_rows(
    nuisance: Nuisance, train: np.ndarray, t: np.ndarray, z: np.ndarray | None
) -> np.ndarray:
    """The rows of a training fold that ``nuisance`` learns from (its ``rows`` setting)."""
    if nuisance.rows == "treated":
        return train[t[train] == 1]
    if nuisance.rows == "control":
        return train[t[train] == 0]
    if nuisance.rows in ("instrument=1", "instrument=0"):
        arm = 1.0 if nuisance.rows == "instrument=1" else 0.0
        return train[_instrument(nuisance, z)[train] == arm]
    return train


def _fit_predict(
    nuisance: Nuisance,
    X: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    z: np.ndarray | None = None,
) -> np.ndarray:
    train = _training_rows(nuisance, train, t, z)
    if nuisance.target == "instrument":
        target = _instrument(nuisance, z)
    else:
        target = y if nuisance.target == "outcome" else t
    model = seeded_clone(nuisance.learner, seed)
    if len(np.unique(target[train])) < 2 and is_classifier(model):
        raise DataError(
            f"nuisance {nuisance.name!r}: a training fold has a single class; use fewer "
            "folds or more data."
        )
    # LightGBM refits on a cached covariate block (the random-common-cause refuter)
    fast = fit_predict_binned(model, X, target, train, test)
    if fast is not None:
        return fast
    model.fit(X[train], target[train])
    if is_classifier(model) or hasattr(model, "predict_proba"):
        if not hasattr(model, "predict_proba"):
            raise ParameterError(
                f"{nuisance.name} model {type(model).__name__} has no "
                "predict_proba(); pass a probabilistic classifier."
            )
        proba = model.predict_proba(X[test])
        classes = list(getattr(model, "classes_", [0, 1]))
        return np.asarray(proba[:, classes.index(1)], dtype=float)
    return np.asarray(model.predict(X[test]), dtype=float).reshape(-1)


def cross_fit(
    nuisances: Sequence[Nuisance],
    X: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed_root: np.random.SeedSequence,
    n_jobs: int | None = 1,
    *,
    z: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Out-of-fold predictions of every nuisance, for every unit.

    Each (nuisance, fold) task gets its own seed spawned from ``seed_root``, so the
    result is the same bit for bit whatever ``n_jobs`` is. ``z`` holds the instrument
    column(s), shape ``(n,)`` or ``(n, k)``, for nuisances that use them.
    """
    tasks = [(nu, fold) for nu in nuisances for fold in range(len(folds))]
    seeds = child_seeds(seed_root, len(tasks))
    zz = None if z is None else np.asarray(z, dtype=float).reshape(t.size, -1)
    args = [
        (nu, X, y, t, folds[k][0], folds[k][1], s, zz)
        for (nu, k), s in zip(tasks, seeds, strict=True)
    ]
    # longest first (by training rows), so no worker idles while a big fit finishes last;
    # seeds were assigned in the declared order, so the result does not depend on this
    size = [_training_rows(nu, folds[k][0], t, zz).size for nu, k in tasks]
    order = sorted(range(len(tasks)), key=lambda i: -size[i])
    preds = run_tasks(_fit_predict, [args[i] for i in order], n_jobs=n_jobs, desc="cross-fitting")
    out = {nu.name: np.full(t.size, np.nan) for nu in nuisances}
    for i, pred in zip(order, preds, strict=True):
        nu, k = tasks[i]
        out[nu.name][folds[k][1]] = pred
    return out
