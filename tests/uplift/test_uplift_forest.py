"""UpliftForest: CausalML reference, simulations with a known uplift, determinism, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paribus.errors import DataError, ParameterError
from paribus.uplift.forest import UpliftForest
from paribus.uplift.metrics import qini_coefficient

DATA = Path(__file__).parent / "data"


def simulate(n: int, seed: int, p: int = 10) -> tuple[np.ndarray, ...]:
    """Copy of ``data/make_causalml_forest_reference.py::simulate`` (checksums guard it)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    base = -1.0 + 0.5 * X[:, 0] + 0.3 * X[:, 1]
    lift = 0.8 * X[:, 2] - 0.5 * (X[:, 3] > 0)
    p0 = 1 / (1 + np.exp(-base))
    p1 = 1 / (1 + np.exp(-(base + lift)))
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(t == 1, p1, p0)).astype(float)
    return X, y, t, p1 - p0, p0


@pytest.fixture(scope="module")
def reference():
    ref = json.loads((DATA / "causalml_forest_reference.json").read_text())
    X, y, t, _, _ = simulate(ref["n"], ref["seed_train"])
    Xt, yt, tt, tau, p0 = simulate(ref["n_test"], ref["seed_test"])
    assert [X.sum(), y.sum(), t.sum()] == pytest.approx(ref["checksum_train"], rel=1e-12)
    assert [Xt.sum(), yt.sum(), tt.sum()] == pytest.approx(ref["checksum_test"], rel=1e-12)
    return ref, (X, y, t), (Xt, yt, tt, tau, p0)


@pytest.mark.parametrize(("criterion", "run"), [("kl", "kl_defaults"), ("ed", "ed_defaults")])
def test_at_least_as_good_as_causalml(reference, criterion, run):
    """Same tree count and features per node (all 10) as CausalML 0.15.5's defaults.

    Qini on 100,000 test rows and the true value of treat-if-positive must be at least
    CausalML's (stored numbers; data/make_causalml_forest_reference.py).
    """
    ref, (X, y, t), (Xt, yt, tt, tau, p0) = reference
    forest = UpliftForest(
        n_estimators=100, criterion=criterion, max_features=None, random_state=0
    ).fit(X, y, t)
    pred = forest.predict(Xt)
    theirs = ref["runs"][run]
    assert qini_coefficient(yt, tt, pred) >= theirs["qini"]
    assert np.mean(p0 + (pred > 0) * tau) >= theirs["policy_value"]
    assert qini_coefficient(yt, tt, pred) <= ref["oracle_qini"]


@pytest.fixture(scope="module")
def sim():
    return simulate(20_000, 5), simulate(20_000, 6)


@pytest.mark.parametrize("honest", [False, True])
def test_simulation_recovers_the_uplift(sim, honest):
    (X, y, t, _, _), (Xt, _, _, taut, _) = sim
    forest = UpliftForest(n_estimators=50, honest=honest, random_state=1).fit(X, y, t)
    pred = forest.predict(Xt)
    assert np.corrcoef(pred, taut)[0, 1] > 0.85
    # the mean predicted uplift estimates the ATE: within 3 SE of a difference in rates
    p1, p0 = y[t == 1].mean(), y[t == 0].mean()
    se = np.sqrt(p1 * (1 - p1) / (t == 1).sum() + p0 * (1 - p0) / (t == 0).sum())
    assert abs(pred.mean() - taut.mean()) < 3 * se
    assert set(np.argsort(forest.feature_importances_)[-2:]) == {2, 3}
    assert forest.feature_importances_.sum() == pytest.approx(1.0)


def test_several_arms():
    rng = np.random.default_rng(3)
    n = 30_000
    X = rng.normal(size=(n, 5))
    arm = rng.choice(np.array(["ctl", "email", "sms"]), n)
    tau_e = 0.15 * (X[:, 0] > 0)
    tau_s = 0.15 * (X[:, 1] > 0)
    prob = 0.2 + tau_e * (arm == "email") + tau_s * (arm == "sms")
    y = (rng.random(n) < prob).astype(float)
    forest = UpliftForest(n_estimators=30, criterion="ed", control="ctl", random_state=0)
    forest.fit(X, y, arm)
    table = forest.predict_table(X)
    assert list(table.columns) == ["email vs ctl", "sms vs ctl"]
    np.testing.assert_array_equal(table["sms vs ctl"], forest.predict(X, treatment="sms"))
    assert np.corrcoef(table["email vs ctl"], tau_e)[0, 1] > 0.8
    assert np.corrcoef(table["sms vs ctl"], tau_s)[0, 1] > 0.8
    with pytest.raises(ParameterError, match="2 treated levels"):
        forest.predict(X)


def test_continuous_outcome():
    rng = np.random.default_rng(4)
    n = 20_000
    X = rng.normal(size=(n, 4))
    t = rng.integers(0, 2, n)
    tau = 2.0 * X[:, 1]
    y = 5 + X[:, 0] + t * tau + rng.normal(size=n)
    forest = UpliftForest(n_estimators=30, criterion="ed", random_state=0).fit(X, y, t)
    assert forest.outcome_type_ == "continuous"
    pred = forest.predict(X)
    assert np.corrcoef(pred, tau)[0, 1] > 0.9
    shifted = UpliftForest(n_estimators=30, criterion="ed", random_state=0).fit(X, y - 5, t)
    np.testing.assert_allclose(shifted.predict(X), pred, atol=1e-9)


def test_reproducible_whatever_n_jobs(sim):
    (X, y, t, _, _), _ = sim
    kw = {"n_estimators": 12, "honest": True, "bootstrap": True, "random_state": 7}
    one = UpliftForest(n_jobs=1, **kw).fit(X, y, t).predict(X[:500])
    two = UpliftForest(n_jobs=2, **kw).fit(X, y, t).predict(X[:500])
    np.testing.assert_array_equal(one, two)
    other = UpliftForest(n_jobs=1, **{**kw, "random_state": 8}).fit(X, y, t).predict(X[:500])
    assert not np.array_equal(one, other)


def test_tree_sizes_follow_the_sampling_settings(sim):
    (X, y, t, _, _), _ = sim
    n = X.shape[0]
    honest = UpliftForest(n_estimators=3, honest=True, sample_fraction=0.5).fit(X, y, t)
    assert [tree.n_node[0] for tree in honest.trees_] == [n // 4] * 3
    adaptive = UpliftForest(n_estimators=3, sample_fraction=0.8, bootstrap=True).fit(X, y, t)
    assert [tree.n_node[0] for tree in adaptive.trees_] == [round(0.8 * n)] * 3
    assert all(tree.n_leaves >= 2 for tree in adaptive.trees_)


def test_dataframe_input_keeps_feature_names(sim):
    (X, y, t, _, _), _ = sim
    frame = pd.DataFrame(X[:4000], columns=[f"x{j}" for j in range(X.shape[1])])
    forest = UpliftForest(n_estimators=5, random_state=0).fit(frame, y[:4000], t[:4000])
    assert list(forest.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(forest.predict(frame), forest.predict(X[:4000]))


def test_refusals(sim):
    (X, y, t, _, _), _ = sim
    X, y, t = X[:2000], y[:2000], t[:2000]
    with pytest.raises(ParameterError, match="max_features='all' is invalid"):
        UpliftForest(max_features="all").fit(X, y, t)
    with pytest.raises(ParameterError, match="sample_fraction=0 is invalid"):
        UpliftForest(sample_fraction=0).fit(X, y, t)
    with pytest.raises(ParameterError, match="n_estimators=0 is invalid"):
        UpliftForest(n_estimators=0).fit(X, y, t)
    with pytest.raises(ParameterError, match="n_thresholds=0 is invalid"):
        UpliftForest(n_thresholds=0).fit(X, y, t)
    with pytest.raises(ParameterError, match="n_jobs=0 is invalid"):
        UpliftForest(n_jobs=0).fit(X, y, t)
    with pytest.raises(ParameterError, match="'ddp' compares one treatment"):
        UpliftForest(criterion="ddp").fit(X, y, np.arange(2000) % 3)
    with pytest.raises(ParameterError, match="criterion='chi' needs a binary"):
        UpliftForest(criterion="chi").fit(X, y * 2.5, t)
    with pytest.raises(DataError, match="treatment has 3"):
        UpliftForest().fit(X, y, t[:3])
    with pytest.raises(DataError, match="X must be numeric"):
        UpliftForest().fit(np.array([["a"]] * 2000), y, t)
    forest = UpliftForest(n_estimators=2, random_state=0).fit(X, y, t)
    with pytest.raises(DataError, match="X has 3 columns but the model was fitted on 10"):
        forest.predict(X[:, :3])


@pytest.mark.slow
@pytest.mark.parametrize("criterion", ["kl", "ed", "chi", "ddp"])
def test_simulation_study_qini_near_oracle(criterion):
    """20 replications (n = 20,000 train, 20,000 test): the forest's Qini is at least 90%
    of the oracle's (true uplift as the score) on average, and the mean predicted uplift
    is unbiased for the test ATE within 3 standard errors of the replication mean."""
    ratios, errors = [], []
    for rep in range(20):
        X, y, t, _, _ = simulate(20_000, 100 + rep)
        Xt, yt, tt, tau, _ = simulate(20_000, 200 + rep)
        pred = UpliftForest(n_estimators=50, criterion=criterion, honest=True,
                            random_state=rep).fit(X, y, t).predict(Xt)  # fmt: skip
        ratios.append(qini_coefficient(yt, tt, pred) / qini_coefficient(yt, tt, tau))
        errors.append(pred.mean() - tau.mean())
    errors_arr = np.asarray(errors)
    print(criterion, np.mean(ratios), errors_arr.mean(), errors_arr.std(ddof=1))
    assert np.mean(ratios) > 0.9
    assert abs(errors_arr.mean()) < 3 * errors_arr.std(ddof=1) / np.sqrt(errors_arr.size)
