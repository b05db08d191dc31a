"""Test a causal graph against data: its implied independences, and a random-graph baseline.

A causal DAG implies conditional independences (d-separation). :func:`falsify`
tests a basis of them (:meth:`CausalGraph.implied_independences`) with a
conditional-independence test from :mod:`paribus.graph.ci_tests`, controls the
multiple testing, and asks whether the data can tell the graph apart from random
graphs at all.

The baseline follows the node-permutation test of Eulig, Mastakouri, Blöbaum,
Hardt & Janzing ("Toward falsifying causal graphs using a permutation-based
test", arXiv:2305.09565): relabelling the nodes of the user's graph at random
keeps its shape (number of edges, degrees, depth) but scrambles which variable
sits where. If the user's graph rejects no fewer of its implied independences
than most relabellings do, the data carry no evidence for its particular
structure, however few rejections it has; if it rejects fewer than almost all of
them, its structure is informative. The empirical p-value is
``(1 + #{relabellings rejecting at most as large a share}) / (1 + B)``
(Phipson & Smyth 2010, so it is never 0).

A relabelled graph implies exactly the relabelled independences (a relabelling is
a graph isomorphism), so each random graph's claims are the user's basis with the
names permuted: every graph makes the same number of claims with conditioning
sets of the same sizes, and the shares compare like with like. A claim shared by
several graphs is tested once, and tests built on residuals fit each
(variable, conditioning set) regression once; randomised tests draw their seed
from ``random_state`` and the names involved, so a claim's result does not depend
on which other graphs were drawn, on ``n_permutations`` or on ``n_jobs``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import html
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from paribus._core.parallel import run_tasks
from paribus._core.params import (
    N_JOBS,
    NONE,
    RANDOM_STATE,
    Instance,
    Interval,
    Options,
    validate_params,
)
from paribus._core.random import seed_sequence
from paribus.data.convert import to_pandas
from paribus.errors import DataError
from paribus.graph.causal_graph import CausalGraph
from paribus.graph.ci_tests import CITest, ResidualTest, get_ci_test, single_threaded
from paribus.results._frozen import to_plain

__all__ = ["FalsificationReport", "falsify"]

#: a canonical test key: (x, y, conditioning set) with x < y and the set sorted
_Key = tuple[str, str, tuple[str, ...]]

_CORRECTIONS = ("holm", "bonferroni", "fdr_bh")
_CORRECTION_NAMES = {
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "fdr_bh": "Benjamini-Hochberg FDR",
    None: "no correction",
}
_CONSTRAINTS: dict[str, list[Any]] = {
    "alpha": [Interval(0, 1, closed="neither")],
    "correction": [Options(_CORRECTIONS), NONE],
    "n_permutations": [Interval(0, None, integer=True)],
    "random_state": [RANDOM_STATE],
    "n_jobs": [N_JOBS],
    "show_progress": [Instance((bool,)), NONE],
}


@dataclasses.dataclass(frozen=True, eq=False)
class FalsificationReport:
    """The result of :func:`falsify`: which implied independences the data reject.

    Attributes
    ----------
    test : str
        The conditional-independence test's name.
    alpha : float
        Level of every test (after ``correction``) and of the permutation baseline.
    correction : str or None
        Multiple-testing correction within a graph: ``"holm"``, ``"bonferroni"``,
        ``"fdr_bh"`` or ``None``.
    n_obs : int
        Rows of data used.
    graph : str
        The tested graph as an edge string.
    nodes : tuple of str
    n_edges : int
    rows : tuple
        One ``(x, y, given, statistic, p_value, p_adjusted, rejected)`` per implied
        independence; :attr:`tests` shows them as a DataFrame.
    random_share_rejected : ndarray
        Share of implied independences rejected in each relabelled graph
        (read-only; empty when ``n_permutations=0``).
    n_random_as_good : int
        Relabelled graphs rejecting at most the user's graph's share.
    n_random_equivalent : int
        Relabelled graphs implying exactly the user's graph's independences
        (automorphisms); they always tie.
    n_tests_run : int
        Distinct (x, y, given) tests run over the user's and the random graphs.

    The statistic is the test's own: the partial correlation
    (``"partial_correlation"``), F or likelihood-ratio chi-square (``"regression"``),
    or the normalised GCM ``T`` (``"gcm"``).
    """

    test: str
    alpha: float
    correction: str | None
    n_obs: int
    graph: str
    nodes: tuple[str, ...]
    n_edges: int
    rows: tuple[tuple[Any, ...], ...]
    random_share_rejected: np.ndarray
    n_random_as_good: int
    n_random_equivalent: int
    n_tests_run: int

    _COLUMNS = ("x", "y", "given", "statistic", "p_value", "p_adjusted", "rejected")

    def __post_init__(self) -> None:
        shares = np.array(self.random_share_rejected, dtype=float, copy=True)
        shares.setflags(write=False)
        object.__setattr__(self, "random_share_rejected", shares)
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))

    # -- figures -----------------------------------------------------------------------------

    @property
    def tests(self) -> pd.DataFrame:
        """One row per implied independence: x, y, given (a tuple), statistic, p-values,
        rejected."""
        return pd.DataFrame(list(self.rows), columns=list(self._COLUMNS))

    @property
    def n_implied(self) -> int:
        return len(self.rows)

    @property
    def n_rejected(self) -> int:
        return sum(bool(r[6]) for r in self.rows)

    @property
    def share_rejected(self) -> float:
        return self.n_rejected / self.n_implied if self.rows else math.nan

    @property
    def n_permutations(self) -> int:
        return int(self.random_share_rejected.size)

    @property
    def permutation_p_value(self) -> float:
        """``(1 + n_random_as_good) / (1 + n_permutations)``; NaN without permutations."""
        if not self.rows or self.n_permutations == 0:
            return math.nan
        return (1 + self.n_random_as_good) / (1 + self.n_permutations)

    @property
    def verdict(self) -> str:
        """A plain-language reading of the figures."""
        if not self.rows:
            return (
                f"The graph implies no conditional independence among its {len(self.nodes)} "
                "nodes: there is nothing to test (every pair is adjacent, or an ADMG's "
                "constraints are not conditional independences), so the data cannot "
                "contradict it."
            )
        corr = _CORRECTION_NAMES[self.correction]
        head = (
            f"{self.n_rejected} of {self.n_implied} implied independences "
            f"{'is' if self.n_implied == 1 else 'are'} rejected ({corr}, alpha {self.alpha:g})"
        )
        if self.n_permutations == 0:
            return head + "; no random-graph baseline was run (n_permutations=0)."
        b = self.n_permutations
        if self.n_random_equivalent == b:
            return (
                head + f"; all {b} relabellings of the graph imply the same independences, "
                "so random graphs of its shape cannot be told apart from it."
            )
        share = self.n_random_as_good / b
        pct = f"{100 * share:.0f}%" if share == 0 or share >= 0.01 else f"{100 * share:.1g}%"
        base = (
            f"{head}; random graphs on the same nodes reject as few in {pct} of {b} "
            f"permutations (p = {self.permutation_p_value:.3g}): "
        )
        if self.permutation_p_value <= self.alpha:
            tail = "the data support the graph's structure better than chance"
            if self.n_rejected:
                tail += (
                    ", though the rejected independences point to missing edges or "
                    "latent confounding (see .tests)"
                )
        else:
            tail = (
                "the data cannot tell the graph apart from random graphs of the same shape "
                "(its structure is not supported, or the tests lack power)"
            )
        return base + tail + "."

    # -- output ------------------------------------------------------------------------------

    def _table_rows(self) -> list[list[str]]:
        out = []
        for x, y, given, stat, p, p_adj, rej in self.rows:
            out.append(
                [
                    x,
                    y,
                    ", ".join(given) if given else "-",
                    _fmt_stat(stat),
                    _fmt_p(p),
                    _fmt_p(p_adj),
                    "yes" if rej else "",
                ]
            )
        return out

    _HEADER = ("x", "y", "given", "statistic", "p", "p adj.", "rejected")

    def _heading(self) -> list[str]:
        perms = f"{self.n_permutations} permutations" if self.n_permutations else "none"
        return [
            f"Falsification of a causal graph: {len(self.nodes)} nodes, {self.n_edges} edges, "
            f"{self.n_implied} implied independences",
            f"test: {self.test}   correction: {_CORRECTION_NAMES[self.correction]}   "
            f"alpha: {self.alpha:g}   n: {self.n_obs:,}   random-graph baseline: {perms}",
        ]

    def summary(self) -> str:
        """A readable table of the tests, with the verdict."""
        lines = self._heading()
        if self.rows:
            rows = [list(self._HEADER), *self._table_rows()]
            widths = [max(len(r[j]) for r in rows) for j in range(len(self._HEADER))]
            table = []
            for k, r in enumerate(rows):
                cells = [c.ljust(w) for c, w in zip(r[:3], widths[:3], strict=True)]
                cells += [c.rjust(w) for c, w in zip(r[3:], widths[3:], strict=True)]
                table.append("  ".join(cells).rstrip())
                if k == 0:
                    table.append("-" * len(table[0]))
            lines += ["", *table]
        if self.n_permutations:
            s = self.random_share_rejected
            lines += [
                "",
                f"share rejected: graph {self.share_rejected:.3f}; random graphs median "
                f"{np.median(s):.3f}, range [{s.min():.3f}, {s.max():.3f}]",
            ]
        lines += ["", self.verdict]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"FalsificationReport(test={self.test!r}, n_implied={self.n_implied}, "
            f"n_rejected={self.n_rejected}, permutation_p_value={self.permutation_p_value:.3g})"
        )

    def to_html(self) -> str:
        """An HTML rendering (used by notebooks)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in self._table_rows()
        )
        caption = html.escape(" — ".join(self._heading()))
        return (
            f'<div class="paribus-falsification"><table class="paribus-summary">'
            f"<caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table><p>{html.escape(self.verdict)}</p></div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: NaN and infinities become ``None``."""
        out = {
            "test": self.test,
            "alpha": self.alpha,
            "correction": self.correction,
            "n_obs": self.n_obs,
            "graph": self.graph,
            "nodes": list(self.nodes),
            "n_edges": self.n_edges,
            "n_implied": self.n_implied,
            "n_rejected": self.n_rejected,
            "share_rejected": self.share_rejected,
            "n_permutations": self.n_permutations,
            "permutation_p_value": self.permutation_p_value,
            "n_random_as_good": self.n_random_as_good,
            "n_random_equivalent": self.n_random_equivalent,
            "random_share_rejected": [float(v) for v in self.random_share_rejected],
            "n_tests_run": self.n_tests_run,
            "tests": [
                {
                    "x": x,
                    "y": y,
                    "given": list(given),
                    "statistic": float(stat),
                    "p_value": float(p),
                    "p_adjusted": float(p_adj),
                    "rejected": bool(rej),
                }
                for x, y, given, stat, p, p_adj, rej in self.rows
            ],
            "verdict": self.verdict,
        }
        return dict(to_plain(out))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "nan"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _fmt_stat(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.3g}" if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3) else f"{x:.3f}"


# -- data ------------------------------------------------------------------------------------


def _columns_are(items: list[str]) -> str:
    return f"column {items[0]} is" if len(items) == 1 else f"columns {', '.join(items)} are"


def _numeric_columns(data: Any, nodes: Sequence[str]) -> dict[str, np.ndarray]:
    """The graph's columns as float arrays, refusing missing, non-numeric, NaN or constant."""
    frame = to_pandas(data)
    columns = [str(c) for c in frame.columns]
    missing = [v for v in nodes if v not in columns]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, columns, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise DataError(
            f"graph node{'s' if len(missing) > 1 else ''} {', '.join(hints)} not among the "
            f"data columns ({', '.join(columns)}); rename the columns or the nodes so they "
            "match (every node must be measured; model an unmeasured common cause with a "
            "bidirected edge)."
        )
    frame = frame.loc[:, [c for c in frame.columns if str(c) in set(nodes)]]
    frame.columns = [str(c) for c in frame.columns]
    bad = [
        f"{c!r} ({frame[c].dtype})"
        for c in nodes
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]
    if bad:
        raise DataError(
            f"{_columns_are(bad)} not numeric; the "
            "independence tests need numbers. Encode binary variables as 0/1 and ordered "
            "categories as integer codes (e.g. df[c].cat.codes); split an unordered "
            "category into 0/1 indicator nodes."
        )
    out: dict[str, np.ndarray] = {}
    problems = []
    for c in nodes:
        arr = frame[c].to_numpy(dtype=float, na_value=np.nan)
        n_bad = int(np.sum(~np.isfinite(arr)))
        if n_bad:
            problems.append(f"{c!r} ({n_bad} missing or infinite)")
        out[c] = arr
    if problems:
        raise DataError(
            f"column{'s' if len(problems) > 1 else ''} {', '.join(problems)} cannot be "
            "tested; drop those rows (df.dropna()) or impute them first."
        )
    constant = [c for c in nodes if out[c].size and np.all(out[c] == out[c][0])]
    if constant:
        raise DataError(
            f"{_columns_are([repr(c) for c in constant])} constant; a constant is "
            "independent of everything, so it tests nothing. Drop it from the graph."
        )
    return out


# -- tests -----------------------------------------------------------------------------------


def _name_seed(entropy: Any, names: Sequence[str]) -> int:
    """A 32-bit seed from the root entropy and the names involved (stable across runs)."""
    digest = hashlib.blake2b("\x1f".join(names).encode(), digest_size=8).digest()
    words = (int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little"))
    return int(np.random.SeedSequence(entropy, spawn_key=(1, *words)).generate_state(1)[0])


def _test_group(
    test: CITest,
    columns: dict[str, np.ndarray],
    given: tuple[str, ...],
    pairs: list[tuple[str, str]],
    seed: int,
) -> list[tuple[float, float]]:
    """Every pair tested given one conditioning set (residuals shared where the test allows).

    Learners run single-threaded: the work parallelises over conditioning sets
    instead, and OpenMP-threaded boosting on a loaded machine can be an order of
    magnitude slower than one thread.
    """
    with single_threaded():
        return _test_group_body(test, columns, given, pairs, seed)


def _test_group_body(
    test: CITest,
    columns: dict[str, np.ndarray],
    given: tuple[str, ...],
    pairs: list[tuple[str, str]],
    seed: int,
) -> list[tuple[float, float]]:
    z = (
        np.column_stack([columns[g] for g in given])
        if given
        else np.empty((len(next(iter(columns.values()))), 0))
    )
    if isinstance(test, ResidualTest):
        resid: dict[str, np.ndarray] = {}
        for v in dict.fromkeys(v for pair in pairs for v in pair):
            resid[v] = test.residuals(columns[v], z, seed)
        return [test.combine(resid[x], resid[y], z.shape[1]) for x, y in pairs]
    return [test(columns[x], columns[y], z, random_state=seed) for x, y in pairs]


def _key(x: str, y: str, given: Sequence[str]) -> _Key:
    a, b = sorted((x, y))
    return a, b, tuple(sorted(given))


def _reject(p: np.ndarray, alpha: float, correction: str | None) -> np.ndarray:
    """Rejections for each row of p-values ``(graphs, claims)`` under ``correction``.

    The decisions of ``statsmodels.stats.multitest.multipletests`` (Holm 1979
    step-down, Bonferroni, Benjamini & Hochberg 1995 step-up), vectorised over
    graphs: statsmodels' Holm calls ``gc.collect()`` on every call, which costs a
    tenth of a second in a large process, times each random graph.
    """
    m = p.shape[1]
    if correction is None:
        return p <= alpha
    if correction == "bonferroni":
        return p <= alpha / m
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)
    if correction == "holm":
        ranked_reject = np.logical_and.accumulate(ranked <= alpha / np.arange(m, 0, -1), axis=1)
    else:  # fdr_bh: reject up to the largest rank below the line
        below = ranked <= alpha * np.arange(1, m + 1) / m
        last = np.where(below.any(axis=1), m - 1 - np.argmax(below[:, ::-1], axis=1), -1)
        ranked_reject = np.arange(m)[None, :] <= last[:, None]
    out = np.empty_like(ranked_reject)
    np.put_along_axis(out, order, ranked_reject, axis=1)
    return out


def _adjusted(p: np.ndarray, alpha: float, correction: str | None) -> np.ndarray:
    if correction is None:
        return p.copy()
    return np.asarray(multipletests(p, alpha=alpha, method=correction)[1], dtype=float)


def falsify(
    graph: Any,
    data: Any,
    *,
    test: str | CITest | Callable[..., tuple[float, float]] = "partial_correlation",
    alpha: float = 0.05,
    correction: str | None = "holm",
    n_permutations: int = 100,
    random_state: int | None = None,
    n_jobs: int | None = None,
    show_progress: bool | None = None,
) -> FalsificationReport:
    """Test the conditional independences a causal graph implies, against random graphs.

    Parameters
    ----------
    graph : CausalGraph or anything :class:`CausalGraph` accepts
        Every node must be a column of ``data``.
    data : DataFrame-like
        Anything :func:`paribus.data.convert.to_pandas` accepts; the graph's columns
        must be numeric and complete. Other columns are ignored.
    test : {"partial_correlation", "regression", "gcm"}, CITest or callable
        The conditional-independence test (:mod:`paribus.graph.ci_tests`): a name,
        a configured test object such as ``GCM(learner=..., folds=...)``, or a
        function ``f(x, y, z) -> (statistic, p_value)``.
    alpha : float, default 0.05
        Level of the tests after correction, and of the baseline's verdict.
    correction : {"holm", "bonferroni", "fdr_bh"} or None, default "holm"
        Multiple-testing correction over one graph's implied independences
        (``statsmodels.stats.multitest.multipletests``); the random graphs are
        corrected the same way.
    n_permutations : int, default 100
        Random relabellings of the graph's nodes in the baseline; 0 skips it.
    random_state : int, optional
        Seeds the relabellings and any randomised test (GCM's folds); the same
        seed gives the same report whatever ``n_jobs``.
    n_jobs : int, optional
        Parallel workers through the shared backend (-1: all cores), one task per
        conditioning set; learners inside the tests run single-threaded.
    show_progress : bool, optional
        Progress bar; by default on an interactive terminal only.

    Returns
    -------
    FalsificationReport

    Raises
    ------
    paribus.errors.ParameterError
        For an unknown test name (listing the valid ones) or a bad setting.
    paribus.errors.DataError
        When graph nodes are missing from the data (with close matches), columns
        are not numeric, or hold missing, infinite or constant values.
    paribus.errors.GraphError
        When ``graph`` cannot be parsed or is cyclic.

    Notes
    -----
    A non-rejected independence is not proof of the graph: tests have limited
    power, and many graphs imply the same independences (a Markov equivalence
    class cannot be told apart from observational data). A rejected one, given a
    test whose assumptions hold, means the graph misses an edge or a latent
    confounder between that pair. See the module docstring for the baseline.
    """
    ci = get_ci_test(test)
    validate_params(
        "falsify",
        {
            "alpha": alpha,
            "correction": correction,
            "n_permutations": n_permutations,
            "random_state": random_state,
            "n_jobs": n_jobs,
            "show_progress": show_progress,
        },
        _CONSTRAINTS,
    )
    g = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
    nodes = g.nodes
    columns = _numeric_columns(data, nodes)
    n_obs = len(next(iter(columns.values()))) if columns else 0
    claims = g.implied_independences()
    report = functools.partial(
        FalsificationReport,
        test=ci.name,
        alpha=float(alpha),
        correction=correction,
        n_obs=n_obs,
        graph=g.to_string(),
        nodes=nodes,
        n_edges=len(g.directed_edges) + len(g.bidirected_edges),
    )
    if not claims:
        return report(
            rows=(),
            random_share_rejected=np.empty(0),
            n_random_as_good=0,
            n_random_equivalent=0,
            n_tests_run=0,
        )

    root = seed_sequence(random_state)
    rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(0,)))
    graphs: list[list[_Key]] = [[_key(x, y, z) for x, y, z in claims]]
    for _ in range(n_permutations):
        relabel = dict(zip(nodes, rng.permutation(np.array(nodes, dtype=object)), strict=True))
        graphs.append([_key(relabel[x], relabel[y], [relabel[v] for v in z]) for x, y, z in claims])

    # one task per conditioning set, its pairs in order of first appearance
    groups: dict[tuple[str, ...], dict[tuple[str, str], None]] = {}
    for keys in graphs:
        for x, y, z in keys:
            groups.setdefault(z, {})[(x, y)] = None
    tasks = []
    for z, pairs in groups.items():
        needed = dict.fromkeys([*z, *(v for pair in pairs for v in pair)])
        tasks.append(
            (
                ci,
                {v: columns[v] for v in needed},
                z,
                list(pairs),
                _name_seed(root.entropy, z),
            )
        )
    results = run_tasks(
        _test_group,
        tasks,
        n_jobs=n_jobs,
        desc=f"falsify ({ci.name})",
        show_progress=show_progress,
    )
    cache: dict[_Key, tuple[float, float]] = {}
    for (_, _, z, tested, _), out in zip(tasks, results, strict=True):
        for (x, y), res in zip(tested, out, strict=True):
            cache[(x, y, z)] = res

    p_all = np.array([[cache[k][1] for k in keys] for keys in graphs], dtype=float)
    counts = _reject(p_all, alpha, correction).sum(axis=1)
    rejected = _reject(p_all[:1], alpha, correction)[0]
    stat = np.array([cache[k][0] for k in graphs[0]], dtype=float)
    p_adjusted = _adjusted(p_all[0], alpha, correction)
    rows = tuple(
        (x, y, tuple(z), float(s), float(pv), float(pa), bool(r))
        for (x, y, z), s, pv, pa, r in zip(
            claims, stat, p_all[0], p_adjusted, rejected, strict=True
        )
    )
    user_set = set(graphs[0])
    return report(
        rows=rows,
        random_share_rejected=counts[1:] / len(claims),
        n_random_as_good=int(np.sum(counts[1:] <= counts[0])),
        n_random_equivalent=sum(set(keys) == user_set for keys in graphs[1:]),
        n_tests_run=len(cache),
    )
