"""Which intervention moves the target most? Ranking candidate levers in a fitted SCM.

Each candidate lever is an intervention on one node -- a shift ``X := X + s`` of its
natural value, a hard setting ``do(X = x)`` or any function of the natural value -- with
an optional cost in the target's units. Its effect is the change in the target's mean,

    effect = E[Y | do(lever)] - E[Y],

computed on the same noise draws for the intervened and the natural world (common random
numbers, so the Monte Carlo error is that of a paired difference), and its net value is
``effect - cost``. Levers are ranked by net value. With ``n_bootstrap > 0`` the model is
refitted on resampled rows (the model's own :meth:`bootstrap` when it has one) and the
effects recomputed, giving bootstrap standard errors and percentile intervals that carry
the estimation error of the mechanisms; without it only the Monte Carlo error is
reported. Pearl (2009), *Causality*, ch. 3 (the do-operator on a structural model).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.errors import ParameterError
from paribus.scm.attribution import check_fitted, check_node, forward, sample_noise, upstream

__all__ = ["Lever", "rank_levers"]


@dataclasses.dataclass(frozen=True)
class Lever:
    """One candidate intervention.

    Give exactly one of ``shift`` (``X := X + shift``), ``value`` (``do(X = value)``) and
    ``func`` (``X := func(natural X)``). ``cost`` is in the target's units; ``label``
    names the row (default: a description of the action).
    """

    node: str
    shift: float | None = None
    value: float | None = None
    func: Callable[[np.ndarray], np.ndarray] | None = None
    cost: float = 0.0
    label: str | None = None

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.shift, self.value, self.func)]
        if sum(given) != 1:
            raise ParameterError(
                f"Lever on {self.node!r}: give exactly one of shift, value and func; got "
                f"{sum(given)}."
            )
        if not (isinstance(self.cost, (int, float)) and math.isfinite(self.cost)):
            raise ParameterError(f"Lever on {self.node!r}: cost must be a finite number.")

    @property
    def name(self) -> str:
        if self.label is not None:
            return self.label
        if self.shift is not None:
            return f"{self.node} {'+' if self.shift >= 0 else '-'} {abs(self.shift):g}"
        if self.value is not None:
            return f"do({self.node} = {self.value:g})"
        return f"{self.node} := {getattr(self.func, '__name__', 'f')}({self.node})"

    def action(self) -> Any:
        """The intervention as the model takes it: a value or a function of the natural value."""
        if self.value is not None:
            return float(self.value)
        if self.shift is not None:
            shift = float(self.shift)
            return lambda v: v + shift
        return self.func


def _as_lever(candidate: Any, position: int) -> Lever:
    if isinstance(candidate, Lever):
        return candidate
    if isinstance(candidate, tuple) and len(candidate) in (2, 3):
        node, action = candidate[0], candidate[1]
        cost = float(candidate[2]) if len(candidate) == 3 else 0.0
        if callable(action):
            return Lever(node, func=action, cost=cost)
        if isinstance(action, (int, float)) and not isinstance(action, bool):
            return Lever(node, shift=float(action), cost=cost)
    raise ParameterError(
        f"candidates[{position}] = {candidate!r:.80} is not a lever; expected a Lever or a "
        "tuple (node, shift or function[, cost]); for a hard setting use "
        "Lever(node, value=x, cost=c)."
    )


def _effects(scm: Any, levers: Sequence[Lever], target: str, n: int, rng: Any) -> np.ndarray:
    """(n_levers, 2): mean effect and its paired Monte Carlo standard error."""
    nodes = upstream(scm, target)
    noise = sample_noise(scm.mechanisms_, nodes, n, rng)
    natural = forward(scm, noise, nodes)[target]
    out = np.zeros((len(levers), 2))
    for i, lever in enumerate(levers):
        if lever.node not in nodes:  # not an ancestor: no effect on the target
            continue
        diff = forward(scm, noise, nodes, interventions={lever.node: lever.action()})[target]
        diff = diff - natural
        out[i] = float(np.mean(diff)), float(np.std(diff, ddof=1) / math.sqrt(n))
    return out


def rank_levers(
    scm: Any,
    target: str,
    candidates: Sequence[Any],
    *,
    n_samples: int = 20_000,
    n_bootstrap: int = 0,
    level: float = 0.95,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Rank interventions by their effect on the target's mean, net of their cost.

    Parameters
    ----------
    scm : StructuralCausalModel
        A fitted model.
    target : str
    candidates : sequence of Lever or tuples
        ``Lever(node, shift=..., value=..., func=..., cost=...)``, or ``(node, shift)``,
        ``(node, function)``, with an optional third element, the cost.
    n_samples : int
        Monte Carlo draws (shared by all levers).
    n_bootstrap : int
        Refits of the model on resampled rows for intervals; 0 reports Monte Carlo
        error only.
    level : float
    random_state : int, optional

    Returns
    -------
    DataFrame
        One row per lever, best first: ``lever``, ``node``, ``effect``, ``cost``,
        ``net``, ``std_error``, ``ci_lower``, ``ci_upper`` (of the effect), ``inference``
        (``"bootstrap"`` or ``"monte-carlo"``), ``rank``.
    """
    check_fitted(scm, "rank_levers")
    target = check_node(scm, target, "target")
    level = check_level(level)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 100:
        raise ParameterError(f"n_samples must be an integer >= 100, got {n_samples!r}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ParameterError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap!r}.")
    if not candidates:
        raise ParameterError("candidates is empty; pass at least one lever.")
    levers = [_as_lever(c, i) for i, c in enumerate(candidates)]
    for lever in levers:
        check_node(scm, lever.node, "lever node")
    names = [lever.name for lever in levers]
    if len(set(names)) != len(names):
        raise ParameterError(f"lever labels must be unique, got {names}; set Lever(label=...).")
    rng = np.random.default_rng(random_state)
    point = _effects(scm, levers, target, n_samples, rng)
    z = float(stats.norm.ppf(0.5 + level / 2))
    se, lower, upper = point[:, 1], point[:, 0] - z * point[:, 1], point[:, 0] + z * point[:, 1]
    inference = "monte-carlo"
    if n_bootstrap:
        if not hasattr(scm, "bootstrap"):
            raise ParameterError(
                "n_bootstrap > 0 needs a model with a .bootstrap(statistic, n) method "
                "(StructuralCausalModel has one)."
            )

        def statistic(model: Any, brng: np.random.Generator) -> np.ndarray:
            return _effects(model, levers, target, n_samples, brng)[:, 0]

        draws = np.asarray(scm.bootstrap(statistic, n_bootstrap, rng))
        alpha = (1 - level) / 2
        se = draws.std(axis=0, ddof=1) if n_bootstrap > 1 else np.full(len(levers), np.nan)
        lower = np.quantile(draws, alpha, axis=0)
        upper = np.quantile(draws, 1 - alpha, axis=0)
        inference = "bootstrap"
    costs = np.array([lever.cost for lever in levers])
    table = pd.DataFrame(
        {
            "lever": names,
            "node": [lever.node for lever in levers],
            "effect": point[:, 0],
            "cost": costs,
            "net": point[:, 0] - costs,
            "std_error": se,
            "ci_lower": lower,
            "ci_upper": upper,
            "inference": inference,
        }
    )
    table = table.sort_values("net", ascending=False, kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table
