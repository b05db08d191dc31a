"""The ID algorithm: identified functionals equal the true interventional distribution.

The key check is numerical. For a graph, a random discrete structural causal
model over binary variables (one explicit binary latent parent per
bidirected edge) gives, by brute-force enumeration of every latent and
observed value, both the observational distribution of the observed nodes
and the true ``P(y | do(x))``. The expression returned by ``identify_effect``
is evaluated on the observational distribution alone and must equal the
truth to 1e-10 for every value of ``x`` and ``y``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest

from paribus.errors import GraphError, IdentificationError
from paribus.graph import CausalGraph
from paribus.graph.expression import Expression, Fraction, Probability, Product, Sum
from paribus.graph.id_algorithm import identify_conditional_effect, identify_effect

# -- a slow, obvious truth ------------------------------------------------------------------------


@dataclass
class BinarySCM:
    """Binary SCM: ``P(V = 1 | parents, latents)`` is a table; one latent per bidirected edge."""

    nodes: list[str]
    parents: dict[str, list[str]]
    latents: dict[str, list[int]]  # node -> indices of its latent parents
    p_latent: list[float]  # P(U_k = 1)
    table: dict[str, np.ndarray]  # node -> P(V = 1) for each parent-and-latent configuration


def random_scm(graph: CausalGraph, rng: np.random.Generator) -> BinarySCM:
    nodes = graph.topological_order()
    arcs = list(graph.bidirected_edges)
    parents = {v: [p for p in nodes if p in graph.parents(v)] for v in nodes}
    latents = {v: [k for k, arc in enumerate(arcs) if v in arc] for v in nodes}
    table = {v: rng.uniform(0.1, 0.9, size=2 ** (len(parents[v]) + len(latents[v]))) for v in nodes}
    return BinarySCM(nodes, parents, latents, list(rng.uniform(0.2, 0.8, size=len(arcs))), table)


def enumerate_scm(scm: BinarySCM, treatment: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The observational joint, and the joint of all nodes under do(treatment = x) for every x.

    Loops over every assignment of the latents and the observed nodes. Returns
    ``observed`` with one axis per node (in ``scm.nodes`` order) and
    ``intervened`` with the same shape: ``intervened[v]`` is
    ``P(V = v | do(X = v_X))``, the treatment's own entries being the values set.
    """
    n, k = len(scm.nodes), len(scm.p_latent)
    where = {v: i for i, v in enumerate(scm.nodes)}
    observed = np.zeros((2,) * n)
    intervened = np.zeros((2,) * n)
    for u in itertools.product((0, 1), repeat=k):
        weight_u = math.prod(p if bit else 1 - p for p, bit in zip(scm.p_latent, u, strict=True))
        for values in itertools.product((0, 1), repeat=n):
            natural, forced = weight_u, weight_u
            for v in scm.nodes:
                config = [values[where[p]] for p in scm.parents[v]] + [u[j] for j in scm.latents[v]]
                index = int("".join(map(str, config)), 2) if config else 0
                p1 = scm.table[v][index]
                factor = p1 if values[where[v]] else 1 - p1
                natural *= factor
                if v not in treatment:
                    forced *= factor
            observed[values] += natural
            intervened[values] += forced
    return observed, intervened


def true_effect(
    intervened: np.ndarray, nodes: list[str], x: dict[str, int], y: dict[str, int]
) -> float:
    index = tuple(x.get(v, slice(None)) for v in nodes)
    sub = intervened[index]
    rest = [v for v in nodes if v not in x]
    return float(
        sum(
            p
            for values, p in np.ndenumerate(sub)
            if all(values[rest.index(k)] == val for k, val in y.items())
        )
    )


def evaluate(e: Expression, joint: np.ndarray, nodes: list[str], values: dict[str, int]) -> float:
    """Value of an expression on the observational joint, names read as node values.

    A primed name (``X'``) is a summed copy of node ``X``: it reads X's axis.
    """

    def axis(name: str) -> int:
        base = name
        while base not in nodes:
            assert base.endswith("'"), name
            base = base[:-1]
        return nodes.index(base)

    def marginal(names: tuple[str, ...]) -> float:
        index: list[int | slice] = [slice(None)] * len(nodes)
        for name in names:
            assert index[axis(name)] == slice(None), f"node read twice in one probability: {e}"
            index[axis(name)] = values[name]
        return float(joint[tuple(index)].sum())

    if isinstance(e, Probability):
        return marginal(e.variables + e.given) / marginal(e.given)
    if isinstance(e, Product):
        return math.prod(evaluate(f, joint, nodes, values) for f in e.factors)
    if isinstance(e, Fraction):
        return evaluate(e.numerator, joint, nodes, values) / evaluate(
            e.denominator, joint, nodes, values
        )
    if isinstance(e, Sum):
        return sum(
            evaluate(e.expression, joint, nodes, values | dict(zip(e.over, bits, strict=True)))
            for bits in itertools.product((0, 1), repeat=len(e.over))
        )
    raise TypeError(e)


def check_numerically(
    graph: CausalGraph,
    treatment: list[str],
    outcome: list[str],
    expression: Expression,
    seed: int = 0,
    given: list[str] = (),  # type: ignore[assignment]
) -> None:
    """Assert ``expression`` equals P(outcome | do(treatment), given) in a random binary SCM."""
    scm = random_scm(graph, np.random.default_rng(seed))
    observed, intervened = enumerate_scm(scm, treatment)
    nodes = scm.nodes
    extra = sorted(expression.free_variables - set(treatment) - set(outcome) - set(given))
    assert set(extra) <= set(nodes), expression.free_variables
    for xs in itertools.product((0, 1), repeat=len(treatment)):
        x = dict(zip(treatment, xs, strict=True))
        for zs in itertools.product((0, 1), repeat=len(given)):
            z = dict(zip(given, zs, strict=True))
            denominator = true_effect(intervened, nodes, x, z)
            for ys in itertools.product((0, 1), repeat=len(outcome)):
                y = dict(zip(outcome, ys, strict=True))
                truth = true_effect(intervened, nodes, x, y | z) / denominator
                # nodes the functional mentions but does not depend on: try every value
                for ws in itertools.product((0, 1), repeat=len(extra)):
                    values = x | y | z | dict(zip(extra, ws, strict=True))
                    got = evaluate(expression, observed, nodes, values)
                    assert got == pytest.approx(truth, abs=1e-10), (expression.to_text(), x, y)


# -- hedges ---------------------------------------------------------------------------------------


def check_hedge(graph: CausalGraph, treatment: set[str], outcome: set[str], hedge: tuple) -> None:
    """F and F' form a hedge for P(y' | do(x')) with x' within the treatment, y' within the outcome.

    Definition 5 of Shpitser & Pearl (2006): F' within F, both R-rooted c-forests
    (as node sets: one c-component each, every node reaching the roots R inside),
    F meets x' and F' does not, R within the ancestors of y' once x' is cut.
    """
    forest, sub = hedge
    assert sub < forest
    assert len(graph.districts(within=forest)) == 1
    assert len(graph.districts(within=sub)) == 1
    roots = {v for v in sub if not graph.subgraph(sub).children(v)}
    for part in (forest, sub):
        inner = graph.subgraph(part)
        assert inner.ancestors(roots & part) == part
    x_prime = treatment & forest
    assert x_prime and not x_prime & sub
    assert roots <= graph.do(x_prime).ancestors(outcome)


def _as_list(nodes) -> list[str]:
    return [nodes] if isinstance(nodes, str) else list(nodes)


# -- identifiable textbook graphs -----------------------------------------------------------------

#: (name, graph, treatment, outcome, expected text)
IDENTIFIABLE = [
    ("no confounding", "X -> Y", "X", "Y", "P(Y | X)"),
    (
        "back-door (Pearl 2009, s. 3.3.1)",
        "Z -> X; Z -> Y; X -> Y",
        "X",
        "Y",
        "sum_{Z} P(Z) P(Y | Z, X)",
    ),
    (
        "front-door (Pearl 2009, s. 3.3.2)",
        "X -> M; M -> Y; X <-> Y",
        "X",
        "Y",
        "sum_{M} P(M | X) sum_{X'} P(X') P(Y | X', M)",
    ),
    (
        "napkin (Pearl & Mackenzie 2018)",
        "W1 -> W2; W2 -> X; X -> Y; W1 <-> X; W1 <-> Y",
        "X",
        "Y",
        "[sum_{W1} P(W1) P(X, Y | W1, W2)] / [sum_{W1} P(W1) P(X | W1, W2)]",
    ),
    (
        "confounded mediator-outcome, unconfounded treatment",
        "X -> Z; Z -> Y; Z <-> Y",
        "X",
        "Y",
        "P(Y | X)",
    ),
    (
        "latent back-door through an observed cause",
        "Z -> X; X -> Y; Z <-> Y",
        "X",
        "Y",
        "sum_{Z} P(Z) P(Y | Z, X)",
    ),
    ("confounded instrument", "Z -> X; X -> Y; Z <-> X", "X", "Y", "P(Y | X)"),
    ("chain of causes", "A -> B; B -> X; X -> Y", "X", "Y", "P(Y | X)"),
    (
        "M-bias: do not adjust for the collider",
        "A -> X; A -> M; B -> M; B -> Y; X -> Y",
        "X",
        "Y",
        "P(Y | X)",
    ),
    ("front-door with a covariate", "W -> X; W -> Y; X -> M; M -> Y; X <-> Y", "X", "Y", None),
    (
        "two mediators sharing a latent cause (front-door)",
        "X -> Z1; X -> Z2; Z1 -> Y; Z2 -> Y; X <-> Y; Z1 <-> Z2",
        "X",
        "Y",
        None,
    ),
    (
        "Verma graph (Verma & Pearl 1990)",
        "V1 -> V2; V2 -> V3; V3 -> V4; V2 <-> V4",
        "V3",
        "V4",
        "sum_{V2} P(V2 | V1) P(V4 | V1, V2, V3)",
    ),
    (
        "Verma graph, effect of the root",
        "V1 -> V2; V2 -> V3; V3 -> V4; V2 <-> V4",
        "V1",
        "V4",
        "P(V4 | V1)",
    ),
    (
        "sequential treatments (Pearl & Robins 1995)",
        "X1 -> Z; Z -> X2; X2 -> Y; X1 -> Y; Z <-> Y",
        ["X1", "X2"],
        "Y",
        "sum_{Z} P(Z | X1) P(Y | X1, Z, X2)",
    ),
    (
        "two outcomes, back-door",
        "Z -> X; Z -> Y1; Z -> Y2; X -> Y1; X -> Y2",
        "X",
        ["Y1", "Y2"],
        "sum_{Z} P(Z) P(Y1 | Z, X) P(Y2 | Z, X)",
    ),
    (
        "two treatments, two outcomes",
        "X1 -> Y1; X2 -> Y2; X1 -> X2; Y1 -> Y2; X1 <-> Y2",
        ["X1", "X2"],
        ["Y1", "Y2"],
        None,
    ),
    (
        "ID line 7: c-component within a larger one (Shpitser & Pearl 2006)",
        "W1 -> X; X -> Y1; W1 <-> Y1",
        ["X", "W1"],
        "Y1",
        "sum_{W1'} P(W1') P(Y1 | W1', X)",
    ),
    (
        "c-factor decomposition (Tian & Pearl 2002)",
        "X -> Z1; Z1 -> Z2; Z2 -> Y; X <-> Z2; Z1 <-> Y",
        "X",
        "Y",
        None,
    ),
    ("treatment not an ancestor of the outcome", "Z -> Y; Y -> X; Z <-> X", "X", "Y", "P(Y)"),
    ("empty treatment", "X -> Y; X <-> Y", [], "Y", "P(Y)"),
]


@pytest.mark.parametrize(
    ("name", "edges", "x", "y", "text"), IDENTIFIABLE, ids=[c[0] for c in IDENTIFIABLE]
)
def test_identifiable_textbook_graph(name, edges, x, y, text):
    graph = CausalGraph(edges)
    expression = identify_effect(graph, x, y)
    if text is not None:
        assert expression.to_text() == text
    check_numerically(graph, _as_list(x), _as_list(y), expression)


def test_front_door_structure():
    expression = identify_effect(CausalGraph("X -> M; M -> Y; X <-> Y"), "X", "Y")
    assert isinstance(expression, Sum) and expression.over == ("M",)
    body = expression.expression
    assert isinstance(body, Product)
    assert body.factors[0] == Probability("M", "X")
    inner = body.factors[1]
    assert isinstance(inner, Sum) and inner.over == ("X'",)
    assert inner.expression == Product([Probability("X'"), Probability("Y", ("X'", "M"))])
    assert expression.free_variables == {"X", "Y"}


def test_napkin_mentions_w2_but_does_not_depend_on_it():
    graph = CausalGraph("W1 -> W2; W2 -> X; X -> Y; W1 <-> X; W1 <-> Y")
    expression = identify_effect(graph, "X", "Y")
    assert isinstance(expression, Fraction)
    assert expression.free_variables == {"X", "Y", "W2"}
    check_numerically(graph, ["X"], ["Y"], expression, seed=3)  # tries both values of W2


def test_latex_rendering():
    expression = identify_effect(CausalGraph("X -> M; M -> Y; X <-> Y"), "X", "Y")
    assert expression.to_latex() == r"\sum_{M} P(M \mid X) \sum_{X'} P(X') P(Y \mid X', M)"
    napkin = identify_effect(CausalGraph("W1 -> W2; W2 -> X; X -> Y; W1 <-> X; W1 <-> Y"), "X", "Y")
    assert napkin.to_latex() == (
        r"\frac{\sum_{W1} P(W1) P(X, Y \mid W1, W2)}{\sum_{W1} P(W1) P(X \mid W1, W2)}"
    )
    assert str(napkin) == napkin.to_text()


def test_sets_and_strings_are_equivalent():
    graph = CausalGraph("Z -> X; Z -> Y; X -> Y")
    assert identify_effect(graph, "X", "Y") == identify_effect(graph, {"X"}, ["Y"])
    assert identify_effect("Z -> X; Z -> Y; X -> Y", "X", "Y") == identify_effect(graph, "X", "Y")


def test_result_does_not_depend_on_node_insertion_order():
    a = CausalGraph("X -> M; M -> Y; X <-> Y")
    b = CausalGraph("M -> Y; X <-> Y; X -> M")
    assert identify_effect(a, "X", "Y").to_text() == identify_effect(b, "X", "Y").to_text()


# -- non-identifiable graphs ----------------------------------------------------------------------

#: (name, graph, treatment, outcome, F, F')
NON_IDENTIFIABLE = [
    ("bow arc", "X -> Y; X <-> Y", "X", "Y", {"X", "Y"}, {"Y"}),
    ("confounded child of the treatment", "X -> Z; Z -> Y; X <-> Z", "X", "Y", {"X", "Z"}, {"Z"}),
    (
        "instrumental variable (no nonparametric identification)",
        "Z -> X; X -> Y; X <-> Y",
        "X",
        "Y",
        {"X", "Y"},
        {"Y"},
    ),
    (
        "front-door broken by mediator-outcome confounding",
        "X -> Z; Z -> Y; X <-> Y; Z <-> Y",
        "X",
        "Y",
        {"X", "Z", "Y"},
        {"Z", "Y"},
    ),
    (
        "direct effect plus confounded mediator",
        "X -> Y; X -> Z; Z -> Y; X <-> Z",
        "X",
        "Y",
        {"X", "Z"},
        {"Z"},
    ),
    (
        "confounding through an observed collider",
        "Z -> X; X -> Y; X <-> Z; Z <-> Y",
        "X",
        "Y",
        {"Z", "X", "Y"},
        {"Y"},
    ),
    (
        "unblockable back-door through a confounded covariate",
        "Z -> X; Z -> Y; X -> Y; X <-> Z; Z <-> Y",
        "X",
        "Y",
        {"Z", "X", "Y"},
        {"Z", "Y"},
    ),
    (
        "two confounded mediators",
        "X -> Z1; X -> Z2; Z1 -> Y; Z2 -> Y; X <-> Z2; Z1 <-> Y",
        "X",
        "Y",
        None,
        None,
    ),
    (
        "joint outcome, hedge for a subset (Shpitser & Pearl 2006)",
        "Y1 -> X; X -> Y2; X <-> Y1; X <-> Y2; Y1 <-> Y2",
        "X",
        ["Y1", "Y2"],
        {"Y1", "X", "Y2"},
        {"Y1", "Y2"},
    ),
    (
        "two treatments, one confounded",
        "X1 -> Y; X2 -> Y; X1 <-> Y",
        ["X1", "X2"],
        "Y",
        {"X1", "Y"},
        {"Y"},
    ),
]


@pytest.mark.parametrize(
    ("name", "edges", "x", "y", "forest", "sub"),
    NON_IDENTIFIABLE,
    ids=[c[0] for c in NON_IDENTIFIABLE],
)
def test_non_identifiable_reports_a_hedge(name, edges, x, y, forest, sub):
    graph = CausalGraph(edges)
    with pytest.raises(IdentificationError) as info:
        identify_effect(graph, x, y)
    hedge = info.value.hedge  # type: ignore[attr-defined]
    if forest is not None:
        assert hedge == (frozenset(forest), frozenset(sub))
    check_hedge(graph, set(_as_list(x)), set(_as_list(y)), hedge)
    message = str(info.value)
    assert "not identifiable" in message and "hedge F = {" in message and "F' = {" in message


def test_bow_arc_message():
    with pytest.raises(IdentificationError) as info:
        identify_effect(CausalGraph("X -> Y; X <-> Y"), "X", "Y")
    message = str(info.value)
    assert message.startswith("P(Y | do(X)) is not identifiable: the hedge F = {X, Y}, F' = {Y}.")
    assert "X <-> Y" in message and "rooted at {Y}" in message
    assert isinstance(info.value, ValueError)


# -- the conditional extension IDC ----------------------------------------------------------------

#: (name, graph, treatment, outcome, given, expected text)
CONDITIONAL = [
    (
        "rule 2 turns conditioning into intervention",
        "X -> Z; Z -> Y; X <-> Z",
        "X",
        "Y",
        "Z",
        "P(Y | Z)",
    ),
    (
        "conditioning on a pre-treatment covariate",
        "Z -> X; Z -> Y; X -> Y",
        "X",
        "Y",
        "Z",
        "P(Y | Z, X)",
    ),
    (
        "conditioning on a mediator in the front-door graph",
        "X -> M; M -> Y; X <-> Y",
        "X",
        "Y",
        "M",
        None,
    ),
    (
        "conditioning on a child of the outcome",
        "X -> Y; Y -> W; Z -> X; Z -> Y",
        "X",
        "Y",
        "W",
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "edges", "x", "y", "z", "text"), CONDITIONAL, ids=[c[0] for c in CONDITIONAL]
)
def test_conditional_effect(name, edges, x, y, z, text):
    graph = CausalGraph(edges)
    expression = identify_conditional_effect(graph, x, y, z)
    if text is not None:
        assert expression.to_text() == text
    check_numerically(graph, _as_list(x), _as_list(y), expression, given=_as_list(z))


def test_conditional_effect_not_identifiable():
    with pytest.raises(
        IdentificationError,
        match=r"P\(Y \| do\(X\), Z\) is not identifiable \(reached through P\(Y \| do\(X, Z\)\)\)",
    ):
        identify_conditional_effect(CausalGraph("X -> Y; Z -> Y; X <-> Y"), "X", "Y", "Z")


def test_conditional_effect_with_nothing_given_is_the_effect():
    graph = CausalGraph("X -> M; M -> Y; X <-> Y")
    assert identify_conditional_effect(graph, "X", "Y", []) == identify_effect(graph, "X", "Y")


# -- random graphs --------------------------------------------------------------------------------


def random_admg(rng: np.random.Generator) -> CausalGraph:
    n = int(rng.integers(6, 8))
    names = [f"V{i}" for i in range(n)]
    directed = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if rng.random() < 0.35]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    chosen = rng.permutation(len(pairs))[: int(rng.integers(1, 5))]
    bidirected = [(*pairs[k], "<->") for k in chosen]
    return CausalGraph([*directed, *bidirected], nodes=names)


def random_query(graph: CausalGraph, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    nodes = graph.topological_order()
    picked = list(rng.permutation(nodes))
    n_x, n_y = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    return sorted(picked[:n_x]), sorted(picked[n_x : n_x + n_y])


def test_random_admgs_identified_functional_equals_truth():
    rng = np.random.default_rng(20060716)
    identified = refused = 0
    for case in range(120):
        graph = random_admg(rng)
        x, y = random_query(graph, rng)
        try:
            expression = identify_effect(graph, x, y)
        except IdentificationError as error:
            check_hedge(graph, set(x), set(y), error.hedge)  # type: ignore[attr-defined]
            refused += 1
            continue
        check_numerically(graph, x, y, expression, seed=case)
        identified += 1
    assert identified >= 60 and refused >= 10, (identified, refused)


def test_random_admgs_conditional_effect_equals_truth():
    rng = np.random.default_rng(2006)
    identified = 0
    for case in range(40):
        graph = random_admg(rng)
        x, y = random_query(graph, rng)
        rest = [v for v in graph.nodes if v not in x and v not in y]
        z = [rest[int(rng.integers(len(rest)))]]
        try:
            expression = identify_conditional_effect(graph, x, y, z)
        except IdentificationError:
            continue
        check_numerically(graph, x, y, expression, seed=case, given=z)
        identified += 1
    assert identified >= 10


# -- refusals -------------------------------------------------------------------------------------


def test_refuses_unknown_nodes():
    with pytest.raises(GraphError, match="treatment 'Q'"):
        identify_effect(CausalGraph("X -> Y"), "Q", "Y")
    with pytest.raises(GraphError, match=r"outcome 'Yy' .*did you mean 'Y'"):
        identify_effect(CausalGraph("X -> Y"), "X", "Yy")


def test_refuses_overlapping_treatment_and_outcome():
    with pytest.raises(GraphError, match="treatment and outcome overlap"):
        identify_effect(CausalGraph("X -> Y"), ["X", "Y"], "Y")


def test_refuses_empty_outcome():
    with pytest.raises(GraphError, match="outcome names no node"):
        identify_effect(CausalGraph("X -> Y"), "X", [])


def test_conditional_refuses_overlapping_given():
    with pytest.raises(GraphError, match="given overlaps"):
        identify_conditional_effect(CausalGraph("X -> Y"), "X", "Y", "Y")


def test_refuses_a_cyclic_graph():
    with pytest.raises(GraphError, match="directed cycle"):
        identify_effect("X -> Y; Y -> X", "X", "Y")
