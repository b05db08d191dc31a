"""CausalGraph: every input form, refusals, separation, implied independences, projection."""

from __future__ import annotations

import itertools

import matplotlib
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paribus.errors import GraphError
from paribus.graph import CausalGraph

matplotlib.use("Agg")

FRONTDOOR = "X -> M -> Y; X <-> Y"


def test_edge_string_forms_agree():
    a = CausalGraph("Z -> X; X -> Y; Z -> Y; U <-> Y")
    b = CausalGraph("Z -> X -> Y\nY <- Z, Y <-> U")
    c = CausalGraph(
        "digraph G { rankdir=LR; node [shape=box]; Z -> X; X -> Y; Z -> Y; U -> Y [dir=both]; }"
    )
    d = CausalGraph([("Z", "X"), ("X", "Y"), ("Z", "Y"), ("U", "Y", "<->")])
    nxg = nx.DiGraph([("Z", "X"), ("X", "Y"), ("Z", "Y")])
    nxg.add_edge("U", "Y", bidirected=True)
    e = CausalGraph(nxg)
    assert a == b == c == d == e
    assert CausalGraph(a.to_string()) == a and CausalGraph(a.to_dot()) == a
    assert a.bidirected_edges == (("U", "Y"),) and not a.is_dag


def test_quoted_names_and_isolated_nodes():
    g = CausalGraph('"age group" -> income; W')
    assert set(g.nodes) == {"age group", "income", "W"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("A -> B; B -> C; C -> A", "directed cycle A -> B -> C -> A"),
        ("A -> B; A => C", "item 2 'A => C'"),
        ("A -- B", "undirected edge 'A -- B'"),
        ("A -> A", "self-loop"),
        ("A <-> A", "bidirected self-loop"),
        ("graph { a -- b }", "undirected"),
        ([("A", "B", "<-")], "expected (cause, effect)"),
        (42, "cannot build a causal graph from int"),
    ],
)
def test_refusals_point_at_the_problem(spec, message):
    with pytest.raises(GraphError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CausalGraph(spec)


def test_unknown_node_suggests_close_match():
    g = CausalGraph("Z -> X -> Y")
    with pytest.raises(GraphError, match=r"'Yy' \(did you mean 'Y'\?\) not in the graph"):
        g.parents("Yy")
    with pytest.raises(GraphError, match="disjoint"):
        g.is_separated("X", "X")


def test_family_and_districts():
    g = CausalGraph("A -> B -> C; A -> C; C <-> D; D <-> E; F")
    assert g.parents("C") == {"A", "B"} and g.children("A") == {"B", "C"}
    assert g.ancestors("C") == {"A", "B", "C"}
    assert g.descendants("A", include_self=False) == {"B", "C"}
    assert g.district("C") == {"C", "D", "E"}
    assert sorted(map(sorted, g.districts())) == [["A"], ["B"], ["C", "D", "E"], ["F"]]
    assert g.do("C").parents("C") == frozenset() and g.do("C").district("C") == {"C"}


def test_d_and_m_separation():
    m_graph = CausalGraph("A -> M; B -> M; A -> X; B -> Y; X -> Y")
    assert m_graph.without_outgoing("X").is_separated("X", "Y", [])
    assert not m_graph.without_outgoing("X").is_separated("X", "Y", ["M"])
    assert m_graph.without_outgoing("X").is_separated("X", "Y", ["M", "A"])
    fd = CausalGraph(FRONTDOOR)
    assert not fd.is_separated("X", "Y", ["M"])  # X <-> Y stays open
    assert fd.without_outgoing("X").is_separated("X", "M", [])


def test_implied_independences_hold_and_are_complete_for_pairs():
    g = CausalGraph("A -> B -> C -> D; A -> E; E -> D")
    implied = g.implied_independences()
    for x, y, z in implied:
        assert g.is_separated(x, y, z)
    non_adjacent = {frozenset(p) for p in itertools.combinations(g.nodes, 2) if not g.adjacent(*p)}
    assert {frozenset((x, y)) for x, y, _ in implied} == non_adjacent
    assert ("A", "C", ("B",)) in implied


def test_admg_without_separating_set_is_left_out():
    # the Verma graph: A and D are non-adjacent but no set separates them
    g = CausalGraph("A -> B -> C -> D; B <-> D")
    pairs = {frozenset((x, y)) for x, y, _ in g.implied_independences()}
    assert frozenset(("A", "C")) in pairs and frozenset(("A", "D")) not in pairs


def test_latent_projection():
    g = CausalGraph("U -> X; U -> Y; X -> M -> Y; Z -> X; L -> A; A -> Y")
    projected = g.latent_projection(["X", "M", "Y", "Z", "A"])
    assert set(projected.bidirected_edges) == {("X", "Y")}
    assert ("A", "Y") in projected.directed_edges
    chain = CausalGraph("X -> H -> Y").latent_projection(["X", "Y"])
    assert chain.directed_edges == (("X", "Y"),)


@st.composite
def random_dags(draw):
    n = draw(st.integers(4, 7))
    names = [f"V{i}" for i in range(n)]
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    return CausalGraph(edges, nodes=names)


@settings(max_examples=40, deadline=None)
@given(random_dags(), st.integers(0, 2**32 - 1))
def test_separation_matches_linear_gaussian_partial_correlations(graph, seed):
    """d-separation <=> zero partial correlation in a generic linear SCM (faithfulness)."""
    rng = np.random.default_rng(seed)
    order = graph.topological_order()
    idx = {v: i for i, v in enumerate(order)}
    weights = np.zeros((len(order), len(order)))
    for a, b in graph.directed_edges:
        weights[idx[b], idx[a]] = rng.uniform(0.5, 1.5) * rng.choice([-1, 1])
    mix = np.linalg.inv(np.eye(len(order)) - weights)
    cov = mix @ mix.T
    for a, b in itertools.combinations(order, 2):
        rest = [v for v in order if v not in (a, b)]
        for k in range(len(rest) + 1):
            for z in itertools.combinations(rest, k):
                keep = [idx[a], idx[b], *(idx[v] for v in z)]
                precision = np.linalg.inv(cov[np.ix_(keep, keep)])
                partial = -precision[0, 1] / np.sqrt(precision[0, 0] * precision[1, 1])
                assert graph.is_separated(a, b, z) == (abs(partial) < 1e-9)


def test_draw_returns_axes():
    ax = CausalGraph(FRONTDOOR).draw(highlight=["X"])
    assert ax.figure is not None
