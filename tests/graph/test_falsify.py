"""falsify: implied independences tested against data, with the random-graph baseline."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from statsmodels.stats.multitest import multipletests

from paribus.errors import DataError, GraphError, ParameterError
from paribus.graph import CausalGraph
from paribus.graph.ci_tests import GCM, partial_correlation
from paribus.graph.falsify import FalsificationReport, falsify

TRUE = "A -> C; B -> C; C -> D; A -> E; D -> F; E -> F; B -> G; F -> H; G -> H"
REVERSED = "C -> A; C -> B; D -> C; E -> A; F -> D; F -> E; G -> B; H -> F; H -> G"
MISWIRED = "A -> C; C -> D; D -> F; F -> H; B -> G; G -> H; A -> B"  # edges removed and added


def simulate(graph: str = TRUE, n: int = 1000, seed: int = 0, nonlinear: bool = False):
    """A linear-Gaussian SCM of ``graph`` (standardised parents, weights ±[0.5, 1])."""
    g = CausalGraph(graph)
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for v in g.topological_order():
        value = rng.normal(size=n)
        for p in sorted(g.parents(v)):
            parent = data[p] / data[p].std()
            if nonlinear:
                parent = np.tanh(2 * parent) + 0.5 * parent**2
            value = value + rng.choice([-1, 1]) * rng.uniform(0.5, 1.0) * parent
        data[v] = value
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def linear():
    return simulate()


def linear_gcm() -> GCM:
    return GCM(learner=LinearRegression(), folds=2)


# -- simulation truth --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_true_graph_has_few_rejections_and_beats_random_graphs(seed):
    report = falsify(TRUE, simulate(seed=seed), n_permutations=50, random_state=seed)
    assert report.n_implied == len(CausalGraph(TRUE).implied_independences()) == 19
    assert report.n_rejected <= 1
    assert report.permutation_p_value <= 0.05
    assert "better than chance" in report.verdict


@pytest.mark.parametrize("wrong", [REVERSED, MISWIRED])
def test_wrong_graph_gets_many_rejections(linear, wrong):
    report = falsify(wrong, linear, n_permutations=20, random_state=0)
    assert report.n_rejected >= 5
    assert report.n_rejected > falsify(TRUE, linear, n_permutations=0).n_rejected + 4


@pytest.mark.parametrize("test", ["regression", "gcm"])
def test_other_tests_agree_on_the_true_graph(linear, test):
    ci = linear_gcm() if test == "gcm" else test
    report = falsify(TRUE, linear, test=ci, n_permutations=20, random_state=0)
    assert report.n_rejected <= 1
    assert report.permutation_p_value <= 0.05


def test_default_gcm_on_a_small_graph():
    data = simulate("A -> B; B -> C; A -> D", n=400, seed=3)
    report = falsify("A -> B; B -> C; A -> D", data, test="gcm", n_permutations=5, random_state=0)
    assert report.test == "gcm"
    assert report.n_implied == 3 and report.n_rejected == 0


@pytest.mark.slow
def test_gcm_on_a_nonlinear_scm():
    data = simulate(TRUE, n=2000, seed=4, nonlinear=True)
    report = falsify(TRUE, data, test="gcm", n_permutations=20, random_state=0, n_jobs=-1)
    assert report.n_rejected <= 2
    assert report.permutation_p_value <= 0.1


# -- the report --------------------------------------------------------------------------------


def test_report_contents(linear):
    report = falsify(TRUE, linear, n_permutations=30, random_state=5)
    assert isinstance(report, FalsificationReport)
    tests = report.tests
    assert list(tests.columns) == [
        "x",
        "y",
        "given",
        "statistic",
        "p_value",
        "p_adjusted",
        "rejected",
    ]
    claims = CausalGraph(TRUE).implied_independences()
    assert list(zip(tests.x, tests.y, tests.given, strict=True)) == claims
    for x, y, given, stat, p in tests[["x", "y", "given", "statistic", "p_value"]].itertuples(
        index=False
    ):
        ref = partial_correlation(linear[x], linear[y], linear[list(given)].to_numpy())
        assert (stat, p) == pytest.approx(ref, abs=1e-12)
    assert report.n_rejected == int(tests.rejected.sum())
    assert report.share_rejected == pytest.approx(report.n_rejected / report.n_implied)
    shares = report.random_share_rejected
    assert shares.shape == (30,) and np.all((shares >= 0) & (shares <= 1))
    assert report.n_permutations == 30
    assert report.n_random_as_good == int(np.sum(shares <= report.share_rejected + 1e-12))
    assert report.permutation_p_value == pytest.approx((1 + report.n_random_as_good) / 31)
    assert report.n_tests_run >= report.n_implied


def test_report_renders_and_serialises(linear):
    report = falsify(MISWIRED, linear, n_permutations=10, random_state=0)
    text = str(report)
    assert text == report.summary()
    assert "rejected" in text and report.verdict in text and "A" in text
    assert report.verdict.startswith(f"{report.n_rejected} of {report.n_implied} implied")
    assert "<table" in report._repr_html_()
    payload = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert payload["n_rejected"] == report.n_rejected
    assert len(payload["tests"]) == report.n_implied
    assert payload["random_share_rejected"] == list(report.random_share_rejected)
    assert "n_rejected=" in repr(report)


def test_report_is_immutable(linear):
    report = falsify(TRUE, linear, n_permutations=5, random_state=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.alpha = 0.1  # type: ignore[misc]
    with pytest.raises(ValueError):
        report.random_share_rejected[0] = 1.0
    frame = report.tests
    frame["rejected"] = True
    assert report.tests.rejected.sum() == report.n_rejected  # a fresh frame every time


@pytest.mark.parametrize("correction", ["holm", "bonferroni", "fdr_bh", None])
@pytest.mark.parametrize("seed", range(8))
def test_corrections_match_statsmodels(linear, correction, seed):
    rng = np.random.default_rng(seed)
    lookup: dict[tuple[float, float], float] = {}

    def fake(x, y, z):  # a p-value per pair, many of them near the thresholds
        return 0.0, lookup.setdefault((x[0] + y[0], x[0] * y[0]), float(rng.uniform() ** 4))

    report = falsify(TRUE, linear, test=fake, correction=correction, n_permutations=0)
    p = report.tests.p_value.to_numpy()
    if correction is None:
        reject, p_adj = p <= 0.05, p
    else:
        reject, p_adj = multipletests(p, alpha=0.05, method=correction)[:2]
    assert report.tests.rejected.tolist() == list(reject)
    np.testing.assert_allclose(report.tests.p_adjusted, p_adj, rtol=1e-12)


def test_alpha_changes_rejections(linear):
    loose = falsify(MISWIRED, linear, alpha=0.5, correction=None, n_permutations=0)
    strict = falsify(MISWIRED, linear, alpha=1e-12, correction=None, n_permutations=0)
    assert loose.n_rejected >= strict.n_rejected
    assert "no correction, alpha 0.5" in loose.verdict


# -- reproducibility ---------------------------------------------------------------------------


def test_same_seed_same_report_serial_or_parallel(linear):
    kwargs = {"test": linear_gcm(), "n_permutations": 8, "random_state": 3}
    serial = falsify(TRUE, linear, **kwargs)
    again = falsify(TRUE, linear, **kwargs)
    parallel = falsify(TRUE, linear, n_jobs=2, **kwargs)
    for other in (again, parallel):
        pd.testing.assert_frame_equal(serial.tests, other.tests)
        np.testing.assert_array_equal(serial.random_share_rejected, other.random_share_rejected)
        assert serial.to_dict() == other.to_dict()


def test_claim_results_do_not_depend_on_the_baseline(linear):
    alone = falsify(TRUE, linear, test=linear_gcm(), n_permutations=0, random_state=9)
    with_baseline = falsify(TRUE, linear, test=linear_gcm(), n_permutations=6, random_state=9)
    pd.testing.assert_frame_equal(alone.tests, with_baseline.tests)
    assert math.isnan(alone.permutation_p_value)
    assert "no random-graph baseline" in alone.verdict


def test_seed_drives_the_permutations(linear):
    a = falsify(MISWIRED, linear, n_permutations=20, random_state=1)
    b = falsify(MISWIRED, linear, n_permutations=20, random_state=2)
    assert not np.array_equal(a.random_share_rejected, b.random_share_rejected)


# -- special graphs and inputs -----------------------------------------------------------------


def test_graph_without_implied_independences_has_nothing_to_test(linear):
    report = falsify("A -> B; A -> C; B -> C", linear)
    assert report.n_implied == 0 and report.n_rejected == 0
    assert math.isnan(report.share_rejected) and math.isnan(report.permutation_p_value)
    assert "nothing to test" in report.verdict and "nothing to test" in str(report)
    assert report.tests.empty
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["permutation_p_value"] is None


def test_symmetric_graph_baseline_is_uninformative(linear):
    report = falsify(CausalGraph([], nodes=["A", "B", "C"]), linear, n_permutations=10)
    assert report.n_implied == 3
    assert report.n_random_equivalent == 10
    assert report.permutation_p_value == 1.0
    assert "cannot be told apart" in report.verdict


def test_graph_with_latent_confounding(linear):
    graph = CausalGraph("A -> C; B -> C; C -> D; A <-> D")
    report = falsify(graph, linear, n_permutations=5, random_state=0)
    assert report.n_implied == len(graph.implied_independences())
    assert "A <-> D" in report.graph


def test_accepts_other_tables_and_ignores_extra_columns(linear):
    frame = linear.assign(extra=np.arange(len(linear)))
    reference = falsify(TRUE, linear, n_permutations=0)
    for data in (frame, pl.from_pandas(frame)):
        report = falsify(TRUE, data, n_permutations=0)
        pd.testing.assert_frame_equal(report.tests, reference.tests)


def test_boolean_columns_are_numbers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    b = a + rng.normal(size=500) > 0
    c = b + rng.normal(size=500)
    report = falsify("A -> B; B -> C", pd.DataFrame({"A": a, "B": b, "C": c}), test="regression")
    assert report.n_implied == 1


# -- refusals ----------------------------------------------------------------------------------


def test_refuses_missing_nodes_with_close_matches(linear):
    with pytest.raises(DataError, match=r"'Ha' \(did you mean 'H'\?\)|'Gee'"):
        falsify(TRUE.replace("H", "Ha"), linear)
    with pytest.raises(DataError, match="not among the data columns"):
        falsify("A -> Zed", linear)


def test_refuses_non_numeric_columns(linear):
    data = linear.assign(C=linear.C.map(lambda v: "hi" if v > 0 else "lo"))
    with pytest.raises(DataError, match=r"column 'C' \((object|str)\) is not numeric.*Encode"):
        falsify(TRUE, data)
    data = linear.assign(C=pd.Categorical(np.where(linear.C > 0, "hi", "lo")))
    with pytest.raises(DataError, match=r"'C' \(category\)"):
        falsify(TRUE, data)


def test_refuses_missing_values(linear):
    data = linear.copy()
    data.loc[[3, 7], "D"] = np.nan
    with pytest.raises(DataError, match=r"'D' \(2 missing or infinite\).*dropna"):
        falsify(TRUE, data)


def test_refuses_constant_columns(linear):
    with pytest.raises(DataError, match="column 'B' is constant"):
        falsify(TRUE, linear.assign(B=1.0))


def test_unknown_test_name_lists_the_valid_ones(linear):
    with pytest.raises(ParameterError, match=r"'partial_correlation', 'regression', 'gcm'"):
        falsify(TRUE, linear, test="kci")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, "alpha=0.0"),
        ({"alpha": 1.5}, "alpha=1.5"),
        ({"correction": "sidak"}, "correction='sidak'"),
        ({"n_permutations": -1}, "n_permutations=-1"),
        ({"n_permutations": 2.5}, "n_permutations=2.5"),
        ({"random_state": -3}, "random_state=-3"),
        ({"n_jobs": 0}, "n_jobs=0"),
    ],
)
def test_refuses_bad_settings(linear, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        falsify(TRUE, linear, **kwargs)


def test_refuses_cyclic_graph(linear):
    with pytest.raises(GraphError, match="cycle"):
        falsify("A -> B; B -> C; C -> A", linear)


# -- Sachs et al. (2005) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sachs(shared_datasets):
    data = pd.read_csv(shared_datasets / "sachs_cyto.csv")
    edges = pd.read_csv(shared_datasets / "sachs_consensus_edges.csv")
    return np.log(data), list(zip(edges.Cause, edges.Effect, strict=True))


def test_sachs_consensus_edges_form_a_cycle(sachs):
    _, edges = sachs
    assert len(edges) == 18
    with pytest.raises(GraphError, match="cycle"):
        CausalGraph(edges)


def _sachs_dag(edges):
    # the edge list holds the cycle plcg -> PIP2 -> PIP3 -> plcg; reverse PIP3 -> plcg
    return CausalGraph([("plcg", "PIP3") if e == ("PIP3", "plcg") else e for e in edges])


def test_sachs_partial_correlation(sachs):
    data, edges = sachs
    report = falsify(_sachs_dag(edges), data, n_permutations=20, random_state=0)
    assert report.n_obs == 7466 and len(report.nodes) == 11 and report.n_edges == 18
    assert report.n_implied == 37
    # pooled over interventions: most implied independences fail, for random graphs too
    assert 20 <= report.n_rejected <= 37
    assert np.median(report.random_share_rejected) >= 0.6
    assert 1 / 21 <= report.permutation_p_value <= 1


def test_sachs_gcm_light(sachs):
    data, edges = sachs
    light = GCM(learner=HistGradientBoostingRegressor(max_iter=20), folds=2)
    report = falsify(_sachs_dag(edges), data, test=light, n_permutations=0, random_state=0)
    assert report.n_implied == 37
    assert 10 <= report.n_rejected <= 37
