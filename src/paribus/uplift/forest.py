"""Uplift trees and uplift random forests for one or several treatment arms.

:class:`UpliftTree` grows one tree whose splits maximise the gain in divergence between
the outcome distributions of the treated arms and the control (Rzepakowski &
Jaroszewicz 2012, "Decision trees for uplift modeling with single and multiple
treatments", *Knowledge and Information Systems* 32, 303-327): Kullback-Leibler
(``"kl"``), squared Euclidean (``"ed"``) or chi-squared (``"chi"``) divergence with the
paper's normalisation, or the delta-delta-p criterion (``"ddp"``) of Hansotia &
Rukstales (2002). The formulas are in :mod:`paribus.uplift._uplift_tree`.
:class:`UpliftForest` averages many such trees, each grown on a random subsample with
``max_features`` features drawn at every node (Guelman, Guillén & Pérez-Marín 2015,
"A decision support framework to implement optimal personalized marketing
interventions", *Decision Support Systems* 72, 24-32; Breiman 2001).

Outcomes: binary (0/1) with any criterion, or continuous with ``"ed"`` (the squared
difference of arm means) and ``"ddp"`` (difference of mean differences). Leaf rates are
shrunk towards the parent's: ``(s_a + n_reg v_a^parent) / (n_a + n_reg)``, which keeps
small leaves from extreme uplifts. With ``honest=True`` the tree is split on one half of
its sample and the leaf rates are estimated on the other (Athey & Imbens 2016, "Recursive
partitioning for heterogeneous causal effects", *PNAS* 113, 7353-7360), so leaf uplifts
are not biased by the search for large differences.

Speed: each feature is cut once into at most ``max_bins`` quantile bins (exact bins when
it has that few distinct values), trees are grown by numba kernels that accumulate
per-node (bin x arm) counts and outcome sums without the GIL, in parallel threads
(:func:`paribus._core.parallel.run_tasks` on joblib's threading backend, ``n_jobs`` as
everywhere in paribus), and stored as flat arrays so prediction is one compiled loop.

``predict(X)`` returns the uplift ``E[Y | x, T = k] - E[Y | x, T = control]`` of one
treated level, shape ``(n,)`` always (``treatment=`` picks the level when there are
several); :meth:`predict_table` returns every level at once, one named column each.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.config import config, effective_n_jobs
from paribus._core.parallel import run_tasks
from paribus._core.params import (
    N_JOBS,
    NONE,
    RANDOM_STATE,
    Instance,
    Interval,
    Options,
    Satisfies,
    validate_params,
)
from paribus._core.random import child_seeds, seed_sequence
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.uplift._uplift_tree import (
    CRITERIA,
    FlatTree,
    GrowParams,
    bin_columns,
    grow_tree,
    predict_forest,
)

__all__ = ["UpliftForest", "UpliftTree"]

Criterion = Literal["kl", "ed", "chi", "ddp"]
_CHUNK = 65_536  # rows per prediction task
_EDGE_SAMPLE = 200_000  # rows used to place the quantile bin edges


def _design(X: Any, where: str) -> tuple[np.ndarray, list[str] | None]:
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    try:
        M = np.ascontiguousarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{where}: X must be numeric; convert or encode its columns ({exc})."
        ) from exc
    if M.ndim == 1:
        M = M.reshape(-1, 1)
    if M.ndim != 2 or M.shape[0] == 0 or M.shape[1] == 0:
        raise DataError(f"{where}: X must be a non-empty 2-d table; found shape {M.shape}.")
    bad = ~np.isfinite(M).all(axis=0)
    if bad.any():
        cols = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"{where}: X has missing or infinite values in columns {cols}; impute or drop them."
        )
    return M, names


def _arms(treatment: Any, control: Any, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(treatment).ravel()
    if t.size != n:
        raise DataError(f"{where}: X has {n} rows but treatment has {t.size}; pass equal lengths.")
    levels = np.unique(t)
    if not np.any(levels == control) or levels.size < 2:
        raise DataError(
            f"{where}: treatment needs the control level {control!r} and at least one other "
            f"level; found levels {levels.tolist()}. Set control= to the control label."
        )
    treated = levels[levels != control]
    arm = np.zeros(n, dtype=np.int64)
    for k, level in enumerate(treated, start=1):
        arm[t == level] = k
    return arm, treated


def _outcome(y: Any, n: int, where: str) -> tuple[np.ndarray, bool]:
    yy = np.asarray(y, dtype=np.float64).ravel()
    if yy.size != n:
        raise DataError(f"{where}: X has {n} rows but y has {yy.size}; pass equal lengths.")
    if not np.isfinite(yy).all():
        raise DataError(f"{where}: y has missing or infinite values; drop those rows.")
    return yy, bool(np.all((yy == 0) | (yy == 1)))


def bin_edges(M: np.ndarray, max_bins: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature bin edges (padded with inf) and their counts.

    A feature with at most ``max_bins`` distinct values (in the rows used) gets one bin
    per value, cut half way between neighbours; otherwise the edges are the distinct
    ``j / max_bins`` quantiles. Edges are placed on at most 200,000 random rows; the
    array is padded with inf to ``2^k - 1`` columns.
    """
    n, p = M.shape
    rows = M
    if n > _EDGE_SAMPLE:
        rows = M[np.sort(np.random.default_rng(seed).choice(n, _EDGE_SAMPLE, replace=False))]
    # 2^k - 1 columns: bin_columns runs a fixed k-step binary search
    width = 2 ** int(np.ceil(np.log2(max_bins))) - 1
    edges = np.full((p, width), np.inf)
    n_edges = np.zeros(p, dtype=np.int64)
    levels = np.arange(1, max_bins) / max_bins
    pos = levels * (rows.shape[0] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, rows.shape[0] - 1)
    frac = pos - lo
    for f in range(p):
        col = np.sort(rows[:, f])
        values = col[np.r_[True, col[1:] != col[:-1]]]
        if values.size <= max_bins:
            cut = (values[:-1] + values[1:]) / 2
        else:  # numpy's default (linear) quantiles, from the one sort
            cut = np.unique(col[lo] + frac * (col[hi] - col[lo]))
            cut = cut[cut < values[-1]]  # the top bin must not be empty
        edges[f, : cut.size] = cut
        n_edges[f] = cut.size
    return edges, n_edges


def _chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _threaded(func: Any, tasks: list[tuple[Any, ...]], n_jobs: int | None, desc: str) -> list:
    # the kernels release the GIL: threads share the binned data without copies
    with config(backend="threading"):
        return run_tasks(func, tasks, n_jobs=n_jobs, desc=desc)


def _bin_task(M: np.ndarray, lo: int, hi: int, edges: np.ndarray) -> Any:
    return bin_columns(M[lo:hi], edges)


def bin_matrix(M: np.ndarray, edges: np.ndarray, n_jobs: int | None) -> np.ndarray:
    """Bin codes of ``M`` (uint8, C order), computed in row chunks on threads."""
    parts = _threaded(
        _bin_task, [(M, lo, hi, edges) for lo, hi in _chunks(M.shape[0], _CHUNK)],
        n_jobs, "binning",
    )  # fmt: skip
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _max_features(setting: Any, p: int) -> int:
    if setting is None:
        return p
    if setting == "sqrt":
        return max(1, int(np.sqrt(p)))
    if setting == "log2":
        return max(1, int(np.log2(p)))
    if isinstance(setting, numbers.Integral):
        return min(int(setting), p)
    return max(1, int(float(setting) * p))


def _levels(n_thresholds: int | None) -> np.ndarray:
    """Node shares at which thresholds are tried: ``k / (m + 1)``; empty means every bin."""
    if n_thresholds is None:
        return np.empty(0)
    return np.arange(1, n_thresholds + 1) / (n_thresholds + 1)


_MAX_FEATURES = Satisfies(
    lambda v: (
        v is None
        or v in ("sqrt", "log2")
        or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1)
        or (isinstance(v, float) and 0 < v <= 1)
    ),
    "'sqrt', 'log2', None, a positive integer or a fraction in (0, 1]",
)

_COMMON: dict[str, list[Any]] = {
    "criterion": [Options(tuple(CRITERIA))],
    "max_depth": [Interval(1, 64, integer=True)],
    "min_samples_leaf": [Interval(1, None, integer=True)],
    "min_samples_treatment": [Interval(1, None, integer=True)],
    "n_reg": [Interval(0, None)],
    "normalize": [Instance((bool,))],
    "honest": [Instance((bool,))],
    "max_bins": [Interval(2, 256, integer=True)],
    "n_thresholds": [NONE, Interval(1, 255, integer=True)],
    "random_state": [RANDOM_STATE],
}


class _UpliftTreeModel(BaseEstimator):
    """What a tree and a forest share: data checks, binning, prediction, importances."""

    _where: ClassVar[str] = ""

    def _validate(self) -> None:
        validate_params(self._where, self.get_params(), self._parameter_constraints)

    def _prepare(
        self, X: Any, y: Any, treatment: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, GrowParams]:
        where = f"{self._where}.fit"
        self._validate()
        M, names = _design(X, where)
        n, p = M.shape
        yy, binary = _outcome(y, n, where)
        arm, treated = _arms(treatment, self.control, n, where)
        if self.criterion in ("kl", "chi") and not binary:
            raise ParameterError(
                f"{where}: criterion={self.criterion!r} needs a binary (0/1) outcome but y "
                "has other values; use criterion='ed' or 'ddp' for a continuous outcome."
            )
        if self.criterion == "ddp" and treated.size > 1:
            raise ParameterError(
                f"{where}: criterion='ddp' compares one treatment with control but treatment "
                f"has {treated.size} treated levels {treated.tolist()}; use 'kl', 'ed' or 'chi'."
            )
        counts = np.bincount(arm, minlength=treated.size + 1)
        if counts.min() < 2 * self.min_samples_treatment:
            raise DataError(
                f"{where}: every arm needs at least 2 * min_samples_treatment = "
                f"{2 * self.min_samples_treatment} rows; found {counts.tolist()} (control "
                "first). Lower min_samples_treatment or merge rare levels."
            )
        self.control_ = self.control
        self.treatment_levels_ = treated
        self.n_features_in_ = p
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.outcome_type_ = "binary" if binary else "continuous"
        params = GrowParams(
            crit=CRITERIA[self.criterion],
            normalize=bool(self.normalize),
            n_reg=float(self.n_reg),
            binary=binary,
            max_depth=int(self.max_depth),
            min_leaf=int(self.min_samples_leaf),
            min_treat=int(self.min_samples_treatment),
            max_features=_max_features(getattr(self, "max_features", None), p),
            levels=_levels(self.n_thresholds),
        )
        return M, yy, arm, binary, params

    def _store(self, trees: list[FlatTree]) -> None:
        sizes = np.array([t.feature.size for t in trees])
        offsets = np.r_[0, np.cumsum(sizes)[:-1]]
        self._roots = offsets.astype(np.int64)
        self._feature = np.concatenate([t.feature for t in trees])
        self._threshold = np.concatenate([t.threshold for t in trees])
        self._left = np.concatenate(
            [np.where(t.left >= 0, t.left + o, -1) for t, o in zip(trees, offsets, strict=True)]
        )
        self._right = np.concatenate(
            [np.where(t.right >= 0, t.right + o, -1) for t, o in zip(trees, offsets, strict=True)]
        )
        self._uplift = np.ascontiguousarray(np.concatenate([t.uplift for t in trees]))
        imp = np.zeros((len(trees), self.n_features_in_))
        for i, t in enumerate(trees):
            inner = t.left >= 0
            np.add.at(imp[i], t.feature[inner], t.gain[inner] * t.n_node[inner] / t.n_node[0])
            if imp[i].sum() > 0:
                imp[i] /= imp[i].sum()
        mean = imp.mean(axis=0)
        self.feature_importances_ = mean / mean.sum() if mean.sum() > 0 else mean

    def _check_fitted(self) -> None:
        if not hasattr(self, "_roots"):
            raise NotFittedError(f"{self._where} is not fitted; call fit(X, y, treatment) first.")

    def _uplift_all(self, X: Any, where: str) -> np.ndarray:
        self._check_fitted()
        M, _ = _design(X, where)
        if M.shape[1] != self.n_features_in_:
            raise DataError(
                f"{where}: X has {M.shape[1]} columns but the model was fitted on "
                f"{self.n_features_in_}; pass the same features in the same order."
            )
        parts = _threaded(
            self._predict_chunk, [(M, lo, hi) for lo, hi in _chunks(M.shape[0], _CHUNK)],
            self._n_jobs(), "predicting",
        )  # fmt: skip
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _predict_chunk(self, M: np.ndarray, lo: int, hi: int) -> np.ndarray:
        xb = bin_columns(M[lo:hi], self.bin_edges_)
        return predict_forest(
            xb, self._roots, self._feature, self._threshold, self._left, self._right,
            self._uplift,
        )  # fmt: skip

    def _n_jobs(self) -> int | None:
        return getattr(self, "n_jobs", 1)

    def predict(self, X: Any, treatment: Any = None) -> np.ndarray:
        """Predicted uplift of ``treatment`` against control, shape ``(n,)``.

        ``treatment`` names a treated level; it may be left out when there is one.
        """
        where = f"{self._where}.predict"
        self._check_fitted()
        levels = self.treatment_levels_
        if treatment is None:
            if levels.size > 1:
                raise ParameterError(
                    f"{where}: there are {levels.size} treated levels {levels.tolist()}; pass "
                    "treatment=<level>, or use predict_table(X)."
                )
            column = 0
        else:
            hit = np.flatnonzero(levels == treatment)
            if hit.size == 0:
                raise ParameterError(
                    f"{where}: treatment={treatment!r} is not a treated level; choose from "
                    f"{levels.tolist()}."
                )
            column = int(hit[0])
        return self._uplift_all(X, where)[:, column]

    def predict_table(self, X: Any) -> pd.DataFrame:
        """Uplift of every treated level against control: one column ``"<level> vs <control>"``."""
        table = self._uplift_all(X, f"{self._where}.predict_table")
        return pd.DataFrame(
            table, columns=[f"{lvl} vs {self.control_}" for lvl in self.treatment_levels_]
        )


def _grow_batch(
    xb: np.ndarray,
    y: np.ndarray,
    arm: np.ndarray,
    n_bins: np.ndarray,
    n_arms: int,
    params: GrowParams,
    seeds: list[int],
    fraction: float,
    bootstrap: bool,
    honest: bool,
) -> list[FlatTree]:
    n = xb.shape[0]
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        if honest and bootstrap:
            halves = np.array_split(rng.permutation(n), 2)
            m = max(1, round(fraction * n / 2))
            split, est = (rng.choice(h, m, replace=True) for h in halves)
        else:
            m = max(2, round(fraction * n))
            rows = rng.choice(n, m, replace=bootstrap)
            if honest:
                split, est = rows[: m // 2], rows[m // 2 :]
            else:
                split, est = rows, None
        tree_seed = int(rng.integers(2**31))
        out.append(grow_tree(xb, y, arm, n_bins, split, est, n_arms, params, tree_seed))
    return out


class UpliftTree(_UpliftTreeModel):
    """One uplift decision tree (module docstring; formulas in ``_uplift_tree``).

    Parameters
    ----------
    criterion : {"kl", "ed", "chi", "ddp"}, default "kl"
        Split criterion. "kl" and "chi" need a binary outcome; "ddp" one treated level.
    max_depth : int, default 6
    min_samples_leaf : int, default 100
        Fewest units (all arms) in a child.
    min_samples_treatment : int, default 10
        Fewest units of each arm (control included) in a child.
    n_reg : float, default 100
        Weight of the parent's rate in a child's rate (shrinkage; 0 turns it off).
    normalize : bool, default True
        Divide the gain by the paper's normalisation ``I(A)`` / ``J(A)`` (not for "ddp").
    honest : bool, default False
        Split on a random half of the rows and estimate leaf rates on the other half.
    max_bins : int, default 255
        Quantile bins per feature (at most 256).
    n_thresholds : int or None, default None
        Thresholds tried per feature at each node: the first bin edges at which the
        share of the node's rows sent left reaches ``k / (n_thresholds + 1)``, ``k = 1..
        n_thresholds`` (the node's quantiles, as far as the bins resolve them). None tries
        every bin edge (the paper's exhaustive search).
    control : default 0
        The control label in ``treatment``; every other label is a treated arm.
    random_state : int or None

    Attributes
    ----------
    treatment_levels_ : ndarray
        Treated levels, in the order of :meth:`predict_table`'s columns.
    feature_importances_ : ndarray of shape (n_features,)
        Gain of the splits on each feature, weighted by the node's share of the
        splitting rows, normalised to sum to 1.
    n_leaves_ : int
    outcome_type_ : {"binary", "continuous"}
    bin_edges_ : ndarray
        Bin edges per feature (padded with inf); ``n_bin_edges_`` counts them.
    """

    _where = "UpliftTree"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = dict(_COMMON)

    def __init__(
        self,
        criterion: Criterion = "kl",
        max_depth: int = 6,
        min_samples_leaf: int = 100,
        min_samples_treatment: int = 10,
        n_reg: float = 100,
        normalize: bool = True,
        honest: bool = False,
        max_bins: int = 255,
        n_thresholds: int | None = None,
        control: Any = 0,
        random_state: int | None = None,
    ) -> None:
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.n_reg = n_reg
        self.normalize = normalize
        self.honest = honest
        self.max_bins = max_bins
        self.n_thresholds = n_thresholds
        self.control = control
        self.random_state = random_state

    def fit(self, X: Any, y: Any, treatment: Any) -> UpliftTree:
        """Grow the tree. Returns ``self``."""
        M, yy, arm, _, params = self._prepare(X, y, treatment)
        seed_bins, seed_rows, seed_tree = child_seeds(seed_sequence(self.random_state), 3)
        self.bin_edges_, self.n_bin_edges_ = bin_edges(M, int(self.max_bins), seed_bins)
        xb = bin_columns(M, self.bin_edges_)
        n = M.shape[0]
        split: np.ndarray = np.arange(n)
        est = None
        if self.honest:
            perm = np.random.default_rng(seed_rows).permutation(n)
            split, est = perm[: n // 2], perm[n // 2 :]
        tree = grow_tree(
            xb, yy, arm, self.n_bin_edges_ + 1, split, est, self.treatment_levels_.size + 1,
            params, seed_tree,
        )  # fmt: skip
        self.tree_ = tree
        self.n_leaves_ = tree.n_leaves
        self._store([tree])
        return self

    def to_text(self, decimals: int = 3) -> str:
        """The tree as indented text: splits on feature values, leaf uplifts and sizes."""
        self._check_fitted()
        tree = self.tree_
        names = getattr(self, "feature_names_in_", None)
        lines: list[str] = []

        def visit(node: int, depth: int) -> None:
            pad = "    " * depth
            if tree.left[node] < 0:
                lifts = ", ".join(f"{u:.{decimals}f}" for u in tree.uplift[node])
                lines.append(f"{pad}uplift [{lifts}] (n={tree.n_node[node]})")
                return
            f = int(tree.feature[node])
            name = str(names[f]) if names is not None else f"X[{f}]"
            cut = self.bin_edges_[f, tree.threshold[node]]
            lines.append(f"{pad}if {name} <= {cut:.{decimals}g}:")
            visit(int(tree.left[node]), depth + 1)
            lines.append(f"{pad}else:  # {name} > {cut:.{decimals}g}")
            visit(int(tree.right[node]), depth + 1)

        visit(0, 0)
        return "\n".join(lines)


class UpliftForest(_UpliftTreeModel):
    """Uplift random forest: the mean uplift of many randomised uplift trees.

    Each tree is grown on ``sample_fraction`` of the rows (drawn with replacement when
    ``bootstrap``), with ``max_features`` features drawn at every node. With ``honest``
    the tree's rows are split into two disjoint halves: one grows the tree, the other
    estimates its leaf rates.

    Parameters
    ----------
    n_estimators : int, default 100
    criterion, max_depth, min_samples_leaf, min_samples_treatment, normalize, max_bins
        As in :class:`UpliftTree`.
    n_reg : float, default 10
        As in :class:`UpliftTree`; averaging over trees already smooths, so the default
        shrinks less than a single tree's (CausalML's forest uses 10 as well).
    n_thresholds : int or None, default 9
        As in :class:`UpliftTree`; the default tries the node's deciles only, which in
        simulations ranked better than the exhaustive search (fewer candidate splits,
        less noise chasing; CausalML likewise tries a few node percentiles).
    max_features : "sqrt", "log2", int, float or None, default "sqrt"
        Features tried at each node: a count, a share of the features, or all (None).
    honest : bool, default False
    sample_fraction : float, default 0.5
        Rows per tree as a share of the data.
    bootstrap : bool, default False
        Draw each tree's rows with replacement.
    control : default 0
    n_jobs : int or None
        Threads growing trees and predicting (None: ``paribus.config``).
    random_state : int or None
        The same seed gives the same forest whatever ``n_jobs`` is.

    Attributes
    ----------
    trees_ : list of FlatTree
    treatment_levels_, feature_importances_, outcome_type_, bin_edges_
        As in :class:`UpliftTree` (importances averaged over the trees).
    """

    _where = "UpliftForest"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_COMMON,
        "n_estimators": [Interval(1, None, integer=True)],
        "max_features": [_MAX_FEATURES],
        "sample_fraction": [Interval(0, 1, closed="right")],
        "bootstrap": [Instance((bool,))],
        "n_jobs": [N_JOBS],
    }

    def __init__(
        self,
        n_estimators: int = 100,
        criterion: Criterion = "kl",
        max_features: Any = "sqrt",
        max_depth: int = 6,
        min_samples_leaf: int = 100,
        min_samples_treatment: int = 10,
        n_reg: float = 10,
        normalize: bool = True,
        honest: bool = False,
        sample_fraction: float = 0.5,
        bootstrap: bool = False,
        max_bins: int = 255,
        n_thresholds: int | None = 9,
        control: Any = 0,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_features = max_features
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.min_samples_treatment = min_samples_treatment
        self.n_reg = n_reg
        self.normalize = normalize
        self.honest = honest
        self.sample_fraction = sample_fraction
        self.bootstrap = bootstrap
        self.max_bins = max_bins
        self.n_thresholds = n_thresholds
        self.control = control
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: Any, y: Any, treatment: Any) -> UpliftForest:
        """Grow ``n_estimators`` trees in parallel threads. Returns ``self``."""
        M, yy, arm, _, params = self._prepare(X, y, treatment)
        seeds = child_seeds(seed_sequence(self.random_state), self.n_estimators + 1)
        self.bin_edges_, self.n_bin_edges_ = bin_edges(M, int(self.max_bins), seeds[0])
        xb = bin_matrix(M, self.bin_edges_, self.n_jobs)
        n_arms = self.treatment_levels_.size + 1
        workers = min(effective_n_jobs(self.n_jobs), self.n_estimators)
        # a few trees per task: per-task thread-limit set-up is not free
        batches = np.array_split(np.asarray(seeds[1:]), min(self.n_estimators, 4 * workers))
        tasks = [
            (xb, yy, arm, self.n_bin_edges_ + 1, n_arms, params, [int(s) for s in batch],
             float(self.sample_fraction), bool(self.bootstrap), bool(self.honest))
            for batch in batches
        ]  # fmt: skip
        grown = _threaded(_grow_batch, tasks, self.n_jobs, "growing trees")
        self.trees_ = [tree for batch in grown for tree in batch]
        self._store(self.trees_)
        return self
