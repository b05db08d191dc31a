"""Kalman filter, state smoother and simulation smoother for linear Gaussian state space models.

The model (Durbin & Koopman 2012, *Time Series Analysis by State Space Methods*, 2nd ed.,
eq. 4.12) is

.. math::

    y_t = z_t' \\alpha_t + \\varepsilon_t, \\quad \\varepsilon_t \\sim N(0, H), \\qquad
    \\alpha_{t+1} = T_t \\alpha_t + \\eta_t, \\quad \\eta_t \\sim N(0, \\operatorname{diag}(q_t)),
    \\qquad \\alpha_1 \\sim N(a_1, P_1),

with a scalar observation, a time-varying loading ``Z[t]`` (dynamic regression puts the
controls there), and transitions drawn from a small stack: ``T[tix[t]]`` and
``Qd[tix[t]]`` carry the state from ``t`` to ``t + 1`` (seasons that last several periods
switch between a rotating and an identity transition). Every component of the impact
models has a diagonal state disturbance covariance, so ``Qd`` holds diagonals.

Initialisation is *known*: ``a1`` and ``P1`` are given. The BSTS priors are proper
(``a1`` the first observation, ``P1`` the outcome variance), so no diffuse handling is
needed; an approximate diffuse start is ``P1 = kappa * I`` with a large ``kappa``. These
are the numbers statsmodels gives after ``initialize_known(a1, P1)`` (or
``initialize_approximate_diffuse(kappa)``) with ``loglikelihood_burn = 0``; statsmodels'
default for ``UnobservedComponents`` instead burns the first ``m`` log-likelihood terms.

Missing observations (NaN) skip the update step and add nothing to the log-likelihood
(Durbin & Koopman 2012, Sec. 4.10).

The simulation smoother is Durbin & Koopman (2002, Biometrika 89, 603-615), Algorithm 2:
draw ``(alpha+, y+)`` from the model, smooth ``y - y+`` with the mean of the initial state
set to zero, and add the smoothed mean to ``alpha+``. The kernels are numba-compiled
loops: on the shared 2-core development machine a 1,826-step local level filter took
0.9-1.3 ms against 39 ms for the same recursion as a Python loop over numpy arrays, and
one simulation-smoother draw (simulate, filter, smooth) about 1.5 ms. Draws of one Gibbs
chain are sequential; the forecasts of all draws are vectorised in ``bsts.py``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

__all__ = [
    "FilterResult",
    "kalman_filter",
    "kalman_smoother",
    "simulation_smoother",
]

_LOG2PI = math.log(2.0 * math.pi)


class FilterResult(NamedTuple):
    """Output of :func:`kalman_filter` (time on the first axis)."""

    loglike: float
    predicted_state: np.ndarray  # a_t = E[alpha_t | y_1..y_{t-1}], (n, m)
    predicted_cov: np.ndarray  # P_t, (n, m, m)
    filtered_state: np.ndarray  # a_{t|t}, (n, m)
    filtered_cov: np.ndarray  # P_{t|t}, (n, m, m)
    innovation: np.ndarray  # v_t (NaN where y_t is missing), (n,)
    innovation_var: np.ndarray  # F_t (NaN where y_t is missing), (n,)


# -- numba kernels ------------------------------------------------------------------------
# Explicit loops with preallocated buffers: for the small state dimensions here (m <= ~20)
# they run several times faster than numba's ``@`` (a BLAS call and an allocation each).


@numba.njit(cache=True)
def _matvec(A, x, out):
    m = x.shape[0]
    for i in range(m):
        s = 0.0
        for j in range(m):
            s += A[i, j] * x[j]
        out[i] = s


@numba.njit(cache=True)
def _tpt(Tt, P, q, work, out):
    """out = Tt P Tt' + diag(q), symmetrised."""
    m = q.shape[0]
    for i in range(m):
        for j in range(m):
            s = 0.0
            for k in range(m):
                s += Tt[i, k] * P[k, j]
            work[i, j] = s
    for i in range(m):
        for j in range(i, m):
            s = 0.0
            for k in range(m):
                s += work[i, k] * Tt[j, k]
            out[i, j] = s
            out[j, i] = s
        out[i, i] += q[i]


@numba.njit(cache=True)
def _filter_core(y, Z, H, T, Qd, tix, a1, P1):
    n, m = Z.shape
    a_pred = np.empty((n, m))
    P_pred = np.empty((n, m, m))
    a_filt = np.empty((n, m))
    P_filt = np.empty((n, m, m))
    v = np.full(n, np.nan)
    F = np.full(n, np.nan)
    a = a1.copy()
    P = P1.copy()
    ll = 0.0
    Pz = np.empty(m)
    work = np.empty((m, m))
    for t in range(n):
        a_pred[t] = a
        P_pred[t] = P
        af = a_filt[t]
        Pf = P_filt[t]
        af[:] = a
        Pf[:, :] = P
        if not np.isnan(y[t]):
            z = Z[t]
            f = H
            vt = y[t]
            for i in range(m):
                s = 0.0
                for j in range(m):
                    s += P[i, j] * z[j]
                Pz[i] = s
                f += z[i] * s
                vt -= z[i] * a[i]
            v[t] = vt
            F[t] = f
            ll -= 0.5 * (_LOG2PI + math.log(f) + vt * vt / f)
            for i in range(m):
                af[i] += Pz[i] * vt / f
                for j in range(m):
                    Pf[i, j] -= Pz[i] * Pz[j] / f
        k = tix[t]
        _matvec(T[k], af, a)
        _tpt(T[k], Pf, Qd[k], work, P)
    return ll, a_pred, P_pred, a_filt, P_filt, v, F


@numba.njit(cache=True)
def _smooth_core(Z, T, tix, a_pred, P_pred, v, F, want_cov):
    """State smoother (Durbin & Koopman 2012, eqs. 4.44 and 4.48) on a filter's output."""
    n, m = Z.shape
    alpha = np.empty((n, m))
    V = np.empty((n, m, m)) if want_cov else np.empty((0, m, m))
    r = np.zeros(m)
    rt = np.empty(m)
    N = np.zeros((m, m))
    Pz = np.empty(m)
    eye = np.eye(m)
    for t in range(n - 1, -1, -1):
        # r, N enter as r_t, N_t; the transition out of t is T[tix[t]] (unused at t = n - 1)
        if t < n - 1:
            Tt = T[tix[t]]
            for i in range(m):
                s = 0.0
                for j in range(m):
                    s += Tt[j, i] * r[j]
                rt[i] = s
            r[:] = rt
            if want_cov:
                N = Tt.T @ N @ Tt
        z = Z[t]
        P = P_pred[t]
        if not np.isnan(v[t]):
            f = F[t]
            _matvec(P, z, Pz)
            # L = I - P z z' / F maps a_t to a_{t|t}; r_{t-1} = z v / F + L' r_t
            pr = 0.0
            for i in range(m):
                pr += Pz[i] * r[i]
            c = (v[t] - pr) / f
            for i in range(m):
                r[i] += z[i] * c
            if want_cov:
                Lt = eye - np.outer(Pz, z) / f
                N = np.outer(z, z) / f + Lt.T @ N @ Lt
        at = alpha[t]
        _matvec(P, r, at)
        for i in range(m):
            at[i] += a_pred[t, i]
        if want_cov:
            V[t] = P - P @ N @ P
    return alpha, V


@numba.njit(cache=True)
def _simulate_core(Z, H, T, Qd, tix, a1, P1_chol, e_state, e_obs):
    """Draw (alpha+, y+) from the model given standard normal draws."""
    n, m = Z.shape
    alpha = np.empty((n, m))
    y = np.empty(n)
    a = a1 + P1_chol @ e_state[0]
    b = np.empty(m)
    sh = math.sqrt(H)
    for t in range(n):
        alpha[t] = a
        s = sh * e_obs[t]
        for i in range(m):
            s += Z[t, i] * a[i]
        y[t] = s
        k = tix[t]
        _matvec(T[k], a, b)
        for i in range(m):
            a[i] = b[i] + math.sqrt(Qd[k, i]) * e_state[t + 1, i]
    return alpha, y


@numba.njit(cache=True)
def _simsmooth_core(y, Z, H, T, Qd, tix, a1, P1, P1_chol, e_state, e_obs):
    alpha_plus, y_plus = _simulate_core(Z, H, T, Qd, tix, a1, P1_chol, e_state, e_obs)
    ystar = y - y_plus  # NaN stays NaN
    zero = np.zeros(a1.shape[0])
    _, a_pred, P_pred, _, _, v, F = _filter_core(ystar, Z, H, T, Qd, tix, zero, P1)
    alpha_hat, _ = _smooth_core(Z, T, tix, a_pred, P_pred, v, F, False)
    return alpha_plus + alpha_hat


# -- public wrappers ----------------------------------------------------------------------


def _prepare(
    y: np.ndarray,
    Z: np.ndarray,
    H: float,
    T: np.ndarray,
    Qd: np.ndarray,
    tix: np.ndarray | None,
    a1: np.ndarray,
    P1: np.ndarray,
) -> tuple[Any, ...]:
    y = np.ascontiguousarray(y, dtype=float)
    Z = np.ascontiguousarray(Z, dtype=float)
    n = y.shape[0]
    if Z.ndim == 1:
        Z = np.ascontiguousarray(np.broadcast_to(Z, (n, Z.shape[0])))
    T = np.ascontiguousarray(T, dtype=float)
    if T.ndim == 2:
        T = T[None]
    Qd = np.ascontiguousarray(Qd, dtype=float)
    if Qd.ndim == 1:
        Qd = Qd[None]
    tix_arr = np.zeros(n, dtype=np.int64) if tix is None else np.ascontiguousarray(tix, np.int64)
    a1 = np.ascontiguousarray(a1, dtype=float)
    P1 = np.ascontiguousarray(P1, dtype=float)
    return y, Z, np.float64(H), T, Qd, tix_arr, a1, P1


def kalman_filter(
    y: np.ndarray,
    Z: np.ndarray,
    H: float,
    T: np.ndarray,
    Qd: np.ndarray,
    a1: np.ndarray,
    P1: np.ndarray,
    tix: np.ndarray | None = None,
) -> FilterResult:
    """Kalman filter with the exact Gaussian log-likelihood (DK 2012, eqs. 4.24 and 7.2).

    Parameters
    ----------
    y : (n,) array
        Observations; NaN marks a missing value (no update, no log-likelihood term).
    Z : (n, m) or (m,) array
        Observation loadings ``z_t``.
    H : float
        Observation noise variance.
    T : (K, m, m) or (m, m) array
        Transition matrices; ``T[tix[t]]`` maps ``alpha_t`` to ``alpha_{t+1}``.
    Qd : (K, m) or (m,) array
        Diagonals of the state disturbance covariances, indexed like ``T``.
    a1, P1 : (m,), (m, m) arrays
        Mean and covariance of the initial state (known initialisation).
    tix : (n,) int array, optional
        Which transition applies after each period; zeros when omitted.
    """
    args = _prepare(y, Z, H, T, Qd, tix, a1, P1)
    ll, a_pred, P_pred, a_filt, P_filt, v, F = _filter_core(*args)
    return FilterResult(float(ll), a_pred, P_pred, a_filt, P_filt, v, F)


def kalman_smoother(
    y: np.ndarray,
    Z: np.ndarray,
    H: float,
    T: np.ndarray,
    Qd: np.ndarray,
    a1: np.ndarray,
    P1: np.ndarray,
    tix: np.ndarray | None = None,
    *,
    cov: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Smoothed states ``E[alpha_t | y]`` (and, with ``cov=True``, their covariances).

    Arguments as in :func:`kalman_filter`. Returns ``(alpha_hat, V)`` with shapes
    ``(n, m)`` and ``(n, m, m)`` (``V`` is None unless ``cov``).
    """
    y, Z, H_, T, Qd, tix_arr, a1, P1 = _prepare(y, Z, H, T, Qd, tix, a1, P1)
    _, a_pred, P_pred, _, _, v, F = _filter_core(y, Z, H_, T, Qd, tix_arr, a1, P1)
    alpha, V = _smooth_core(Z, T, tix_arr, a_pred, P_pred, v, F, cov)
    return alpha, (V if cov else None)


def simulation_smoother(
    y: np.ndarray,
    Z: np.ndarray,
    H: float,
    T: np.ndarray,
    Qd: np.ndarray,
    a1: np.ndarray,
    P1: np.ndarray,
    rng: np.random.Generator,
    tix: np.ndarray | None = None,
) -> np.ndarray:
    """One draw of ``alpha | y`` by the Durbin & Koopman (2002) simulation smoother.

    Arguments as in :func:`kalman_filter`; ``rng`` supplies the standard normals, so a
    seeded generator gives the same draw on every platform. Returns an ``(n, m)`` array.
    """
    y, Z, H_, T, Qd, tix_arr, a1, P1 = _prepare(y, Z, H, T, Qd, tix, a1, P1)
    n, m = Z.shape
    e_state = rng.standard_normal((n + 1, m))
    e_obs = rng.standard_normal(n)
    P1_chol = _psd_cholesky(P1)
    return np.asarray(_simsmooth_core(y, Z, H_, T, Qd, tix_arr, a1, P1, P1_chol, e_state, e_obs))


def _psd_cholesky(P: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (zero rows allowed)."""
    keep = np.diag(P) > 0
    L = np.zeros_like(P)
    if keep.any():
        L[np.ix_(keep, keep)] = np.linalg.cholesky(P[np.ix_(keep, keep)])
    return np.ascontiguousarray(L)
