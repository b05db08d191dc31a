"""Covariate adjustment: the back-door criterion, the complete adjustment criterion,
all minimal adjustment sets and the optimal adjustment set.

Vocabulary (for disjoint node sets ``X`` (treatment) and ``Y`` (outcome) of a DAG,
or of an ADMG whose bidirected edges stand for latent common causes):

* a *proper causal path* is a directed path ``x -> ... -> y`` whose only node in
  ``X`` is its first one; ``cn(X, Y)`` are its nodes other than ``x`` (the causal
  nodes, ``Y`` included when a proper causal path reaches it);
* ``forb(X, Y) = De(cn(X, Y)) ∪ X`` are the forbidden nodes (Perković et al. 2018):
  the mediators, the outcomes and everything they cause;
* the *proper back-door graph* ``G^pbd_XY`` is ``G`` without the first edge
  ``x -> w`` of every proper causal path (van der Zander et al. 2019).

``Z`` is a valid adjustment set, ``P(y | do(x)) = Σ_z P(y | x, z) P(z)``, for every
distribution compatible with the graph if and only if ``Z ∩ forb(X, Y) = ∅`` and
``Z`` m-separates ``X`` and ``Y`` in ``G^pbd_XY`` (the constructive back-door
criterion, equivalent to the generalized adjustment criterion of Shpitser,
VanderWeele & Robins 2010 and Perković et al. 2018).

The minimal adjustment sets are then the minimal m-separators of ``X`` and ``Y`` in
``G^pbd_XY`` that avoid ``forb``. Every minimal separator lies inside the ancestors
``An(X ∪ Y)``, where m-separation is vertex separation in the moral graph, so they
are listed as the minimal vertex separators of that undirected graph avoiding the
forbidden and latent nodes, by backtracking over the separators' close sides
(Takata 2010), with polynomial delay as in van der Zander et al. (2019).

References
----------
Pearl, J. (2009). *Causality*, 2nd ed., section 3.3.1 (back-door criterion).
Shpitser, I., VanderWeele, T. & Robins, J. (2010). On the validity of covariate
adjustment for estimating causal effects. *UAI*.
Perković, E., Textor, J., Kalisch, M. & Maathuis, M. H. (2018). Complete graphical
characterization and construction of adjustment sets in Markov equivalence classes of
ancestral graphs. *JMLR* 18(220).
van der Zander, B., Liśkiewicz, M. & Textor, J. (2019). Separators and adjustment sets
in causal graphs: complete criteria and an algorithmic framework. *Artificial
Intelligence* 270, 1-40.
Takata, K. (2010). Space-optimal, backtracking algorithms to list the minimal vertex
separators of a graph. *Discrete Applied Mathematics* 158(15), 1660-1667.
Henckel, L., Perković, E. & Maathuis, M. H. (2022). Graphical criteria for efficient
total effect estimation via adjustment in causal linear models. *JRSS-B* 84(2).
Rotnitzky, A. & Smucler, E. (2020). Efficient adjustment sets for population average
causal treatment effect estimation in graphical models. *JMLR* 21(188).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from paribus.errors import GraphError
from paribus.graph.causal_graph import CausalGraph

__all__ = [
    "is_adjustment_set",
    "is_backdoor_set",
    "minimal_adjustment_sets",
    "optimal_adjustment_set",
]

Nodes = str | Iterable[str]


# -- validation ------------------------------------------------------------------------------


def _graph(graph: Any) -> CausalGraph:
    return graph if isinstance(graph, CausalGraph) else CausalGraph(graph)


def _roles(graph: CausalGraph, treatment: Nodes, outcome: Nodes) -> tuple[frozenset[str], ...]:
    """Checked treatment and outcome sets: known, non-empty and disjoint."""
    x = graph.check_nodes(treatment, "treatment")
    y = graph.check_nodes(outcome, "outcome")
    if not x or not y:
        raise GraphError(
            f"{'treatment' if not x else 'outcome'} is empty; name at least one node of the graph."
        )
    if x & y:
        raise GraphError(
            f"treatment and outcome overlap ({', '.join(sorted(x & y))}); a variable's effect "
            "on itself is not defined. Pass disjoint sets."
        )
    return x, y


def _covariates(
    graph: CausalGraph, nodes: Nodes, role: str, *taken: tuple[str, frozenset[str]]
) -> frozenset[str]:
    """Checked covariate set, refusing overlap with the treatment or outcome."""
    z = graph.check_nodes(nodes, role)
    for name, other in taken:
        if z & other:
            raise GraphError(
                f"{role} {{{', '.join(sorted(z & other))}}} overlaps the {name}; "
                f"a {role} must not contain the {name}."
            )
    return z


# -- graph helpers ----------------------------------------------------------------------------


def _children(graph: CausalGraph, *, reverse: bool = False) -> dict[str, list[str]]:
    """Children lists of the directed edges (parents with ``reverse``)."""
    out: dict[str, list[str]] = {v: [] for v in graph.nodes}
    for a, b in graph.directed_edges:
        out[b if reverse else a].append(a if reverse else b)
    return out


def _parents(graph: CausalGraph) -> dict[str, list[str]]:
    return _children(graph, reverse=True)


def _reach(start: Iterable[str], step: dict[str, list[str]], avoid: frozenset[str]) -> set[str]:
    """Nodes reachable from ``start`` along ``step`` never entering ``avoid`` (start kept)."""
    seen = set(start)
    stack = list(seen)
    while stack:
        for w in step[stack.pop()]:
            if w not in seen and w not in avoid:
                seen.add(w)
                stack.append(w)
    return seen


def _causal_nodes(graph: CausalGraph, x: frozenset[str], y: frozenset[str]) -> frozenset[str]:
    """``cn(X, Y)``: nodes other than ``X`` on proper causal paths from ``X`` to ``Y``.

    ``(De(X) in G without edges into X) \\ X`` intersected with ``An(Y) in G without
    edges out of X``: reached from ``X`` without passing through ``X`` again, and
    reaching ``Y`` without passing through ``X``.
    """
    down = _reach(x, _children(graph), avoid=x) - x
    up = _reach(y, _parents(graph), avoid=x)
    return frozenset(down & up)


def _forbidden(graph: CausalGraph, x: frozenset[str], cn: frozenset[str]) -> frozenset[str]:
    """``forb(X, Y) = De(cn(X, Y)) ∪ X``."""
    return frozenset(_reach(cn, _children(graph), avoid=frozenset())) | x


def _proper_backdoor_graph(
    graph: CausalGraph, x: frozenset[str], cn: frozenset[str]
) -> CausalGraph:
    """``G^pbd_XY``: ``graph`` without the edges ``x -> w`` with ``w`` a causal node."""
    directed = [(a, b) for a, b in graph.directed_edges if not (a in x and b in cn)]
    bidirected = [(a, b, "<->") for a, b in graph.bidirected_edges]
    return CausalGraph([*directed, *bidirected], nodes=list(graph.nodes))


# -- criteria -------------------------------------------------------------------------------


def is_backdoor_set(graph: Any, treatment: Nodes, outcome: Nodes, adjustment: Nodes) -> bool:
    """Whether ``adjustment`` satisfies Pearl's back-door criterion.

    ``Z`` satisfies the back-door criterion relative to ``(X, Y)`` when (i) no node of
    ``Z`` is a descendant of ``X`` and (ii) ``Z`` blocks every path between ``X`` and
    ``Y`` that starts with an arrow into ``X``, i.e. ``Z`` m-separates ``X`` and ``Y``
    in the graph without the edges out of ``X`` (a bidirected edge ``x <-> v`` counts
    as an arrow into ``x``). Every back-door set is a valid adjustment set; the converse
    fails (see :func:`is_adjustment_set`).

    Parameters
    ----------
    graph : CausalGraph
        A DAG or an ADMG (anything :class:`CausalGraph` accepts).
    treatment, outcome : str or iterable of str
        ``X`` and ``Y``: non-empty, disjoint.
    adjustment : str or iterable of str
        ``Z``, disjoint from ``X`` and ``Y``.

    Returns
    -------
    bool

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node, an empty treatment or outcome, or overlapping sets.

    References
    ----------
    Pearl, J. (1993, 2009). *Causality*, Definition 3.3.1 and Theorem 3.3.2.
    """
    g = _graph(graph)
    x, y = _roles(g, treatment, outcome)
    z = _covariates(g, adjustment, "adjustment set", ("treatment", x), ("outcome", y))
    if z & g.descendants(x):
        return False
    return g.without_outgoing(x).is_separated(x, y, z)


def is_adjustment_set(graph: Any, treatment: Nodes, outcome: Nodes, adjustment: Nodes) -> bool:
    """Whether ``adjustment`` is a valid adjustment set (complete criterion).

    ``Z`` is valid relative to ``(X, Y)``, ``P(y | do(x)) = Σ_z P(y | x, z) P(z)`` in
    every model compatible with the graph, if and only if

    (a) ``Z ∩ forb(X, Y) = ∅``, where ``forb(X, Y) = De(cn(X, Y)) ∪ X`` and ``cn`` are
        the nodes other than ``X`` on proper causal paths from ``X`` to ``Y``; and
    (b) ``Z`` m-separates ``X`` and ``Y`` in the proper back-door graph, ``G`` without
        the first edge of every proper causal path.

    This is the generalized adjustment criterion (Shpitser, VanderWeele & Robins 2010;
    Perković et al. 2018) in the constructive form of van der Zander, Liśkiewicz &
    Textor (2019), sound and complete for DAGs and for ADMGs, where a bidirected
    edge stands for a latent common cause that cannot be adjusted for.

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str or iterable of str
        ``X`` and ``Y``: non-empty, disjoint.
    adjustment : str or iterable of str
        ``Z``, disjoint from ``X`` and ``Y``.

    Returns
    -------
    bool

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node, an empty treatment or outcome, or overlapping sets.
    """
    g = _graph(graph)
    x, y = _roles(g, treatment, outcome)
    z = _covariates(g, adjustment, "adjustment set", ("treatment", x), ("outcome", y))
    cn = _causal_nodes(g, x, y)
    if z & _forbidden(g, x, cn):
        return False
    return _proper_backdoor_graph(g, x, cn).is_separated(x, y, z)


# -- minimal separators in the moral graph ------------------------------------------------------


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _MoralGraph:
    """The moral graph of ``An(S ∪ T)``, with ``S`` and ``T`` contracted to two nodes.

    Built from an ADMG: each bidirected edge becomes a latent parent of its two ends, so
    m-separation is d-separation in that DAG (latent nodes are never in a separator).
    Node sets are bit masks over ``self.names`` (latent nodes are ``None``). Separating
    ``s`` from ``t`` in this graph by a set ``W ⊆ An(S ∪ T)`` is exactly
    m-separation of ``S`` and ``T`` given ``W`` (Lauritzen et al. 1990); ``forbidden``
    holds the nodes that may not enter a separator.
    """

    def __init__(
        self,
        graph: CausalGraph,
        source: frozenset[str],
        target: frozenset[str],
        allowed: frozenset[str],
        drop_edges: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        names: list[str | None] = list(graph.nodes)
        index = {v: i for i, v in enumerate(graph.nodes)}
        parents: list[list[int]] = [[] for _ in names]
        for a, b in graph.directed_edges:
            if (a, b) not in drop_edges:
                parents[index[b]].append(index[a])
        for a, b in graph.bidirected_edges:
            latent = len(names)
            names.append(None)
            parents.append([])
            parents[index[a]].append(latent)
            parents[index[b]].append(latent)
        # ancestral set of source and target
        seeds = [index[v] for v in source | target]
        keep = set(seeds)
        stack = list(seeds)
        while stack:
            for p in parents[stack.pop()]:
                if p not in keep:
                    keep.add(p)
                    stack.append(p)
        adj = [0] * len(names)
        for v in keep:
            ps = parents[v]
            for i, p in enumerate(ps):
                adj[v] |= 1 << p
                adj[p] |= 1 << v
                for q in ps[i + 1 :]:
                    adj[p] |= 1 << q
                    adj[q] |= 1 << p
        self.names = names
        self.adj = adj
        self.s = self._contract(adj, [index[v] for v in source])
        self.t = self._contract(adj, [index[v] for v in target])
        forbidden = 0
        for v in keep:
            if v not in (self.s, self.t) and (names[v] is None or names[v] not in allowed):
                forbidden |= 1 << v
        for name in source | target:
            forbidden &= ~(1 << index[name])
        self.forbidden = forbidden

    @staticmethod
    def _contract(adj: list[int], group: list[int]) -> int:
        rep = group[0]
        mask = sum(1 << v for v in group)
        nbrs = 0
        for v in group:
            nbrs |= adj[v]
            adj[v] = 0
        nbrs &= ~mask
        adj[rep] = nbrs
        for u in _bits(nbrs):
            adj[u] = (adj[u] & ~mask) | (1 << rep)
        return rep

    def names_of(self, mask: int) -> frozenset[str]:
        return frozenset(str(self.names[v]) for v in _bits(mask))

    def neighbours(self, mask: int) -> int:
        out = 0
        for v in _bits(mask):
            out |= self.adj[v]
        return out & ~mask

    def component(self, seed: int, blocked: int) -> int:
        """Nodes connected to the nodes of ``seed`` avoiding ``blocked``."""
        comp = frontier = seed
        while frontier:
            nxt = 0
            for v in _bits(frontier):
                nxt |= self.adj[v]
            frontier = nxt & ~comp & ~blocked
            comp |= frontier
        return comp

    def close(self, side: int, near: int, far: int) -> int | None:
        """The ``near``-side full component of the minimal separator closest to ``side``.

        ``side`` is a connected set containing ``near`` and not adjacent to ``far``. The
        separator is ``N(C)`` for ``C`` the component of ``far`` once ``N(side)`` is
        removed; its ``near``-side component contains ``side``. Forbidden nodes adjacent
        to that component cannot be in a separator, so they join it, and the closure
        repeats (every minimal separator avoiding ``forbidden`` whose near side contains
        ``side`` has its near side containing the result). ``None`` when no such
        separator exists.
        """
        while True:
            nb = self.neighbours(side)
            if nb >> far & 1:
                return None
            far_side = self.component(1 << far, side | nb)
            sep = self.neighbours(far_side)
            side = self.component(1 << near, sep)
            extra = sep & self.forbidden
            if not extra:
                return side
            side |= extra

    def minimal_separators(self) -> Iterator[int]:
        """Every minimal ``s``-``t`` separator avoiding ``forbidden``, each once.

        Backtracking over close ``s`` sides (Takata 2010): ``(S, T)`` stands for the
        separators whose ``s`` side contains ``S`` and misses ``T``. A node ``v`` of
        ``N(S)`` outside ``T`` either joins the ``s`` side (``S`` grows to its closure)
        or not (``T`` grows); when ``N(S) ⊆ T``, ``N(S)`` itself is the only one left.
        Every pushed state yields at least one separator, hence polynomial delay.
        """
        start = self.close(1 << self.s, self.s, self.t)
        if start is None:
            return
        stack = [(start, 0)]
        while stack:
            side, out = stack.pop()
            nb = self.neighbours(side)
            free = nb & ~out
            if not free:
                yield nb
                continue
            v = free & -free
            stack.append((side, out | v))
            grown = self.close(side | v, self.s, self.t)
            if grown is not None and not grown & out:
                stack.append((grown, out))

    def minimum_separator(self) -> int | None:
        """A smallest ``s``-``t`` separator avoiding ``forbidden`` (a minimum vertex cut).

        Max-flow on the split graph: every node ``v`` becomes ``v_in -> v_out`` of
        capacity 1 (unbounded when forbidden), every edge ``u - v`` the unbounded arcs
        ``u_out -> v_in`` and ``v_out -> u_in``; the cut arcs name the separator.
        """
        import networkx as nx

        reach = self.component(1 << self.s, 0)
        if not reach >> self.t & 1:
            return 0
        flow = nx.DiGraph()
        for v in _bits(reach):
            if v not in (self.s, self.t):
                capacity = float("inf") if self.forbidden >> v & 1 else 1.0
                flow.add_edge(("in", v), ("out", v), capacity=capacity)
            for u in _bits(self.adj[v] & reach):
                flow.add_edge(("out", v), ("in", u))
        try:
            _, (side, _) = nx.minimum_cut(flow, ("out", self.s), ("in", self.t))
        except nx.NetworkXUnbounded:
            return None
        cut = 0
        for v in _bits(reach):
            if ("in", v) in side and ("out", v) not in side and v not in (self.s, self.t):
                cut |= 1 << v
        return cut

    def nearest_separator(self) -> int | None:
        """The minimal ``s``-``t`` separator closest to ``t`` avoiding ``forbidden``."""
        side = self.close(1 << self.t, self.t, self.s)
        return None if side is None else self.neighbours(side)


# -- listing --------------------------------------------------------------------------------


def _sort_key(nodes: frozenset[str]) -> tuple[int, list[str]]:
    return len(nodes), sorted(nodes)


def _adjustment_moral_graph(g: CausalGraph, x: frozenset[str], y: frozenset[str]) -> _MoralGraph:
    """The moral graph of ``An(X ∪ Y)`` in the proper back-door graph, ``forb`` forbidden."""
    cn = _causal_nodes(g, x, y)
    allowed = frozenset(g.nodes) - _forbidden(g, x, cn) - y
    drop = frozenset((a, b) for a, b in g.directed_edges if a in x and b in cn)
    return _MoralGraph(g, x, y, allowed, drop)


def minimal_adjustment_sets(
    graph: Any, treatment: Nodes, outcome: Nodes, *, max_sets: int | None = None
) -> list[frozenset[str]]:
    """Every minimal valid adjustment set for the effect of ``treatment`` on ``outcome``.

    A valid set (see :func:`is_adjustment_set`) is minimal when no proper subset is
    valid. The minimal valid sets are the minimal m-separators of ``X`` and ``Y`` in
    the proper back-door graph that avoid ``forb(X, Y)``; they lie inside
    ``An(X ∪ Y)``, so they are the minimal vertex separators of the moral graph of
    that ancestral set avoiding the forbidden and the latent nodes, listed with
    polynomial delay (van der Zander, Liśkiewicz & Textor 2019; Takata 2010). No set
    contains a mediator, a descendant of one, or a latent variable; a collider is
    included only together with what blocks the path it opens.

    Parameters
    ----------
    graph : CausalGraph
        A DAG or an ADMG.
    treatment, outcome : str or iterable of str
        ``X`` and ``Y``: non-empty, disjoint.
    max_sets : int, optional
        Stop after this many sets (graphs can have exponentially many); the ones found
        are then sorted, and are not necessarily the smallest.

    Returns
    -------
    list of frozenset of str
        Sorted by size, then by sorted names. ``[frozenset()]`` when no adjustment is
        needed; ``[]`` when no valid adjustment set exists (the effect may still be
        identified by the front door, instruments or the ID algorithm).

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node, an empty treatment or outcome, overlapping sets, or
        ``max_sets < 1``.
    """
    g = _graph(graph)
    x, y = _roles(g, treatment, outcome)
    if max_sets is not None and max_sets < 1:
        raise GraphError(f"max_sets must be a positive integer or None; got {max_sets!r}.")
    moral = _adjustment_moral_graph(g, x, y)
    found: list[frozenset[str]] = []
    for sep in moral.minimal_separators():
        found.append(moral.names_of(sep))
        if max_sets is not None and len(found) >= max_sets:
            break
    return sorted(found, key=_sort_key)


def optimal_adjustment_set(graph: Any, treatment: Nodes, outcome: Nodes) -> frozenset[str] | None:
    """The optimal adjustment set ``O(X, Y)``, or ``None`` when no valid set exists.

    For a DAG in which every outcome is a descendant of the treatment,
    ``O(X, Y) = pa(cn(X, Y)) \\ forb(X, Y)``: the parents of the causal nodes that are
    not forbidden (Henckel, Perković & Maathuis 2022). It is valid whenever any valid
    adjustment set exists, and among valid sets it gives the smallest asymptotic
    variance for OLS in linear models (Henckel et al. 2022) and for nonparametric
    estimators of a single point treatment (Rotnitzky & Smucler 2020).

    With latent confounding (bidirected edges) an optimal set need not exist among the
    observed variables, and the ADMG generalisations (Runge 2021; Smucler, Sapienza &
    Rotnitzky 2022) hold under conditions not checked here. In that case, and when some
    outcome is not a descendant of the treatment, this returns a valid set of the
    smallest size instead (a minimum vertex cut in the moral graph of the proper
    back-door graph, so found in polynomial time even where the minimal sets are too
    many to list), which carries no optimality guarantee.

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str or iterable of str

    Returns
    -------
    frozenset of str or None

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node, an empty treatment or outcome, or overlapping sets.
    """
    g = _graph(graph)
    x, y = _roles(g, treatment, outcome)
    if g.is_dag and y <= g.descendants(x):
        cn = _causal_nodes(g, x, y)
        optimal = g.parents(cn) - _forbidden(g, x, cn)
        # valid whenever any valid set exists (Henckel et al. 2022), so an invalid O
        # means there is none (with several treatments, e.g. x1 -> x2 <- u -> y).
        return optimal if is_adjustment_set(g, x, y, optimal) else None
    moral = _adjustment_moral_graph(g, x, y)
    smallest = moral.minimum_separator()
    return None if smallest is None else moral.names_of(smallest)
