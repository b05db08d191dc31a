"""Mediation in a fitted structural causal model: natural, controlled and path-specific effects.

All effects are contrasts of nested counterfactuals simulated from one draw of
the noise per unit, shared across the worlds compared (so cross-world
quantities such as ``Y(b, M(a))`` are the SCM's own, not an identification
formula's). For a treatment change ``a -> b`` (Pearl 2001, "Direct and indirect
effects", UAI; VanderWeele 2013 for the pure/total names):

* total effect ``TE = E[Y(b)] - E[Y(a)]``;
* natural direct effect ``NDE = E[Y(b, M(a))] - E[Y(a, M(a))]`` (pure, with the
  mediator at its reference-arm value);
* natural indirect effect ``NIE = E[Y(b, M(b))] - E[Y(b, M(a))]`` (total), so
  ``TE = NDE + NIE``;
* ``NDE (treated) = E[Y(b, M(b))] - E[Y(a, M(b))]`` and
  ``NIE (control) = E[Y(a, M(b))] - E[Y(a, M(a))]``, the other split
  (statsmodels' ADE/ACME (treated) and (control));
* controlled direct effect ``CDE(m) = E[Y(b, m)] - E[Y(a, m)]``;
* path-specific effect along a set of edges ``π`` (Avin, Shpitser & Pearl 2005,
  "Identifiability of path-specific effects", IJCAI): every node receives each
  parent through an edge in ``π`` from the world where ``T = b`` is propagated
  along ``π`` only, and every other parent from the reference world ``T = a``.
  With ``π`` = the edge ``T -> Y`` this is the NDE; with ``π`` the edges of the
  paths through ``M`` it is ``NIE (control)``; with every edge it is the TE.

In a linear SCM the total effect is the sum over directed paths of the product of
the edge coefficients (Wright 1934, "The method of path coefficients");
:func:`path_decomposition` lists those contributions.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from paribus._core.params import check_level
from paribus.errors import ParameterError
from paribus.graph.parse import parse_edge_string
from paribus.results import Effect, EffectTable
from paribus.scm._effects import make_effect
from paribus.scm.mechanisms import AdditiveNoiseModel

if TYPE_CHECKING:
    from paribus.scm.model import StructuralCausalModel

__all__ = [
    "controlled_direct_effect",
    "natural_effects",
    "path_decomposition",
    "path_specific_effect",
]

_NATURAL = ("NDE", "NIE", "TE", "NDE (treated)", "NIE (control)")


# -- checks ----------------------------------------------------------------------------------


def _setup(
    scm: StructuralCausalModel,
    treatment: str,
    outcome: str,
    values: Any,
    n: int,
    n_bootstrap: int,
    level: float,
) -> tuple[tuple[Any, Any], float]:
    scm._check_fitted()
    scm.graph.check_nodes(treatment, role="treatment")
    scm._numeric_node(outcome, "outcome")
    if treatment == outcome:
        raise ParameterError(f"treatment and outcome are both {treatment!r}; name two nodes.")
    if not isinstance(values, tuple | list) or len(values) != 2:
        raise ParameterError(
            f"values={values!r} is invalid; expected the pair (a, b) of treatment levels "
            "compared (reference a, e.g. (0, 1))."
        )
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ParameterError(f"n={n!r} is invalid; expected an integer of at least 2.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ParameterError(
            f"n_bootstrap={n_bootstrap!r} is invalid; expected a non-negative integer."
        )
    return (values[0], values[1]), check_level(level)


def _mediators(
    scm: StructuralCausalModel, treatment: str, mediator: str | Sequence[str], outcome: str
) -> list[str]:
    names = [mediator] if isinstance(mediator, str) else list(mediator)
    if not names:
        raise ParameterError(
            "mediator is empty; name at least one node between treatment and outcome."
        )
    scm.graph.check_nodes(names, role="mediator")
    if treatment in names or outcome in names:
        raise ParameterError(
            f"mediator {names} contains the treatment or the outcome; a mediator lies strictly "
            "between them."
        )
    below = scm.graph.descendants(treatment, include_self=False)
    for m in names:
        if m not in below:
            raise ParameterError(
                f"mediator {m!r} is not a descendant of treatment {treatment!r}; the treatment "
                "cannot act through it. Check the graph or the roles."
            )
        if outcome not in scm.graph.descendants(m, include_self=False):
            raise ParameterError(
                f"outcome {outcome!r} is not a descendant of mediator {m!r}; no effect can "
                "pass through it. Check the graph or the roles."
            )
    return names


def _mc_se(diff: np.ndarray) -> float:
    return float(diff.std(ddof=1) / math.sqrt(diff.size))


# -- natural effects -------------------------------------------------------------------------


def _natural_differences(
    scm: StructuralCausalModel,
    treatment: str,
    mediators: list[str],
    outcome: str,
    pair: tuple[Any, Any],
    n: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    a, b = pair
    noise = scm._noise_arrays(n, rng)
    world_a = scm._forward(noise, {treatment: a})
    world_b = scm._forward(noise, {treatment: b})
    m_a = {m: world_a[m] for m in mediators}
    m_b = {m: world_b[m] for m in mediators}
    y_b_ma = scm._forward(noise, {treatment: b, **m_a})[outcome]  # Y(b, M(a))
    y_a_mb = scm._forward(noise, {treatment: a, **m_b})[outcome]  # Y(a, M(b))
    y_a, y_b = world_a[outcome], world_b[outcome]
    return [y_b_ma - y_a, y_b - y_b_ma, y_b - y_a, y_b - y_a_mb, y_a_mb - y_a]


def _natural_statistic(
    treatment: str,
    mediators: list[str],
    outcome: str,
    pair: tuple[Any, Any],
    n: int,
    scm: StructuralCausalModel,
    rng: np.random.Generator,
) -> np.ndarray:
    diffs = _natural_differences(scm, treatment, mediators, outcome, pair, n, rng)
    return np.array([d.mean() for d in diffs])


def natural_effects(
    scm: StructuralCausalModel,
    treatment: str,
    mediator: str | Sequence[str],
    outcome: str,
    *,
    values: tuple[Any, Any] = (0.0, 1.0),
    n: int = 10_000,
    n_bootstrap: int = 0,
    level: float = 0.95,
    random_state: int | None = None,
) -> EffectTable:
    """Natural direct and indirect effects of ``treatment`` on ``outcome`` through ``mediator``.

    Pearl (2001): with ``values = (a, b)``, the table holds ``NDE``
    ``E[Y(b, M(a))] - E[Y(a, M(a))]``, ``NIE`` ``E[Y(b, M(b))] - E[Y(b, M(a))]``,
    ``TE = NDE + NIE``, and the other split ``NDE (treated)``,
    ``NIE (control)``. Every counterfactual is simulated from the fitted SCM with
    the noise shared across worlds (nested counterfactuals, no identification
    formula needed: the model states the cross-world dependence).

    Parameters
    ----------
    scm : StructuralCausalModel
        Fitted.
    mediator : str or list of str
        One node, or several mediating jointly.
    values : (a, b), default (0, 1)
        Reference and comparison treatment levels.
    n : int, default 10_000
        Simulated units.
    n_bootstrap : int, default 0
        Refits of the model on resampled rows for standard errors (0: no interval;
        the Monte Carlo error is in each Effect's diagnostics).
    level : float, default 0.95
    random_state : int, optional

    Returns
    -------
    EffectTable
        Labels ``"NDE"``, ``"NIE"``, ``"TE"``, ``"NDE (treated)"``, ``"NIE (control)"``.

    Notes
    -----
    The cross-world independence of Pearl's identification result is not needed
    here, but the answers are only as right as the fitted mechanisms and the
    graph (no unmeasured treatment-mediator, mediator-outcome or
    treatment-outcome confounding: every common cause must be a node).
    """
    pair, level = _setup(scm, treatment, outcome, values, n, n_bootstrap, level)
    mediators = _mediators(scm, treatment, mediator, outcome)
    rng = scm._rng_for(random_state)
    diffs = _natural_differences(scm, treatment, mediators, outcome, pair, n, rng)
    reps = None
    if n_bootstrap:
        stat = functools.partial(_natural_statistic, treatment, mediators, outcome, pair, n)
        reps = scm.bootstrap(stat, n_bootstrap, rng)
    effects = [
        make_effect(
            estimand=label,
            estimate=float(d.mean()),
            mc_se=_mc_se(d),
            replicates=None if reps is None else reps[:, j],
            level=level,
            n_obs=scm.n_obs_,
            n=n,
            diagnostics={
                "treatment": treatment,
                "mediators": mediators,
                "outcome": outcome,
                "values": [str(pair[0]), str(pair[1])],
            },
        )
        for j, (label, d) in enumerate(zip(_NATURAL, diffs, strict=True))
    ]
    title = f"Mediation of {treatment} -> {outcome} through {', '.join(mediators)}"
    return EffectTable(effects, list(_NATURAL), title=title)


# -- controlled direct effect ----------------------------------------------------------------


def _cde_statistic(
    treatment: str,
    fixed: dict[str, Any],
    outcome: str,
    pair: tuple[Any, Any],
    n: int,
    scm: StructuralCausalModel,
    rng: np.random.Generator,
) -> np.ndarray:
    return np.array([_cde_differences(scm, treatment, fixed, outcome, pair, n, rng).mean()])


def _cde_differences(
    scm: StructuralCausalModel,
    treatment: str,
    fixed: dict[str, Any],
    outcome: str,
    pair: tuple[Any, Any],
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    noise = scm._noise_arrays(n, rng)
    y_a = scm._forward(noise, {treatment: pair[0], **fixed})[outcome]
    y_b = scm._forward(noise, {treatment: pair[1], **fixed})[outcome]
    return y_b - y_a


def controlled_direct_effect(
    scm: StructuralCausalModel,
    treatment: str,
    mediator: str | Sequence[str],
    outcome: str,
    mediator_value: Any,
    *,
    values: tuple[Any, Any] = (0.0, 1.0),
    n: int = 10_000,
    n_bootstrap: int = 0,
    level: float = 0.95,
    random_state: int | None = None,
) -> Effect:
    """``CDE(m) = E[Y | do(T = b, M = m)] - E[Y | do(T = a, M = m)]`` (Pearl 2001).

    ``mediator_value`` is one value (every mediator set to it) or a dict per
    mediator. Parameters as in :func:`natural_effects`.
    """
    pair, level = _setup(scm, treatment, outcome, values, n, n_bootstrap, level)
    mediators = _mediators(scm, treatment, mediator, outcome)
    if isinstance(mediator_value, dict):
        missing = [m for m in mediators if m not in mediator_value]
        if missing:
            raise ParameterError(
                f"mediator_value has no value for {missing}; give one per mediator."
            )
        fixed = {m: mediator_value[m] for m in mediators}
    else:
        fixed = dict.fromkeys(mediators, mediator_value)
    rng = scm._rng_for(random_state)
    diff = _cde_differences(scm, treatment, fixed, outcome, pair, n, rng)
    reps = None
    if n_bootstrap:
        stat = functools.partial(_cde_statistic, treatment, fixed, outcome, pair, n)
        reps = scm.bootstrap(stat, n_bootstrap, rng)[:, 0]
    return make_effect(
        estimand="CDE",
        estimate=float(diff.mean()),
        mc_se=_mc_se(diff),
        replicates=reps,
        level=level,
        n_obs=scm.n_obs_,
        n=n,
        diagnostics={"mediator_value": {m: str(v) for m, v in fixed.items()}},
    )


# -- path-specific effects -------------------------------------------------------------------


def _edge_set(scm: StructuralCausalModel, edges: Any) -> frozenset[tuple[str, str]]:
    if isinstance(edges, str):
        _, directed, bidirected = parse_edge_string(edges)
        if bidirected:
            raise ParameterError("edges: bidirected edges carry no effect; list directed edges.")
        pairs = [(str(x), str(y)) for x, y in directed]
    else:
        try:
            pairs = [(str(x), str(y)) for x, y in edges]
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"edges={edges!r} is invalid; expected an edge string ('T -> M; M -> Y') or "
                "a list of (parent, child) pairs."
            ) from exc
    known = set(scm.graph.directed_edges)
    unknown = [f"{x} -> {y}" for x, y in pairs if (x, y) not in known]
    if unknown:
        raise ParameterError(
            f"edges {', '.join(unknown)} are not edges of the graph; its edges are "
            f"{'; '.join(f'{x} -> {y}' for x, y in sorted(known))}."
        )
    if not pairs:
        raise ParameterError("edges is empty; name the edges the effect should travel along.")
    return frozenset(pairs)


def _pse_differences(
    scm: StructuralCausalModel,
    treatment: str,
    outcome: str,
    edges: frozenset[tuple[str, str]],
    pair: tuple[Any, Any],
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    noise = scm._noise_arrays(n, rng)
    ref = scm._forward(noise, {treatment: pair[0]})
    active: dict[str, np.ndarray] = {}
    for v in scm.nodes_:
        if v == treatment:
            active[v] = scm._intervention_values(v, pair[1], np.empty(n))
            continue
        parents = scm.parents_[v]
        columns = [active[p] if (p, v) in edges else ref[p] for p in parents]
        matrix = np.column_stack(columns) if columns else np.empty((n, 0))
        active[v] = scm.mechanisms_[v].evaluate(matrix, noise[v])
    return active[outcome] - ref[outcome]


def _pse_statistic(
    treatment: str,
    outcome: str,
    edges: frozenset[tuple[str, str]],
    pair: tuple[Any, Any],
    n: int,
    scm: StructuralCausalModel,
    rng: np.random.Generator,
) -> np.ndarray:
    return np.array([_pse_differences(scm, treatment, outcome, edges, pair, n, rng).mean()])


def path_specific_effect(
    scm: StructuralCausalModel,
    treatment: str,
    outcome: str,
    edges: str | Sequence[tuple[str, str]],
    *,
    values: tuple[Any, Any] = (0.0, 1.0),
    n: int = 10_000,
    n_bootstrap: int = 0,
    level: float = 0.95,
    random_state: int | None = None,
) -> Effect:
    """The effect of ``a -> b`` transmitted along ``edges`` only (Avin, Shpitser & Pearl 2005).

    Each node reads a parent through an edge in ``edges`` from the "active" world
    (treatment ``b``, propagated along the chosen edges) and every other parent
    from the reference world (treatment ``a``); the effect is
    ``E[Y_active] - E[Y(a)]``. Edges out of nodes the treatment cannot reach
    change nothing. Parameters as in :func:`natural_effects`.

    Examples
    --------
    ``path_specific_effect(scm, "T", "Y", "T -> M; M -> Y")`` is the effect through
    ``M`` with the direct edge held at the reference (``NIE (control)``).
    """
    pair, level = _setup(scm, treatment, outcome, values, n, n_bootstrap, level)
    chosen = _edge_set(scm, edges)
    rng = scm._rng_for(random_state)
    diff = _pse_differences(scm, treatment, outcome, chosen, pair, n, rng)
    reps = None
    if n_bootstrap:
        stat = functools.partial(_pse_statistic, treatment, outcome, chosen, pair, n)
        reps = scm.bootstrap(stat, n_bootstrap, rng)[:, 0]
    return make_effect(
        estimand="path-specific effect",
        estimate=float(diff.mean()),
        mc_se=_mc_se(diff),
        replicates=reps,
        level=level,
        n_obs=scm.n_obs_,
        n=n,
        diagnostics={"edges": sorted(f"{x} -> {y}" for x, y in chosen)},
    )


# -- linear path decomposition ---------------------------------------------------------------


def _linear_coefficient(scm: StructuralCausalModel, parent: str, child: str) -> float:
    mech = scm.mechanisms_[child]
    coef = getattr(getattr(mech, "model_", None), "coef_", None)
    if type(mech) is not AdditiveNoiseModel or coef is None:
        raise ParameterError(
            f"path_decomposition needs linear additive mechanisms on every path, but node "
            f"{child!r} has {mech.description}; fit it with "
            "AdditiveNoiseModel(LinearRegression()) or use path_specific_effect, which "
            "works for any mechanism."
        )
    return float(np.ravel(coef)[scm.parents_[child].index(parent)])


def path_decomposition(
    scm: StructuralCausalModel, treatment: str, outcome: str, *, shift: float = 1.0
) -> pd.DataFrame:
    """The total effect of ``treatment`` on ``outcome`` split over directed paths (linear SCM).

    In a linear SCM ``X_j = sum_k beta_jk X_k + N_j`` the effect of raising ``T`` by
    ``shift`` on ``Y`` is ``shift * sum_paths prod_edges beta`` (Wright 1934). Each
    row is one directed path with its contribution and share of the total;
    the contributions sum to the total effect. Refuses models whose mechanisms on
    those paths are not linear additive-noise models.

    Returns
    -------
    DataFrame
        Columns ``path`` (``"T -> M -> Y"``), ``coefficients`` (the edge
        coefficients, a tuple), ``contribution`` and ``share``.
    """
    scm._check_fitted()
    scm._numeric_node(treatment, "treatment")
    scm._numeric_node(outcome, "outcome")
    paths = list(nx.all_simple_paths(scm.graph.to_networkx(), treatment, outcome))
    if not paths:
        raise ParameterError(
            f"there is no directed path from {treatment!r} to {outcome!r}; the effect is zero "
            "by the graph."
        )
    rows = []
    for path in sorted(paths, key=lambda p: (len(p), p)):
        coefs = tuple(_linear_coefficient(scm, x, y) for x, y in itertools.pairwise(path))
        rows.append(
            {
                "path": " -> ".join(path),
                "coefficients": coefs,
                "contribution": float(shift * np.prod(coefs)),
            }
        )
    out = pd.DataFrame(rows)
    total = float(out["contribution"].sum())
    out["share"] = out["contribution"] / total if total != 0 else math.nan
    return out
