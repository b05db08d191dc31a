"""Aggregating group-time effects ATT(g,t) and the multiplier bootstrap for uniform bands.

Callaway & Sant'Anna (2021, J. Econometrics 225(2), Section 3 and 4) summarise the
group-time average treatment effects ``ATT(g,t)`` by weighted averages
``theta = sum_k w_k ATT(g_k, t_k)``:

* ``"simple"``: every post-treatment cell (``e = t - g >= 0``), weighted by the
  cohort share ``w_k = P(G = g_k) / sum_j P(G = g_j)``;
* ``"group"``: ``theta(g)`` is the plain mean of the post-treatment cells of cohort
  ``g``; the overall effect weights ``theta(g)`` by ``P(G = g | G treated)``;
* ``"dynamic"``: ``theta(e)`` averages ``ATT(g, g + e)`` over the cohorts observed
  ``e`` periods after adoption, weighted by cohort share; the overall effect is the
  plain mean of ``theta(e)`` over ``e >= 0``;
* ``"calendar"``: ``theta(t)`` averages the cohorts treated by ``t``, weighted by
  cohort share; the overall effect is the plain mean of ``theta(t)``.

Influence function of a share-weighted average (the paper's Theorem 2 proof): with
unit influence values ``phi_ik`` of the cells and ``psi_ig = w_i 1{G_i = g} - p_g``
the influence value of the estimated share ``p_g``,

``IF_i = sum_k w_k phi_ik + sum_k ATT_k [psi_i,g_k / S - p_g_k sum_j psi_i,g_j / S^2]``

with ``S = sum_j p_g_j``: the second term carries the sampling error of the
estimated weights. Standard errors are ``sqrt(sum_c (sum_{i in c} IF_i)^2) / n``
over clusters ``c`` (units unless ``clustervars`` is given).

Uniform bands (Section 4.1): multiplier bootstrap draws
``theta*_k - theta_k = n^{-1} sum_c xi_c sum_{i in c} IF_ik`` with i.i.d. Mammen
(1993) two-point or Rademacher multipliers ``xi_c`` per cluster; the critical value is
the ``level`` quantile of ``max_k |theta*_k - theta_k| / se_k`` (sup-t), the band
``theta_k +- c se_k``. The bootstrap standard error is the interquartile range of the
draws over ``z_0.75 - z_0.25``, the robust scale used by Callaway & Sant'Anna.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy import stats

from paribus.errors import ParameterError
from paribus.results import Effect, EffectTable

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "GroupTimeEffects",
    "aggregate_group_time",
    "bootstrap_draws",
    "uniform_band",
]

AGGREGATIONS = ("simple", "group", "dynamic", "calendar")
BOOTSTRAP_WEIGHTS = ("mammen", "rademacher")

#: bootstrap draws per matrix product (memory about 8 * _CHUNK * n_clusters bytes)
_CHUNK = 256


class Aggregation(NamedTuple):
    """An aggregated effect: the overall summary and its per-group/period/event table."""

    overall: Effect
    table: EffectTable
    kind: str

    def plot(self, ax: Any = None) -> Any:
        """Event-study plot of a dynamic aggregation (effects by event time with intervals)."""
        if self.kind != "dynamic":
            raise ParameterError(
                f"plot() draws the dynamic (event-time) aggregation; this one is {self.kind!r}. "
                "Use aggregate('dynamic')."
            )
        from paribus.designs.did.plots import event_study_plot

        return event_study_plot(self.table, ax=ax, reference=None)


@dataclass(frozen=True)
class GroupTimeEffects:
    """Fitted ``ATT(g,t)`` with per-unit influence values: what the aggregations read.

    ``influence`` is (n_units, K) with ``att - truth ~= influence.mean(axis=0)``;
    ``unit_cohort`` the first treated period per unit (``inf`` never treated);
    ``unit_weights`` the sampling weights normalised to mean one; ``cluster`` the
    cluster index per unit.
    """

    att: np.ndarray
    influence: np.ndarray
    group: np.ndarray
    time: np.ndarray
    unit_cohort: np.ndarray
    unit_weights: np.ndarray
    cluster: np.ndarray
    last_period: float
    level: float
    n_bootstrap: int
    random_state: int | None
    bootstrap_weights: str
    method: str

    @property
    def n_units(self) -> int:
        return int(self.influence.shape[0])


# -- inference ---------------------------------------------------------------------------------


def cluster_sums(influence: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Influence values summed within clusters: (n_clusters, K)."""
    phi = influence.reshape(influence.shape[0], -1)
    n_clusters = int(cluster.max()) + 1
    out = np.zeros((n_clusters, phi.shape[1]))
    np.add.at(out, cluster, phi)
    return out


def if_standard_errors(influence: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """``sqrt(sum_c (sum_{i in c} phi_i)^2) / n`` per column."""
    sums = cluster_sums(influence, cluster)
    return np.sqrt(np.sum(sums**2, axis=0)) / influence.shape[0]


def _multipliers(rng: np.random.Generator, kind: str, size: tuple[int, int]) -> np.ndarray:
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=size)
    # Mammen (1993): mean 0, variance 1, third moment 1
    root5 = math.sqrt(5.0)
    low, high = (1 - root5) / 2, (1 + root5) / 2
    p_low = (root5 + 1) / (2 * root5)
    return np.where(rng.random(size) < p_low, low, high)


def bootstrap_draws(
    influence: np.ndarray,
    cluster: np.ndarray,
    n_boot: int,
    random_state: int | None,
    kind: str = "mammen",
) -> np.ndarray:
    """(n_boot, K) multiplier-bootstrap draws of ``theta* - theta`` (module docstring)."""
    if kind not in BOOTSTRAP_WEIGHTS:
        raise ParameterError(
            f"bootstrap_weights={kind!r} is invalid; expected one of {BOOTSTRAP_WEIGHTS}."
        )
    sums = cluster_sums(influence, cluster)
    n = influence.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence(random_state))
    out = np.empty((n_boot, sums.shape[1]))
    for start in range(0, n_boot, _CHUNK):
        stop = min(start + _CHUNK, n_boot)
        xi = _multipliers(rng, kind, (stop - start, sums.shape[0]))
        out[start:stop] = xi @ sums / n
    return out


def uniform_band(
    draws: np.ndarray, std_errors: np.ndarray, level: float
) -> tuple[float, np.ndarray]:
    """Sup-t critical value over the columns with positive SE, and bootstrap SEs.

    The bootstrap SE of a column is its draws' interquartile range over
    ``z_0.75 - z_0.25``.
    """
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    boot_se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = std_errors > 0
    if not np.any(ok):
        return math.nan, boot_se
    t_max = np.max(np.abs(draws[:, ok]) / std_errors[ok], axis=1)
    return float(np.quantile(t_max, level)), boot_se


def make_table(
    estimates: np.ndarray,
    influence: np.ndarray,
    labels: list[str],
    gt: GroupTimeEffects,
    *,
    estimand: str,
    title: str,
    n_obs: list[int],
    extra: list[dict[str, object]],
) -> EffectTable:
    """Effects with analytic pointwise intervals and, in diagnostics, the uniform band."""
    se = if_standard_errors(influence, gt.cluster)
    crit, boot_se = math.nan, np.full(se.size, math.nan)
    if gt.n_bootstrap > 0 and se.size:
        draws = bootstrap_draws(
            influence, gt.cluster, gt.n_bootstrap, gt.random_state, gt.bootstrap_weights
        )
        crit, boot_se = uniform_band(draws, se, gt.level)
    effects = []
    for k in range(len(labels)):
        diag: dict[str, object] = dict(extra[k])
        diag.update(
            critical_value=crit,
            uniform_lower=float(estimates[k] - crit * se[k]),
            uniform_upper=float(estimates[k] + crit * se[k]),
            bootstrap_se=float(boot_se[k]),
        )
        effects.append(
            Effect.from_normal(
                estimand=estimand,
                estimate=float(estimates[k]),
                std_error=float(se[k]),
                level=gt.level,
                n_obs=n_obs[k],
                method=gt.method,
                inference="influence-function",
                diagnostics=diag,
                scores=influence[:, k],
            )
        )
    return EffectTable(effects, labels, title=title)


def _overall(
    estimate: float, influence: np.ndarray, gt: GroupTimeEffects, estimand: str, kind: str
) -> Effect:
    se = float(if_standard_errors(influence[:, None], gt.cluster)[0])
    diag: dict[str, object] = {"aggregation": kind, "bootstrap_se": math.nan}
    if gt.n_bootstrap > 0 and se > 0:
        draws = bootstrap_draws(
            influence[:, None], gt.cluster, gt.n_bootstrap, gt.random_state, gt.bootstrap_weights
        )
        diag["bootstrap_se"] = float(uniform_band(draws, np.array([se]), gt.level)[1][0])
    return Effect.from_normal(
        estimand=estimand,
        estimate=estimate,
        std_error=se,
        level=gt.level,
        n_obs=gt.n_units,
        method=gt.method,
        inference="influence-function",
        diagnostics=diag,
        scores=influence,
    )


# -- weights -----------------------------------------------------------------------------------


def _share_weighted(
    gt: GroupTimeEffects, groups: np.ndarray, cell_att: np.ndarray, cell_if: np.ndarray
) -> tuple[float, np.ndarray]:
    """Cohort-share-weighted average of cells of cohorts ``groups``, influence values with wif."""
    w_i, g_i = gt.unit_weights, gt.unit_cohort
    indicator = (g_i[:, None] == groups[None, :]).astype(float) * w_i[:, None]
    p = indicator.mean(axis=0)
    total = p.sum()
    weights = p / total
    estimate = float(weights @ cell_att)
    psi = indicator - p  # influence values of the estimated shares
    wif = psi / total - np.outer(psi.sum(axis=1), p / total**2)
    return estimate, cell_if @ weights + wif @ cell_att


def _cells(gt: GroupTimeEffects, min_e: float, max_e: float) -> np.ndarray:
    e = gt.time - gt.group
    return np.flatnonzero((e >= min_e) & (e <= max_e))


def _label(prefix: str, value: float) -> str:
    return f"{prefix}={value:g}"


# -- aggregations ------------------------------------------------------------------------------


def aggregate_group_time(
    gt: GroupTimeEffects,
    kind: Literal["simple", "group", "dynamic", "calendar"] = "simple",
    *,
    min_e: float = -math.inf,
    max_e: float = math.inf,
    balance_e: int | None = None,
) -> Aggregation:
    """Aggregate ``ATT(g,t)`` (module docstring); ``min_e``/``max_e`` bound ``e = t - g``.

    ``balance_e`` (dynamic only) keeps the cohorts observed at least ``balance_e``
    periods after adoption and the event times ``e <= balance_e``, so every
    ``theta(e)`` averages the same cohorts.
    """
    if kind not in AGGREGATIONS:
        raise ParameterError(
            f"kind={kind!r} is not an aggregation; expected one of {AGGREGATIONS}."
        )
    if balance_e is not None and (kind != "dynamic" or balance_e < 0):
        raise ParameterError(
            f"balance_e={balance_e!r} is invalid for kind={kind!r}; it is a non-negative "
            "event time and applies only to kind='dynamic'."
        )
    if min_e > max_e:
        raise ParameterError(f"min_e={min_e} exceeds max_e={max_e}; pass min_e <= max_e.")
    cells = _cells(gt, min_e, max_e)
    if kind != "dynamic":
        cells = cells[gt.time[cells] >= gt.group[cells]]
    elif balance_e is not None:
        keep = (gt.last_period - gt.group[cells] >= balance_e) & (
            gt.time[cells] - gt.group[cells] <= balance_e
        )
        cells = cells[keep]
    if cells.size == 0:
        raise ParameterError(
            f"no group-time effects are left to aggregate with kind={kind!r}, min_e={min_e}, "
            f"max_e={max_e}, balance_e={balance_e}; widen the event-time window."
        )
    builder = {"simple": _simple, "group": _group, "dynamic": _dynamic, "calendar": _calendar}
    return builder[kind](gt, cells)


def _simple(gt: GroupTimeEffects, cells: np.ndarray) -> Aggregation:
    est, phi = _share_weighted(gt, gt.group[cells], gt.att[cells], gt.influence[:, cells])
    overall = _overall(est, phi, gt, "ATT", "simple")
    table = make_table(
        np.array([est]),
        phi[:, None],
        ["ATT"],
        gt,
        estimand="ATT",
        title="Simple aggregation of ATT(g,t)",
        n_obs=[gt.n_units],
        extra=[{"n_cells": int(cells.size)}],
    )
    return Aggregation(overall, table, "simple")


def _group(gt: GroupTimeEffects, cells: np.ndarray) -> Aggregation:
    groups = np.unique(gt.group[cells])
    theta = np.empty(groups.size)
    phi = np.empty((gt.n_units, groups.size))
    for j, g in enumerate(groups):
        mine = cells[gt.group[cells] == g]
        theta[j] = gt.att[mine].mean()
        phi[:, j] = gt.influence[:, mine].mean(axis=1)
    est, phi_all = _share_weighted(gt, groups, theta, phi)
    overall = _overall(est, phi_all, gt, "ATT", "group")
    n_g = [int(np.sum(gt.unit_cohort == g)) for g in groups]
    table = make_table(
        theta,
        phi,
        [_label("g", g) for g in groups],
        gt,
        estimand="ATT(g)",
        title="ATT by cohort",
        n_obs=n_g,
        extra=[{"group": float(g)} for g in groups],
    )
    return Aggregation(overall, table, "group")


def _dynamic(gt: GroupTimeEffects, cells: np.ndarray) -> Aggregation:
    e_all = gt.time[cells] - gt.group[cells]
    events = np.unique(e_all)
    theta = np.empty(events.size)
    phi = np.empty((gt.n_units, events.size))
    for j, e in enumerate(events):
        mine = cells[e_all == e]
        theta[j], phi[:, j] = _share_weighted(
            gt, gt.group[mine], gt.att[mine], gt.influence[:, mine]
        )
    post = events >= 0
    if not np.any(post):
        raise ParameterError(
            "no event time e >= 0 is left for the dynamic aggregation; widen max_e."
        )
    overall = _overall(float(theta[post].mean()), phi[:, post].mean(axis=1), gt, "ATT", "dynamic")
    n_e = [int(np.sum(np.isin(gt.unit_cohort, gt.group[cells[e_all == e]]))) for e in events]
    table = make_table(
        theta,
        phi,
        [_label("e", e) for e in events],
        gt,
        estimand="ATT(e)",
        title="ATT by event time",
        n_obs=n_e,
        extra=[{"event_time": float(e)} for e in events],
    )
    return Aggregation(overall, table, "dynamic")


def _calendar(gt: GroupTimeEffects, cells: np.ndarray) -> Aggregation:
    periods = np.unique(gt.time[cells])
    theta = np.empty(periods.size)
    phi = np.empty((gt.n_units, periods.size))
    for j, t in enumerate(periods):
        mine = cells[gt.time[cells] == t]
        theta[j], phi[:, j] = _share_weighted(
            gt, gt.group[mine], gt.att[mine], gt.influence[:, mine]
        )
    overall = _overall(float(theta.mean()), phi.mean(axis=1), gt, "ATT", "calendar")
    n_t = [int(np.sum(gt.unit_cohort <= t)) for t in periods]
    table = make_table(
        theta,
        phi,
        [_label("t", t) for t in periods],
        gt,
        estimand="ATT(t)",
        title="ATT by calendar period",
        n_obs=n_t,
        extra=[{"time": float(t)} for t in periods],
    )
    return Aggregation(overall, table, "calendar")
