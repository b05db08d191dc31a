"""Bayesian structural time series (BSTS) fitted by Gibbs sampling.

The model (Scott & Varian 2014, "Predicting the present with Bayesian structural time
series", Int. J. Math. Model. Numer. Optim. 5(1); Brodersen et al. 2015, Ann. Appl. Stat.
9(1), Sec. 2) is

.. math::

    y_t = \\mu_t + \\sum_s \\tau^{(s)}_t + x_t'\\beta_t + \\varepsilon_t,
    \\qquad \\varepsilon_t \\sim N(0, \\sigma^2),

with components

* local level ``mu_{t+1} = mu_t + eta``, or local linear trend (level plus a random-walk
  slope ``delta``);
* seasonal blocks ``(period S, duration d)``: ``S - 1`` dummy-seasonal states whose
  effects sum to zero over a cycle; the state moves to the next season every ``d``
  periods and stays put in between;
* static regression ``x_t' beta`` with spike-and-slab selection (George & McCulloch 1997,
  JASA 92; Scott & Varian 2014): ``gamma_j ~ Bernoulli(pi)`` with
  ``pi = expected_model_size / k``, ``1/sigma^2 ~ Gamma(df/2, df (1 - R^2) s_y^2 / 2)``
  and the Zellner-type slab ``beta_gamma | sigma^2 ~ N(0, sigma^2 Omega_gamma)``,
  ``Omega^{-1} = (w / n) ((1 - a) X'X + a diag(X'X))`` (``w`` the prior information
  weight, ``a`` the diagonal shrinkage); or, with ``dynamic_regression=True``,
  random-walk coefficients ``beta_{t+1} = beta_t + eta`` (no selection).

Each state standard deviation has the prior ``1/sigma_j^2 ~ Gamma(nu/2, nu g^2/2)``
truncated to ``sigma_j <= s_y`` (bsts' ``SdPrior(g, nu, upper.limit = s_y)``), with
``g = prior_level_sd * s_y``; ``nu = 32`` for the level (CausalImpact's choice) and
``0.01`` for slope, seasonal and dynamic coefficients (bsts' defaults). The initial
state is ``N(first observed y, s_y^2)`` for the level and ``N(0, s_y^2)`` otherwise.

One Gibbs sweep: the states by the Durbin & Koopman (2002) simulation smoother; the
state variances from their truncated inverse-gamma conditionals; then, given the states,
the indicators ``gamma_j`` one at a time from ``p(gamma_j | gamma_{-j}, states, y)`` with
``beta`` and ``sigma^2`` integrated out, followed by ``sigma^2`` and ``beta_gamma``
from their conjugate conditionals. The regression has no intercept: the level absorbs it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np
import pandas as pd
from scipy import special
from sklearn.base import BaseEstimator

from paribus._core.params import (
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    Satisfies,
    validate_params,
)
from paribus._core.progress import progress
from paribus.designs.impact._kalman import simulation_smoother
from paribus.errors import DataError, NotFittedError

__all__ = ["BSTS", "effective_sample_size", "geweke_z", "split_rhat"]

_LEVEL_DF = 32.0  # CausalImpact's kLocalLevelPriorSampleSize
_OTHER_DF = 0.01  # bsts' default SdPrior sample size


def _valid_seasons(value: Any) -> bool:
    for item in value:
        period, duration = item
        for v in (period, duration):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                return False
        if period < 2 or duration < 1:
            return False
    return True


SEASONS = Satisfies(_valid_seasons, "a sequence of (period >= 2, duration >= 1) integer pairs")


@dataclass(frozen=True)
class _Layout:
    """State layout: the transitions, loadings and the disturbance masks of each sd."""

    names: tuple[str, ...]  # one per state standard deviation
    T: np.ndarray  # (K, m, m) one transition per season on/off pattern
    masks: np.ndarray  # (J, K, m): var_j enters Qd[k, i] where masks[j, k, i] == 1
    z_base: np.ndarray  # (m,) loadings of the non-regression states
    dyn: slice  # states of the dynamic coefficients (empty slice when none)
    level_df: tuple[float, ...]  # prior sample size of each sd
    seasons: tuple[tuple[int, int], ...]

    def tix(self, start: int, stop: int) -> np.ndarray:
        """Transition index for transitions out of periods ``start..stop-1``."""
        t = np.arange(start, stop)
        code = np.zeros(t.shape[0], dtype=np.int64)
        for s, (_, dur) in enumerate(self.seasons):
            code += ((t + 1) % dur == 0).astype(np.int64) << s
        return code

    def qd(self, variances: np.ndarray) -> np.ndarray:
        """Diagonal disturbance variances ``(K, m)`` (or ``(D, K, m)`` for draws)."""
        return np.tensordot(variances, self.masks, axes=(-1, 0))


def _layout(trend: str, seasons: tuple[tuple[int, int], ...], k_dyn: int) -> _Layout:
    sizes = [1 if trend == "level" else 2] + [p - 1 for p, _ in seasons] + [k_dyn]
    m = sum(sizes)
    n_pat = 2 ** len(seasons)
    names = ["sigma_level"] + (["sigma_slope"] if trend == "linear" else [])
    names += [f"sigma_season_{p}x{d}" for p, d in seasons]
    names += [f"sigma_coef_{j}" for j in range(k_dyn)]
    T = np.zeros((n_pat, m, m))
    masks = np.zeros((len(names), n_pat, m))
    z = np.zeros(m)
    z[0] = 1.0
    T[:, 0, 0] = 1.0
    masks[0, :, 0] = 1.0
    if trend == "linear":
        T[:, 0, 1] = T[:, 1, 1] = 1.0
        masks[1, :, 1] = 1.0
    pos, j = sizes[0], len(names) - len(seasons) - k_dyn
    for s, (period, _) in enumerate(seasons):
        b = period - 1
        z[pos] = 1.0
        for k in range(n_pat):
            block = np.eye(b)
            if k >> s & 1:  # this season moves on after period t
                block = np.zeros((b, b))
                block[0, :] = -1.0
                block[np.arange(1, b), np.arange(b - 1)] = 1.0
                masks[j + s, k, pos] = 1.0
            T[k, pos : pos + b, pos : pos + b] = block
        pos += b
    dyn = slice(pos, pos + k_dyn)
    for c in range(k_dyn):
        T[:, pos + c, pos + c] = 1.0
        masks[j + len(seasons) + c, :, pos + c] = 1.0
    dfs = tuple(_LEVEL_DF if i == 0 else _OTHER_DF for i in range(len(names)))
    return _Layout(tuple(names), T, masks, z, dyn, dfs, seasons)


def _draw_sd2(rng: np.random.Generator, shape: float, rate: float, upper: float) -> float:
    """``sigma^2`` with ``1/sigma^2 ~ Gamma(shape, rate)`` truncated to ``sigma <= upper``."""
    tau_min = 1.0 / upper**2
    lo = float(special.gammainc(shape, rate * tau_min))
    if lo > 1.0 - 1e-12:
        return upper**2
    u = lo + (1.0 - lo) * rng.uniform()
    tau = float(special.gammaincinv(shape, u)) / rate
    return 1.0 / max(tau, tau_min)


@numba.njit(cache=True)
def _chol(A):
    """Lower Cholesky factor of a small positive definite matrix."""
    k = A.shape[0]
    L = np.zeros((k, k))
    for j in range(k):
        s = A[j, j]
        for p in range(j):
            s -= L[j, p] * L[j, p]
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, k):
            s = A[i, j]
            for p in range(j):
                s -= L[i, p] * L[j, p]
            L[i, j] = s / L[j, j]
    return L


@numba.njit(cache=True)
def _model_fit(XtX, omega_inv, Xtr, rtr, g, ss):
    """For the model ``g``: (log det ratio, chol(X'X + Omega^-1), whitened X'r, SS_gamma)."""
    idx = np.nonzero(g)[0]
    k = idx.size
    if k == 0:
        return 0.0, np.zeros((0, 0)), np.zeros(0), ss + rtr
    A = np.empty((k, k))
    B = np.empty((k, k))
    for a in range(k):
        for b in range(k):
            B[a, b] = omega_inv[idx[a], idx[b]]
            A[a, b] = XtX[idx[a], idx[b]] + B[a, b]
    L = _chol(A)
    LB = _chol(B)
    w = np.empty(k)
    ww = 0.0
    ld = 0.0
    for a in range(k):
        s = Xtr[idx[a]]
        for b in range(a):
            s -= L[a, b] * w[b]
        w[a] = s / L[a, a]
        ww += w[a] * w[a]
        ld += math.log(LB[a, a]) - math.log(L[a, a])
    return ld, L, w, ss + rtr - ww


@numba.njit(cache=True)
def _flip_sweep(XtX, omega_inv, Xtr, rtr, g, order, u, logit_pi, ss, half_dfn):
    """One Gibbs pass over the indicators, beta and sigma^2 integrated out (SV 2014)."""
    for j in order:
        lp = np.empty(2)
        for val in range(2):
            g[j] = val
            ld, _, _, ssg = _model_fit(XtX, omega_inv, Xtr, rtr, g, ss)
            lp[val] = ld - half_dfn * math.log(ssg) + val * logit_pi
        diff = min(lp[0] - lp[1], 700.0)
        g[j] = 1 if u[j] < 1.0 / (1.0 + math.exp(diff)) else 0


class _SpikeSlab:
    """Conjugate spike-and-slab regression of residuals on X (George & McCulloch 1997)."""

    def __init__(self, X: np.ndarray, pi: float, df: float, ss: float, weight: float, a: float):
        n = X.shape[0]
        self.X, self.XtX, self.n = X, X.T @ X, n
        d = np.diag(np.diag(self.XtX))
        self.omega_inv = weight / n * ((1.0 - a) * self.XtX + a * d)
        self.pi, self.df, self.ss = pi, df, ss

    def draw(self, r: np.ndarray, g: np.ndarray, rng: np.random.Generator) -> tuple[Any, ...]:
        Xtr, rtr = self.X.T @ r, float(r @ r)
        if self.pi < 1.0:
            logit = math.log(self.pi) - math.log1p(-self.pi)
            order, u = rng.permutation(g.size), rng.uniform(size=g.size)
            half = 0.5 * (self.df + self.n)
            _flip_sweep(self.XtX, self.omega_inv, Xtr, rtr, g, order, u, logit, self.ss, half)
        else:  # every control is in the model
            g[:] = 1
        _, L, w, ss = _model_fit(self.XtX, self.omega_inv, Xtr, rtr, g, self.ss)
        sigma2 = 1.0 / rng.gamma(0.5 * (self.df + self.n), 2.0 / ss)
        beta = np.zeros(g.size)
        if w.size:
            z = rng.standard_normal(w.size)
            beta[np.flatnonzero(g)] = np.linalg.solve(L.T, w + math.sqrt(sigma2) * z)
        return beta, sigma2


class BSTS(BaseEstimator):
    """Bayesian structural time series model (module docstring gives the model and priors).

    Parameters
    ----------
    trend : {"level", "linear"}, default "level"
        Local level, or local linear trend.
    seasons : sequence of (period, duration), default ()
        Seasonal components, e.g. ``[(7, 1)]`` for day-of-week on daily data or
        ``[(52, 7)]`` for week-of-year on daily data.
    dynamic_regression : bool, default False
        Random-walk regression coefficients instead of static spike-and-slab ones.
    prior_level_sd : float, default 0.01
        Prior guess of each state sd, as a multiple of the sd of y.
    expected_model_size, expected_r2, prior_df, prior_information_weight, diagonal_shrinkage
        Spike-and-slab prior (defaults 3, 0.8, 50, 0.01, 0.5 as in CausalImpact/bsts).
    niter : int, default 1000
        Kept Gibbs draws.
    burn : int or None, default None
        Discarded initial sweeps; ``None`` means ``max(100, niter // 10)``.
    random_state : int or None
        Seed of the sampler.

    Attributes
    ----------
    draws_ : dict of str to ndarray
        ``sigma_obs``, the state sds (``sigma_level``, ...), ``beta`` ``(niter, k)`` and
        ``inclusion`` ``(niter, k)`` (static regression).
    signal_draws_ : ndarray ``(niter, n)``
        Posterior draws of ``z_t' alpha_t + x_t' beta`` (noise-free fit).
    x_center_ : ndarray ``(k,)``
        Static regression uses controls centred on their mean over the observed periods
        (the level absorbs the constant; this avoids a slow-mixing trade-off between the
        level and ``beta`` when the controls have a large mean).
    diagnostics_ : DataFrame
        Per scalar parameter: mean, sd, ``ess``, split ``r_hat`` and Geweke ``z``.
    inclusion_probabilities_ : ndarray ``(k,)``
        Posterior inclusion probabilities of the controls.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "trend": [Options(("level", "linear"))],
        "seasons": [SEASONS],
        "dynamic_regression": [Options((True, False))],
        "prior_level_sd": [Interval(0, None, closed="neither")],
        "expected_model_size": [Interval(0, None, closed="neither")],
        "expected_r2": [Interval(0, 1, closed="neither")],
        "prior_df": [Interval(0, None, closed="neither")],
        "prior_information_weight": [Interval(0, None, closed="neither")],
        "diagonal_shrinkage": [Interval(0, 1, closed="both")],
        "niter": [Interval(10, None, integer=True)],
        "burn": [NONE, Interval(0, None, integer=True)],
        "random_state": [RANDOM_STATE],
    }

    def __init__(
        self,
        *,
        trend: str = "level",
        seasons: tuple[tuple[int, int], ...] | list[tuple[int, int]] = (),
        dynamic_regression: bool = False,
        prior_level_sd: float = 0.01,
        expected_model_size: float = 3.0,
        expected_r2: float = 0.8,
        prior_df: float = 50.0,
        prior_information_weight: float = 0.01,
        diagonal_shrinkage: float = 0.5,
        niter: int = 1000,
        burn: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.trend = trend
        self.seasons = seasons
        self.dynamic_regression = dynamic_regression
        self.prior_level_sd = prior_level_sd
        self.expected_model_size = expected_model_size
        self.expected_r2 = expected_r2
        self.prior_df = prior_df
        self.prior_information_weight = prior_information_weight
        self.diagonal_shrinkage = diagonal_shrinkage
        self.niter = niter
        self.burn = burn
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------

    def fit(self, y: Any, X: Any = None) -> BSTS:
        """Sample the posterior given ``y`` (NaN allowed) and optional controls ``X``."""
        params = self.get_params(deep=False)
        params["seasons"] = list(self.seasons)
        validate_params(type(self).__name__, params, self._parameter_constraints)
        y, X = _check_inputs(y, X)
        obs = ~np.isnan(y)
        sdy = float(np.std(y[obs], ddof=1))
        k = X.shape[1]
        dyn = self.dynamic_regression and k > 0
        lay = _layout(self.trend, tuple((int(p), int(d)) for p, d in self.seasons), k if dyn else 0)
        self.layout_, self.n_controls_, self.sdy_ = lay, k, sdy
        # static regression on centred controls: the level absorbs the constant, and the
        # level and beta are not confounded through a large mean of X (slow mixing)
        self.x_center_ = X[obs].mean(axis=0) if k and not dyn else np.zeros(k)
        X = X - self.x_center_
        Z = np.tile(lay.z_base, (y.size, 1))
        if dyn:
            Z[:, lay.dyn] = X
        a1 = np.zeros(lay.T.shape[1])
        a1[0] = y[obs][0]
        P1 = np.eye(a1.size) * sdy**2
        self._sample(y, X, Z, a1, P1, obs, sdy, static=k > 0 and not dyn)
        return self

    def _sample(self, y, X, Z, a1, P1, obs, sdy, *, static):
        rng = np.random.default_rng(self.random_state)
        lay = self.layout_
        n, k = y.size, X.shape[1]
        burn = max(100, self.niter // 10) if self.burn is None else int(self.burn)
        guess2 = (self.prior_level_sd * sdy) ** 2
        dfs = np.asarray(lay.level_df)
        var = np.full(len(lay.names), guess2)
        df_obs, ss_obs = self.prior_df, self.prior_df * (1.0 - self.expected_r2) * sdy**2
        sigma2 = ss_obs / df_obs
        tix = lay.tix(0, n - 1)
        tix_full = np.append(tix, 0)
        slab = None
        if static:
            pi = min(1.0, self.expected_model_size / k)
            w, a = self.prior_information_weight, self.diagonal_shrinkage
            slab = _SpikeSlab(X[obs], pi, df_obs, ss_obs, w, a)
        beta, g = np.zeros(k), np.zeros(k, dtype=np.int64)
        mask_t = lay.masks[:, tix, :]  # (J, n-1, m)
        n_keep = self.niter
        out_sd = np.empty((n_keep, len(lay.names)))
        out_obs = np.empty(n_keep)
        out_beta, out_g = np.zeros((n_keep, k)), np.zeros((n_keep, k))
        signal = np.empty((n_keep, n))
        last = np.empty((n_keep, a1.size))
        for it in progress(range(burn + n_keep), burn + n_keep, "BSTS Gibbs"):
            xb = X @ beta if static else np.zeros(n)
            alpha = simulation_smoother(
                y - xb, Z, sigma2, lay.T, lay.qd(var), a1, P1, rng, tix=tix_full
            )
            eta2 = (alpha[1:] - np.einsum("tij,tj->ti", lay.T[tix], alpha[:-1])) ** 2
            for j in range(var.size):
                cnt, sse = mask_t[j].sum(), float((mask_t[j] * eta2).sum())
                var[j] = _draw_sd2(rng, 0.5 * (dfs[j] + cnt), 0.5 * (dfs[j] * guess2 + sse), sdy)
            mu = np.einsum("ti,ti->t", Z, alpha)
            if slab is not None:
                beta, sigma2 = slab.draw((y - mu)[obs], g, rng)
            else:
                sse = float(np.sum((y - mu)[obs] ** 2))
                shape, rate = 0.5 * (df_obs + obs.sum()), 0.5 * (ss_obs + sse)
                sigma2 = _draw_sd2(rng, shape, rate, 1.2 * sdy)
            if it >= burn:
                i = it - burn
                out_sd[i], out_obs[i], out_beta[i], out_g[i] = np.sqrt(var), sigma2, beta, g
                signal[i] = mu + (X @ beta if static else 0.0)
                last[i] = alpha[-1]
        self.draws_ = {"sigma_obs": np.sqrt(out_obs)}
        self.draws_.update({name: out_sd[:, j] for j, name in enumerate(lay.names)})
        if static:
            self.draws_["beta"], self.draws_["inclusion"] = out_beta, out_g
        self.signal_draws_, self.last_state_draws_ = signal, last
        self.inclusion_probabilities_ = out_g.mean(axis=0) if static else np.full(k, np.nan)
        self.n_obs_ = int(obs.sum())
        self.diagnostics_ = _diagnostics(self.draws_)

    # -- prediction -----------------------------------------------------------------------

    def predict_draws(self, horizon: int, X: Any = None, random_state: Any = None) -> np.ndarray:
        """Posterior predictive draws ``(niter, horizon)`` of the next ``horizon`` values.

        All draws move forward together (vectorised over draws): for each kept draw the
        state at the last fitted period is propagated with that draw's variances, and
        observation noise with that draw's ``sigma_obs`` is added.
        """
        if not hasattr(self, "draws_"):
            raise NotFittedError("this BSTS is not fitted yet; call fit(y, X) first")
        k = self.n_controls_
        Xf = (
            np.zeros((horizon, 0)) if X is None else np.asarray(X, dtype=float).reshape(horizon, -1)
        )
        if Xf.shape[1] != k:
            raise DataError(f"X has {Xf.shape[1]} columns; the model was fitted with {k}")
        Xf = Xf - self.x_center_
        rng = np.random.default_rng(random_state)
        lay, n = self.layout_, self.signal_draws_.shape[1]
        sd = np.column_stack([self.draws_[name] for name in lay.names])
        qd = np.sqrt(lay.qd(sd**2))  # (D, K, m)
        state = self.last_state_draws_.copy()
        D = state.shape[0]
        tix = lay.tix(n - 1, n - 1 + horizon)
        beta = self.draws_.get("beta", np.zeros((D, k)))
        out = np.empty((D, horizon))
        for h in range(horizon):
            kk = tix[h]
            state = state @ lay.T[kk].T + qd[:, kk, :] * rng.standard_normal(state.shape)
            z = lay.z_base.copy()
            if self.dynamic_regression and k > 0:
                z[lay.dyn] = Xf[h]
            out[:, h] = state @ z + beta @ Xf[h]
        return out + self.draws_["sigma_obs"][:, None] * rng.standard_normal(out.shape)


def _check_inputs(y: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).ravel()
    X = np.zeros((y.size, 0)) if X is None else np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != y.size:
        raise DataError(f"X has {X.shape[0]} rows but y has {y.size}; pass one row per period")
    if not np.all(np.isfinite(X)):
        raise DataError("X contains NaN or infinite values; controls must be complete")
    obs = ~np.isnan(y)
    if obs.sum() < 3 or np.isinf(y[obs]).any():
        raise DataError(f"y needs at least 3 finite values; found {int(obs.sum())}")
    if np.std(y[obs]) == 0:
        raise DataError("y is constant over the fitted periods; nothing to model")
    return y, X


# -- convergence diagnostics ----------------------------------------------------------------


def effective_sample_size(x: np.ndarray) -> float:
    """ESS of one chain by Geyer's initial positive sequence (Geyer 1992, Stat. Sci. 7)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    xc = x - x.mean()
    var = float(xc @ xc) / n
    if n < 4 or var <= 0:
        return float(n)
    f = np.fft.rfft(xc, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n] / (n * var)
    s = 0.0
    for t in range(0, n - 1, 2):
        pair = acf[t] + acf[t + 1]
        if pair <= 0:
            break
        s += pair
    return float(n / max(2.0 * s - 1.0, 1e-12))


def split_rhat(x: np.ndarray) -> float:
    """Split-chain potential scale reduction (Gelman et al. 2013, BDA3 eq. 11.4)."""
    x = np.asarray(x, dtype=float)
    half = x.size // 2
    chains = np.vstack([x[:half], x[half : 2 * half]])
    w = chains.var(axis=1, ddof=1).mean()
    b = half * chains.mean(axis=1).var(ddof=1)
    if w <= 0:
        return 1.0
    return float(np.sqrt(((half - 1) / half * w + b / half) / w))


def geweke_z(x: np.ndarray, first: float = 0.1, last: float = 0.5) -> float:
    """Geweke (1992) z: mean of the first 10% against the last 50%, ESS-based variances."""
    x = np.asarray(x, dtype=float)
    a, b = x[: int(first * x.size)], x[int((1 - last) * x.size) :]
    va = a.var(ddof=1) / effective_sample_size(a) if a.size > 3 else np.nan
    vb = b.var(ddof=1) / effective_sample_size(b) if b.size > 3 else np.nan
    den = math.sqrt(va + vb) if va + vb > 0 else math.nan
    return float((a.mean() - b.mean()) / den) if den == den else math.nan


def _diagnostics(draws: dict[str, np.ndarray]) -> pd.DataFrame:
    rows: dict[str, np.ndarray] = {}
    for name, arr in draws.items():
        if name == "inclusion":
            continue
        if arr.ndim == 1:
            rows[name] = arr
        else:
            rows.update({f"{name}[{j}]": arr[:, j] for j in range(arr.shape[1])})
    table = {
        name: {
            "mean": float(x.mean()),
            "sd": float(x.std(ddof=1)),
            "ess": effective_sample_size(x),
            "r_hat": split_rhat(x),
            "geweke_z": geweke_z(x),
        }
        for name, x in rows.items()
    }
    return pd.DataFrame.from_dict(table, orient="index")
