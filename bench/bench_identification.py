"""Listing minimal adjustment sets: paribus against DoWhy on random 50-node DAGs.

Run by hand in the bench environment::

    .venv-bench/bin/python bench/bench_identification.py

Twenty random DAGs on 50 nodes (each of the 1225 forward pairs an edge with
probability 4/49, about 100 edges: 2 per node), seed fixed. In each, the
treatment/outcome pair is drawn among the pairs where the outcome descends from the
treatment and they are confounded (the empty set is not a valid adjustment set) but
some valid set exists, so that there is something to find.

Timed (wall seconds, ``time.perf_counter``, best of 3):

* paribus ``minimal_adjustment_sets``: every minimal valid adjustment set;
* DoWhy's back-door search as ``identify_effect(method_name="minimal-adjustment")``
  runs it (``auto_identifier.identify_backdoor``): back-door sets tried by increasing
  size, returning those of the smallest size that works;
* DoWhy's generalized adjustment (``identify_generalized_adjustment_set``): one
  minimal set, through networkx's ``find_minimal_d_separator``;
* the whole ``CausalModel(...).identify_effect(method_name="minimal-adjustment")``,
  once, in a child process stopped after ``FULL_LIMIT`` seconds: besides the two
  searches above it runs an exhaustive front-door search over the subsets of the
  treatment's descendants, exponential in their number.

The ratios compare different outputs (all minimal sets against DoWhy's smallest
back-door sets or a single set), so they bound what the listing costs, not a
like-for-like race.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import platform
import queue as queue_module
import random
import time
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from paribus.graph import CausalGraph
from paribus.graph.adjustment import is_adjustment_set, minimal_adjustment_sets

N_NODES, N_GRAPHS, SEED, FULL_LIMIT = 50, 20, 2024, 20.0
PACKAGES = ["networkx", "dowhy", "paribus"]


def make_cases() -> list[tuple[CausalGraph, str, str]]:
    rng = random.Random(SEED)
    names = [f"V{i}" for i in range(N_NODES)]
    p = 4 / (N_NODES - 1)
    cases = []
    while len(cases) < N_GRAPHS:
        edges = [
            (names[i], names[j])
            for i in range(N_NODES)
            for j in range(i + 1, N_NODES)
            if rng.random() < p
        ]
        g = CausalGraph(edges, nodes=names)
        pairs = [
            (x, y)
            for x in names
            for y in sorted(g.descendants(x) - {x})
            if not is_adjustment_set(g, x, y, ()) and minimal_adjustment_sets(g, x, y)
        ]
        if pairs:
            x, y = rng.choice(pairs)
            cases.append((g, x, y))
    return cases


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[Any, float]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def to_networkx(g: CausalGraph) -> Any:
    import networkx as nx

    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from(g.directed_edges)
    return h


def _full_identify(
    edges: list[tuple[str, str]], nodes: list[str], x: str, y: str, out: Any
) -> None:
    import networkx as nx
    import numpy as np
    import pandas as pd
    from dowhy import CausalModel

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    h = nx.DiGraph(edges)
    h.add_nodes_from(nodes)
    model = CausalModel(pd.DataFrame(np.zeros((4, len(nodes))), columns=nodes), x, y, graph=h)
    out.put("ready")
    start = time.perf_counter()
    model.identify_effect(method_name="minimal-adjustment")
    out.put(time.perf_counter() - start)


def full_identify_time(g: CausalGraph, x: str, y: str) -> float | None:
    """Seconds of DoWhy's whole identify_effect, or None past FULL_LIMIT."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_full_identify, args=(list(g.directed_edges), list(g.nodes), x, y, queue)
    )
    proc.start()
    try:
        queue.get(timeout=120)  # DoWhy imported, model built: start the clock
        seconds: float | None = queue.get(timeout=FULL_LIMIT)
    except queue_module.Empty:
        seconds = None
    if proc.is_alive():
        proc.terminate()
    proc.join()
    return seconds


def main() -> None:
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}")
    found = []
    for pkg in PACKAGES:
        try:
            found.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            found.append(f"{pkg} (not installed)")
    print(", ".join(found))
    try:
        from dowhy.causal_identifier.auto_identifier import (
            BackdoorAdjustment,
            identify_backdoor,
            identify_generalized_adjustment_set,
        )

        have_dowhy = True
    except ImportError:
        have_dowhy = False
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)

    cases = make_cases()
    print(
        f"\n{N_GRAPHS} random DAGs, {N_NODES} nodes, edges: "
        f"{min(len(g.directed_edges) for g, _, _ in cases)}-"
        f"{max(len(g.directed_edges) for g, _, _ in cases)}; times in ms (best of 3)"
    )
    header = f"{'graph':>5} {'X->Y':>9} {'#sets':>5} {'paribus':>9}"
    if have_dowhy:
        header += (
            f" {'dowhy-bd':>9} {'#':>3} {'size':>4} {'agree':>5} {'dowhy-gen':>9} {'full(s)':>8}"
        )
    print(header)
    totals = {"paribus": 0.0, "backdoor": 0.0, "general": 0.0}
    full_times: list[float | None] = []
    for k, (g, x, y) in enumerate(cases):
        sets, t_ours = best_of(lambda g=g, x=x, y=y: minimal_adjustment_sets(g, x, y))
        totals["paribus"] += t_ours
        line = f"{k:>5} {x + '->' + y:>9} {len(sets):>5} {t_ours * 1e3:>9.2f}"
        if have_dowhy:
            h, names = to_networkx(g), list(g.nodes)
            bd, t_bd = best_of(
                lambda h=h, x=x, y=y, names=names: identify_backdoor(
                    h, [x], [y], names, BackdoorAdjustment.BACKDOOR_MIN
                )
            )
            _, t_gen = best_of(
                lambda h=h, x=x, y=y, names=names: identify_generalized_adjustment_set(
                    h, [x], [y], names
                )
            )
            totals["backdoor"] += t_bd
            totals["general"] += t_gen
            size = len(bd[0].get_adjustment_variables()) if bd else -1
            # DoWhy's smallest back-door sets should be among paribus's minimal sets
            agree = all(frozenset(b.get_adjustment_variables()) in sets for b in bd)
            full = full_identify_time(g, x, y)
            full_times.append(full)
            full_txt = f"{full:8.2f}" if full is not None else f"  >{FULL_LIMIT:.0f}"
            line += (
                f" {t_bd * 1e3:>9.2f} {len(bd):>3} {size:>4} {'yes' if agree else 'NO':>5}"
                f" {t_gen * 1e3:>9.2f}"
                f" {full_txt:>8}"
            )
        print(line, flush=True)
    print(
        f"\ntotal, {N_GRAPHS} graphs: paribus all minimal sets {totals['paribus'] * 1e3:.1f} ms "
        f"(mean {totals['paribus'] / N_GRAPHS * 1e3:.2f} ms per graph)"
    )
    if have_dowhy:
        print(
            f"DoWhy back-door search (smallest sets) {totals['backdoor'] * 1e3:.1f} ms, "
            f"ratio DoWhy/paribus {totals['backdoor'] / totals['paribus']:.1f}"
        )
        print(
            f"DoWhy generalized adjustment (one set) {totals['general'] * 1e3:.1f} ms, "
            f"ratio DoWhy/paribus {totals['general'] / totals['paribus']:.1f}"
        )
        done = [t for t in full_times if t is not None]
        print(
            f"DoWhy full identify_effect: {len(done)}/{N_GRAPHS} finished within "
            f"{FULL_LIMIT:.0f} s" + (f", total {sum(done):.2f} s over those" if done else "")
        )
    else:
        print("DoWhy not importable: run with .venv-bench/bin/python for the comparison.")


if __name__ == "__main__":
    main()
