"""Repeated cross-fitting: one fold plan per repetition, and the repetitions aggregated.

A cross-fitted estimate depends on the random split of the sample into folds.
Chernozhukov et al. (2018, Sec. 3.4, "finite-sample adjustments to incorporate
uncertainty induced by sample splitting") repeat the whole estimator on ``S``
independent splits and report

* ``theta = median_s(theta_s)`` with ``se^2 = median_s(se_s^2 + (theta_s - theta)^2)``, or
* ``theta = mean_s(theta_s)`` with ``se^2 = mean_s(se_s^2 + (theta_s - theta)^2)``.

Here ``se_s`` is the standard error of repetition ``s`` (the scale of ``theta``), so
the spread of the split-specific estimates is added at full weight: the reported
error covers both sampling and splitting noise. (Read literally, the paper adds the
spread to the ``sqrt(n)``-scaled variance, i.e. ``(theta_s - theta)^2 / n`` on this
scale; that is asymptotically the same and never larger, so ours is the conservative
reading.)

Folds come either from a seeded splitter (``folds`` an integer) or from the user, as
explicit ``(train, test)`` index pairs, so two implementations can be compared on
identical splits; :func:`check_fold_list` validates those.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from paribus._core.linear_score import LinearScoreSolution
from paribus._core.params import Interval, Satisfies
from paribus._core.random import seed_sequence
from paribus.errors import DataError, ParameterError

__all__ = [
    "FOLDS",
    "Aggregate",
    "Folds",
    "Repetition",
    "aggregate_repetitions",
    "check_fold_list",
    "plan_repetitions",
    "require_both_arms",
]

Folds = list[tuple[np.ndarray, np.ndarray]]


def _is_index_array(value: Any) -> bool:
    try:
        return bool(np.asarray(value).ndim == 1)
    except ValueError:  # ragged nesting: a pair of pairs, not an index array
        return False


def _is_pair(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and all(map(_is_index_array, value))


def _is_fold_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(map(_is_pair, value))


def _is_fold_spec(value: Any) -> bool:
    """A list of (train, test) pairs, or a non-empty list of such lists (one per repetition)."""
    if _is_fold_list(value):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(map(_is_fold_list, value))


#: the ``folds`` setting of a cross-fitted estimator: a count, or explicit splits
FOLDS = [
    Interval(1, None, integer=True),
    Satisfies(
        _is_fold_spec,
        "a list of (train, test) index-array pairs, or a list of such lists (one per repetition)",
    ),
]


def check_fold_list(
    folds: Sequence[Any], n: int, cluster: np.ndarray | None = None, owner: str = ""
) -> Folds:
    """Validate user-supplied ``(train, test)`` pairs and return them as integer arrays.

    The test sets must partition ``0..n-1`` (every unit gets exactly one out-of-fold
    prediction), each train set must be non-empty and disjoint from its test set, and
    with clusters no cluster may sit on both sides of a split.
    """
    prefix = f"{owner}: " if owner else ""
    if len(folds) < 2:
        raise ParameterError(
            f"{prefix}folds has {len(folds)} (train, test) pair; cross-fitting needs at least "
            "2. Pass folds=1 for the full-sample (non-cross-fitted) estimator."
        )
    out: Folds = []
    seen = np.zeros(n, dtype=int)
    for k, (train, test) in enumerate(folds):
        parts = []
        for name, idx in (("train", train), ("test", test)):
            arr = np.asarray(idx)
            if arr.size and arr.dtype.kind not in "iu":
                raise ParameterError(
                    f"{prefix}folds[{k}] {name} indices have dtype {arr.dtype}; expected "
                    "integer row positions (use np.flatnonzero(mask) for a boolean mask)."
                )
            arr = arr.astype(np.intp)
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise ParameterError(
                    f"{prefix}folds[{k}] {name} indices fall outside 0..{n - 1} "
                    f"(found {arr.min()}..{arr.max()}); the data have {n} rows after validation."
                )
            if arr.size and np.bincount(arr, minlength=n).max() > 1:
                raise ParameterError(f"{prefix}folds[{k}] {name} indices repeat a row.")
            parts.append(arr)
        tr, te = parts
        if tr.size == 0 or te.size == 0:
            raise ParameterError(f"{prefix}folds[{k}] has an empty train or test set.")
        in_test = np.zeros(n, dtype=bool)
        in_test[te] = True
        overlap = int(np.count_nonzero(in_test[tr]))
        if overlap:
            raise ParameterError(
                f"{prefix}folds[{k}]: {overlap} rows are in both train "
                "and test; out-of-fold predictions need disjoint sets."
            )
        if cluster is not None and np.intersect1d(cluster[tr], cluster[te]).size:
            raise ParameterError(
                f"{prefix}folds[{k}] splits a cluster between train and test; keep each "
                "cluster in one fold (e.g. sklearn's GroupKFold) for cluster-robust inference."
            )
        seen[te] += 1
        out.append((tr, te))
    if not np.all(seen == 1):
        missing, twice = int(np.sum(seen == 0)), int(np.sum(seen > 1))
        raise ParameterError(
            f"{prefix}the test sets of folds must partition the {n} rows; {missing} rows are in "
            f"no test set and {twice} in more than one."
        )
    return out


@dataclass(frozen=True)
class Repetition:
    """The folds of one repetition and the stream its learners are seeded from."""

    folds: Folds
    seed_root: np.random.SeedSequence


def plan_repetitions(
    folds: int | Sequence[Any],
    repetitions: int,
    n: int,
    random_state: int | None,
    split: Callable[[int, int], Folds],
    cluster: np.ndarray | None = None,
    owner: str = "",
) -> list[Repetition]:
    """One :class:`Repetition` per repetition.

    With an integer ``folds``, repetition ``r`` draws its splits with ``split(folds,
    seed)`` from its own spawned stream; explicit splits are validated and used as
    given (one list of pairs per repetition). Learner seeds come from the repetition's
    own stream either way, so the plan does not depend on ``n_jobs``.
    """
    streams = seed_sequence(random_state).spawn(repetitions)
    if isinstance(folds, numbers.Integral):
        plan = []
        for stream in streams:
            fold_stream, fit_stream = stream.spawn(2)
            seed = int(fold_stream.generate_state(1)[0])
            plan.append(Repetition(split(int(folds), seed), fit_stream))
        return plan
    given = cast(Sequence[Any], folds)
    splits = [given] if _is_fold_list(given) else list(given)
    if len(splits) != repetitions:
        prefix = f"{owner}: " if owner else ""
        raise ParameterError(
            f"{prefix}folds gives {len(splits)} split(s) but repetitions={repetitions}; pass "
            "one list of (train, test) pairs per repetition, or set repetitions to match."
        )
    return [
        Repetition(check_fold_list(s, n, cluster, owner), stream.spawn(2)[1])
        for s, stream in zip(splits, streams, strict=True)
    ]


def require_both_arms(plan: Sequence[Repetition], t: np.ndarray, owner: str) -> None:
    """Raise DataError if a training fold lacks treated or control units."""
    for r, rep in enumerate(plan):
        for k, (train, _) in enumerate(rep.folds):
            n1 = int(np.sum(t[train] == 1))
            if n1 == 0 or n1 == train.size:
                raise DataError(
                    f"{owner}: training fold {k} of repetition {r} has {n1} treated and "
                    f"{train.size - n1} control units; every training fold needs both arms "
                    "(stratify the folds by treatment)."
                )


@dataclass(frozen=True)
class Aggregate:
    """Repetitions combined: the estimate, its error, and the averaged influence values."""

    estimate: float
    std_error: float
    influence: np.ndarray
    estimates: tuple[float, ...]
    std_errors: tuple[float, ...]


def aggregate_repetitions(
    solutions: Sequence[LinearScoreSolution], how: Literal["median", "mean"] = "median"
) -> Aggregate:
    """Combine the solutions of repeated cross-fitting (module docstring).

    The influence values are averaged over repetitions (each has mean zero), so the
    bootstrap and every reuse of the scores see the split-averaged estimator; with
    ``S > 1`` ``std(influence) / sqrt(n)`` is then at most ``std_error``, which also
    carries the between-split spread. One repetition is returned unchanged.
    """
    thetas = np.array([s.estimate for s in solutions])
    ses = np.array([s.std_error for s in solutions])
    if len(solutions) == 1:
        only = solutions[0]
        return Aggregate(
            only.estimate, only.std_error, only.influence, (only.estimate,), (only.std_error,)
        )
    center = np.median if how == "median" else np.mean
    theta = float(center(thetas))
    se = float(np.sqrt(center(ses**2 + (thetas - theta) ** 2)))
    influence = np.mean([s.influence for s in solutions], axis=0)
    return Aggregate(theta, se, influence, tuple(thetas.tolist()), tuple(ses.tolist()))
