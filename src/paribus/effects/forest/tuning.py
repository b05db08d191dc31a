"""Choosing a forest's tree settings by out-of-bag loss (grf's ``tune.parameters``).

Every candidate setting grows a small forest (``tune_num_trees`` trees, one tree per
group, the same seed for every candidate so they differ only by the setting) on the
same data, and the candidate with the smallest weighted out-of-bag loss wins; the
final forest is then grown with it. The losses:

* causal forest: the R-loss of Nie & Wager (2021, "Quasi-oracle estimation of
  heterogeneous treatment effects", Biometrika 108(2), eq. 4),
  ``sum_i w_i (Yc_i - tau_oob(X_i) Wc_i)^2 / sum_i w_i``, with ``Yc, Wc`` the
  outcome and treatment centred by the nuisances, fitted once for all candidates;
* regression forest: the squared error of the out-of-bag predictions.

Candidates. Tuning ``min_node_size`` alone searches the grid :data:`MIN_NODE_GRID`
(values up to a quarter of the units), which is deterministic and cheap, and picks by
the one-standard-error rule (Breiman et al. 1984, Sec. 3.4.3): the largest node size
whose loss is within one standard error of the smallest, the error being that of the
mean paired per-row difference from the best. Without the rule, on a constant-effect
simulation (n = 1500, 5 covariates, boosting nuisances) the raw R-loss picked node
sizes 2-3 in two of three seeds and doubled the CATE error (the loss differences
were within their noise; a plausible cause, not verified, is that small leaves fit
nuisance errors where ``Wc`` has a non-zero local mean); with the rule those runs
pick 12-100. Tuning
several settings draws ``tune_num_reps`` random settings from the distributions of
:func:`draw_setting` (grf's tuning ranges) and takes the smallest loss. The forest's
own settings are always a candidate.

Why: the best node size depends on the data. On IHDP (response surface B, strongly
heterogeneous, 139 treated) the R-loss falls monotonically from ``min_node_size=12``
to ``1`` and so does the true CATE error (RMSE 2.62 at 5, 2.06 at 1); on the
constant-effect ACIC 2016 instances 2 and 3 both rise below 5 (RMSE 0.15 at 5, 0.39
at 1). One fixed default cannot serve both. On the 14 benchmark instances
(``tests/effects/test_forest_benchmarks.py``: IHDP, Wager & Athey, ACIC) the tuned
forest's RMSE averages 0.86 of tuned EconML's (untuned: 0.98 of untuned EconML's).

Differences from grf: grf fits a kriging model to the random draws' debiased errors
and takes its minimum; here the raw out-of-bag loss of each candidate decides.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from paribus._core.params import NONE, Instance, Interval
from paribus._core.random import child_seeds
from paribus.effects.forest._grow import TreeSettings, check_settings, grow_forest
from paribus.effects.forest._predict import ratio_and_variance
from paribus.errors import DataError, ParameterError

__all__ = [
    "MIN_NODE_GRID",
    "TUNABLE",
    "TUNING_CONSTRAINTS",
    "draw_setting",
    "resolve_tuned",
    "tune_forest",
    "tune_settings",
]

#: settings a forest can tune, in TreeSettings' names
TUNABLE = (
    "min_node_size",
    "sample_fraction",
    "mtry",
    "alpha",
    "imbalance_penalty",
    "honesty_fraction",
)
#: the constraints of the tuning parameters of the forests that tune
TUNING_CONSTRAINTS: dict[str, list[object]] = {
    "tune_parameters": [NONE, Instance((str, list, tuple))],
    "tune_num_trees": [Interval(10, None, integer=True)],
    "tune_num_reps": [Interval(1, None, integer=True)],
}
#: node sizes tried when ``min_node_size`` is tuned alone
MIN_NODE_GRID = (1, 2, 3, 5, 8, 12, 20, 35, 60, 100)


def resolve_tuned(owner: str, tune_parameters: str | Sequence[str] | None) -> tuple[str, ...]:
    """The names to tune: ``None`` or ``"none"`` -> (), ``"all"`` -> :data:`TUNABLE`."""
    if tune_parameters is None:
        return ()
    if isinstance(tune_parameters, str):
        if tune_parameters == "all":
            return TUNABLE
        if tune_parameters == "none":
            return ()
        names: tuple[str, ...] = (tune_parameters,)
    else:
        names = tuple(tune_parameters)
    unknown = [n for n in names if n not in TUNABLE]
    if unknown or not names or len(set(names)) != len(names):
        raise ParameterError(
            f"{owner}: tune_parameters={tune_parameters!r} is invalid; use None, 'all', or "
            f"distinct names from {', '.join(TUNABLE)}."
        )
    return names


def draw_setting(name: str, rng: np.random.Generator, n_units: int, p: int) -> float | int:
    """One random value of a tunable setting (grf's tuning distributions).

    ``min_node_size``: ``floor(2^(U log2(n/4)))``; ``sample_fraction``: U(0.05, 0.5);
    ``mtry``: ``ceil(U p)``; ``alpha``: U(0, 0.25); ``imbalance_penalty``: ``-log U``
    (exponential with mean 1); ``honesty_fraction``: U(0.5, 0.8).
    """
    u = float(rng.random())
    if name == "min_node_size":
        return max(1, math.floor(2 ** (u * math.log2(max(n_units / 4, 1.0)))))
    if name == "sample_fraction":
        return 0.05 + 0.45 * u
    if name == "mtry":
        return max(1, math.ceil(u * p))
    if name == "alpha":
        return 0.25 * u
    if name == "imbalance_penalty":
        return -math.log(max(u, 1e-12))
    if name == "honesty_fraction":
        return 0.5 + 0.3 * u
    raise ParameterError(f"cannot tune {name!r}; tunable: {', '.join(TUNABLE)}.")


def _candidates(
    base: TreeSettings,
    names: tuple[str, ...],
    n_units: int,
    p: int,
    reps: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    current = {n: getattr(base, n) for n in names}
    if names == ("min_node_size",):
        grid = [m for m in MIN_NODE_GRID if m <= max(n_units // 4, 1)]
        values = sorted({*grid, base.min_node_size})
        return [{"min_node_size": m} for m in values]
    draws = [{n: draw_setting(n, rng, n_units, p) for n in names} for _ in range(reps)]
    return [current, *draws]


def tune_settings(
    owner: str,
    base: TreeSettings,
    names: tuple[str, ...],
    grow_oob: Callable[[TreeSettings], np.ndarray],
    row_loss: Callable[[np.ndarray], np.ndarray],
    weights: np.ndarray,
    n_units: int,
    p: int,
    n_trees: int,
    reps: int,
    seed: int,
) -> tuple[TreeSettings, pd.DataFrame]:
    """The candidate settings with the smallest out-of-bag loss, and the table of all.

    ``grow_oob(settings)`` grows a forest of ``n_trees`` trees with ``settings`` and
    returns its out-of-bag predictions (NaN where a row was in every tree);
    ``row_loss(pred)`` the per-row losses. Rows without an out-of-bag prediction
    under some candidate are left out of every candidate's loss, so all are compared
    on the same rows. Candidates that cannot grow on these data (e.g. too small a
    subsample for honest halves) are skipped.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    preds: list[np.ndarray] = []
    for cand in _candidates(base, names, n_units, p, reps, rng):
        s = dataclasses.replace(base, group_size=1, **cand)
        try:
            check_settings(owner, s, n_trees, n_units, p)
        except (DataError, ParameterError):
            continue
        rows.append(cand)
        preds.append(np.asarray(grow_oob(s), dtype=float))
    if not rows:
        raise DataError(f"{owner}: no tuning candidate can grow a forest on these data.")
    ok = np.logical_and.reduce([np.isfinite(pr) for pr in preds])
    if not ok.any():
        raise DataError(
            f"{owner}: no row has an out-of-bag prediction under every tuning candidate; "
            "raise tune_num_trees."
        )
    w = weights[ok] / np.sum(weights[ok])
    per_row = np.array([row_loss(pr)[ok] for pr in preds])
    losses = per_row @ w
    best = int(np.argmin(losses))
    if names == ("min_node_size",) and len(rows) > 1:
        # one-standard-error rule: the largest node size whose loss is within one
        # standard error (of its paired difference from the best) of the smallest
        diff = per_row - per_row[best]
        se = np.sqrt(((diff - (diff @ w)[:, None]) ** 2) @ (w**2))
        within = np.flatnonzero(losses <= losses[best] + se)
        best = int(max(within, key=lambda j: rows[j]["min_node_size"]))
    table = pd.DataFrame(rows).assign(loss=losses)
    table = table.sort_values("loss", kind="stable").reset_index(drop=True)
    return dataclasses.replace(base, **rows[best]), table


def tune_forest(
    est: Any,
    base: TreeSettings,
    names: tuple[str, ...],
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    row_loss: Callable[[np.ndarray], np.ndarray],
    cluster: np.ndarray | None,
    n_units: int,
    root: np.random.SeedSequence,
) -> tuple[TreeSettings, pd.DataFrame]:
    """:func:`tune_settings` for a forest estimator ``est`` (its ``tune_*`` settings).

    ``data`` is what :func:`~paribus.effects.forest._grow.grow_forest` grows on,
    ``(X, y, z, w, a, b)``; each candidate grows ``est.tune_num_trees`` trees from
    the same stream of ``root`` and is scored by ``row_loss`` on its out-of-bag
    estimates ``sum a / sum b``.
    """
    grow_root, draw_root = root.spawn(2)
    trees = int(est.tune_num_trees)
    owner = type(est).__name__
    X, y, z, w, a, b = data

    def grow_oob(cand: TreeSettings) -> np.ndarray:
        _, acc = grow_forest(
            X, y, z, w, a, b, cand, trees, grow_root, cluster, est.n_jobs, f"{owner} tuning"
        )
        return ratio_and_variance(acc, 1)[0]

    return tune_settings(
        owner,
        base,
        names,
        grow_oob,
        row_loss,
        w,
        n_units,
        X.shape[1],
        trees,
        int(est.tune_num_reps),
        child_seeds(draw_root, 1)[0],
    )
