"""The front-door criterion and the minimal front-door sets.

Textbook graphs, then random graphs against a brute force: every subset of the other
nodes checked with the criterion written here with networkx alone (interception over
every directed simple path, d-separation in the two mutilated graphs).
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paribus.errors import GraphError
from paribus.graph import CausalGraph
from paribus.graph.frontdoor import frontdoor_sets, is_frontdoor_set

FRONT_DOOR = "X -> M -> Y; X <-> Y"  # smoking -> tar -> cancer, genotype latent


def sets(*items: str) -> list[frozenset[str]]:
    return [frozenset(s.split()) for s in items]


def test_classic_front_door():
    g = CausalGraph(FRONT_DOOR)
    assert is_frontdoor_set(g, "X", "Y", {"M"})
    assert not is_frontdoor_set(g, "X", "Y", set())
    assert frontdoor_sets(g, "X", "Y") == sets("M")


def test_two_parallel_mediators_are_both_needed():
    g = CausalGraph("X -> M1 -> Y; X -> M2 -> Y; X <-> Y")
    assert not is_frontdoor_set(g, "X", "Y", {"M1"})
    assert frontdoor_sets(g, "X", "Y") == sets("M1 M2")


def test_chain_of_mediators_gives_one_set_per_link():
    g = CausalGraph("X -> A -> B -> Y; X <-> Y")
    assert frontdoor_sets(g, "X", "Y") == sets("A", "B")
    assert is_frontdoor_set(g, "X", "Y", {"A", "B"})  # valid, not minimal


def test_direct_edge_defeats_front_door():
    g = CausalGraph("X -> M -> Y; X -> Y; X <-> Y")
    assert frontdoor_sets(g, "X", "Y") == []


def test_confounded_mediator_defeats_front_door():
    # M <-> Y: the back-door path M <-> Y is not blocked by X (condition iii)
    g = CausalGraph("X -> M -> Y; X <-> Y; M <-> Y")
    assert not is_frontdoor_set(g, "X", "Y", {"M"})
    assert frontdoor_sets(g, "X", "Y") == []
    # X <-> M: condition (ii) fails
    g = CausalGraph("X -> M -> Y; X <-> Y; X <-> M")
    assert frontdoor_sets(g, "X", "Y") == []


def test_minimal_set_off_the_causal_paths():
    # W blocks the back-door path M <- W -> Y once its outgoing edges are cut;
    # W lies on no directed path from X to Y, yet {M, W} is the only minimal set
    g = CausalGraph("X -> M -> Y; W -> M; W -> Y; X <-> Y")
    assert not is_frontdoor_set(g, "X", "Y", {"M"})
    assert is_frontdoor_set(g, "X", "Y", {"M", "W"})
    assert frontdoor_sets(g, "X", "Y") == sets("M W")


def test_observed_confounder_blocked_by_treatment():
    # X <- C -> Y is a back-door path from M to Y through X: X blocks it
    g = CausalGraph("C -> X -> M -> Y; C -> Y")
    assert is_frontdoor_set(g, "X", "Y", {"M"})
    assert frontdoor_sets(g, "X", "Y") == sets("M")


def test_no_directed_path_gives_the_empty_set():
    g = CausalGraph("X <- C -> Y; X <-> Y")
    assert frontdoor_sets(g, "X", "Y") == [frozenset()]
    assert is_frontdoor_set(g, "X", "Y", set())


def test_napkin_has_no_front_door():
    g = CausalGraph("W1 -> W2 -> X -> Y; W1 <-> X; W1 <-> Y")
    assert frontdoor_sets(g, "X", "Y") == []


def test_max_size():
    g = CausalGraph("X -> M1 -> Y; X -> M2 -> Y; X <-> Y")
    assert frontdoor_sets(g, "X", "Y", max_size=1) == []
    assert frontdoor_sets(g, "X", "Y", max_size=2) == sets("M1 M2")


@pytest.mark.parametrize(
    "call",
    [
        lambda g: frontdoor_sets(g, "X", "Q"),
        lambda g: frontdoor_sets(g, "X", "X"),
        lambda g: frontdoor_sets(g, "X", "Y", max_size=-1),
        lambda g: is_frontdoor_set(g, "X", "Y", {"X"}),
        lambda g: is_frontdoor_set(g, "X", "Y", {"M", "Y"}),
        lambda g: is_frontdoor_set(g, "X", "Y", {"N"}),
    ],
)
def test_refusals(call):
    with pytest.raises(GraphError):
        call(CausalGraph(FRONT_DOOR))


# -- brute force ----------------------------------------------------------------------------


def augmented(g: CausalGraph) -> nx.DiGraph:
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from(g.directed_edges)
    for a, b in g.bidirected_edges:
        h.add_edges_from([(("latent", a, b), a), (("latent", a, b), b)])
    return h


def reference_criterion(h: nx.DiGraph, x: set[str], y: set[str], z: set[str]) -> bool:
    for a, b in itertools.product(x, y):
        if any(not z & set(path) for path in nx.all_simple_paths(h, a, b)):
            return False
    if not z:
        return True
    cut_x = h.copy()
    cut_x.remove_edges_from([e for e in h.edges if e[0] in x])
    cut_z = h.copy()
    cut_z.remove_edges_from([e for e in h.edges if e[0] in z])
    return nx.is_d_separator(cut_x, x, z, set()) and nx.is_d_separator(cut_z, z, y, x)


@st.composite
def confounded_graphs(draw):
    """X first, Y last, X <-> Y, random forward edges (never X -> Y), half of the time
    X -> M -> Y for a random M, and a few more latents."""
    n = draw(st.integers(5, 9))
    p = draw(st.sampled_from([0.2, 0.3, 0.4]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    names = [f"V{i}" for i in range(n)]
    pairs = [(a, b) for a, b in itertools.combinations(names, 2) if (a, b) != (names[0], names[-1])]
    edges: list[tuple[str, ...]] = [pair for pair in pairs if rng.random() < p]
    edges += [(a, b, "<->") for a, b in pairs if rng.random() < 0.08]
    if rng.random() < 0.5:  # make sure of one directed path X -> middle -> Y
        middle = rng.choice(names[1:-1])
        edges += [(names[0], middle), (middle, names[-1])]
    edges.append((names[0], names[-1], "<->"))
    return CausalGraph(edges, nodes=names), {names[0]}, {names[-1]}


@settings(max_examples=150, deadline=None)
@given(confounded_graphs())
def test_minimal_sets_match_brute_force(case):
    g, x, y = case
    h = augmented(g)
    rest = [v for v in g.nodes if v not in x | y]
    good = [
        frozenset(c)
        for k in range(len(rest) + 1)
        for c in itertools.combinations(rest, k)
        if reference_criterion(h, x, y, set(c))
    ]
    expected = sorted(
        (s for s in good if not any(o < s for o in good)), key=lambda s: (len(s), sorted(s))
    )
    assert frontdoor_sets(g, x, y) == expected
    for z in itertools.islice(itertools.chain(good, ({v} for v in rest)), 6):
        assert is_frontdoor_set(g, x, y, z) == reference_criterion(h, x, y, set(z))
