"""The complete ID algorithm: a causal effect as a functional of the observed distribution.

:func:`identify_effect` decides whether ``P(Y | do(X))`` is identified in an
acyclic directed mixed graph (ADMG: directed edges are direct causes,
bidirected edges latent common causes) and, when it is, returns the
functional of the observational distribution that equals it, as an
:class:`~paribus.graph.expression.Expression`. It is the ID algorithm of
Shpitser & Pearl (2006a), which builds on the c-component factorisation of
Tian & Pearl (2002); it is sound and complete, so when it fails the effect is
identified by no method without further assumptions, and the failure
exhibits a *hedge*, the graphical witness of non-identifiability.
:func:`identify_conditional_effect` is its conditional extension IDC
(Shpitser & Pearl 2006b), equally complete, for ``P(Y | do(X), Z)``.

Naming in the result: a name stands for the value of its node; treatment
names are the intervention values. A sum over a node whose name is already in
use where the sum appears (a treatment, an outcome, or a node summed by an
enclosing sum) binds a primed copy, ``X'``, then ``X''``, so the front-door
formula reads ``sum_{M} P(M | X) sum_{X'} P(X') P(Y | X', M)``. Names inside
each probability, and factors inside each product, follow the graph's
topological order.

A result may mention nodes outside treatment and outcome that no sum binds:
nodes the algorithm sets by intervention because they cannot affect the
outcome once the treatment is fixed (``W2`` in the napkin graph,
``W1 -> W2 -> X -> Y, W1 <-> X, W1 <-> Y``). The functional does not depend on
their values; evaluate it at any value with positive probability.

References
----------
Shpitser, I. & Pearl, J. (2006a). Identification of joint interventional
distributions in recursive semi-Markovian causal models. AAAI-06, 1219-1226.

Shpitser, I. & Pearl, J. (2006b). Identification of conditional
interventional distributions. UAI-06, 437-444.

Tian, J. & Pearl, J. (2002). A general identification condition for causal
effects. AAAI-02, 567-573.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paribus.errors import GraphError, IdentificationError
from paribus.graph.causal_graph import CausalGraph
from paribus.graph.expression import Expression, Fraction, Probability, Product, Sum

__all__ = ["identify_conditional_effect", "identify_effect"]

Nodes = str | Iterable[str]


class _HedgeFound(Exception):
    """Line 5 of ID failed: ``forest`` (F) and ``subforest`` (F') form a hedge."""

    def __init__(self, forest: frozenset[str], subforest: frozenset[str]) -> None:
        super().__init__()
        self.forest, self.subforest = forest, subforest


def identify_effect(graph: Any, treatment: Nodes, outcome: Nodes) -> Expression:
    """Identify ``P(outcome | do(treatment))`` with the ID algorithm of Shpitser & Pearl (2006).

    ``ID(y, x, P, G)`` recurses on the graph ``G`` (vertices ``V``), the
    distribution ``P`` over ``V`` and the intervention set ``x``:

    1. no intervention left: return ``sum_{V \\ y} P``;
    2. drop what cannot affect ``y``: restrict to ``An(y)`` and marginalise ``P``;
    3. also intervene on the ``W`` that cannot affect ``y`` once ``x`` is fixed
       (non-ancestors of ``y`` in ``G`` with the edges into ``x`` cut);
    4. when ``G \\ x`` has several c-components ``S_i`` (sets joined by
       bidirected paths), return ``sum_{V \\ (y u x)} prod_i ID(S_i, V \\ S_i)``;
    5. when ``G \\ x`` is one c-component ``S`` and so is ``G``, fail: ``G`` and
       ``S`` form a hedge;
    6. when ``S`` is a c-component of ``G``, return
       ``sum_{S \\ y} prod_{v in S} P(v | predecessors of v)``;
    7. otherwise ``S`` lies in a c-component ``S'`` of ``G``; recurse on ``G[S']``
       with ``P' = prod_{v in S'} P(v | predecessors of v)``.

    The result is then tidied: conditioning sets shrink to what m-separation in
    ``graph`` requires, factors that sum to one drop, bound copies are renamed
    (see the module docstring).

    Parameters
    ----------
    graph : CausalGraph or anything CausalGraph accepts
        The causal ADMG; bidirected edges are latent confounding.
    treatment : str or iterable of str
        The intervened nodes ``X`` (may be empty: then the result is ``P(Y)``).
    outcome : str or iterable of str
        The outcome nodes ``Y``, at least one, disjoint from ``X``.

    Returns
    -------
    Expression
        A functional of the observational distribution of the graph's nodes
        equal to ``P(Y | do(X))`` in every model the graph describes (with a
        positive observational distribution).

    Raises
    ------
    paribus.errors.IdentificationError
        The effect is not identifiable. The message names the hedge, and the
        exception carries it as ``exc.hedge = (F, F')`` (frozensets of nodes).
    paribus.errors.GraphError
        Unknown nodes, an empty outcome, or treatment and outcome overlapping.

    Examples
    --------
    >>> from paribus.graph import CausalGraph
    >>> g = CausalGraph("X -> M; M -> Y; X <-> Y")
    >>> print(identify_effect(g, "X", "Y"))
    sum_{M} P(M | X) sum_{X'} P(X') P(Y | X', M)
    """
    g, x, y = _query(graph, treatment, outcome)
    try:
        raw = _id(y, x, _joint(g), g, _order(g))
    except _HedgeFound as hedge:
        raise _hedge_error(g, hedge, _describe(g, y, x), treatment=x) from None
    return _finish(raw, g, x | y)


def identify_conditional_effect(
    graph: Any, treatment: Nodes, outcome: Nodes, given: Nodes
) -> Expression:
    """Identify ``P(outcome | do(treatment), given)`` with IDC (Shpitser & Pearl 2006b).

    While some ``Z`` in ``given`` satisfies ``(Y _||_ Z | X, given \\ {Z})`` in
    the graph with the edges into ``X`` and out of ``Z`` removed (rule 2 of the
    do-calculus), ``Z`` moves from the conditioning set to the intervention
    set. With the remaining ``given`` set ``Z``, the result is
    ``P'(Y, Z) / sum_Y P'(Y, Z)`` where ``P' = ID(Y u Z, X)``. IDC is complete:
    when ``ID`` fails there, the conditional effect is not identifiable.

    Parameters
    ----------
    graph : CausalGraph or anything CausalGraph accepts
    treatment, outcome, given : str or iterable of str
        Pairwise disjoint; ``outcome`` not empty.

    Returns
    -------
    Expression

    Raises
    ------
    paribus.errors.IdentificationError
        Not identifiable; ``exc.hedge`` holds the hedge found for ``P(Y, Z | do(X'))``.
    paribus.errors.GraphError
        Unknown or overlapping node sets.
    """
    g, x, y = _query(graph, treatment, outcome)
    z = g.check_nodes(given, "given")
    if z & (x | y):
        both = ", ".join(_sorted(g, z & (x | y)))
        raise GraphError(
            f"given overlaps the treatment or outcome ({both}); they must be disjoint."
        )
    order, query = _order(g), _describe(g, y, x, z)
    moved = True
    while moved:
        moved = False
        for node in _sorted(g, z):
            rest = z - {node}
            cut = g.do(x).without_outgoing(node)
            if cut.is_separated(y, node, x | rest):
                x, z, moved = x | {node}, rest, True
                break
    try:
        joint = _id(y | z, x, _joint(g), g, order)
    except _HedgeFound as hedge:
        raise _hedge_error(g, hedge, query, treatment=x, via=_describe(g, y | z, x)) from None
    raw = Fraction.of(joint, Sum.of(joint, _sorted(g, y))) if z else joint
    return _finish(raw, g, x | y | z)


# -- the recursion ----------------------------------------------------------------------------


def _id(
    y: frozenset[str], x: frozenset[str], p: Expression, g: CausalGraph, order: dict[str, int]
) -> Expression:
    """Shpitser & Pearl's ID(y, x, P, G); ``p`` is a distribution over ``g``'s nodes."""
    v = frozenset(g.nodes)
    if not x:  # line 1
        return Sum.of(p, _by(order, v - y))
    ancestors = g.ancestors(y)
    if ancestors != v:  # line 2
        return _id(
            y, x & ancestors, Sum.of(p, _by(order, v - ancestors)), g.subgraph(ancestors), order
        )
    w = (v - x) - g.do(x).ancestors(y)
    if w:  # line 3
        return _id(y, x | w, p, g, order)
    parts = g.districts(within=v - x)
    if len(parts) > 1:  # line 4
        factors = [_id(s, v - s, p, g, order) for s in parts]
        return Sum.of(Product.of(*factors), _by(order, v - (y | x)))
    (s,) = parts
    districts = g.districts()
    if len(districts) == 1:  # line 5
        raise _HedgeFound(v, s)
    if s in districts:  # line 6
        chain = [_conditional(p, node, v, order) for node in _by(order, s)]
        return Sum.of(Product.of(*chain), _by(order, s - y))
    (bigger,) = [d for d in districts if s < d]  # line 7
    chain = [_conditional(p, node, v, order) for node in _by(order, bigger)]
    return _id(y, x & bigger, Product.of(*chain), g.subgraph(bigger), order)


def _conditional(p: Expression, node: str, v: frozenset[str], order: dict[str, int]) -> Expression:
    """``P(node | the nodes of v before it)`` as the ratio of two marginals of ``p``."""
    before = {u for u in v if order[u] < order[node]}
    numerator = Sum.of(p, _by(order, v - before - {node}))
    return Fraction.of(numerator, Sum.of(numerator, [node]))


# -- helpers ------------------------------------------------------------------------------------


def _query(
    graph: Any, treatment: Nodes, outcome: Nodes
) -> tuple[CausalGraph, frozenset[str], frozenset[str]]:
    g = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
    x = g.check_nodes(treatment, "treatment")
    y = g.check_nodes(outcome, "outcome")
    if not y:
        raise GraphError("outcome names no node; pass at least one outcome node.")
    if x & y:
        both = ", ".join(_sorted(g, x & y))
        raise GraphError(
            f"treatment and outcome overlap ({both}); a node cannot be both intervened on "
            "and measured as an outcome. Remove it from one of them."
        )
    return g, x, y


def _order(g: CausalGraph) -> dict[str, int]:
    return {v: i for i, v in enumerate(g.topological_order())}


def _by(order: dict[str, int], nodes: Iterable[str]) -> list[str]:
    return sorted(nodes, key=order.__getitem__)


def _sorted(g: CausalGraph, nodes: Iterable[str]) -> list[str]:
    return _by(_order(g), nodes)


def _joint(g: CausalGraph) -> Expression:
    return Probability(g.topological_order())


def _fmt(g: CausalGraph, nodes: Iterable[str]) -> str:
    return "{" + ", ".join(_sorted(g, nodes)) + "}"


def _describe(
    g: CausalGraph, y: frozenset[str], x: frozenset[str], z: frozenset[str] = frozenset()
) -> str:
    parts = [f"do({', '.join(_sorted(g, x))})"] if x else []
    parts += _sorted(g, z)
    return f"P({', '.join(_sorted(g, y))}" + (f" | {', '.join(parts)})" if parts else ")")


def _hedge_error(
    g: CausalGraph,
    hedge: _HedgeFound,
    query: str,
    treatment: frozenset[str],
    via: str | None = None,
) -> IdentificationError:
    forest, sub = hedge.forest, hedge.subforest
    sub_graph = g.subgraph(sub)
    roots = [v for v in sub if not sub_graph.children(v)]
    treated = (forest & treatment) or (forest - sub)
    arcs = [f"{a} <-> {b}" for a, b in g.bidirected_edges if a in forest and b in forest]
    shown = ", ".join(arcs[:6]) + (f" and {len(arcs) - 6} more" if len(arcs) > 6 else "")
    reached = f" (reached through {via})" if via else ""
    message = (
        f"{query} is not identifiable{reached}: the hedge F = {_fmt(g, forest)}, "
        f"F' = {_fmt(g, sub)}. Both are c-forests rooted at {_fmt(g, roots)} and F adds the "
        f"treated {_fmt(g, treated)}, so the latent confounding {shown} lets two causal "
        "models agree on the whole observational distribution yet disagree on this effect "
        "(Shpitser & Pearl 2006, Theorem 4). Measure a confounder behind one of these "
        "bidirected edges, or settle for bounds."
    )
    error = IdentificationError(message)
    error.hedge = (frozenset(forest), frozenset(sub))
    return error


# -- tidying the result -------------------------------------------------------------------------


def _finish(expression: Expression, g: CausalGraph, query: frozenset[str]) -> Expression:
    order = _order(g)
    cache: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]] = {}
    for _ in range(20):
        reduced = _widen(_reduce(expression, g, order, cache), g).simplify()
        if reduced == expression and reduced.to_text() == expression.to_text():
            break
        expression = reduced
    # names of the query keep their meaning: a sum over one of them binds a primed copy
    expression = _rename(expression, expression.free_variables | query, frozenset(g.nodes))
    return _arrange(expression, order)


def _reduce(
    e: Expression,
    g: CausalGraph,
    order: dict[str, int],
    cache: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]],
) -> Expression:
    """Drop from each ``P(A | C)`` the conditioning nodes that ``A`` is m-separated from."""
    if isinstance(e, Probability):
        key = (tuple(sorted(e.variables)), tuple(sorted(e.given)))
        if key not in cache:
            keep = _by(order, e.given)
            for node in list(keep):
                trial = [c for c in keep if c != node]
                if g.is_separated(e.variables, set(e.given) - set(trial), trial):
                    keep = trial
            cache[key] = tuple(keep)
        return Probability(e.variables, cache[key])
    if isinstance(e, Product):
        return Product([_reduce(f, g, order, cache) for f in e.factors])
    if isinstance(e, Sum):
        return Sum(_reduce(e.expression, g, order, cache), e.over)
    if isinstance(e, Fraction):
        return Fraction(
            _reduce(e.numerator, g, order, cache), _reduce(e.denominator, g, order, cache)
        )
    return e


def _widen(e: Expression, g: CausalGraph) -> Expression:
    """Within products, ``P(A | C) = P(A | C, D)`` when a factor ``P(B | A, C, D)`` follows.

    Valid when ``A`` is m-separated from ``D`` given ``C``; it lets the chain rule
    merge the two factors (``sum_B P(B) P(Y | X, B)`` becomes ``P(Y | X)`` when
    ``B`` is independent of ``X``).
    """
    if isinstance(e, Product):
        factors = [_widen(f, g) for f in e.factors]
        for i, a in enumerate(factors):
            if not isinstance(a, Probability):
                continue
            head = set(a.variables) | set(a.given)
            for b in factors:
                if not isinstance(b, Probability) or not head < set(b.given):
                    continue
                extra = set(b.given) - head
                if g.is_separated(a.variables, extra, a.given):
                    factors[i] = Probability(a.variables, (*a.given, *sorted(extra)))
                    break
        return Product(factors)
    if isinstance(e, Sum):
        return Sum(_widen(e.expression, g), e.over)
    if isinstance(e, Fraction):
        return Fraction(_widen(e.numerator, g), _widen(e.denominator, g))
    return e


def _rename(e: Expression, scope: frozenset[str], taken: frozenset[str]) -> Expression:
    """Give every sum that rebinds a name already in scope a primed copy of it."""
    if isinstance(e, Product):
        return Product([_rename(f, scope, taken) for f in e.factors])
    if isinstance(e, Fraction):
        return Fraction(_rename(e.numerator, scope, taken), _rename(e.denominator, scope, taken))
    if isinstance(e, Sum):
        body, over = e.expression, []
        for name in e.over:
            if name in scope:
                fresh = name + "'"
                while fresh in scope or fresh in taken:
                    fresh += "'"
                body = _substitute(body, name, fresh)
                name = fresh
            over.append(name)
        return Sum(_rename(body, scope | frozenset(over), taken), over)
    return e


def _substitute(e: Expression, old: str, new: str) -> Expression:
    if isinstance(e, Probability):
        return Probability(
            [new if v == old else v for v in e.variables], [new if v == old else v for v in e.given]
        )
    if isinstance(e, Product):
        return Product([_substitute(f, old, new) for f in e.factors])
    if isinstance(e, Fraction):
        return Fraction(_substitute(e.numerator, old, new), _substitute(e.denominator, old, new))
    if isinstance(e, Sum):
        if old in e.over:  # rebound here: inner occurrences are another variable
            return e
        return Sum(_substitute(e.expression, old, new), e.over)
    return e


def _arrange(e: Expression, order: dict[str, int]) -> Expression:
    """Names in topological order (copies after their node); factors likewise, sums last."""

    def position(name: str) -> tuple[int, int]:
        base = name
        while base not in order:
            base = base[:-1]
        return order[base], len(name) - len(base)

    def names(ns: tuple[str, ...]) -> list[str]:
        return sorted(ns, key=position)

    if isinstance(e, Probability):
        return Probability(names(e.variables), names(e.given))
    if isinstance(e, Sum):
        return Sum(_arrange(e.expression, order), names(e.over))
    if isinstance(e, Fraction):
        return Fraction(_arrange(e.numerator, order), _arrange(e.denominator, order))
    if isinstance(e, Product):
        factors = [_arrange(f, order) for f in e.factors]

        def rank(f: Expression) -> tuple[int, tuple[int, int]]:
            if isinstance(f, Probability):
                return 0, min(position(v) for v in f.variables)
            return (1 if isinstance(f, Fraction) else 2), (0, 0)

        return Product(sorted(factors, key=rank))
    return e
