"""Back-door and adjustment criteria, minimal adjustment sets, the optimal set.

Textbook graphs with known answers, then property tests on random DAGs and ADMGs
against a slow, obvious implementation of the adjustment criterion written here
with networkx alone: proper causal paths by enumerating every directed simple path,
and d-separation in the proper back-door graph, over every subset of the nodes.
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
from paribus.graph.adjustment import (
    is_adjustment_set,
    is_backdoor_set,
    minimal_adjustment_sets,
    optimal_adjustment_set,
)

# Pearl, Causality (2009), Fig. 3.4: X1..X6, Xi, Xj renamed Z1..Z6, X, Y.
PEARL_3_4 = (
    "Z1 -> Z3; Z1 -> Z4; Z2 -> Z4; Z2 -> Z5; Z3 -> X; Z4 -> X; Z4 -> Y; Z5 -> Y; X -> Z6 -> Y"
)
M_GRAPH = "A -> X; A -> M; B -> M; B -> Y; X -> Y"
BUTTERFLY = "A -> X; A -> M; B -> M; B -> Y; M -> X; M -> Y; X -> Y"
FRONT_DOOR = "X -> M -> Y; X <-> Y"
NAPKIN = "W1 -> W2 -> X -> Y; W1 <-> X; W1 <-> Y"


def sets(*items: str) -> list[frozenset[str]]:
    return [frozenset(s.split()) for s in items]


# -- textbook graphs ------------------------------------------------------------------------


def test_pearl_fig_3_4():
    g = CausalGraph(PEARL_3_4)
    assert is_backdoor_set(g, "X", "Y", {"Z3", "Z4"})
    assert is_backdoor_set(g, "X", "Y", {"Z4", "Z5"})
    # Z4 alone opens X <- Z3 <- Z1 -> Z4 <- Z2 -> Z5 -> Y (Pearl's example)
    assert not is_backdoor_set(g, "X", "Y", {"Z4"})
    assert not is_adjustment_set(g, "X", "Y", {"Z4"})
    assert minimal_adjustment_sets(g, "X", "Y") == sets("Z1 Z4", "Z2 Z4", "Z3 Z4", "Z4 Z5")
    # O = pa({Z6, Y}) minus forb = {X, Z4, Z5, Z6} minus {X, Z6, Y}
    assert optimal_adjustment_set(g, "X", "Y") == frozenset({"Z4", "Z5"})
    # a descendant of X is never allowed
    assert not is_adjustment_set(g, "X", "Y", {"Z3", "Z4", "Z6"})


def test_m_graph_collider_bias():
    g = CausalGraph(M_GRAPH)
    assert is_adjustment_set(g, "X", "Y", set())
    assert not is_adjustment_set(g, "X", "Y", {"M"})  # opens X <- A -> M <- B -> Y
    assert is_adjustment_set(g, "X", "Y", {"M", "A"})
    assert is_adjustment_set(g, "X", "Y", {"M", "B"})
    assert minimal_adjustment_sets(g, "X", "Y") == [frozenset()]
    assert optimal_adjustment_set(g, "X", "Y") == frozenset({"B"})


def test_butterfly_needs_the_collider_and_a_parent():
    g = CausalGraph(BUTTERFLY)
    assert not is_adjustment_set(g, "X", "Y", set())
    assert not is_adjustment_set(g, "X", "Y", {"M"})
    assert minimal_adjustment_sets(g, "X", "Y") == sets("A M", "B M")
    assert optimal_adjustment_set(g, "X", "Y") == frozenset({"B", "M"})


def test_mediator_and_its_descendants_are_forbidden():
    # Book of Why, ch. 4 (first "game"): X -> A -> Y with A -> B; nothing to adjust for
    g = CausalGraph("X -> A -> Y; A -> B; C -> X; C -> Y")
    assert minimal_adjustment_sets(g, "X", "Y") == sets("C")
    assert not is_adjustment_set(g, "X", "Y", {"C", "A"})
    assert not is_adjustment_set(g, "X", "Y", {"C", "B"})
    assert not is_backdoor_set(g, "X", "Y", {"C", "B"})
    assert optimal_adjustment_set(g, "X", "Y") == frozenset({"C"})


def test_descendant_of_treatment_off_causal_paths_is_allowed():
    # D is a descendant of X but not of a causal node: valid by the complete criterion,
    # refused by the back-door criterion
    g = CausalGraph("X -> Y; X -> D; C -> X; C -> Y")
    assert is_adjustment_set(g, "X", "Y", {"C", "D"})
    assert not is_backdoor_set(g, "X", "Y", {"C", "D"})


def test_post_treatment_collider():
    g = CausalGraph("X -> Y; X -> C; Y -> C; C -> D")
    assert minimal_adjustment_sets(g, "X", "Y") == [frozenset()]
    assert not is_adjustment_set(g, "X", "Y", {"C"})
    assert not is_adjustment_set(g, "X", "Y", {"D"})


def test_front_door_graph_has_no_adjustment_set():
    g = CausalGraph(FRONT_DOOR)
    assert minimal_adjustment_sets(g, "X", "Y") == []
    assert optimal_adjustment_set(g, "X", "Y") is None
    assert not is_adjustment_set(g, "X", "Y", {"M"})


def test_napkin_has_no_adjustment_set():
    g = CausalGraph(NAPKIN)
    assert minimal_adjustment_sets(g, "X", "Y") == []
    assert not is_adjustment_set(g, "X", "Y", {"W2"})  # W2 descends from the collider W1
    assert not is_adjustment_set(g, "X", "Y", {"W1", "W2"})
    assert optimal_adjustment_set(g, "X", "Y") is None


def test_admg_latent_confounding_of_a_covariate():
    # C <-> Y: adjusting for C still blocks X <- C <-> Y, since C is a non-collider there
    g = CausalGraph("C -> X -> Y; C <-> Y")
    assert minimal_adjustment_sets(g, "X", "Y") == sets("C")
    assert optimal_adjustment_set(g, "X", "Y") == frozenset({"C"})
    # X <-> C -> Y: likewise
    g = CausalGraph("C -> Y; X -> Y; X <-> C")
    assert minimal_adjustment_sets(g, "X", "Y") == sets("C")


def test_several_treatments_beyond_the_backdoor_criterion():
    # R mediates X1 -> R -> Y (forbidden) and confounds X2 <- R -> Y (must be blocked)
    g = CausalGraph("X1 -> R -> X2 -> Y; R -> Y; C -> X1; C -> Y")
    assert minimal_adjustment_sets(g, {"X1", "X2"}, "Y") == []
    assert optimal_adjustment_set(g, {"X1", "X2"}, "Y") is None
    g = CausalGraph("X1 -> X2 -> Y; C -> X2; C -> Y; X1 -> Y")
    assert minimal_adjustment_sets(g, ["X1", "X2"], ["Y"]) == sets("C")
    assert optimal_adjustment_set(g, {"X1", "X2"}, "Y") == frozenset({"C"})


def test_no_causal_path_and_reverse_edge():
    g = CausalGraph("C -> X; C -> Y")
    assert minimal_adjustment_sets(g, "X", "Y") == sets("C")
    assert optimal_adjustment_set(g, "X", "Y") == frozenset({"C"})
    g = CausalGraph("Y -> X")
    assert minimal_adjustment_sets(g, "X", "Y") == []
    assert optimal_adjustment_set(g, "X", "Y") is None


def test_max_sets_caps_the_listing():
    g = CausalGraph(PEARL_3_4)
    got = minimal_adjustment_sets(g, "X", "Y", max_sets=2)
    assert len(got) == 2 and set(got) <= set(minimal_adjustment_sets(g, "X", "Y"))


def test_accepts_edge_strings_and_lists():
    assert minimal_adjustment_sets(M_GRAPH, ["X"], ("Y",)) == [frozenset()]


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda g: minimal_adjustment_sets(g, "X", "Q"),
        lambda g: minimal_adjustment_sets(g, "X", "X"),
        lambda g: minimal_adjustment_sets(g, set(), "Y"),
        lambda g: minimal_adjustment_sets(g, "X", "Y", max_sets=0),
        lambda g: is_adjustment_set(g, "X", "Y", {"Y"}),
        lambda g: is_adjustment_set(g, "X", "Y", {"X", "A"}),
        lambda g: is_adjustment_set(g, "X", "Y", {"Mx"}),
        lambda g: is_backdoor_set(g, {"X", "Y"}, "Y", set()),
        lambda g: optimal_adjustment_set(g, "Xx", "Y"),
    ],
)
def test_refuses_bad_nodes(call):
    with pytest.raises(GraphError):
        call(CausalGraph(M_GRAPH))


def test_unknown_node_message_names_it():
    with pytest.raises(GraphError, match=r"'Mx'.*did you mean 'M'"):
        is_adjustment_set(M_GRAPH, "X", "Y", {"Mx"})


# -- slow, obvious reference ------------------------------------------------------------------


def augmented(g: CausalGraph) -> nx.DiGraph:
    """The DAG with an explicit latent parent for each bidirected edge."""
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from(g.directed_edges)
    for a, b in g.bidirected_edges:
        h.add_edges_from([(("latent", a, b), a), (("latent", a, b), b)])
    return h


def reference_validity(g: CausalGraph, x: set[str], y: set[str]):
    """Shpitser et al.'s criterion, by brute force: forb from every directed path."""
    h = augmented(g)
    causal, first = set(), set()
    for a, b in itertools.product(x, y):
        for path in nx.all_simple_paths(h, a, b):
            if not x & set(path[1:]):
                causal |= set(path[1:])
                first.add((path[0], path[1]))
    forb = set(x) | causal
    for c in causal:
        forb |= nx.descendants(h, c)
    pbd = h.copy()
    pbd.remove_edges_from(first)

    def valid(z) -> bool:
        return not set(z) & forb and nx.is_d_separator(pbd, x, y, set(z))

    return valid


def reference_minimal(g: CausalGraph, x: set[str], y: set[str]) -> list[frozenset[str]]:
    valid = reference_validity(g, x, y)
    rest = [v for v in g.nodes if v not in x | y]
    good = [
        frozenset(c)
        for k in range(len(rest) + 1)
        for c in itertools.combinations(rest, k)
        if valid(c)
    ]
    minimal = [s for s in good if not any(o < s for o in good)]
    return sorted(minimal, key=lambda s: (len(s), sorted(s)))


@st.composite
def graphs(draw, min_nodes=8, max_nodes=10, bidirected=False):
    """A random DAG (or ADMG) and disjoint treatment and outcome sets.

    Hypothesis draws the size, the density and a seed; the edges come from the seed,
    which spreads the graphs better than drawing one float per pair.
    """
    n = draw(st.integers(min_nodes, max_nodes))
    p = draw(st.sampled_from([0.15, 0.25, 0.35]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    names = [f"V{i}" for i in range(n)]
    pairs = list(itertools.combinations(names, 2))
    edges: list[tuple[str, ...]] = [pair for pair in pairs if rng.random() < p]
    if bidirected:
        edges += [(a, b, "<->") for a, b in pairs if rng.random() < 0.1]
    # the outcome after the treatment in the order, often with a common cause, so that
    # effects and confounding are common; sometimes a second treatment or outcome
    first = rng.randrange(1, n - 1)
    x, y = {names[first]}, {names[rng.randrange(first + 1, n)]}
    if rng.random() < 0.5:
        cause = names[rng.randrange(first)]
        edges += [(cause, *x), (cause, *y)]
    extra = rng.choice([None, None, "x", "y"])
    if extra:
        (x if extra == "x" else y).add(rng.choice([v for v in names if v not in x | y]))
    return CausalGraph(edges, nodes=names), x, y


def check_against_reference(g, x, y):
    ours = minimal_adjustment_sets(g, x, y)
    assert ours == reference_minimal(g, x, y)
    for z in ours:
        assert is_adjustment_set(g, x, y, z)
        assert not any(is_adjustment_set(g, x, y, z - {v}) for v in z)
    optimal = optimal_adjustment_set(g, x, y)
    if not ours:
        assert optimal is None
        return
    assert optimal is not None and is_adjustment_set(g, x, y, optimal)
    if not (g.is_dag and y <= g.descendants(x)):  # fallback: a smallest valid set
        assert optimal in ours and len(optimal) == len(ours[0])


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_minimal_sets_match_brute_force_on_random_dags(case):
    check_against_reference(*case)


@settings(max_examples=60, deadline=None)
@given(graphs(min_nodes=6, max_nodes=9, bidirected=True))
def test_minimal_sets_match_brute_force_on_random_admgs(case):
    check_against_reference(*case)


@settings(max_examples=100, deadline=None)
@given(graphs(min_nodes=6, max_nodes=9, bidirected=True), st.data())
def test_criteria_match_reference_on_random_sets(case, data):
    g, x, y = case
    valid = reference_validity(g, x, y)
    rest = sorted(set(g.nodes) - x - y)
    z = data.draw(st.sets(st.sampled_from(rest)) if rest else st.just(set()))
    assert is_adjustment_set(g, x, y, z) == valid(z)
    if is_backdoor_set(g, x, y, z):  # back-door sets are adjustment sets
        assert valid(z)


@settings(max_examples=50, deadline=None)
@given(graphs())
def test_optimal_set_in_dags(case):
    g, x, y = case
    optimal = optimal_adjustment_set(g, x, y)
    if optimal is None:
        assert minimal_adjustment_sets(g, x, y) == []
        return
    h = augmented(g)
    causal = {
        v
        for a, b in itertools.product(x, y)
        for p in nx.all_simple_paths(h, a, b)
        if not x & set(p[1:])
        for v in p[1:]
    }
    forb = x | causal | {d for c in causal for d in nx.descendants(h, c)}
    assert not optimal & forb
    assert is_adjustment_set(g, x, y, optimal)
    if y <= g.descendants(x):  # the O-set formula itself
        assert optimal == frozenset(p for c in causal for p in h.predecessors(c)) - forb
