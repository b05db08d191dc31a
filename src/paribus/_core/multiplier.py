"""Gaussian (and other) multiplier bootstrap of influence values: joint (sup-t) intervals.

For ``k`` asymptotically linear estimates with influence values ``phi_ij`` the
studentised process ``t_j = sum_i phi_ij / sqrt(sum_i phi_ij^2)`` is approximated by
its multiplier version ``t*_j = sum_i xi_i phi_ij / sqrt(sum_i phi_ij^2)`` with i.i.d.
multipliers ``xi`` of mean 0 and variance 1, drawn with the data held fixed
(Chernozhukov, Chetverikov & Kato 2013; Belloni, Chernozhukov, Chetverikov & Wei
2018, used for many DML targets in Chernozhukov et al. 2018). No nuisance is refitted:
the draws are one matrix product. The ``level`` quantile ``c`` of ``max_j |t*_j|``
gives intervals ``theta_j +- c se_j`` that hold jointly; with ``k = 1`` ``c`` is close
to the normal quantile.

Multipliers: ``"normal"`` ``xi ~ N(0, 1)``; ``"bayes"`` ``xi = E - 1`` with ``E ~
Exp(1)`` (the Bayesian bootstrap); ``"wild"`` ``xi = U / sqrt(2) + (V^2 - 1) / 2``
with ``U, V ~ N(0, 1)`` (Mammen 1993: third moment 1, so skewness is carried over).
With clusters one multiplier is drawn per cluster and ``phi`` is summed within
clusters first.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from paribus.errors import ParameterError

__all__ = ["MULTIPLIERS", "max_t_draws", "multiplier_bootstrap"]

MULTIPLIERS = ("normal", "bayes", "wild")

#: bootstrap rows drawn per matrix product, bounding memory at about 8 * _CHUNK * n bytes
_CHUNK = 256


def _multipliers(rng: np.random.Generator, method: str, size: tuple[int, int]) -> np.ndarray:
    if method == "normal":
        return rng.standard_normal(size)
    if method == "bayes":
        return rng.standard_exponential(size) - 1.0
    u = rng.standard_normal(size)
    v = rng.standard_normal(size)
    return u / np.sqrt(2.0) + (v**2 - 1.0) / 2.0


def max_t_draws(
    scores: np.ndarray,
    n_boot: int,
    random_state: int | np.random.SeedSequence | None,
    method: Literal["normal", "bayes", "wild"] = "normal",
    cluster: np.ndarray | None = None,
) -> np.ndarray:
    """``n_boot`` draws of ``max_j |t*_j|`` for influence values ``scores`` of shape (n, k).

    A 1-D ``scores`` is one estimate. The draws depend only on ``random_state``.
    """
    if method not in MULTIPLIERS:
        raise ParameterError(
            f"method={method!r} is not a multiplier; expected one of {', '.join(MULTIPLIERS)}."
        )
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ParameterError(f"n_boot={n_boot!r} is invalid; expected a positive integer.")
    phi = np.asarray(scores, dtype=float)
    phi = phi.reshape(phi.shape[0], -1)
    if cluster is not None:
        codes = np.unique(cluster, return_inverse=True)[1]
        phi = np.stack([np.bincount(codes, weights=phi[:, j]) for j in range(phi.shape[1])], axis=1)
    scale = np.sqrt(np.sum(phi**2, axis=0))
    if not np.all(scale > 0):
        raise ParameterError("scores have zero variance; the bootstrap is degenerate.")
    unit = phi / scale
    rng = np.random.default_rng(random_state)
    out = np.empty(n_boot)
    for start in range(0, n_boot, _CHUNK):
        stop = min(start + _CHUNK, n_boot)
        xi = _multipliers(rng, method, (stop - start, unit.shape[0]))
        out[start:stop] = np.max(np.abs(xi @ unit), axis=1)
    return out


def multiplier_bootstrap(
    scores: np.ndarray,
    n_boot: int,
    random_state: int | np.random.SeedSequence | None,
    level: float = 0.95,
    method: Literal["normal", "bayes", "wild"] = "normal",
    cluster: np.ndarray | None = None,
) -> float:
    """The critical value ``c``: the ``level`` quantile of ``max_j |t*_j|`` (module docstring)."""
    draws = max_t_draws(scores, n_boot, random_state, method, cluster)
    return float(np.quantile(draws, level))
