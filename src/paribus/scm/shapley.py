"""Shapley values of a set function: exact for few players, sampled for many.

For players ``P = {1..p}`` and a set function ``v`` (``v`` of a frozenset of player
indices), the Shapley value of player ``j`` is (Shapley 1953)

    phi_j = sum_{S subset P \\ {j}} |S|! (p - |S| - 1)! / p! * (v(S + j) - v(S)),

the average over the ``p!`` orderings of the players of ``j``'s marginal contribution
when it joins those before it. The values are efficient: ``sum_j phi_j = v(P) - v({})``.

* :func:`shapley_exact` enumerates the ``2**p`` subsets (``p <= 16``; ~10 is practical
  when ``v`` is costly) and evaluates each once.
* :func:`shapley_sampled` averages marginal contributions over random permutations
  (Castro, Gomez & Tejada 2009, *Computers & Operations Research* 36, 1726-1730), drawn in
  antithetic pairs: a permutation and its reverse (Mitchell, Cooper, Frank & Holmes 2022,
  *JMLR* 23(43), "Sampling permutations for Shapley value estimation"), which makes the
  two marginal contributions of a player negatively correlated. Sampling stops when the
  largest Monte Carlo standard error falls below ``target_se`` (or at ``max_permutations``).
  Values of ``v`` are cached by subset, so small games cost no more than exact enumeration.

Both return a :class:`ShapleyResult` with the values, their Monte Carlo standard errors
(zero when exact) and the number of distinct subsets evaluated.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from paribus.errors import ParameterError

__all__ = ["ShapleyResult", "shapley_exact", "shapley_sampled", "shapley_values"]

SetFunction = Callable[[frozenset[int]], float]

#: games with at most this many players are enumerated exactly by :func:`shapley_values`
EXACT_MAX_PLAYERS = 10


@dataclasses.dataclass(frozen=True)
class ShapleyResult:
    """Shapley values of a game.

    Attributes
    ----------
    values : ndarray (p,)
        The Shapley value of each player.
    std_errors : ndarray (p,)
        Monte Carlo standard errors (zeros for exact enumeration).
    method : {"exact", "permutation"}
        How the values were computed.
    n_evaluations : int
        Distinct subsets at which the set function was evaluated.
    n_permutations : int
        Permutations averaged (0 for exact enumeration).
    total : float
        ``v(all players) - v(no player)``, which the values sum to.
    """

    values: np.ndarray
    std_errors: np.ndarray
    method: str
    n_evaluations: int
    n_permutations: int
    total: float


class _Cached:
    """The set function with a memo: each subset is evaluated once."""

    def __init__(self, func: SetFunction) -> None:
        self.func = func
        self.memo: dict[frozenset[int], float] = {}

    def __call__(self, subset: frozenset[int]) -> float:
        value = self.memo.get(subset)
        if value is None:
            value = float(self.func(subset))
            self.memo[subset] = value
        return value


def _check_players(n_players: int) -> None:
    if isinstance(n_players, bool) or not isinstance(n_players, (int, np.integer)):
        raise ParameterError(f"n_players must be an integer >= 1, got {n_players!r}.")
    if n_players < 1:
        raise ParameterError(f"n_players must be >= 1, got {n_players}; a game needs players.")


def shapley_exact(func: SetFunction, n_players: int) -> ShapleyResult:
    """Exact Shapley values by enumerating all ``2**n_players`` coalitions.

    Parameters
    ----------
    func : callable
        ``func(frozenset_of_player_indices) -> float``.
    n_players : int
        Number of players, at most 16.

    Returns
    -------
    ShapleyResult
    """
    _check_players(n_players)
    if n_players > 16:
        raise ParameterError(
            f"shapley_exact enumerates 2**n_players coalitions; n_players={n_players} is "
            "more than 16. Use shapley_sampled (permutation sampling) instead."
        )
    p = n_players
    value = _Cached(func)
    weights = [math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)]
    phi = np.zeros(p)
    for size in range(p):
        for subset in itertools.combinations(range(p), size):
            base = frozenset(subset)
            v_base = value(base)
            for j in range(p):
                if j not in base:
                    phi[j] += weights[size] * (value(base | {j}) - v_base)
    total = value(frozenset(range(p))) - value(frozenset())
    return ShapleyResult(phi, np.zeros(p), "exact", len(value.memo), 0, total)


def _marginals(value: _Cached, order: Sequence[int], p: int) -> np.ndarray:
    """Marginal contribution of each player when joining in ``order``."""
    out = np.empty(p)
    current: frozenset[int] = frozenset()
    previous = value(current)
    for j in order:
        current = current | {j}
        now = value(current)
        out[j] = now - previous
        previous = now
    return out


def shapley_sampled(
    func: SetFunction,
    n_players: int,
    *,
    target_se: float = 0.01,
    min_permutations: int = 20,
    max_permutations: int = 2000,
    random_state: int | np.random.Generator | None = None,
) -> ShapleyResult:
    """Shapley values by antithetic permutation sampling, stopped at a target error.

    Each draw is a random permutation and its reverse; the average of the two marginal
    contribution vectors is one independent replicate, so the standard error of a value
    is the standard deviation of its replicates over the square root of their number.

    Parameters
    ----------
    func : callable
        ``func(frozenset_of_player_indices) -> float``.
    n_players : int
        Number of players.
    target_se : float
        Stop once every value's Monte Carlo standard error is at most this (absolute,
        in the units of ``func``).
    min_permutations, max_permutations : int
        Bounds on the number of permutations (counting both of a pair).
    random_state : int, Generator or None
        Seed of the permutations.

    Returns
    -------
    ShapleyResult
    """
    _check_players(n_players)
    if not (isinstance(target_se, (int, float)) and target_se > 0):
        raise ParameterError(f"target_se must be a positive number, got {target_se!r}.")
    if min_permutations < 2 or max_permutations < min_permutations:
        raise ParameterError(
            "need 2 <= min_permutations <= max_permutations, got "
            f"min_permutations={min_permutations}, max_permutations={max_permutations}."
        )
    rng = np.random.default_rng(random_state)
    p = n_players
    value = _Cached(func)
    replicates: list[np.ndarray] = []
    se = np.full(p, np.inf)
    while 2 * len(replicates) < max_permutations:
        order = [int(j) for j in rng.permutation(p)]
        pair = 0.5 * (_marginals(value, order, p) + _marginals(value, order[::-1], p))
        replicates.append(pair)
        k = len(replicates)
        if k >= 2:
            se = np.std(np.asarray(replicates), axis=0, ddof=1) / math.sqrt(k)
            if 2 * k >= min_permutations and np.all(se <= target_se):
                break
    values = np.mean(np.asarray(replicates), axis=0)
    total = value(frozenset(range(p))) - value(frozenset())
    return ShapleyResult(values, se, "permutation", len(value.memo), 2 * len(replicates), total)


def shapley_values(
    func: SetFunction,
    n_players: int,
    *,
    exact: bool | None = None,
    target_se: float = 0.01,
    max_permutations: int = 2000,
    random_state: int | np.random.Generator | None = None,
) -> ShapleyResult:
    """Exact values for up to 10 players, antithetic permutation sampling beyond.

    ``exact=True`` or ``False`` forces the choice. Other arguments go to
    :func:`shapley_sampled`.
    """
    _check_players(n_players)
    use_exact = n_players <= EXACT_MAX_PLAYERS if exact is None else bool(exact)
    if use_exact:
        return shapley_exact(func, n_players)
    return shapley_sampled(
        func,
        n_players,
        target_se=target_se,
        max_permutations=max_permutations,
        random_state=random_state,
    )
