"""LightGBM fits that reuse the binning of a covariate block shared by many refits.

The random-common-cause refuter (:mod:`paribus.checks.refute`) refits the estimator
again and again on the same covariates plus one new noise column. With the default
LightGBM learners every nuisance fit first bins its whole training matrix: on 40k rows
x 21 columns one ``LGBMRegressor.fit`` took 0.245 s, of which about 0.11 s was building
the binned ``lightgbm.Dataset`` on one thread and 0.12 s boosting. The 20 original
columns and, for a given training fold, their rows are identical in every repetition,
so their binned Dataset can be built once per process and reused.

Within :func:`binned_base` (activated by the refuter around each refit, in whatever
process or thread runs it), :func:`fit_predict_binned` fits a LightGBM model as

1. the binned Dataset of the base block on the training rows, built once and cached
   (keyed by the training rows and every Dataset-relevant setting);
2. a Dataset of the extra columns on the same rows, to which the cached base features
   are appended (``Dataset.add_features_from``, which copies them into the new Dataset
   and leaves the cached one unchanged);
3. ``lightgbm.train`` with the parameters the scikit-learn wrapper would pass
   (:func:`_train_params`), and predictions on the test rows in the same column order.

Before step 2, a regressor with one added column is first fitted on the base block
alone (once per training fold, cached, and only from the second refit on the same
fold, so refits whose folds change every time pay nothing for it); when
:mod:`paribus._core.unused_column` proves that the added column enters none of its
trees, that fit's predictions are returned: the refit would be the same model.

LightGBM bins each column on its own, so the result is the plain wrapper fit on the
column-permuted matrix ``[extra columns, base columns]`` to the bit (the tests check
this); a permutation of the columns is the same data, and it changes the trees only
where LightGBM breaks ties between equally good splits (or samples columns) by
column position.

:func:`fit_predict_binned` returns None, and the caller fits the usual way, unless all
of these hold:

* a base is active in this thread and ``X`` is float64 with more columns than the
  base, its first columns equal to the base (compared in full, NaN equal to NaN);
* the learner is exactly ``lightgbm.LGBMRegressor`` or ``lightgbm.LGBMClassifier``
  (no subclass) with the default objective (``regression`` / ``binary``, the
  classifier's training labels exactly {0, 1}), ``boosting_type="gbdt"``, no
  ``class_weight``, an integer or None ``random_state``, an integer or None
  ``n_jobs``, no callable setting and no extra LightGBM keyword outside
  :data:`_EXTRA_PARAMS` (so no per-column settings such as monotone constraints, which
  the permutation would misassign, and no aliases whose precedence would need
  resolving);
* the training fold has at most ``subsample_for_bin`` rows (LightGBM then bins from
  every row, so the binning does not depend on the seed, which differs in every
  fit; with more rows the seed picks the binning sample and no cache could be shared).

Sample weights and initial scores never reach it: :func:`paribus._core.crossfit`
passes none. Importing this module does not import LightGBM.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paribus._core.unused_column import (
    BaseModel,
    column_may_split,
    skip_supported,
    summarise_booster,
)

__all__ = ["binned_base", "cache_info", "fit_predict_binned"]

#: LightGBM keywords (beyond the wrapper's constructor arguments) the fast path accepts:
#: settings of the whole model, none per column, none an alias of another setting here
_EXTRA_PARAMS = frozenset(
    {
        "verbose",
        "max_bin",
        "min_data_in_bin",
        "extra_trees",
        "path_smooth",
        "max_delta_step",
        "min_sum_hessian_in_leaf",
        "feature_pre_filter",
        "use_missing",
        "zero_as_missing",
        "deterministic",
        "force_col_wise",
        "force_row_wise",
    }
)

#: the wrapper's constructor arguments (LGBMModel.__init__)
_WRAPPER_PARAMS = frozenset(
    {
        "boosting_type",
        "num_leaves",
        "max_depth",
        "learning_rate",
        "n_estimators",
        "subsample_for_bin",
        "objective",
        "class_weight",
        "min_split_gain",
        "min_child_weight",
        "min_child_samples",
        "subsample",
        "subsample_freq",
        "colsample_bytree",
        "reg_alpha",
        "reg_lambda",
        "random_state",
        "n_jobs",
        "importance_type",
    }
)

#: settings that change the boosting but not a Dataset built from every row: left out of
#: the cache key so fits with other seeds (every fit has its own) share the binned base
_BOOSTING_ONLY = frozenset({"random_state", "n_estimators", "importance_type"})

#: binned training folds kept per base (each about rows x columns bytes)
_MAX_DATASETS = 32

_DEFAULT_OBJECTIVE = {"LGBMRegressor": "regression", "LGBMClassifier": "binary"}


@dataclass
class _Base:
    """The active base block of one process and its binned training folds."""

    fingerprint: tuple[Any, ...]
    X0: np.ndarray
    datasets: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: fits on the base alone, for :mod:`paribus._core.unused_column` (None: not checkable)
    fits: dict[tuple[Any, ...], tuple[BaseModel, np.ndarray] | None] = field(default_factory=dict)
    #: fit keys met once: the fit without the column is built on the second meeting only
    seen: set[tuple[Any, ...]] = field(default_factory=set)


@dataclass
class _Stats:
    builds: int = 0  # base Datasets constructed
    hits: int = 0  # fits that reused a cached one
    fast_fits: int = 0  # fits through the fast path
    skipped: int = 0  # refits proven equal to the cached fit without the extra column
    base_fits: int = 0  # fits on the base block alone, built for the proof


_lock = threading.Lock()
_local = threading.local()  # .base: the base active in this thread, or None
_cache: _Base | None = None  # at most one base per process
_stats = _Stats()


def _fingerprint(X0: np.ndarray) -> tuple[Any, ...]:
    digest = hashlib.blake2b(X0.data, digest_size=16).hexdigest()
    return (X0.shape, X0.dtype.str, digest)


@contextmanager
def binned_base(X0: np.ndarray) -> Iterator[None]:
    """Within this context, LightGBM fits on ``[X0, extra columns]`` reuse X0's binning.

    ``X0`` (n x p0) is the covariate block shared by the refits. The process keeps one
    base: entering with an equal array (same shape, dtype and bytes, by a 128-bit
    hash) keeps its cached Datasets, another array drops them. The cache outlives the
    context (a worker process reuses it for its next task); :func:`cache_info` reports it.
    """
    global _cache
    base = np.ascontiguousarray(X0, dtype=float)
    if base.ndim != 2:
        raise ValueError(f"binned_base: X0 must be 2-D; got shape {base.shape}.")
    key = _fingerprint(base)
    with _lock:
        if _cache is None or _cache.fingerprint != key:
            _cache = _Base(key, base.copy() if base is X0 else base)
        active = _cache
    previous = getattr(_local, "base", None)
    _local.base = active
    try:
        yield
    finally:
        _local.base = previous


def cache_info() -> dict[str, int]:
    """Counters of this process: base Datasets built, reused, fast fits, cached Datasets."""
    with _lock:
        cached = 0 if _cache is None else len(_cache.datasets)
        return {
            "builds": _stats.builds,
            "hits": _stats.hits,
            "fast_fits": _stats.fast_fits,
            "skipped": _stats.skipped,
            "base_fits": _stats.base_fits,
            "cached": cached,
        }


def _n_threads(n_jobs: int | None) -> int:
    """LightGBM's documented reading of the wrapper's ``n_jobs``."""
    from joblib import cpu_count

    if n_jobs is None:  # the number of physical cores
        return int(cpu_count(only_physical_cores=True))
    if n_jobs < 0:  # joblib's convention: -1 is every logical core
        return max(int(cpu_count()) + 1 + n_jobs, 1)
    return n_jobs


def _train_params(model: Any) -> dict[str, Any] | None:
    """The parameters ``model.fit`` would hand to ``lightgbm.train``, or None (refused).

    Derived from ``get_params()`` as LightGBM's scikit-learn wrapper documents it: the
    constructor arguments and extra keywords go to LightGBM under their own names
    (LightGBM reads the wrapper names as aliases), except ``n_estimators`` (the number
    of rounds), ``importance_type`` and ``class_weight`` (used by the wrapper only);
    the objective is the class default; the metric defaults to the objective; and
    ``n_jobs`` becomes ``num_threads``. The tests check that a fit with them equals the
    wrapper's own fit to the bit.
    """
    name = type(model).__name__
    params = dict(model.get_params(deep=False))
    if set(params) - _WRAPPER_PARAMS - _EXTRA_PARAMS:
        return None
    if any(callable(value) for value in params.values()):
        return None
    objective = params.pop("objective", None)
    if objective not in (None, _DEFAULT_OBJECTIVE[name]):
        return None
    if params.pop("class_weight", None) is not None:
        return None
    if params.get("boosting_type", "gbdt") != "gbdt":
        return None
    seed = params.get("random_state")
    n_jobs = params.pop("n_jobs", None)
    if not (seed is None or _is_int(seed)) or not (n_jobs is None or _is_int(n_jobs)):
        return None
    params.pop("importance_type", None)
    params.pop("n_estimators", None)
    params["objective"] = _DEFAULT_OBJECTIVE[name]
    params["metric"] = [_DEFAULT_OBJECTIVE[name]]
    params["num_threads"] = _n_threads(n_jobs)
    if not params.get("force_row_wise"):
        # skip LightGBM's timing of row- against column-wise histograms at every fit
        # (7% of a 40k-row fit): both add each bin's rows in row order, so the model is
        # the same to the bit (tested against the wrapper's own fit)
        params["force_col_wise"] = True
    return params


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _dataset_key(train: np.ndarray, params: dict[str, Any]) -> tuple[Any, ...]:
    kept = sorted((k, repr(v)) for k, v in params.items() if k not in _BOOSTING_ONLY)
    rows = np.ascontiguousarray(train)
    return (rows.dtype.str, rows.tobytes(), tuple(kept))


def _base_dataset(base: _Base, train: np.ndarray, params: dict[str, Any]) -> Any:
    import lightgbm as lgb

    key = _dataset_key(train, params)
    with _lock:
        found = base.datasets.get(key)
        if found is not None:
            _stats.hits += 1
            return found
    # built outside the lock: two threads may build the same one; either copy is right
    dataset = lgb.Dataset(base.X0[train], params=params, free_raw_data=True).construct()
    with _lock:
        _stats.builds += 1
        while len(base.datasets) >= _MAX_DATASETS:  # the oldest first: dicts keep order
            del base.datasets[next(iter(base.datasets))]
        return base.datasets.setdefault(key, dataset)


def _base_fit(
    base: _Base,
    train: np.ndarray,
    test: np.ndarray,
    label: np.ndarray,
    params: dict[str, Any],
    model: Any,
) -> tuple[BaseModel, np.ndarray] | None:
    """The model fitted on the base columns alone (cached) and its test predictions."""
    import lightgbm as lgb

    rounds = model.get_params()["n_estimators"]
    digest = hashlib.blake2b(digest_size=16)
    for part in (train, test, label):
        digest.update(np.ascontiguousarray(part).data)
    digest.update(repr((sorted((k, repr(v)) for k, v in params.items()), rounds)).encode())
    key = (train.size, test.size, digest.hexdigest())
    with _lock:
        if key in base.fits:
            return base.fits[key]
        if key not in base.seen:
            # first meeting: no extra fit yet. Refits that change their folds every time
            # (an estimator without a random_state) never meet a key twice and so never
            # pay for a fit that no later refit could reuse.
            if len(base.seen) >= 100_000:  # 16-byte digests: a few MB at most
                base.seen.clear()
            base.seen.add(key)
            return None
    data = lgb.Dataset(base.X0[train], label=label, params=params, free_raw_data=True)
    booster = lgb.train(params, data, num_boost_round=rounds)
    summary = summarise_booster(booster, base.X0[train], label, params)
    fitted = (
        None
        if summary is None
        else (summary, np.asarray(booster.predict(np.asfortranarray(base.X0[test])), dtype=float))
    )
    with _lock:
        _stats.base_fits += 1
        while len(base.fits) >= _MAX_DATASETS:
            del base.fits[next(iter(base.fits))]
        base.fits[key] = fitted
    return fitted


def _matches_base(X: np.ndarray, X0: np.ndarray) -> bool:
    p0 = X0.shape[1]
    if X.ndim != 2 or X.dtype != np.float64 or X.shape[0] != X0.shape[0] or X.shape[1] <= p0:
        return False
    head = X[:, :p0]
    return bool(np.array_equal(head, X0) or np.array_equal(head, X0, equal_nan=True))


def fit_predict_binned(
    model: Any,
    X: np.ndarray,
    target: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
) -> np.ndarray | None:
    """Fit ``model`` on ``X[train]`` and predict ``X[test]`` reusing the base's binning.

    Returns the predictions (``P(target = 1 | X)`` for the classifier) or None where
    the fast path does not apply (module docstring); the caller then fits as usual.
    ``model`` is an unfitted, seeded clone and is left unfitted.
    """
    base: _Base | None = getattr(_local, "base", None)
    if base is None:
        return None
    kind = type(model)
    if not kind.__module__.startswith("lightgbm") or kind.__name__ not in _DEFAULT_OBJECTIVE:
        return None
    import lightgbm as lgb

    if kind is not lgb.LGBMRegressor and kind is not lgb.LGBMClassifier:
        return None
    params = _train_params(model)
    if params is None or train.size > params.get("subsample_for_bin", 200_000):
        return None
    label = np.asarray(target[train], dtype=float)
    if kind is lgb.LGBMClassifier and not np.array_equal(np.unique(label), [0.0, 1.0]):
        return None
    if not _matches_base(X, base.X0):
        return None
    p0 = base.X0.shape[1]
    shared = _base_dataset(base, train, params)
    if X.shape[1] == p0 + 1 and kind is lgb.LGBMRegressor and skip_supported(params):
        fitted = _base_fit(base, train, test, label, params, model)
        if fitted is not None and not column_may_split(fitted[0], X[train, p0]):
            with _lock:
                _stats.skipped += 1
            return fitted[1].copy()
    data = lgb.Dataset(X[train, p0:], label=label, params=params).construct()
    with warnings.catch_warnings():
        # "raw data freed" and "resetting categorical features": expected, no categoricals
        warnings.filterwarnings("ignore", message="Cannot add features", category=UserWarning)
        warnings.filterwarnings("ignore", message="Resetting categorical", category=UserWarning)
        data.add_features_from(shared)
    booster = lgb.train(params, data, num_boost_round=model.get_params()["n_estimators"])
    with _lock:
        _stats.fast_fits += 1
    # column-major test rows: LightGBM predicts them about twice as fast (10k rows)
    pred = booster.predict(np.asfortranarray(np.c_[X[test, p0:], X[test, :p0]]))
    return np.asarray(pred, dtype=float).reshape(-1)
