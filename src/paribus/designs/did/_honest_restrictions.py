"""Delta^SD and Delta^RM restrictions of Rambachan & Roth (2023) and identified sets by LP.

See :mod:`paribus.designs.did.honest` for the method and references.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy import optimize

from paribus.errors import ParameterError

Method = Literal["relative_magnitude", "smoothness"]


def _second_differences(num_pre: int, num_post: int) -> np.ndarray:
    """Rows ``delta_{t+1} - 2 delta_t + delta_{t-1}``; the ``delta_0 = 0`` column dropped."""
    n = num_pre + num_post
    full = np.zeros((n - 1, n + 1))
    for r in range(n - 1):
        full[r, r : r + 3] = (1.0, -2.0, 1.0)
    return np.delete(full, num_pre, axis=1)


def _smoothness_polyhedron(num_pre: int, num_post: int, m: float) -> tuple[np.ndarray, np.ndarray]:
    d2 = _second_differences(num_pre, num_post)
    return np.vstack([d2, -d2]), np.full(2 * d2.shape[0], m)


def _rm_polyhedron(
    num_pre: int, num_post: int, mbar: float, s: int, positive: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``Delta^RM_{s,sign}(Mbar)``: pre difference ``s`` (``-num_pre < s <= 0``) is the max.

    First difference ``r`` (``r = 0..n-1``) is ``delta_{r+1-num_pre} - delta_{r-num_pre}``;
    the constraints are ``|diff_r| <= sign * diff_s`` for pre ``r`` and
    ``|diff_r| <= Mbar * sign * diff_s`` for post ``r``.
    """
    n = num_pre + num_post
    diff = np.zeros((n, n + 1))
    for r in range(n):
        diff[r, r : r + 2] = (-1.0, 1.0)
    vmax = diff[num_pre - 1 + s] * (1.0 if positive else -1.0)
    bound = np.vstack([np.tile(vmax, (num_pre, 1)), np.tile(mbar * vmax, (num_post, 1))])
    a = np.vstack([diff - bound, -diff - bound])
    a = a[np.einsum("ij,ij->i", a, a) > 1e-10]
    a = np.delete(a, num_pre, axis=1)
    return a, np.zeros(a.shape[0])


def _rm_pieces(num_pre: int, num_post: int, mbar: float) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        _rm_polyhedron(num_pre, num_post, mbar, s, pos)
        for s in range(-(num_pre - 1), 1)
        for pos in (True, False)
    ]


def identified_set(
    beta: Any,
    *,
    num_pre_periods: int,
    method: Method = "relative_magnitude",
    M: float = 1.0,
    l_vec: Any = None,
) -> tuple[float, float]:
    """Bounds on ``l' tau_post`` when ``beta`` (the population event study) is known.

    ``delta_pre = beta_pre`` and ``delta_post`` ranges over ``{A delta <= d}``; each bound
    is an LP (Rambachan & Roth 2023, Lemma 2.1); for ``Delta^RM`` the union over the
    polyhedra. Returns ``(lower, upper)``; ``(nan, nan)`` when ``beta_pre`` is
    incompatible with the restriction.
    """
    b = np.asarray(beta, dtype=float)
    num_post = b.size - num_pre_periods
    lv = _l_vec(l_vec, num_post)
    if method == "smoothness":
        pieces = [_smoothness_polyhedron(num_pre_periods, num_post, float(M))]
    else:
        pieces = _rm_pieces(num_pre_periods, num_post, float(M))
    lo, hi = np.inf, -np.inf
    for a, d in pieces:
        a_pre, a_post = a[:, :num_pre_periods], a[:, num_pre_periods:]
        rhs = d - a_pre @ b[:num_pre_periods]
        for sign in (1.0, -1.0):
            res = optimize.linprog(
                sign * lv, A_ub=a_post, b_ub=rhs, bounds=(None, None), method="highs"
            )
            if res.status == 2:
                break
            val = -np.inf * sign if res.status == 3 else float(res.fun) * sign
            # theta = l'beta_post - l'delta_post
            theta = float(lv @ b[num_pre_periods:]) - val
            lo, hi = min(lo, theta), max(hi, theta)
    return (float("nan"), float("nan")) if lo > hi else (lo, hi)


def _l_vec(l_vec: Any, num_post: int) -> np.ndarray:
    if l_vec is None:
        out = np.zeros(num_post)
        out[0] = 1.0
        return out
    out = np.asarray(l_vec, dtype=float).ravel()
    if out.size != num_post or not np.all(np.isfinite(out)) or not np.any(out != 0):
        raise ParameterError(
            f"l_vec must be a non-zero vector of length num_post_periods={num_post}, got {l_vec!r}."
        )
    return out
