"""CausalGraph: a DAG, or an ADMG when bidirected edges stand for latent confounding."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import Any

import networkx as nx

from paribus.errors import GraphError
from paribus.graph.parse import (
    Edges,
    parse_dot,
    parse_edge_list,
    parse_edge_string,
    parse_networkx,
)

__all__ = ["CausalGraph", "Independence"]

NodeSet = str | Iterable[str]

#: one implied conditional independence: (x, y, conditioning set)
Independence = tuple[str, str, tuple[str, ...]]


def _as_set(nodes: NodeSet | None) -> frozenset[str]:
    if nodes is None:
        return frozenset()
    if isinstance(nodes, str):
        return frozenset([nodes])
    return frozenset(nodes)


class CausalGraph:
    """A causal graph: directed edges are direct causes, bidirected edges latent confounders.

    Parameters
    ----------
    graph : str, networkx.DiGraph or sequence of edges
        ``"Z -> X; X -> Y; U <-> Y"``, DOT text (``"digraph { Z -> X }"``), a
        networkx ``DiGraph`` (edges with ``bidirected=True`` are bidirected), or
        ``[("Z", "X"), ("U", "Y", "<->")]``.
    nodes : sequence of str, optional
        Extra isolated nodes.

    Raises
    ------
    paribus.errors.GraphError
        For unparsable text (naming the item), self-loops, or a directed cycle
        (listing it).
    """

    def __init__(self, graph: Any, nodes: Sequence[str] | None = None) -> None:
        names, directed, bidirected = self._read(graph)
        for node in nodes or ():
            if node not in names:
                names.append(str(node))
        self._dag = nx.DiGraph()
        self._dag.add_nodes_from(names)
        for a, b in directed:
            if a == b:
                raise GraphError(f"self-loop '{a} -> {a}': a variable cannot cause itself.")
            self._dag.add_edge(a, b)
        self._bidirected: set[frozenset[str]] = set()
        for a, b in bidirected:
            if a == b:
                raise GraphError(f"bidirected self-loop '{a} <-> {a}' is meaningless.")
            self._bidirected.add(frozenset((a, b)))
        try:
            cycle = nx.find_cycle(self._dag)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
            raise GraphError(
                f"the graph has a directed cycle {path}; causal graphs must be acyclic. "
                "Remove or reverse one of these edges (feedback over time can be "
                "unrolled into time-indexed nodes)."
            )

    @staticmethod
    def _read(graph: Any) -> Edges:
        if isinstance(graph, CausalGraph):
            return (list(graph.nodes), list(graph.directed_edges), list(graph.bidirected_edges))
        if isinstance(graph, str):
            if graph.lstrip().lower().startswith(("digraph", "strict", "graph")):
                return parse_dot(graph)
            return parse_edge_string(graph)
        if isinstance(graph, nx.Graph):
            return parse_networkx(graph)
        if isinstance(graph, Iterable):
            return parse_edge_list(graph)
        raise GraphError(
            f"cannot build a causal graph from {type(graph).__name__}; pass an edge string, "
            "DOT text, a networkx DiGraph or a list of edges."
        )

    # -- structure ---------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._dag.nodes)

    @property
    def directed_edges(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._dag.edges)

    @property
    def bidirected_edges(self) -> tuple[tuple[str, str], ...]:
        return tuple(tuple(sorted(pair)) for pair in sorted(self._bidirected, key=sorted))  # type: ignore[misc]

    @property
    def is_dag(self) -> bool:
        """True when the graph has no bidirected edges."""
        return not self._bidirected

    def check_nodes(self, nodes: NodeSet | None, role: str = "node") -> frozenset[str]:
        """The set of names, refusing any that is not in the graph (with close matches)."""
        names = _as_set(nodes)
        unknown = sorted(names - set(self._dag.nodes))
        if unknown:
            import difflib

            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, list(self.nodes), n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise GraphError(
                f"{role} {', '.join(hints)} not in the graph; its nodes are "
                f"{', '.join(self.nodes)}."
            )
        return names

    def parents(self, nodes: NodeSet) -> frozenset[str]:
        names = self.check_nodes(nodes)
        return frozenset(p for v in names for p in self._dag.predecessors(v)) - names

    def children(self, nodes: NodeSet) -> frozenset[str]:
        names = self.check_nodes(nodes)
        return frozenset(c for v in names for c in self._dag.successors(v)) - names

    def ancestors(self, nodes: NodeSet, *, include_self: bool = True) -> frozenset[str]:
        names = self.check_nodes(nodes)
        out = set(names) if include_self else set()
        for v in names:
            out |= nx.ancestors(self._dag, v)
        return frozenset(out if include_self else out - names)

    def descendants(self, nodes: NodeSet, *, include_self: bool = True) -> frozenset[str]:
        names = self.check_nodes(nodes)
        out = set(names) if include_self else set()
        for v in names:
            out |= nx.descendants(self._dag, v)
        return frozenset(out if include_self else out - names)

    def siblings(self, nodes: NodeSet) -> frozenset[str]:
        """Nodes joined to ``nodes`` by a bidirected edge."""
        names = self.check_nodes(nodes)
        return frozenset(
            b for pair in self._bidirected for b in pair if pair & names and b not in names
        )

    def district(self, node: str, within: NodeSet | None = None) -> frozenset[str]:
        """The c-component of ``node``: nodes reachable by bidirected edges (inside ``within``)."""
        allowed = self.check_nodes(within) if within is not None else frozenset(self.nodes)
        seen, stack = {node}, [node]
        while stack:
            v = stack.pop()
            for pair in self._bidirected:
                if v in pair:
                    (w,) = pair - {v}
                    if w in allowed and w not in seen:
                        seen.add(w)
                        stack.append(w)
        return frozenset(seen)

    def districts(self, within: NodeSet | None = None) -> list[frozenset[str]]:
        """The c-components partitioning ``within`` (default: all nodes)."""
        allowed = self.check_nodes(within) if within is not None else frozenset(self.nodes)
        out: list[frozenset[str]] = []
        for v in self.topological_order():
            if v in allowed and not any(v in d for d in out):
                out.append(self.district(v, allowed))
        return out

    def topological_order(self) -> list[str]:
        return list(nx.lexicographical_topological_sort(self._dag, key=self._position))

    @cached_property
    def _order(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self._dag.nodes)}

    def _position(self, node: str) -> int:
        return self._order[node]

    def adjacent(self, a: str, b: str) -> bool:
        return (
            self._dag.has_edge(a, b)
            or self._dag.has_edge(b, a)
            or frozenset((a, b)) in self._bidirected
        )

    # -- derived graphs ----------------------------------------------------------------------

    def subgraph(self, nodes: NodeSet) -> CausalGraph:
        """The induced subgraph on ``nodes`` (edges among them only)."""
        keep = self.check_nodes(nodes)
        order = [v for v in self.nodes if v in keep]
        directed = [(a, b) for a, b in self.directed_edges if a in keep and b in keep]
        bidirected = [(a, b, "<->") for a, b in self.bidirected_edges if a in keep and b in keep]
        return CausalGraph([*directed, *bidirected], nodes=order)

    def do(self, nodes: NodeSet) -> CausalGraph:
        """The mutilated graph with every edge into ``nodes`` removed (an intervention)."""
        cut = self.check_nodes(nodes)
        directed = [(a, b) for a, b in self.directed_edges if b not in cut]
        bidirected = [
            (a, b, "<->") for a, b in self.bidirected_edges if a not in cut and b not in cut
        ]
        return CausalGraph([*directed, *bidirected], nodes=list(self.nodes))

    def without_outgoing(self, nodes: NodeSet) -> CausalGraph:
        """The graph with every directed edge out of ``nodes`` removed (backdoor graph)."""
        cut = self.check_nodes(nodes)
        directed = [(a, b) for a, b in self.directed_edges if a not in cut]
        bidirected = [(a, b, "<->") for a, b in self.bidirected_edges]
        return CausalGraph([*directed, *bidirected], nodes=list(self.nodes))

    def latent_projection(self, observed: NodeSet) -> CausalGraph:
        """The ADMG over ``observed`` that keeps every m-separation among them (Verma 1993).

        ``a -> b`` when a directed path from ``a`` to ``b`` passes through unobserved
        nodes only; ``a <-> b`` when some unobserved node (or bidirected edge) reaches
        both ``a`` and ``b`` by directed paths through unobserved nodes only.
        """
        keep = self.check_nodes(observed, "observed node")
        g = self._augmented()
        hidden = set(g.nodes) - keep

        def reach(start: Any) -> set[str]:
            """Observed nodes reached from ``start`` through hidden nodes only."""
            found, stack, seen = set(), [start], {start}
            while stack:
                for child in g.successors(stack.pop()):
                    if child in keep:
                        found.add(child)
                    elif child not in seen:
                        seen.add(child)
                        stack.append(child)
            return found

        directed = [(a, b) for a in keep for b in reach(a)]
        bidirected = {
            frozenset((a, b))
            for h in hidden
            for a, b in itertools.combinations(sorted(reach(h)), 2)
        }
        order = [v for v in self.nodes if v in keep]
        return CausalGraph(
            [*directed, *((a, b, "<->") for a, b in map(sorted, bidirected))], nodes=order
        )

    def to_networkx(self) -> nx.DiGraph:
        """A DiGraph copy; bidirected edges appear as edges with ``bidirected=True``."""
        g = self._dag.copy()
        for a, b in self.bidirected_edges:
            g.add_edge(a, b, bidirected=True)
        return g

    def _augmented(self) -> nx.DiGraph:
        """The DAG with one latent parent per bidirected edge (for m-separation)."""
        g = self._dag.copy()
        for a, b in self.bidirected_edges:
            latent = ("__latent__", a, b)
            g.add_edge(latent, a)
            g.add_edge(latent, b)
        return g

    # -- separation ----------------------------------------------------------------------------

    def is_separated(self, x: NodeSet, y: NodeSet, given: NodeSet | None = None) -> bool:
        """d-separation (m-separation with bidirected edges) of ``x`` and ``y`` given ``given``."""
        xs, ys = self.check_nodes(x, "x"), self.check_nodes(y, "y")
        zs = self.check_nodes(given, "conditioning node")
        if xs & ys or (xs | ys) & zs:
            raise GraphError("x, y and the conditioning set must be disjoint.")
        graph = self._dag if self.is_dag else self._augmented()
        return bool(nx.is_d_separator(graph, set(xs), set(ys), set(zs)))

    def implied_independences(self) -> list[Independence]:
        """A basis of the conditional independences the graph implies.

        For every non-adjacent pair, the first separating set among the parents
        of the later node (local Markov property), the parents of both, and all
        their ancestors. In an ADMG some non-adjacent pairs have no separating set
        (an inducing path, or a Verma constraint that no conditional independence
        expresses); they are left out.
        """
        order = {v: i for i, v in enumerate(self.topological_order())}
        out: list[Independence] = []
        for a, b in itertools.combinations(sorted(self.nodes, key=order.__getitem__), 2):
            if self.adjacent(a, b):
                continue
            pair = {a, b}
            candidates = [
                self.parents(b) - pair,
                self.parents(pair) - pair,
                self.ancestors(pair) - pair,
            ]
            if not self.is_dag:
                candidates.append(
                    (
                        self.parents(self.district(b, self.ancestors(pair)))
                        | self.district(b, self.ancestors(pair))
                    )
                    - pair
                )
            for z in candidates:
                if self.is_separated(a, b, z):
                    out.append((a, b, tuple(sorted(z, key=order.__getitem__))))
                    break
        return out

    # -- output --------------------------------------------------------------------------------

    def to_string(self) -> str:
        """The edge string this graph parses from."""
        parts = [f"{a} -> {b}" for a, b in self.directed_edges]
        parts += [f"{a} <-> {b}" for a, b in self.bidirected_edges]
        linked = {v for e in self.directed_edges + self.bidirected_edges for v in e}
        parts += [v for v in self.nodes if v not in linked]
        return "; ".join(parts)

    def to_dot(self) -> str:
        lines = ["digraph {"]
        lines += [f'  "{v}";' for v in self.nodes]
        lines += [f'  "{a}" -> "{b}";' for a, b in self.directed_edges]
        lines += [f'  "{a}" -> "{b}" [dir=both, style=dashed];' for a, b in self.bidirected_edges]
        return "\n".join([*lines, "}"])

    def __repr__(self) -> str:
        return f"CausalGraph({self.to_string()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalGraph):
            return NotImplemented
        return (
            set(self.nodes) == set(other.nodes)
            and set(self.directed_edges) == set(other.directed_edges)
            and self._bidirected == other._bidirected
        )

    __hash__ = None  # type: ignore[assignment]

    def draw(self, ax: Any = None, highlight: NodeSet | None = None) -> Any:
        """Draw with matplotlib: graphviz's layout when pygraphviz is installed, else layers."""
        from paribus.graph.draw import draw_graph

        return draw_graph(self, ax=ax, highlight=_as_set(highlight))
