"""Identification: from a causal graph to what must be estimated, and under which assumptions.

:func:`identify` tries, in order, the strategies an analyst would: covariate
adjustment (back-door / generalized adjustment criterion), the front-door
criterion, instrumental variables, and finally the complete ID algorithm of
Shpitser & Pearl (2006), which decides identifiability for any ADMG.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Literal

from paribus.errors import GraphError, IdentificationError, ParameterError
from paribus.graph.adjustment import minimal_adjustment_sets, optimal_adjustment_set
from paribus.graph.causal_graph import CausalGraph
from paribus.graph.expression import Expression, Probability, Product, Sum
from paribus.graph.frontdoor import frontdoor_sets
from paribus.graph.id_algorithm import identify_effect
from paribus.graph.instruments import Instrument, find_instruments

__all__ = ["Estimand", "identify"]

Strategy = Literal["backdoor", "frontdoor", "iv", "id"]

#: at most this many minimal adjustment sets are listed in an Estimand
MAX_LISTED_SETS = 1000

_ASSUMPTIONS = {
    "backdoor": (
        "The graph is correct: no unobserved common cause of the treatment and the outcome "
        "other than those it shows, and the adjustment set blocks every back-door path.",
        "Positivity: every unit could receive either treatment level given the adjustment set.",
        "Consistency and no interference between units (SUTVA).",
    ),
    "frontdoor": (
        "The graph is correct: the mediators intercept every directed path from the "
        "treatment to the outcome, no unblocked back-door path from the treatment to the "
        "mediators, and every back-door path from the mediators to the outcome is blocked "
        "by the treatment.",
        "Positivity of the mediators given the treatment.",
        "Consistency and no interference between units (SUTVA).",
    ),
    "iv": (
        "Relevance: the instrument moves the treatment (given the conditioning set).",
        "Exclusion and independence: the instrument affects the outcome only through the "
        "treatment and shares no unblocked common cause with it.",
        "For a point estimate, homogeneous (or linear) effects, or monotonicity, in which "
        "case the LATE of the compliers is identified rather than the ATE.",
    ),
    "id": (
        "The graph is correct, including every latent confounder drawn as a bidirected edge.",
        "Positivity of every conditional probability in the identifying functional.",
        "Consistency and no interference between units (SUTVA).",
    ),
}


def _names(nodes: str | Iterable[str]) -> tuple[str, ...]:
    return (nodes,) if isinstance(nodes, str) else tuple(nodes)


@dataclasses.dataclass(frozen=True)
class Estimand:
    """What is to be estimated, how it is identified, and under which assumptions.

    Attributes
    ----------
    treatment, outcome : tuple of str
    estimand : {"ATE", "ATT", "ATC"}
    strategy : {"backdoor", "frontdoor", "iv", "id"}
    adjustment_set : frozenset of str or None
        The recommended adjustment set for ``strategy == "backdoor"``: the optimal
        (O-) set of Henckel, Perković & Maathuis (2022) in DAGs, smallest asymptotic
        variance among valid sets; in ADMGs a valid set of smallest size.
    adjustment_sets : tuple of frozenset
        The minimal valid adjustment sets (at most ``MAX_LISTED_SETS``).
    adjustment_sets_complete : bool
        False when there were more minimal sets than were listed.
    frontdoor_set, frontdoor_sets : the recommended and all minimal front-door sets.
    instruments : tuple of Instrument
        Valid (conditional) instruments.
    expression, expression_latex : str
        The identifying functional of ``P(outcome | do(treatment))``.
    assumptions : tuple of str
    graph : str
        The graph's edge string.
    """

    treatment: tuple[str, ...]
    outcome: tuple[str, ...]
    estimand: str
    strategy: Strategy
    expression: str
    expression_latex: str
    assumptions: tuple[str, ...]
    graph: str
    adjustment_set: frozenset[str] | None = None
    adjustment_sets: tuple[frozenset[str], ...] = ()
    adjustment_sets_complete: bool = True
    frontdoor_set: frozenset[str] | None = None
    frontdoor_sets: tuple[frozenset[str], ...] = ()
    instruments: tuple[Instrument, ...] = ()

    def __str__(self) -> str:
        x, y = ", ".join(self.treatment), ", ".join(self.outcome)
        lines = [
            f"{self.estimand} of {x} on {y}: identified by {self.strategy}",
            f"  P({y} | do({x})) = {self.expression}",
        ]
        if self.adjustment_set is not None:
            lines.append(f"  recommended adjustment set: {_fmt_set(self.adjustment_set)}")
            lines.append(
                "  minimal adjustment sets: " + "; ".join(_fmt_set(s) for s in self.adjustment_sets)
            )
        if self.frontdoor_set is not None:
            lines.append(f"  front-door set: {_fmt_set(self.frontdoor_set)}")
        if self.instruments:
            lines.append(
                "  instruments: "
                + "; ".join(
                    i.instrument + (f" given {_fmt_set(i.conditioning)}" if i.conditioning else "")
                    for i in self.instruments
                )
            )
        lines.append("  assumptions:")
        lines += [f"    - {a}" for a in self.assumptions]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (sets as sorted lists)."""
        return {
            "treatment": list(self.treatment),
            "outcome": list(self.outcome),
            "estimand": self.estimand,
            "strategy": self.strategy,
            "expression": self.expression,
            "expression_latex": self.expression_latex,
            "assumptions": list(self.assumptions),
            "graph": self.graph,
            "adjustment_set": None if self.adjustment_set is None else sorted(self.adjustment_set),
            "adjustment_sets": [sorted(s) for s in self.adjustment_sets],
            "adjustment_sets_complete": self.adjustment_sets_complete,
            "frontdoor_set": None if self.frontdoor_set is None else sorted(self.frontdoor_set),
            "frontdoor_sets": [sorted(s) for s in self.frontdoor_sets],
            "instruments": [
                {"instrument": i.instrument, "conditioning": sorted(i.conditioning)}
                for i in self.instruments
            ],
        }


def _fmt_set(nodes: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(nodes)) + "}"


def _adjustment_expression(
    x: tuple[str, ...], y: tuple[str, ...], z: frozenset[str], order: list[str]
) -> Expression:
    zs = tuple(v for v in order if v in z)
    if not zs:
        return Probability(y, x)
    return Sum(Product((Probability(y, (*x, *zs)), Probability(zs))), zs)


def identify(
    graph: Any,
    treatment: str | Iterable[str],
    outcome: str | Iterable[str],
    estimand: str = "ATE",
) -> Estimand:
    """Identify the effect of ``treatment`` on ``outcome`` in ``graph``.

    Parameters
    ----------
    graph : CausalGraph or anything CausalGraph accepts
    treatment, outcome : str or iterable of str
    estimand : {"ATE", "ATT", "ATC"}
        ATT and ATC are identified here by covariate adjustment only.

    Returns
    -------
    Estimand

    Raises
    ------
    paribus.errors.IdentificationError
        When the effect is not identifiable; the message names the hedge.
    """
    if estimand not in ("ATE", "ATT", "ATC"):
        raise ParameterError(f"estimand={estimand!r} is invalid; expected 'ATE', 'ATT' or 'ATC'.")
    g = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
    x, y = _names(treatment), _names(outcome)
    g.check_nodes(x, "treatment")
    g.check_nodes(y, "outcome")
    if set(x) & set(y):
        raise GraphError(f"treatment and outcome overlap: {sorted(set(x) & set(y))}.")
    order = g.topological_order()
    common: dict[str, Any] = {
        "treatment": x,
        "outcome": y,
        "estimand": estimand,
        "graph": g.to_string(),
    }

    optimal = optimal_adjustment_set(g, set(x), set(y))  # polynomial; None: no valid set
    if optimal is not None:
        # the number of minimal sets can grow exponentially with the graph: list a capped few
        sets = minimal_adjustment_sets(g, set(x), set(y), max_sets=MAX_LISTED_SETS + 1)
        complete = len(sets) <= MAX_LISTED_SETS
        sets = sets[:MAX_LISTED_SETS]
        chosen = optimal
        expr = _adjustment_expression(x, y, chosen, order)
        return Estimand(
            strategy="backdoor",
            expression=expr.to_text(),
            expression_latex=expr.to_latex(),
            assumptions=_ASSUMPTIONS["backdoor"],
            adjustment_set=frozenset(chosen),
            adjustment_sets=tuple(sets),
            adjustment_sets_complete=complete,
            **common,
        )
    if estimand != "ATE":
        raise IdentificationError(
            f"the {estimand} of {', '.join(x)} on {', '.join(y)} is identified here only by "
            "covariate adjustment, and no valid adjustment set exists in this graph; ask for "
            "the ATE (front-door, instruments or the ID algorithm may identify it)."
        )
    single = len(x) == 1 and len(y) == 1
    fronts = frontdoor_sets(g, x[0], y[0]) if single else []
    if fronts:
        expr = identify_effect(g, set(x), set(y))
        return Estimand(
            strategy="frontdoor",
            expression=expr.to_text(),
            expression_latex=expr.to_latex(),
            assumptions=_ASSUMPTIONS["frontdoor"],
            frontdoor_set=fronts[0],
            frontdoor_sets=tuple(fronts),
            **common,
        )
    ivs = find_instruments(g, x[0], y[0]) if single else []
    try:
        expr = identify_effect(g, set(x), set(y))
    except IdentificationError:
        if not ivs:
            raise
        iv_text = f"Cov({ivs[0].instrument}, {y[0]}) / Cov({ivs[0].instrument}, {x[0]})" + (
            f" given {_fmt_set(ivs[0].conditioning)}" if ivs[0].conditioning else ""
        )
        return Estimand(
            strategy="iv",
            expression=f"{iv_text} (linear / LATE)",
            expression_latex=iv_text,
            assumptions=_ASSUMPTIONS["iv"],
            instruments=tuple(ivs),
            **common,
        )
    return Estimand(
        strategy="id",
        expression=expr.to_text(),
        expression_latex=expr.to_latex(),
        assumptions=_ASSUMPTIONS["id"],
        instruments=tuple(ivs),
        **common,
    )
