"""Instrumental variables read off a causal graph: unconditional and conditional.

``Z`` is an instrument for the total effect of ``X`` on ``Y`` given a conditioning set
``W`` (``W = ∅``: an unconditional instrument) when

(a) ``Z`` is not a descendant of ``X``, and ``W`` holds no descendant of ``X`` or ``Y``;
(b) relevance: ``Z`` and ``X`` are m-connected given ``W`` in ``G``;
(c) exclusion and independence: ``Z ⊥ Y | W`` in ``G`` without the edges out of ``X``.

This is the conditional instrument of Brito & Pearl (2002) and van der Zander, Textor
& Liśkiewicz (2015), written for the total effect: those authors remove only the edge
``X -> Y`` (the direct effect in a linear model) and ask ``W`` to avoid the
descendants of ``Y``; removing every edge out of ``X`` gives the total effect, and then
``Z`` and ``W`` must also avoid the descendants of ``X``: conditioning on a mediator
``M`` (``Z -> X -> M``) opens ``Z -> X <-> Y`` through the collider ``X``, and a child
of ``X`` is no instrument at all. Under (a), (b) may equally be read in the graph
without the edges out of ``X``.

Finding ``W``: with ``G'`` the graph without the edges out of ``X``, a candidate ``Z``
gets the minimal separator of ``Z`` and ``Y`` inside ``An(Z ∪ Y)`` in ``G'`` that lies
nearest to ``Y`` (the one leaving ``Z`` connected to the most), avoiding the
descendants of ``X`` and ``Y``; ``Z`` is reported when that set keeps it relevant
(van der Zander et al. 2015, "ancestral instruments" and nearest separators). Such a
``W`` is minimal: no proper subset separates ``Z`` from ``Y``. Conditioning sets
outside ``An(Z ∪ Y)`` (a collider's descendant that makes ``Z`` relevant) are not
searched; van der Zander et al. show that whenever some conditional instrument
exists, an ancestral one does.

References
----------
Pearl, J. (2009). *Causality*, 2nd ed., section 7.4.5.
Brito, C. & Pearl, J. (2002). Generalized instrumental variables. *UAI*.
van der Zander, B., Textor, J. & Liśkiewicz, M. (2015). Efficiently finding conditional
instruments for causal inference. *IJCAI*, 3243-3249.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from paribus.errors import GraphError
from paribus.graph.adjustment import _graph, _MoralGraph, _roles
from paribus.graph.causal_graph import CausalGraph

__all__ = ["Instrument", "find_instruments", "is_instrument"]


@dataclasses.dataclass(frozen=True)
class Instrument:
    """An instrument and the set it must be conditioned on (empty: unconditional).

    Attributes
    ----------
    instrument : str
    conditioning : frozenset of str
    """

    instrument: str
    conditioning: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if not self.conditioning:
            return self.instrument
        return f"{self.instrument} | {', '.join(sorted(self.conditioning))}"


def _single(graph: CausalGraph, treatment: Any, outcome: Any) -> tuple[str, str]:
    x, y = _roles(graph, treatment, outcome)
    if len(x) != 1 or len(y) != 1:
        raise GraphError(
            "instruments are found for one treatment and one outcome; got treatment "
            f"{sorted(x)} and outcome {sorted(y)}. Ask for each pair separately."
        )
    return next(iter(x)), next(iter(y))


def _holds(graph: CausalGraph, cut: CausalGraph, x: str, y: str, z: str, w: frozenset[str]) -> bool:
    blocked = graph.descendants({x, y})
    if z in graph.descendants(x) or w & blocked:
        return False
    return not graph.is_separated(z, x, w) and cut.is_separated(z, y, w)


def is_instrument(
    graph: Any,
    treatment: str,
    outcome: str,
    instrument: str,
    conditioning: str | Iterable[str] = (),
) -> bool:
    """Whether ``instrument`` is a (conditional) instrument for ``treatment -> outcome``.

    Conditions (module docstring): ``Z`` not a descendant of ``X``; ``W`` free of
    descendants of ``X`` and ``Y``; ``Z`` m-connected to ``X`` given ``W``; ``Z ⊥ Y | W``
    in the graph without the edges out of ``X``.

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str
        ``X`` and ``Y``, distinct.
    instrument : str
        ``Z``, neither ``X`` nor ``Y``.
    conditioning : str or iterable of str, default ()
        ``W``, disjoint from ``X``, ``Y`` and ``Z``.

    Returns
    -------
    bool

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node, several treatments or outcomes, or overlapping roles.
    """
    g = _graph(graph)
    x, y = _single(g, treatment, outcome)
    (z,) = g.check_nodes([instrument], "instrument")
    w = g.check_nodes(conditioning, "conditioning set")
    if z in (x, y):
        raise GraphError(f"instrument {z!r} is the {'treatment' if z == x else 'outcome'}.")
    if w & {x, y, z}:
        raise GraphError(
            f"conditioning set {{{', '.join(sorted(w & {x, y, z}))}}} overlaps the treatment, "
            "outcome or instrument; it must hold other variables."
        )
    return _holds(g, g.without_outgoing(x), x, y, z, w)


def find_instruments(graph: Any, treatment: str, outcome: str) -> list[Instrument]:
    """Every node that is an instrument for ``treatment -> outcome``, with a minimal ``W``.

    For each node ``Z`` other than ``X`` and ``Y`` and not a descendant of ``X``, the
    conditioning set is the minimal separator of ``Z`` and ``Y`` in the graph without
    the edges out of ``X``, taken inside ``An(Z ∪ Y)``, nearest to ``Y`` and free of
    descendants of ``X`` and ``Y`` (empty when ``Z ⊥ Y`` already); ``Z`` is listed when
    it stays m-connected to ``X`` given that set (van der Zander, Textor & Liśkiewicz
    2015). Every result satisfies :func:`is_instrument`.

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str

    Returns
    -------
    list of Instrument
        Unconditional instruments first, then by the size of the conditioning set,
        then by name.

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node or several treatments or outcomes.
    """
    g = _graph(graph)
    x, y = _single(g, treatment, outcome)
    cut = g.without_outgoing(x)
    excluded = g.descendants({x, y})
    allowed = frozenset(g.nodes) - excluded
    found = []
    for z in sorted(allowed):
        moral = _MoralGraph(cut, frozenset([z]), frozenset([y]), allowed - {z})
        sep = moral.nearest_separator()
        if sep is None:
            continue
        w = moral.names_of(sep)
        if _holds(g, cut, x, y, z, w):
            found.append(Instrument(z, w))
    return sorted(found, key=lambda i: (len(i.conditioning), i.instrument))
