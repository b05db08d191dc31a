"""Shapley values against hand-computed games."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from paribus.errors import ParameterError
from paribus.scm.shapley import shapley_exact, shapley_sampled, shapley_values


def glove(subset: frozenset[int]) -> float:
    """Player 0 holds a left glove, players 1 and 2 right gloves; a pair is worth 1."""
    return float(0 in subset and bool(subset & {1, 2}))


def airport(costs: list[float]):
    """Airport game: a coalition pays for the longest runway any member needs."""
    return lambda s: max((costs[i] for i in s), default=0.0)


def shapley_by_orderings(func, p: int) -> np.ndarray:
    """The definition: average marginal contribution over all p! orderings."""
    phi = np.zeros(p)
    orders = list(itertools.permutations(range(p)))
    for order in orders:
        before: frozenset[int] = frozenset()
        for j in order:
            phi[j] += func(before | {j}) - func(before)
            before = before | {j}
    return phi / len(orders)


def test_glove_game() -> None:
    res = shapley_exact(glove, 3)
    np.testing.assert_allclose(res.values, [2 / 3, 1 / 6, 1 / 6], atol=1e-12)
    assert res.total == 1.0
    assert res.method == "exact"
    assert res.n_evaluations == 8


def test_airport_game_littlechild_owen() -> None:
    # Littlechild & Owen (1973): phi_k = sum_{i<=k} (c_i - c_{i-1}) / (p - i + 1)
    costs = [1.0, 3.0, 6.0]
    res = shapley_exact(airport(costs), 3)
    np.testing.assert_allclose(res.values, [1 / 3, 1 / 3 + 1.0, 1 / 3 + 1.0 + 3.0], atol=1e-12)


def test_exact_equals_definition_on_random_game() -> None:
    rng = np.random.default_rng(0)
    table = {
        frozenset(s): rng.normal() for k in range(6) for s in itertools.combinations(range(5), k)
    }
    res = shapley_exact(table.__getitem__, 5)
    np.testing.assert_allclose(res.values, shapley_by_orderings(table.__getitem__, 5), atol=1e-12)
    assert math.isclose(res.values.sum(), res.total, abs_tol=1e-12)


def test_additive_game_gives_weights() -> None:
    w = np.arange(1.0, 13.0)
    res = shapley_values(lambda s: float(sum(w[list(s)])), 12, random_state=1)
    assert res.method == "permutation"
    np.testing.assert_allclose(res.values, w, atol=1e-10)  # every marginal is exact


def test_sampled_within_error_bars_of_exact() -> None:
    rng = np.random.default_rng(3)
    table = {
        frozenset(s): rng.normal() for k in range(9) for s in itertools.combinations(range(8), k)
    }
    exact = shapley_exact(table.__getitem__, 8)
    sampled = shapley_sampled(table.__getitem__, 8, target_se=0.05, random_state=2)
    assert np.all(sampled.std_errors <= 0.05)
    z = (sampled.values - exact.values) / sampled.std_errors
    assert np.max(np.abs(z)) < 4
    assert math.isclose(
        sampled.values.sum(), exact.total, abs_tol=1e-10
    )  # efficient per permutation


def test_sampling_stops_at_max_permutations() -> None:
    rng = np.random.default_rng(4)
    table = {
        frozenset(s): rng.normal() for k in range(7) for s in itertools.combinations(range(6), k)
    }
    res = shapley_sampled(table.__getitem__, 6, target_se=1e-9, max_permutations=40, random_state=0)
    assert res.n_permutations == 40


def test_refusals() -> None:
    with pytest.raises(ParameterError, match="more than 16"):
        shapley_exact(glove, 17)
    with pytest.raises(ParameterError, match="n_players must be >= 1"):
        shapley_values(glove, 0)
    with pytest.raises(ParameterError, match="target_se must be a positive"):
        shapley_sampled(glove, 3, target_se=0)
    with pytest.raises(ParameterError, match="min_permutations"):
        shapley_sampled(glove, 3, min_permutations=10, max_permutations=4)
