"""PolicyTree: the fast exact search equals brute force; a known depth-2 rule is found;
the policy-value interval covers (slow)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.uplift.policy import dr_rewards
from paribus.uplift.policy_tree import PolicyTree


def brute_force(x: np.ndarray, g: np.ndarray, depth: int, m: int) -> float:
    """Best total reward over all trees of depth <= ``depth``: try every split, recurse."""
    best = float(g.sum(axis=0).max())
    if depth == 0:
        return best
    for j in range(x.shape[1]):
        for thr in np.unique(x[:, j])[:-1]:
            left = x[:, j] <= thr
            if left.sum() < m or (~left).sum() < m:
                continue
            value = brute_force(x[left], g[left], depth - 1, m) + brute_force(
                x[~left], g[~left], depth - 1, m
            )
            best = max(best, value)
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("depth", [1, 2])
def test_search_equals_brute_force(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 41))
    p = int(rng.integers(1, 4))
    k = int(rng.integers(2, 4))
    m = int(rng.integers(1, 4))
    # integer rewards: every sum is exact, so the optimum must match exactly
    g = rng.integers(-5, 6, (n, k)).astype(float)
    x = rng.integers(0, 5, (n, p)).astype(float) if seed % 2 else rng.normal(size=(n, p))
    tree = PolicyTree(depth=depth, min_node_size=m).fit(x, g)
    best = brute_force(x, g, depth, m)
    assert tree.tree_.reward == best
    assert g[np.arange(n), tree.predict_index(x)].sum() == best


def test_depth_three_equals_brute_force() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(0, 4, (16, 2)).astype(float)
    g = rng.integers(-3, 4, (16, 2)).astype(float)
    tree = PolicyTree(depth=3).fit(x, g)
    assert tree.tree_.reward == brute_force(x, g, 3, 1)


def test_float_rewards_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(30, 3))
    g = rng.normal(size=(30, 3))
    tree = PolicyTree(depth=2, min_node_size=2).fit(x, g)
    assert tree.tree_.reward == pytest.approx(brute_force(x, g, 2, 2), abs=1e-10)


def _rule_data(seed: int, n: int):
    """Treating is worth +1 where x0 > 0.5 and x1 < 0.3, and -1 elsewhere."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 4))
    good = (X[:, 0] > 0.5) & (X[:, 1] < 0.3)
    tau = np.where(good, 1.0, -1.0)
    t = rng.integers(0, 2, n)
    y = X[:, 2] + t * tau + rng.normal(size=n)
    return X, t, y, tau, good


def test_recovers_known_depth_two_rule() -> None:
    X, t, y, _, good = _rule_data(0, 3000)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    rewards = pd.DataFrame(
        dr_rewards(y, t, propensity=0.5, mu0=X[:, 2], mu1=X[:, 2]), columns=["no", "yes"]
    )
    tree = PolicyTree(depth=2, min_node_size=10).fit(frame, rewards)
    chosen = tree.predict(frame)
    assert set(chosen) <= {"no", "yes"}
    assert np.mean((chosen == "yes") == good) > 0.97
    text = tree.to_text()
    assert "split on a <=" in text and "split on b <=" in text
    value = tree.policy_value(frame, rewards)
    assert value.estimand == "policy value" and value.ci_lower < value.estimate < value.ci_upper


def test_contract_and_refusals() -> None:
    x = np.random.default_rng(0).normal(size=(20, 2))
    g = np.random.default_rng(1).normal(size=(20, 2))
    tree = PolicyTree(depth=1)
    assert clone(tree).get_params() == {"depth": 1, "min_node_size": 1}
    with pytest.raises(NotFittedError, match="not fitted"):
        tree.predict(x)
    assert tree.fit(x, g) is tree
    with pytest.raises(ParameterError, match="depth=-1"):
        PolicyTree(depth=-1).fit(x, g)
    with pytest.raises(ParameterError, match="min_node_size=0"):
        PolicyTree(min_node_size=0).fit(x, g)
    with pytest.raises(DataError, match="at least 2 actions"):
        PolicyTree().fit(x, g[:, :1])
    with pytest.raises(DataError, match="n = 20 rows"):
        PolicyTree().fit(x, g[:-1])
    with pytest.raises(DataError, match="missing or infinite"):
        PolicyTree().fit(np.r_[x[:-1], [[np.nan, 0.0]]], g)
    with pytest.raises(DataError, match="3 columns"):
        tree.predict(np.ones((2, 3)))
    leaf = PolicyTree(depth=0).fit(x, g)
    assert np.unique(leaf.predict(x)).size == 1


@pytest.mark.slow
def test_speed_depth_two_ten_thousand() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_000, 10))
    g = rng.normal(size=(10_000, 2))
    PolicyTree(depth=2).fit(x[:100], g[:100])  # compile
    start = time.perf_counter()
    PolicyTree(depth=2).fit(x, g)
    elapsed = time.perf_counter() - start
    print(f"depth 2, n = 10000, p = 10: {elapsed:.2f} s")
    assert elapsed < 30


@pytest.mark.slow
def test_policy_value_interval_coverage() -> None:
    """Fit on one half, evaluate on the other; truth = E[Y(pi)] of the learned rule."""
    reps, covered, n = 1000, 0, 1000
    big, _, _, tau_big, _ = _rule_data(99, 200_000)  # population V = 0.5 + E[pi(X) tau(X)]
    for rep in range(reps):
        X, t, y, _, _ = _rule_data(100 + rep, 2 * n)
        rewards = dr_rewards(y, t, propensity=0.5)
        tree = PolicyTree(depth=2, min_node_size=20).fit(X[:n], rewards[:n])
        res = tree.policy_value(X[n:], rewards[n:])
        truth = 0.5 + np.mean(tree.predict_index(big) * tau_big)
        covered += res.ci_lower <= truth <= res.ci_upper
    share = covered / reps
    print(f"policy value coverage: {share:.3f} over {reps} replications")
    assert 0.93 <= share <= 0.97
