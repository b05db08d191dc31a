"""The front-door criterion: checking a set and listing the minimal front-door sets.

``Z`` satisfies the front-door criterion relative to ``(X, Y)`` (Pearl 1995; 2009,
Definition 3.3.3) when

(i)   ``Z`` intercepts every directed path from ``X`` to ``Y``;
(ii)  there is no unblocked back-door path from ``X`` to ``Z``:
      ``X ⊥ Z`` in ``G`` without the edges out of ``X``;
(iii) ``X`` blocks every back-door path from ``Z`` to ``Y``:
      ``Z ⊥ Y | X`` in ``G`` without the edges out of ``Z``.

Then ``P(y | do(x)) = Σ_z P(z | x) Σ_x' P(y | x', z) P(x')``. In an ADMG the same
definition holds with m-separation (a bidirected edge ``x <-> v`` is a back-door path).
These are the graphical conditions of Jeong, Tian & Bareinboim (2022).

Listing. Condition (ii) holds node by node, and the union of two sets satisfying
(ii) and (iii) satisfies both, so every front-door set lies inside one maximal set
``Z_max`` (found by repeatedly dropping the nodes that violate (iii)), and a
front-door set exists if and only if ``Z_max`` satisfies (i) (Jeong et al. 2022).
The minimal sets are found by a branching search inside ``Z_max ∩ An(Y)`` (a node
of a minimal front-door set is an ancestor of ``Y``): while the current set fails
(i), branch on the nodes of one directed path it leaves open; while it fails (iii),
branch on the nodes of one open back-door path from it to ``Y`` (every front-door
superset must contain one of them); each branch first checks, through ``Z_max`` of
the nodes still allowed, that a front-door set can still be reached. Unlike the
adjustment sets, the minimal front-door sets are listed in worst-case exponential
time; ``max_size`` bounds the search.

Minimal front-door sets need not lie on directed paths from ``X`` to ``Y``: in
``X -> M -> Y; W -> M; W -> Y; X <-> Y`` the only one is ``{M, W}``.

References
----------
Pearl, J. (1995). Causal diagrams for empirical research. *Biometrika* 82(4).
Pearl, J. (2009). *Causality*, 2nd ed., section 3.3.2.
Jeong, H., Tian, J. & Bareinboim, E. (2022). Finding and listing front-door
adjustment sets. *NeurIPS* 35.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from paribus.errors import GraphError
from paribus.graph.adjustment import (
    Nodes,
    _children,
    _covariates,
    _graph,
    _parents,
    _reach,
    _roles,
    _sort_key,
)
from paribus.graph.causal_graph import CausalGraph

__all__ = ["frontdoor_sets", "is_frontdoor_set"]


def _intercepts(
    graph: CausalGraph, x: frozenset[str], y: frozenset[str], z: frozenset[str]
) -> bool:
    """Condition (i): no directed path from ``X`` to ``Y`` avoids ``Z``."""
    return not _reach(x, _children(graph), avoid=z) & y


def _criterion(graph: CausalGraph, x: frozenset[str], y: frozenset[str], z: frozenset[str]) -> bool:
    if not _intercepts(graph, x, y, z):
        return False
    if not z:
        return True
    if not graph.without_outgoing(x).is_separated(x, z):
        return False
    return graph.without_outgoing(z).is_separated(z, y, x)


def is_frontdoor_set(graph: Any, treatment: Nodes, outcome: Nodes, mediators: Nodes) -> bool:
    """Whether ``mediators`` satisfies the front-door criterion for ``treatment -> outcome``.

    Conditions (Pearl 2009, Definition 3.3.3, with m-separation in ADMGs):
    (i) every directed path from ``X`` to ``Y`` meets ``Z``; (ii) ``X ⊥ Z`` in the
    graph without the edges out of ``X``; (iii) ``Z ⊥ Y | X`` in the graph without the
    edges out of ``Z``. The empty set qualifies exactly when ``X`` has no directed path
    to ``Y`` (then ``P(y | do(x)) = P(y)``).

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str or iterable of str
        ``X`` and ``Y``: non-empty, disjoint (usually one node each).
    mediators : str or iterable of str
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
    z = _covariates(g, mediators, "front-door set", ("treatment", x), ("outcome", y))
    return _criterion(g, x, y, z)


class _Search:
    """The branching search for the minimal front-door sets (see the module docstring)."""

    def __init__(self, graph: CausalGraph, x: frozenset[str], y: frozenset[str]) -> None:
        self.g, self.x, self.y = graph, x, y
        self.children, self.parents = _children(graph), _parents(graph)
        for a, b in graph.bidirected_edges:  # a latent parent per bidirected edge
            latent = f"\0{a}\0{b}"
            self.children[latent] = [a, b]
            self.parents[latent] = []
            self.parents[a].append(latent)
            self.parents[b].append(latent)
        self.found: list[frozenset[str]] = []

    def maximal(self, candidates: frozenset[str]) -> frozenset[str]:
        """The largest subset of ``candidates`` satisfying (iii) (given (ii) for each)."""
        z = set(candidates)
        while z:
            cut = self.g.without_outgoing(z)
            bad = {v for v in z if not cut.is_separated(v, self.y, self.x)}
            if not bad:
                break
            z -= bad
        return frozenset(z)

    def open_path(self, z: frozenset[str]) -> list[str] | None:
        """Nodes of a directed path from ``X`` to ``Y`` avoiding ``z`` (``None`` if none)."""
        prev: dict[str, str | None] = dict.fromkeys(self.x)
        queue = deque(self.x)
        while queue:
            v = queue.popleft()
            for c in self.children[v]:
                if c in prev or c in z:
                    continue
                prev[c] = v
                if c in self.y:
                    return self._unwind(prev, v)
                queue.append(c)
        return None

    @staticmethod
    def _unwind(prev: dict[Any, Any], last: Any) -> list[str]:
        nodes = []
        while last is not None:
            nodes.append(last[0] if isinstance(last, tuple) else last)
            last = prev[last]
        return nodes[::-1]

    def backdoor_walk(self, z: frozenset[str]) -> list[str] | None:
        """Nodes of an open back-door walk from a node of ``z`` to ``Y`` given ``X``.

        Searched in the graph without the edges out of ``z`` (a reachability search
        over (node, direction) states, Shachter's Bayes ball); colliders must be
        ancestors of ``X``. The walk's inner nodes contain the inner nodes of an open
        path, so any front-door superset of ``z`` must contain one of them. ``None``
        when ``z`` satisfies (iii).
        """
        children = {v: ([] if v in z else cs) for v, cs in self.children.items()}
        parents = {v: [p for p in ps if p not in z] for v, ps in self.parents.items()}
        anc = _reach(self.x, parents, avoid=frozenset())
        for start in sorted(z):
            begin = (start, "start")
            prev: dict[tuple[str, str], Any] = {begin: None}
            queue = deque([begin])
            while queue:
                state = queue.popleft()
                v, how = state
                if v in self.y:
                    return self._unwind(prev, prev[state])[1:]
                steps: list[tuple[str, str]] = []
                if how == "start":
                    steps = [(p, "up") for p in parents[v]]
                elif how == "up" and v not in self.x:
                    steps = [(p, "up") for p in parents[v]]
                    steps += [(c, "down") for c in children[v]]
                elif how == "down":
                    if v not in self.x:
                        steps = [(c, "down") for c in children[v]]
                    if v in anc:
                        steps += [(p, "up") for p in parents[v]]
                for nxt in steps:
                    if nxt not in prev:
                        prev[nxt] = state
                        queue.append(nxt)
        return None

    def run(self, z: frozenset[str], allowed: frozenset[str], max_size: int | None) -> None:
        """Find the front-door sets containing ``z`` inside ``allowed`` reached by branching."""
        if not z <= allowed:
            return
        best = self.maximal(allowed)
        if not z <= best or not _intercepts(self.g, self.x, self.y, best):
            return
        if any(s <= z for s in self.found):
            return
        missing = self.open_path(z)
        if missing is not None:
            branch = [v for v in missing if v in best]
        else:
            walk = self.backdoor_walk(z)
            if walk is None:
                self.found.append(z)
                return
            branch = [v for v in walk if v in best and v not in z]
        if max_size is not None and len(z) >= max_size:
            return
        for i, v in enumerate(branch):
            self.run(z | {v}, best - frozenset(branch[:i]), max_size)


def frontdoor_sets(
    graph: Any, treatment: Nodes, outcome: Nodes, *, max_size: int | None = None
) -> list[frozenset[str]]:
    """The minimal front-door sets for the effect of ``treatment`` on ``outcome``.

    A front-door set (see :func:`is_frontdoor_set`) is minimal when no proper subset
    is one. Conditions (ii) and (iii) are not inherited by subsets, so a superset of a
    minimal set can satisfy the criterion while the set itself does not, and a
    minimal set may contain nodes off the directed paths from ``X`` to ``Y`` (they
    block a back-door path from a mediator to ``Y``). Found by a branching search
    inside the maximal front-door candidate set (module docstring; Jeong, Tian &
    Bareinboim 2022); worst-case exponential.

    Parameters
    ----------
    graph : CausalGraph
    treatment, outcome : str or iterable of str
        ``X`` and ``Y``: non-empty, disjoint.
    max_size : int, optional
        Only sets of at most this many nodes.

    Returns
    -------
    list of frozenset of str
        Sorted by size, then by sorted names; ``[frozenset()]`` when ``X`` has no
        directed path to ``Y``; ``[]`` when no front-door set exists.

    Raises
    ------
    paribus.errors.GraphError
        For an unknown node, an empty treatment or outcome, overlapping sets, or
        ``max_size < 0``.
    """
    g = _graph(graph)
    x, y = _roles(g, treatment, outcome)
    if max_size is not None and max_size < 0:
        raise GraphError(f"max_size must be a non-negative integer or None; got {max_size!r}.")
    if _intercepts(g, x, y, frozenset()):
        return [frozenset()]
    cut = g.without_outgoing(x)
    candidates = frozenset(v for v in g.ancestors(y) - x - y if cut.is_separated(x, v))
    search = _Search(g, x, y)
    search.run(frozenset(), candidates, max_size)
    found = set(search.found)
    minimal = [s for s in found if not any(o < s for o in found)]
    return sorted(minimal, key=_sort_key)
