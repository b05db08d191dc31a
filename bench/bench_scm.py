"""Structural causal models: paribus vs DoWhy gcm (0.14).

Two parts, run with the bench venv (DoWhy installed, paribus importable)::

    /work/main/.venv-bench/bin/python bench/bench_scm.py change     # timing
    /work/main/.venv-bench/bin/python bench/bench_scm.py anomaly    # root-cause rates

* ``change``: a 30-node random DAG with linear additive-noise mechanisms, 100,000 rows
  before and after a change of three mechanisms; fitting and distribution-change
  attribution of the sink's mean (paribus ``attribute_change`` vs
  ``gcm.distribution_change``), both with linear regressions; wall time and ratio printed.
* ``anomaly``: random DAGs of 10-15 nodes (linear or nonlinear additive noise), an
  anomaly planted as a large noise value at a random ancestor of the sink (scaled until
  the sink is a 3-sd outlier, at most 8 noise sd); the share of cases whose top-ranked
  root cause is the planted node, for paribus ``attribute_anomaly`` and
  ``gcm.attribute_anomalies``, with the same mechanisms (linear regression, or additive
  cubic splines with 4 knots that extrapolate linearly). The DoWhy rate is written to
  ``tests/scm/data/dowhy_anomaly_rate.json``.

:func:`make_case` is shared with the slow test in ``tests/scm/test_attribution.py``.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def random_dag(p: int, rng: np.random.Generator, prob: float = 0.3) -> list[tuple[str, str]]:
    """Edges ``Xi -> Xj`` (i < j) with probability ``prob``, at most 3 parents each."""
    edges = []
    for j in range(1, p):
        parents = [i for i in range(j) if rng.random() < prob]
        if not parents:
            parents = [int(rng.integers(0, j))]
        for i in rng.permutation(parents)[:3]:
            edges.append((f"X{i}", f"X{j}"))
    return edges


def _f(x: np.ndarray, nonlinear: bool) -> np.ndarray:
    # nonlinear near the centre, slope 1 in the tails: an outlier's effect on its children
    # is then identifiable by extrapolation (x + 0.5 sin(2x), whose slope oscillates
    # between 0 and 2 forever, made the planted node unidentifiable for both libraries)
    return x + 1.5 * np.tanh(x) if nonlinear else x


def simulate(
    p: int,
    edges: list[tuple[str, str]],
    coefs: dict[tuple[str, str], float],
    noise: np.ndarray,
    nonlinear: bool,
) -> pd.DataFrame:
    """Values from noise ``(n, p)``: ``Xj = sum coef * f(Xi) + N_j``."""
    values: dict[str, np.ndarray] = {}
    for j in range(p):
        v = f"X{j}"
        total = noise[:, j].copy()
        for a, b in edges:
            if b == v:
                total += coefs[(a, b)] * _f(values[a], nonlinear)
        values[v] = total
    return pd.DataFrame(values)


def make_case(seed: int, nonlinear: bool, n: int = 2000) -> dict[str, Any] | None:
    """A random DAG, training data and one planted anomaly at an ancestor of the sink."""
    rng = np.random.default_rng(seed)
    p = int(rng.integers(10, 16))
    edges = random_dag(p, rng)
    coefs = {e: float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.2)) for e in edges}
    scale = rng.uniform(0.5, 1.5, p)
    data = simulate(p, edges, coefs, rng.normal(size=(n, p)) * scale, nonlinear)
    target = f"X{p - 1}"
    parents: dict[str, set[str]] = {f"X{j}": set() for j in range(p)}
    for a, b in edges:
        parents[b].add(a)
    ancestors, stack = {target}, [target]
    while stack:
        for a in parents[stack.pop()]:
            if a not in ancestors:
                ancestors.add(a)
                stack.append(a)
    planted = str(rng.choice(sorted(ancestors)))
    j = int(planted[1:])
    base = rng.normal(size=(1, p)) * scale * 0.5
    sd, centre = float(data[target].std()), float(data[target].median())
    sign = float(rng.choice([-1, 1]))
    for c in (3, 4, 5, 6, 8):
        noise = base.copy()
        noise[0, j] = sign * c * scale[j]
        row = simulate(p, edges, coefs, noise, nonlinear)
        if abs(float(row[target].iloc[0]) - centre) > 3.0 * sd:
            return {"edges": edges, "data": data, "row": row, "target": target, "planted": planted}
    return None


def regressor(nonlinear: bool) -> Any:
    """Linear regression, or additive cubic splines that extrapolate linearly (trees
    cannot extrapolate to the planted outliers, which then look like target noise)."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    if not nonlinear:
        return LinearRegression()
    return make_pipeline(SplineTransformer(n_knots=4, extrapolation="linear"), LinearRegression())


def paribus_top(case: dict[str, Any], nonlinear: bool, seed: int) -> str:

    from paribus.scm.attribution import attribute_anomaly
    from paribus.scm.mechanisms import AdditiveNoiseModel
    from paribus.scm.model import StructuralCausalModel

    reg = regressor(nonlinear)
    children = {b for _, b in case["edges"]}
    mechs = {v: AdditiveNoiseModel(reg) for v in children}
    model = StructuralCausalModel(case["edges"], mechs, random_state=seed).fit(case["data"])
    res = attribute_anomaly(model, case["row"], case["target"], n_samples=10_000, random_state=seed)
    return res.root_cause


def dowhy_top(case: dict[str, Any], nonlinear: bool) -> str:
    import networkx as nx
    from dowhy import gcm

    model = gcm.StructuralCausalModel(nx.DiGraph(case["edges"]))
    for v in model.graph.nodes:
        if model.graph.in_degree(v) == 0:
            model.set_causal_mechanism(v, gcm.EmpiricalDistribution())
        else:
            reg = regressor(nonlinear)
            model.set_causal_mechanism(
                v, gcm.AdditiveNoiseModel(gcm.ml.SklearnRegressionModel(reg))
            )
    gcm.fit(model, case["data"])
    attr = gcm.attribute_anomalies(model, case["target"], anomaly_samples=case["row"])
    return max(attr, key=lambda k: float(np.asarray(attr[k])[0]))


def anomaly_rates(n_cases: int = 40, which: str = "both") -> dict[str, Any]:
    import paribus

    paribus.config(n_jobs=1)  # small fits: in-process is faster than workers on 2 cores
    hits = {"paribus": 0, "dowhy": 0}
    used = 0
    seed = 0
    while used < n_cases:
        nonlinear = seed % 2 == 1
        case = make_case(seed, nonlinear)
        seed += 1
        if case is None:
            continue
        used += 1
        if which in ("both", "paribus"):
            hits["paribus"] += paribus_top(case, nonlinear, seed) == case["planted"]
        if which in ("both", "dowhy"):
            hits["dowhy"] += dowhy_top(case, nonlinear) == case["planted"]
    return {k: v / n_cases for k, v in hits.items()} | {"n_cases": n_cases}


def change_bench(n: int = 100_000, p: int = 30, seed: int = 0) -> dict[str, float]:
    import networkx as nx
    from dowhy import gcm
    from sklearn.linear_model import LinearRegression

    from paribus.scm.attribution import attribute_change
    from paribus.scm.mechanisms import AdditiveNoiseModel
    from paribus.scm.model import StructuralCausalModel

    rng = np.random.default_rng(seed)
    edges = random_dag(p, rng, prob=0.15)
    coefs = {e: float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.8)) for e in edges}
    graph = nx.DiGraph(edges)
    target = max(graph.nodes, key=lambda v: len(nx.ancestors(graph, v)))
    upstream = sorted(nx.ancestors(graph, target))
    old = simulate(p, edges, coefs, 1.0 + rng.normal(size=(n, p)), False)
    # three changed mechanisms upstream of the target: two edge weights and one noise scale
    changed = dict(coefs)
    inner = [e for e in edges if e[1] in upstream or e[1] == target]
    picked = [inner[int(k)] for k in rng.choice(len(inner), 2, replace=False)]
    for e in picked:
        changed[e] += 0.5
    noise_new = 1.0 + rng.normal(size=(n, p))
    noisy = int(str(rng.choice(upstream))[1:])
    noise_new[:, noisy] = 2.0 * noise_new[:, noisy] - 0.5
    new = simulate(p, edges, changed, noise_new, False)
    print(
        f"target {target} with {len(upstream)} ancestors; changed edges {picked} "
        f"and the noise of X{noisy}"
    )
    children = {b for _, b in edges}

    t0 = time.perf_counter()
    mechs = {v: AdditiveNoiseModel(LinearRegression()) for v in children}
    ours = attribute_change(
        StructuralCausalModel(edges, mechs, random_state=0, n_jobs=1),
        old,
        new,
        target,
        random_state=0,
    )
    t_paribus = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = gcm.StructuralCausalModel(nx.DiGraph(edges))
    for v in model.graph.nodes:
        if model.graph.in_degree(v) == 0:
            model.set_causal_mechanism(v, gcm.EmpiricalDistribution())
        else:
            model.set_causal_mechanism(v, gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor()))
    theirs = gcm.distribution_change(
        model, old, new, target, difference_estimation_func=lambda a, b: np.mean(b) - np.mean(a)
    )
    t_dowhy = time.perf_counter() - t0
    top_ours = ours.contributions["node"].iloc[0]
    top_theirs = max(theirs, key=lambda k: abs(theirs[k]))
    print(ours)
    print("dowhy:", dict(sorted(theirs.items(), key=lambda kv: -abs(kv[1]))[:5]))
    return {
        "paribus_s": t_paribus,
        "dowhy_s": t_dowhy,
        "ratio": t_dowhy / t_paribus,
        "same_top": float(top_ours == top_theirs),
        "change_paribus": ours.change,
        "change_dowhy": float(sum(theirs.values())),
    }


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else "change"
    import dowhy

    import paribus

    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} python {platform.python_version()} "
        f"paribus {getattr(paribus, '__version__', '?')} dowhy {dowhy.__version__}"
    )
    if part == "change":
        print(json.dumps(change_bench(), indent=1))
    else:
        which = sys.argv[2] if len(sys.argv) > 2 else "both"
        rates = anomaly_rates(which=which)
        print(json.dumps(rates, indent=1))
        if which in ("both", "dowhy"):
            out = Path(__file__).resolve().parents[1] / "tests/scm/data/dowhy_anomaly_rate.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            note = (
                "written by bench/bench_scm.py anomaly (DoWhy 0.14 gcm.attribute_anomalies "
                "on the cases of make_case; top-ranked root cause == planted node)"
            )
            out.write_text(
                json.dumps(
                    {"note": note, "dowhy": rates["dowhy"], "n_cases": rates["n_cases"]}, indent=1
                )
            )


if __name__ == "__main__":
    main()
