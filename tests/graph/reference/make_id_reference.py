"""Write ``id_reference.json``: what DoWhy's and y0's ID implementations say on a list of graphs.

Not a test; run by hand, from the repository root, in the benchmark
environment where the peers are installed::

    .venv-bench/bin/pip install y0
    .venv-bench/bin/python tests/graph/reference/make_id_reference.py

It does not import paribus. For every case it records

* ``y0``: whether y0's ``identify`` succeeds, its functional (text and LaTeX),
  and, when it raises ``Unidentifiable``, the hedge it reports;
* ``dowhy``: the outcome of DoWhy's ``identify_effect_id``. DoWhy 0.14's ID
  takes a DAG and treats every node as observed, so a graph with latent
  confounding cannot be given to it as such: with a bidirected edge as two
  opposite directed edges it refuses the graph as cyclic, and with each
  latent written as an explicit node it returns a functional of that
  unobserved node. Both attempts are recorded; only on DAGs is its answer
  comparable;
* ``numbers`` (identifiable cases): for a random binary structural causal
  model consistent with the graph (one binary latent per bidirected edge,
  seeded), the observational joint of the observed nodes, the true
  ``P(y | do(x))`` by brute-force enumeration, and the values of y0's and
  DoWhy's functionals evaluated on the observational joint.

``tests/graph/test_id_reference.py`` reads the file.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import itertools
import json
import math
import warnings
from pathlib import Path

import networkx as nx
import numpy as np

warnings.filterwarnings("ignore")

OUT = Path(__file__).with_name("id_reference.json")

#: (name, edge string, treatment, outcome); "A -> B" directed, "A <-> B" latent confounding
CASES: list[tuple[str, str, list[str], list[str]]] = [
    # identifiable
    ("no confounding", "X -> Y", ["X"], ["Y"]),
    ("back-door", "Z -> X; Z -> Y; X -> Y", ["X"], ["Y"]),
    ("front-door", "X -> M; M -> Y; X <-> Y", ["X"], ["Y"]),
    ("napkin", "W1 -> W2; W2 -> X; X -> Y; W1 <-> X; W1 <-> Y", ["X"], ["Y"]),
    ("confounded mediator-outcome", "X -> Z; Z -> Y; Z <-> Y", ["X"], ["Y"]),
    ("latent back-door through an observed cause", "Z -> X; X -> Y; Z <-> Y", ["X"], ["Y"]),
    ("confounded instrument", "Z -> X; X -> Y; Z <-> X", ["X"], ["Y"]),
    ("chain of causes", "A -> B; B -> X; X -> Y", ["X"], ["Y"]),
    ("M-bias", "A -> X; A -> M; B -> M; B -> Y; X -> Y", ["X"], ["Y"]),
    ("front-door with a covariate", "W -> X; W -> Y; X -> M; M -> Y; X <-> Y", ["X"], ["Y"]),
    (
        "two mediators sharing a latent cause",
        "X -> Z1; X -> Z2; Z1 -> Y; Z2 -> Y; X <-> Y; Z1 <-> Z2",
        ["X"],
        ["Y"],
    ),
    ("Verma graph", "V1 -> V2; V2 -> V3; V3 -> V4; V2 <-> V4", ["V3"], ["V4"]),
    ("Verma graph, effect of the root", "V1 -> V2; V2 -> V3; V3 -> V4; V2 <-> V4", ["V1"], ["V4"]),
    (
        "sequential treatments",
        "X1 -> Z; Z -> X2; X2 -> Y; X1 -> Y; Z <-> Y",
        ["X1", "X2"],
        ["Y"],
    ),
    (
        "two outcomes, back-door",
        "Z -> X; Z -> Y1; Z -> Y2; X -> Y1; X -> Y2",
        ["X"],
        ["Y1", "Y2"],
    ),
    (
        "two treatments, two outcomes",
        "X1 -> Y1; X2 -> Y2; X1 -> X2; Y1 -> Y2; X1 <-> Y2",
        ["X1", "X2"],
        ["Y1", "Y2"],
    ),
    ("ID line 7", "W1 -> X; X -> Y1; W1 <-> Y1", ["X", "W1"], ["Y1"]),
    (
        "c-factor decomposition",
        "X -> Z1; Z1 -> Z2; Z2 -> Y; X <-> Z2; Z1 <-> Y",
        ["X"],
        ["Y"],
    ),
    ("treatment not an ancestor of the outcome", "Z -> Y; Y -> X; Z <-> X", ["X"], ["Y"]),
    ("DAG: two-step back-door", "Z1 -> Z2; Z2 -> X; Z1 -> Y; X -> Y", ["X"], ["Y"]),
    ("DAG: mediator and confounder", "Z -> X; Z -> Y; X -> M; M -> Y; X -> Y", ["X"], ["Y"]),
    ("DAG: effect on a mediator and outcome", "Z -> X; Z -> Y; X -> M; M -> Y", ["X"], ["M", "Y"]),
    ("DAG: joint treatment", "Z -> X1; X1 -> X2; Z -> X2; X2 -> Y; Z -> Y", ["X1", "X2"], ["Y"]),
    (
        "bidirected chain around the treatment",
        "W -> X; X -> Y; W <-> Z; Z <-> Y; Z -> Y",
        ["X"],
        ["Y"],
    ),
    # not identifiable
    ("bow arc", "X -> Y; X <-> Y", ["X"], ["Y"]),
    ("confounded child of the treatment", "X -> Z; Z -> Y; X <-> Z", ["X"], ["Y"]),
    ("instrumental variable", "Z -> X; X -> Y; X <-> Y", ["X"], ["Y"]),
    ("front-door broken", "X -> Z; Z -> Y; X <-> Y; Z <-> Y", ["X"], ["Y"]),
    ("direct effect plus confounded mediator", "X -> Y; X -> Z; Z -> Y; X <-> Z", ["X"], ["Y"]),
    ("confounding through an observed collider", "Z -> X; X -> Y; X <-> Z; Z <-> Y", ["X"], ["Y"]),
    (
        "unblockable back-door through a confounded covariate",
        "Z -> X; Z -> Y; X -> Y; X <-> Z; Z <-> Y",
        ["X"],
        ["Y"],
    ),
    (
        "two confounded mediators",
        "X -> Z1; X -> Z2; Z1 -> Y; Z2 -> Y; X <-> Z2; Z1 <-> Y",
        ["X"],
        ["Y"],
    ),
    (
        "joint outcome, hedge for a subset",
        "Y1 -> X; X -> Y2; X <-> Y1; X <-> Y2; Y1 <-> Y2",
        ["X"],
        ["Y1", "Y2"],
    ),
    ("two treatments, one confounded", "X1 -> Y; X2 -> Y; X1 <-> Y", ["X1", "X2"], ["Y"]),
]


def random_cases(count: int, seed: int) -> list[tuple[str, str, list[str], list[str]]]:
    """Random ADMGs on 4-6 nodes (names in a topological order) with random queries."""
    rng = np.random.default_rng(seed)
    cases = []
    for k in range(count):
        n = int(rng.integers(4, 7))
        names = [f"V{i}" for i in range(n)]
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        items = [f"{a} -> {b}" for a, b in pairs if rng.random() < 0.4]
        chosen = rng.permutation(len(pairs))[: int(rng.integers(1, 4))]
        items += [f"{pairs[j][0]} <-> {pairs[j][1]}" for j in sorted(chosen)]
        linked = {v for item in items for v in item.replace("<", "").split(" -> ")}
        linked |= {v for item in items for v in item.split(" <-> ")}
        items += [v for v in names if v not in linked]  # isolated nodes
        picked = [str(v) for v in rng.permutation(names)]
        n_x, n_y = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        treatment, outcome = sorted(picked[:n_x]), sorted(picked[n_x : n_x + n_y])
        cases.append((f"random ADMG {k}", "; ".join(items), treatment, outcome))
    return cases


CASES += random_cases(40, seed=2006)


def parse(edges: str) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    nodes: list[str] = []
    directed, bidirected = [], []
    for item in edges.split(";"):
        if "->" not in item:  # an isolated node
            nodes.append(item.strip())
            continue
        bi = "<->" in item
        a, b = (s.strip() for s in item.split("<->" if bi else "->"))
        (bidirected if bi else directed).append((a, b))
        nodes += [v for v in (a, b) if v not in nodes]
    graph = nx.DiGraph(directed)
    graph.add_nodes_from(nodes)
    order = list(nx.lexicographical_topological_sort(graph, key=nodes.index))
    return order, directed, bidirected


# -- the brute-force truth --------------------------------------------------------------------


def enumerate_scm(nodes, directed, bidirected, treatment, seed):
    """Observational joint and the joint under do(treatment) (entries at the values set)."""
    rng = np.random.default_rng(seed)
    parents = {v: [p for p in nodes if (p, v) in directed] for v in nodes}
    latents = {v: [k for k, arc in enumerate(bidirected) if v in arc] for v in nodes}
    table = {v: rng.uniform(0.1, 0.9, 2 ** (len(parents[v]) + len(latents[v]))) for v in nodes}
    p_latent = rng.uniform(0.2, 0.8, len(bidirected))
    where = {v: i for i, v in enumerate(nodes)}
    observed = np.zeros((2,) * len(nodes))
    intervened = np.zeros((2,) * len(nodes))
    for u in itertools.product((0, 1), repeat=len(bidirected)):
        weight = math.prod(p if bit else 1 - p for p, bit in zip(p_latent, u, strict=True))
        for values in itertools.product((0, 1), repeat=len(nodes)):
            natural = forced = weight
            for v in nodes:
                config = [values[where[p]] for p in parents[v]] + [u[k] for k in latents[v]]
                p1 = table[v][int("".join(map(str, config)), 2) if config else 0]
                factor = p1 if values[where[v]] else 1 - p1
                natural *= factor
                forced *= 1.0 if v in treatment else factor
            observed[values] += natural
            intervened[values] += forced
    return observed, intervened


def probability(joint, nodes, assignment: dict[str, int]) -> float:
    index = tuple(assignment.get(v, slice(None)) for v in nodes)
    return float(joint[index].sum())


def conditional(joint, nodes, values: dict[str, int], names, given) -> float:
    top = {n: values[n] for n in [*names, *given]}
    bottom = {n: values[n] for n in given}
    return probability(joint, nodes, top) / probability(joint, nodes, bottom)


# -- evaluating the peers' functionals --------------------------------------------------------


def eval_y0(expression, joint, nodes, values):
    from y0.dsl import Fraction, One, Probability, Product, Sum

    if isinstance(expression, Probability):
        names = [v.name for v in expression.children]
        given = [v.name for v in expression.parents]
        return conditional(joint, nodes, values, names, given)
    if isinstance(expression, Product):
        return math.prod(eval_y0(e, joint, nodes, values) for e in expression.expressions)
    if isinstance(expression, Sum):
        names = [v.name for v in expression.ranges]
        return sum(
            eval_y0(
                expression.expression, joint, nodes, values | dict(zip(names, bits, strict=True))
            )
            for bits in itertools.product((0, 1), repeat=len(names))
        )
    if isinstance(expression, Fraction):
        return eval_y0(expression.numerator, joint, nodes, values) / eval_y0(
            expression.denominator, joint, nodes, values
        )
    if isinstance(expression, One):
        return 1.0
    raise TypeError(type(expression))


def eval_dowhy(expression, joint, nodes, values):
    from dowhy.causal_identifier.id_identifier import IDExpression

    if isinstance(expression, IDExpression):
        names = list(expression.get_val(return_type="sum"))
        total = 0.0
        for bits in itertools.product((0, 1), repeat=len(names)):
            inner = values | dict(zip(names, bits, strict=True))
            total += math.prod(
                eval_dowhy(e, joint, nodes, inner) for e in expression.get_val(return_type="prod")
            )
        return total
    names, given = list(expression["outcome_vars"]), list(expression["condition_vars"])
    return conditional(joint, nodes, values, names, given)


def free_names_y0(expression) -> set[str]:
    return {v.name for v in expression.get_variables()}


# -- running the peers ----------------------------------------------------------------------------


def run_y0(nodes, directed, bidirected, treatment, outcome):
    from y0.algorithm.identify import Identification, Unidentifiable, identify
    from y0.dsl import P, Variable
    from y0.graph import NxMixedGraph

    var = {v: Variable(v) for v in nodes}
    graph = NxMixedGraph.from_edges(
        nodes=[var[v] for v in nodes],
        directed=[(var[a], var[b]) for a, b in directed],
        undirected=[(var[a], var[b]) for a, b in bidirected],
    )
    ys = [var[v] for v in outcome]
    query = P(*ys) if not treatment else P(*[y @ [var[x] for x in treatment] for y in ys])
    try:
        expression = identify(Identification.from_expression(graph=graph, query=query))
    except Unidentifiable as error:
        forest = sorted(str(v) for v in error.args[0])
        subs = [sorted(str(v) for v in s) for s in error.args[1]]
        return {"identifiable": False, "hedge": {"F": forest, "F_prime": subs}}, None
    except Exception as error:  # a crash inside y0: recorded, not decided
        return {"identifiable": None, "error": f"{type(error).__name__}: {error}"}, None
    return {
        "identifiable": True,
        "text": str(expression),
        "latex": expression.to_latex(),
    }, expression


def run_dowhy(nodes, directed, bidirected, treatment, outcome):
    from dowhy.causal_identifier.id_identifier import identify_effect_id

    result: dict = {}
    if not bidirected:
        graph = nx.DiGraph(directed)
        graph.add_nodes_from(nodes)
        expression = identify_effect_id(graph, treatment, outcome)
        result.update(identifiable=expression is not None, text=str(expression))
        return result, expression
    # as two opposite directed edges
    graph = nx.DiGraph(directed + bidirected + [(b, a) for a, b in bidirected])
    graph.add_nodes_from(nodes)
    try:
        identify_effect_id(graph, treatment, outcome)
        result["bidirected_as_two_edges"] = "returned"
    except Exception as error:  # DoWhy raises a bare Exception
        result["bidirected_as_two_edges"] = f"error: {error}"
    # with each latent as an explicit (but unobservable) node
    latent = [(f"U_{a}_{b}", a, b) for a, b in bidirected]
    graph = nx.DiGraph(directed + [(u, a) for u, a, _ in latent] + [(u, b) for u, _, b in latent])
    graph.add_nodes_from(nodes)
    expression = identify_effect_id(graph, treatment, outcome)
    text = str(expression)
    result["latents_as_nodes"] = {
        "text": text,
        "mentions_latent": any(u in text for u, _, _ in latent),
    }
    result["identifiable"] = None  # not decidable by DoWhy: see the module docstring
    return result, None


def main() -> None:
    records = []
    for seed, (name, edges, treatment, outcome) in enumerate(CASES):
        nodes, directed, bidirected = parse(edges)
        y0_result, y0_expression = run_y0(nodes, directed, bidirected, treatment, outcome)
        dowhy_result, dowhy_expression = run_dowhy(nodes, directed, bidirected, treatment, outcome)
        record = {
            "name": name,
            "graph": edges,
            "treatment": treatment,
            "outcome": outcome,
            "y0": y0_result,
            "dowhy": dowhy_result,
        }
        if y0_expression is not None:
            observed, intervened = enumerate_scm(nodes, directed, bidirected, treatment, seed)
            extra = sorted(free_names_y0(y0_expression) - set(treatment) - set(outcome))
            rows = []
            for xs in itertools.product((0, 1), repeat=len(treatment)):
                x = dict(zip(treatment, xs, strict=True))
                for ys in itertools.product((0, 1), repeat=len(outcome)):
                    y = dict(zip(outcome, ys, strict=True))
                    values = x | y | dict.fromkeys(extra, 0)
                    row = {
                        "x": x,
                        "y": y,
                        "truth": probability(intervened, nodes, x | y),
                        "y0": eval_y0(y0_expression, observed, nodes, values),
                    }
                    if dowhy_expression is not None:
                        row["dowhy"] = eval_dowhy(dowhy_expression, observed, nodes, values)
                    rows.append(row)
            record["numbers"] = {
                "seed": seed,
                "nodes": nodes,
                "joint": [float(p) for p in observed.ravel()],
                "other_names_set_to_0_where_free": extra,
                "effects": rows,
            }
        records.append(record)
        print(f"{name}: y0 {y0_result['identifiable']}, dowhy {dowhy_result['identifiable']}")
    meta = {
        "made_by": "tests/graph/reference/make_id_reference.py",
        "date": datetime.date.today().isoformat(),
        "versions": {
            pkg: importlib.metadata.version(pkg) for pkg in ("dowhy", "y0", "numpy", "networkx")
        },
        "note": (
            "joint: observational P(nodes) in C order over binary axes, one axis per entry of "
            "nodes; truth: P(y | do(x)) by enumeration of the SCM; y0 / dowhy: their "
            "functionals evaluated on the joint."
        ),
    }
    OUT.write_text(json.dumps({"meta": meta, "cases": records}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(records)} cases)")


if __name__ == "__main__":
    main()
