"""Instruments: unconditional and conditional, checked on textbook graphs and against a
brute-force search over every conditioning set on random graphs."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paribus.errors import GraphError
from paribus.graph import CausalGraph
from paribus.graph.instruments import Instrument, find_instruments, is_instrument

IV = "Z -> X -> Y; X <-> Y"
CONDITIONAL_IV = "W -> Z; W -> Y; Z -> X -> Y; X <-> Y"


def test_classic_instrument():
    g = CausalGraph(IV)
    assert is_instrument(g, "X", "Y", "Z")
    assert find_instruments(g, "X", "Y") == [Instrument("Z", frozenset())]


def test_conditional_instrument():
    g = CausalGraph(CONDITIONAL_IV)
    assert not is_instrument(g, "X", "Y", "Z")  # Z <- W -> Y is open
    assert is_instrument(g, "X", "Y", "Z", {"W"})
    # W itself is an instrument given Z? No: W -> Y directly
    assert not is_instrument(g, "X", "Y", "W", {"Z"})
    assert find_instruments(g, "X", "Y") == [Instrument("Z", frozenset({"W"}))]


def test_napkin_w2_is_an_instrument_given_w1():
    g = CausalGraph("W1 -> W2 -> X -> Y; W1 <-> X; W1 <-> Y")
    assert find_instruments(g, "X", "Y") == [Instrument("W2", frozenset({"W1"}))]


def test_instrument_through_a_chain():
    # Z -> A -> X: both Z and A are instruments
    g = CausalGraph("Z -> A -> X -> Y; X <-> Y")
    assert [i.instrument for i in find_instruments(g, "X", "Y")] == ["A", "Z"]


def test_instrument_for_the_total_effect_through_a_mediator():
    g = CausalGraph("Z -> X -> M -> Y; X <-> Y")
    assert find_instruments(g, "X", "Y") == [Instrument("Z", frozenset())]


def test_mediator_in_the_conditioning_set_is_refused():
    # given M, Z -> X <-> Y opens (M descends from the collider X): no valid conditioning
    g = CausalGraph("Z -> X -> M -> Y; X <-> Y; Z <-> M")
    assert not is_instrument(g, "X", "Y", "Z", {"M"})
    assert find_instruments(g, "X", "Y") == []


def test_child_of_treatment_is_no_instrument():
    g = CausalGraph("X -> C; X -> Y; X <-> Y")
    assert not is_instrument(g, "X", "Y", "C")
    assert find_instruments(g, "X", "Y") == []


def test_confounded_instrument_and_direct_effect():
    assert find_instruments("Z -> X -> Y; X <-> Y; Z <-> Y", "X", "Y") == []
    assert find_instruments("Z -> X -> Y; X <-> Y; Z -> Y", "X", "Y") == []


def test_collider_conditioning_is_checked_not_searched():
    # Z is relevant only given the collider C (Z -> C <- P -> X); is_instrument accepts
    # it, find_instruments reports the ancestral instruments C and P instead
    g = CausalGraph("Z -> C; P -> C; P -> X -> Y; X <-> Y")
    assert is_instrument(g, "X", "Y", "Z", {"C"})
    assert [i.instrument for i in find_instruments(g, "X", "Y")] == ["C", "P"]


def test_str():
    assert str(Instrument("Z", frozenset({"W", "A"}))) == "Z | A, W"
    assert str(Instrument("Z")) == "Z"


@pytest.mark.parametrize(
    "call",
    [
        lambda g: find_instruments(g, "X", "Q"),
        lambda g: find_instruments(g, "X", "X"),
        lambda g: find_instruments(g, {"X", "Z"}, "Y"),
        lambda g: is_instrument(g, "X", "Y", "X"),
        lambda g: is_instrument(g, "X", "Y", "Y"),
        lambda g: is_instrument(g, "X", "Y", "Q"),
        lambda g: is_instrument(g, "X", "Y", "Z", {"Z"}),
        lambda g: is_instrument(g, "X", "Y", "Z", {"X"}),
    ],
)
def test_refusals(call):
    with pytest.raises(GraphError):
        call(CausalGraph(IV))


# -- brute force ----------------------------------------------------------------------------


def augmented(g: CausalGraph) -> nx.DiGraph:
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from(g.directed_edges)
    for a, b in g.bidirected_edges:
        h.add_edges_from([(("latent", a, b), a), (("latent", a, b), b)])
    return h


def reference_instrument(h: nx.DiGraph, cut: nx.DiGraph, x: str, y: str, z: str, w) -> bool:
    """The definition, with networkx: Z and W free of descendants of X (and W of Y),
    Z m-connected to X given W, Z m-separated from Y given W without X's out-edges."""
    if z in nx.descendants(h, x) or set(w) & (nx.descendants(h, x) | nx.descendants(h, y)):
        return False
    return not nx.is_d_separator(h, {z}, {x}, set(w)) and nx.is_d_separator(cut, {z}, {y}, set(w))


@st.composite
def graphs(draw):
    n = draw(st.integers(4, 8))
    p = draw(st.sampled_from([0.2, 0.35, 0.5]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    names = [f"V{i}" for i in range(n)]
    pairs = list(itertools.combinations(names, 2))
    edges: list[tuple[str, ...]] = [pair for pair in pairs if rng.random() < p]
    edges += [(a, b, "<->") for a, b in pairs if rng.random() < 0.15]
    x, y = rng.sample(names, 2)
    return CausalGraph(edges, nodes=names), x, y


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_instruments_match_brute_force(case):
    """Found instruments satisfy the definition with a minimal conditioning set, and a
    node is found exactly when some conditioning set inside An(Z, Y) (without the edges
    out of X) makes it an instrument. Whenever any instrument exists, one is found."""
    g, x, y = case
    h = augmented(g)
    cut = h.copy()
    cut.remove_edges_from([e for e in h.edges if e[0] == x])
    found = {i.instrument: i.conditioning for i in find_instruments(g, x, y)}
    any_instrument = False
    for z in set(g.nodes) - {x, y}:
        rest = sorted(set(g.nodes) - {x, y, z})
        valid = [
            set(c)
            for k in range(len(rest) + 1)
            for c in itertools.combinations(rest, k)
            if reference_instrument(h, cut, x, y, z, c)
        ]
        for w in valid[:3]:
            assert is_instrument(g, x, y, z, w)
        ancestral = nx.ancestors(cut, z) | nx.ancestors(cut, y)
        assert (z in found) == any(w <= ancestral for w in valid)
        if z in found:
            assert found[z] in [frozenset(w) for w in valid]
            assert not any(w < found[z] for w in valid)  # minimal
        any_instrument |= bool(valid)
    assert bool(found) == any_instrument
