"""SyntheticDiD: synthetic difference in differences (Arkhangelsky et al. 2021).

Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021), "Synthetic Difference in
Differences", AER 111(12), 4088-4118. In a block design (``N_tr`` treated units all
adopting at period ``T_pre + 1``; ``N_co`` controls never treated) the estimate is the
weighted two-way fixed-effects regression (Algorithm 1, eq. 1)

    tau = argmin sum_it (Y_it - mu - alpha_i - beta_t - W_it tau)^2 omega_i lambda_t,

with treated units weighted ``1/N_tr`` and post periods ``1/T_post``. The unit weights
``omega`` (on the simplex, with an intercept ``omega_0``) make the weighted control
trend match the treated average in the pre-period under the ridge penalty
``zeta^2 T_pre ||omega||^2`` (eq. 4), ``zeta = (N_tr T_post)^(1/4) sigma`` with
``sigma`` the standard deviation of the first differences of the control outcomes in
the pre-period (eq. 2); the time weights ``lambda`` (simplex, intercept) make the
weighted pre-period match the post-period average of the controls (eq. 6), with a
ridge of ``(1e-6 sigma)^2`` for uniqueness as in the authors' software. The solution
of the regression is the double difference

    tau = (ybar_tr,post - lambda' y_tr,pre) - (omega' Y_co,post avg - omega' Y_co,pre lambda).

Table 1's other two estimators are variants: ``"sc"`` (synthetic control: no
intercept, ``zeta = 1e-6 sigma``, no time weights, no unit fixed effects) and
``"did"`` (uniform unit and time weights).

Weights are found by Frank-Wolfe with exact line search as in the authors' software
(100 iterations, weights at most a quarter of the largest set to zero, then up to
10,000 more from there, stopping once the objective falls by less than
``(1e-5 sigma)^2`` in an iteration), or (``solver="qp"``) by an exact active-set
solution of the same quadratic programme without the sparsification step.

Standard errors: placebo (Algorithm 4: controls reassigned as treated), bootstrap
(Algorithm 2: units resampled, weights re-estimated) and jackknife (Algorithm 3:
leave one unit out, weights held fixed). The penalty ``zeta`` is computed once on the
full panel and held fixed in the replications, as in the authors' software.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.parallel import run_tasks
from paribus._core.params import (
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    check_level,
    validate_params,
)
from paribus.data.convert import to_pandas
from paribus.designs.synth._data import outcome_matrix
from paribus.errors import ConvergenceError, DataError, NotFittedError, ParameterError
from paribus.results import Effect

__all__ = ["SyntheticDiD", "simplex_least_squares"]

_ESTIMATORS = ("sdid", "sc", "did")
_SES = ("placebo", "bootstrap", "jackknife")
_SOLVERS = ("frank-wolfe", "qp")
_PRE_SPARSIFY_ITER = 100
_MAX_ITER = 10_000


# -- quadratic programmes on the simplex ------------------------------------------------


@numba.njit(cache=True)
def _frank_wolfe(
    a: np.ndarray, b: np.ndarray, zeta: float, x0: np.ndarray, min_decrease: float, max_iter: int
) -> np.ndarray:  # pragma: no cover - compiled
    """Frank-Wolfe for ``min ||a x - b||^2 / rows + zeta^2 ||x||^2`` on the simplex.

    Each step moves towards the vertex with the smallest gradient coordinate with an
    exact line search; it stops when an iteration lowers the objective by less than
    ``min_decrease^2`` (Frank & Wolfe 1956; the rule of the SDID software).
    """
    rows = a.shape[0]
    eta = rows * zeta**2
    x = x0.copy()
    ax = a @ x
    previous = np.inf
    for _ in range(max_iter):
        grad = (ax - b) @ a + eta * x
        i = int(np.argmin(grad))
        dx = -x
        dx[i] += 1.0
        if not np.any(dx != 0.0):
            break
        derr = a[:, i] - ax
        denom = derr @ derr + eta * (dx @ dx)
        step = 0.0
        if denom > 0:
            step = min(1.0, max(0.0, -(grad @ dx) / denom))
        x += step * dx
        ax += step * derr
        resid = ax - b
        value = zeta**2 * (x @ x) + (resid @ resid) / rows
        if previous - value <= min_decrease**2:
            break
        previous = value
    return x


def _sparsify(x: np.ndarray) -> np.ndarray:
    """Zero the weights at most a quarter of the largest and renormalise."""
    out = np.where(x <= x.max() / 4, 0.0, x)
    return out / out.sum()


def simplex_least_squares(a: np.ndarray, b: np.ndarray, eta: float = 0.0) -> np.ndarray:
    """Exact minimiser of ``||a x - b||^2 + eta ||x||^2`` over the probability simplex.

    A primal active-set method (Nocedal & Wright 2006, Algorithm 16.3): equality-
    constrained least squares on the free set, steps blocked at the boundary, and
    the most negative Lagrange multiplier of the bound constraints released until the
    Karush-Kuhn-Tucker conditions hold.

    Parameters
    ----------
    a : ndarray (m, n)
    b : ndarray (m,)
    eta : float, default 0
        Ridge penalty (non-negative).

    Returns
    -------
    ndarray (n,)
        Non-negative weights summing to one.
    """
    n = a.shape[1]
    q = a.T @ a + eta * np.eye(n)
    c = a.T @ b
    scale = max(1.0, float(np.abs(q).max()))
    tol = 1e-11 * scale
    x = np.full(n, 1.0 / n)
    free = np.ones(n, dtype=bool)
    for _ in range(20 * n + 100):
        idx = np.flatnonzero(free)
        k = idx.size
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = q[np.ix_(idx, idx)]
        kkt[:k, k] = 1.0
        kkt[k, :k] = 1.0
        rhs = np.append(c[idx], 1.0)
        z = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
        if np.all(z >= 0):
            x = np.zeros(n)
            x[idx] = z
            grad = q @ x - c
            nu = -float(np.mean(grad[idx]))
            mult = grad + nu
            mult[free] = 0.0
            j = int(np.argmin(mult))
            if mult[j] >= -tol:
                return x
            free[j] = True
            continue
        p = z - x[idx]
        neg = p < 0
        ratios = -x[idx][neg] / p[neg]
        alpha = float(min(1.0, ratios.min()))
        x[idx] = x[idx] + alpha * p
        block = idx[neg][ratios <= alpha + 1e-15]
        x[block] = 0.0
        free[block] = False
        x = np.maximum(x, 0.0)
        x /= x.sum()
    raise ConvergenceError(
        "simplex_least_squares: the active-set method did not converge; use solver='frank-wolfe'."
    )


def _weights(
    a: np.ndarray,
    b: np.ndarray,
    zeta: float,
    *,
    intercept: bool,
    solver: str,
    min_decrease: float,
) -> np.ndarray:
    """Simplex weights of eq. (4)/(6): rows of ``a`` are observations, columns the weights."""
    a = np.ascontiguousarray(a - a.mean(axis=0) if intercept else a, dtype=float)
    b = np.ascontiguousarray(b - b.mean() if intercept else b, dtype=float)
    if solver == "qp":
        return simplex_least_squares(a, b, a.shape[0] * zeta**2)
    start = np.full(a.shape[1], 1.0 / a.shape[1])
    x = _frank_wolfe(a, b, zeta, start, min_decrease, _PRE_SPARSIFY_ITER)
    return _frank_wolfe(a, b, zeta, _sparsify(x), min_decrease, _MAX_ITER)


# -- the estimator on arrays -------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    estimator: str
    solver: str
    zeta_omega: float
    zeta_lambda: float
    min_decrease: float
    noise_level: float


@dataclass(frozen=True)
class _Fit:
    tau: float
    omega: np.ndarray  # (n0,)
    lam: np.ndarray  # (t0,)


def _noise_level(y: np.ndarray, n0: int, t0: int) -> float:
    """sd of the first differences of the control outcomes in the pre-period (eq. 2)."""
    diffs = np.diff(y[:n0, :t0], axis=1)
    return float(np.std(diffs, ddof=1))


def _config(y: np.ndarray, n0: int, t0: int, estimator: str, solver: str) -> _Config:
    n1, t1 = y.shape[0] - n0, y.shape[1] - t0
    sigma = _noise_level(y, n0, t0)
    zeta_omega = (n1 * t1) ** 0.25 * sigma if estimator == "sdid" else 1e-6 * sigma
    return _Config(estimator, solver, zeta_omega, 1e-6 * sigma, 1e-5 * sigma, sigma)


def _tau(y: np.ndarray, n0: int, t0: int, omega: np.ndarray, lam: np.ndarray) -> float:
    """The double difference: (treated - omega-weighted controls) x (post avg - lambda pre)."""
    unit = np.concatenate([-omega, np.full(y.shape[0] - n0, 1.0 / (y.shape[0] - n0))])
    time = np.concatenate([-lam, np.full(y.shape[1] - t0, 1.0 / (y.shape[1] - t0))])
    return float(unit @ y @ time)


def _estimate(y: np.ndarray, n0: int, t0: int, cfg: _Config) -> _Fit:
    """Algorithm 1 on ``y`` (units x periods; controls first, pre-periods first)."""
    treated_pre = y[n0:, :t0].mean(axis=0)
    control_post = y[:n0, t0:].mean(axis=1)
    if cfg.estimator == "did":
        omega, lam = np.full(n0, 1.0 / n0), np.full(t0, 1.0 / t0)
    else:
        omega = _weights(
            y[:n0, :t0].T,
            treated_pre,
            cfg.zeta_omega,
            intercept=cfg.estimator == "sdid",
            solver=cfg.solver,
            min_decrease=cfg.min_decrease,
        )
        if cfg.estimator == "sc":
            lam = np.zeros(t0)
        else:
            lam = _weights(
                y[:n0, :t0],
                control_post,
                cfg.zeta_lambda,
                intercept=True,
                solver=cfg.solver,
                min_decrease=cfg.min_decrease,
            )
    return _Fit(_tau(y, n0, t0, omega, lam), omega, lam)


def _renormalise(w: np.ndarray) -> np.ndarray:
    total = w.sum()
    return w / total if total > 0 else np.full(w.size, 1.0 / w.size)


def _tau_of(y: np.ndarray, n0: int, t0: int, cfg: _Config) -> float:
    return _estimate(y, n0, t0, cfg).tau


def _placebo(y: np.ndarray, n0: int, t0: int, cfg: _Config, b: int, seed: int | None) -> Any:
    """Algorithm 4: ``N_tr`` controls play the treated units; the treated are dropped.

    When the number of ways to choose them is at most ``b`` every choice is used once
    (the limit of the random draws); otherwise ``b`` random choices.
    """
    n1 = y.shape[0] - n0
    controls = y[:n0]
    exhaustive = math.comb(n0, n1) <= b
    if exhaustive:
        draws = [np.array(c) for c in itertools.combinations(range(n0), n1)]
    else:
        rng = np.random.default_rng(seed)
        draws = [rng.choice(n0, size=n1, replace=False) for _ in range(b)]
    tasks: list[tuple[np.ndarray, int, int, _Config]] = []
    for fake in draws:
        rest = np.setdiff1d(np.arange(n0), fake)
        tasks.append((np.vstack([controls[rest], controls[fake]]), n0 - n1, t0, cfg))
    return np.asarray(run_tasks(_tau_of, tasks, desc="SDID placebo")), exhaustive


def _bootstrap(y: np.ndarray, n0: int, t0: int, cfg: _Config, b: int, seed: int | None) -> Any:
    """Algorithm 2: resample units; draws with no treated or no control unit are redrawn."""
    n = y.shape[0]
    rng = np.random.default_rng(seed)
    tasks: list[tuple[np.ndarray, int, int, _Config]] = []
    while len(tasks) < b:
        idx = np.sort(rng.integers(0, n, size=n))
        k0 = int((idx < n0).sum())
        if 0 < k0 < n:
            tasks.append((y[idx], k0, t0, cfg))
    return np.asarray(run_tasks(_tau_of, tasks, desc="SDID bootstrap"))


def _jackknife(y: np.ndarray, n0: int, t0: int, fit: _Fit) -> np.ndarray:
    """Algorithm 3: leave each unit out with the weights held fixed (renormalised)."""
    n = y.shape[0]
    out = np.empty(n)
    for i in range(n):
        keep = np.delete(np.arange(n), i)
        k0 = n0 - (i < n0)
        omega = _renormalise(np.delete(fit.omega, i) if i < n0 else fit.omega)
        out[i] = _tau(y[keep], k0, t0, omega, fit.lam)
    return out


# -- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Panel:
    y: np.ndarray
    n0: int
    t0: int
    units: tuple[str, ...]
    times: np.ndarray


def _block_panel(data: Any, outcome: str, unit: str, time: str, treatment: str) -> _Panel:
    df = to_pandas(data)
    if treatment not in df.columns:
        raise DataError(
            f"treatment={treatment!r} is not a column of the data; columns are "
            f"{list(map(str, df.columns))[:20]}. Pass the 0/1 treatment indicator column."
        )
    w = df[treatment]
    ok = pd.api.types.is_numeric_dtype(w) or pd.api.types.is_bool_dtype(w)
    values = w.to_numpy(dtype=float) if ok else np.array([np.nan])
    if not ok or np.isnan(values).any() or not np.isin(values, (0.0, 1.0)).all():
        found = sorted(pd.unique(w.dropna()).tolist())[:5] if ok else str(w.dtype)
        raise DataError(
            f"treatment={treatment!r} must be a 0/1 indicator without missing values; found "
            f"{found}{' and missing values' if ok and w.isna().any() else ''}. Recode it as "
            "1 for treated unit-periods and 0 otherwise."
        )
    ytab = outcome_matrix(df, outcome=outcome, unit=unit, time=time)
    wtab = outcome_matrix(
        df.assign(**{treatment: values}), outcome=treatment, unit=unit, time=time
    )[ytab.columns]
    ever = np.asarray(wtab.to_numpy().any(axis=0), dtype=bool)
    if ever.all() or not ever.any():
        raise DataError(
            f"treatment={treatment!r}: {int(ever.sum())} of {ever.size} units are ever treated; "
            "synthetic DiD needs both treated units and never-treated controls."
        )
    times = ytab.index.to_numpy()
    wt = wtab.to_numpy()[:, ever]
    first = wt.argmax(axis=0)
    t0 = int(first[0])
    after = np.arange(len(times))[:, None] >= t0
    if not (first == t0).all() or not np.array_equal(
        wt.astype(bool), np.broadcast_to(after, wt.shape)
    ):
        raise DataError(
            f"treatment={treatment!r} is not a block design: every treated unit must be "
            "untreated before one common adoption period and treated in every period from "
            "then on. For staggered adoption fit each adoption cohort against the "
            "never-treated units separately."
        )
    if t0 < 2:
        raise DataError(
            f"treatment={treatment!r}: adoption at {times[t0]!r} leaves {t0} pre-period(s); "
            "synthetic DiD needs at least 2 periods before treatment."
        )
    n0 = int((~ever).sum())
    if n0 * (t0 - 1) < 2:
        raise DataError(
            f"{n0} control unit(s) and {t0} pre-period(s) give {n0 * (t0 - 1)} first "
            "difference(s); the noise level of the ridge penalty needs at least 2. Add "
            "control units or pre-periods."
        )
    names = [str(c) for c in ytab.columns]
    order = [c for c, e in zip(names, ever, strict=True) if not e]
    order += [c for c, e in zip(names, ever, strict=True) if e]
    y = ytab[order].to_numpy(dtype=float).T
    return _Panel(y, n0, t0, tuple(order), times)


# -- the estimator ----------------------------------------------------------------------


class SyntheticDiD(BaseEstimator):
    """Synthetic difference in differences for a block design.

    Parameters
    ----------
    estimator : {"sdid", "sc", "did"}, default "sdid"
        Synthetic DiD, or Table 1's synthetic control / difference-in-differences.
    se : {"placebo", "bootstrap", "jackknife"}, default "placebo"
        Variance estimator: Algorithm 4, 2 or 3 of Arkhangelsky et al. (2021). The
        bootstrap and the jackknife need at least two treated units; the placebo needs
        more controls than treated units.
    n_replications : int, default 200
        Placebo or bootstrap replications ``B``. When the placebo has at most ``B``
        distinct assignments (e.g. 38 with one treated unit among 38 controls), each
        is used once instead.
    solver : {"frank-wolfe", "qp"}, default "frank-wolfe"
        Frank-Wolfe with the software's sparsification, or the exact quadratic
        programme (active set).
    level : float, default 0.95
    random_state : int, optional

    Attributes
    ----------
    result_ : Effect
        ATT with a normal interval from the chosen variance;
        ``diagnostics`` holds ``zeta_omega``, ``noise_level``, ``n_treated``,
        ``n_control``, ``n_pre``, ``n_post`` and ``n_replications``.
    unit_weights_ : Series
        ``omega`` over the control units.
    time_weights_ : Series
        ``lambda`` over the pre-periods (zeros for ``"sc"``).
    replicates_ : ndarray
        The placebo, bootstrap or leave-one-out estimates.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [Options(_ESTIMATORS)],
        "se": [Options(_SES)],
        "n_replications": [Interval(2, None, integer=True)],
        "solver": [Options(_SOLVERS)],
        "level": [Interval(0, 1, closed="neither")],
        "random_state": [NONE, RANDOM_STATE],
    }

    def __init__(
        self,
        estimator: str = "sdid",
        se: str = "placebo",
        n_replications: int = 200,
        solver: str = "frank-wolfe",
        level: float = 0.95,
        random_state: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.se = se
        self.n_replications = n_replications
        self.solver = solver
        self.level = level
        self.random_state = random_state

    def fit(self, data: Any, *, outcome: str, unit: str, time: str, treatment: str) -> SyntheticDiD:
        """Estimate the ATT of a block design.

        Parameters
        ----------
        data : dataframe
            Balanced long panel: one row per unit and period.
        outcome, unit, time : str
            Column names (outcome and time numeric).
        treatment : str
            0/1 column: 1 for treated units from their (common) adoption period on.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        level = check_level(self.level)
        panel = _block_panel(data, outcome, unit, time, treatment)
        y, n0, t0 = panel.y, panel.n0, panel.t0
        n1 = y.shape[0] - n0
        self._check_se(n0, n1)
        cfg = _config(y, n0, t0, self.estimator, self.solver)
        fit = _estimate(y, n0, t0, cfg)
        exhaustive = False
        if self.se == "placebo":
            reps, exhaustive = _placebo(y, n0, t0, cfg, self.n_replications, self.random_state)
            variance = float(np.mean((reps - reps.mean()) ** 2))
        elif self.se == "bootstrap":
            reps = _bootstrap(y, n0, t0, cfg, self.n_replications, self.random_state)
            variance = float(np.mean((reps - reps.mean()) ** 2))
        else:
            reps = _jackknife(y, n0, t0, fit)
            variance = (reps.size - 1) / reps.size * float(np.sum((reps - reps.mean()) ** 2))
        self._panel = panel
        self._fit = fit
        self.unit_weights_ = pd.Series(fit.omega, index=list(panel.units[:n0]), name="omega")
        self.time_weights_ = pd.Series(fit.lam, index=panel.times[:t0], name="lambda")
        self.replicates_ = reps
        self.result_ = Effect.from_normal(
            estimand="ATT",
            estimate=fit.tau,
            std_error=math.sqrt(variance),
            level=level,
            n_obs=y.shape[0],
            method={"sdid": "synthetic-did", "sc": "synthetic-control", "did": "did"}[
                self.estimator
            ],
            inference=self.se,
            diagnostics={
                "zeta_omega": cfg.zeta_omega,
                "noise_level": cfg.noise_level,
                "n_treated": n1,
                "n_control": n0,
                "n_pre": t0,
                "n_post": y.shape[1] - t0,
                "n_replications": int(reps.size),
                "placebo_exhaustive": bool(exhaustive),
                "solver": self.solver,
            },
        )
        return self

    def _check_se(self, n0: int, n1: int) -> None:
        if self.se in ("bootstrap", "jackknife") and n1 < 2:
            raise ParameterError(
                f"se={self.se!r} needs at least 2 treated units (found 1): with one treated "
                "unit the bootstrap and jackknife are not justified (Arkhangelsky et al. "
                "2021, section 5). Use se='placebo'."
            )
        if self.se == "placebo" and n0 <= n1:
            raise ParameterError(
                f"se='placebo' needs more control units than treated units (found {n0} "
                f"controls, {n1} treated). Use se='bootstrap' or se='jackknife'."
            )

    def plot(self, ax: Any = None) -> Any:
        """Treated average and its synthetic control over time, time weights shaded.

        The control trajectory is ``omega_0 + omega' Y_co,t`` with ``omega_0`` the
        ``lambda``-weighted pre-period gap, so the two lines are parallel on average in
        the weighted pre-period, as in Figure 1 of Arkhangelsky et al. (2021). The
        time weights are drawn as a shaded area along the bottom of the axes.
        """
        import matplotlib.pyplot as plt

        panel, fit = self._fitted_panel()
        y, n0, t0 = panel.y, panel.n0, panel.t0
        treated = y[n0:].mean(axis=0)
        control = fit.omega @ y[:n0]
        control = control + fit.lam @ (treated[:t0] - control[:t0])
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        times = panel.times
        ax.plot(times, treated, color="C3", label="treated")
        ax.plot(times, control, color="C0", linestyle="--", label="synthetic control")
        ax.axvline(times[t0], color="grey", linewidth=0.8)
        low, high = ax.get_ylim()
        if fit.lam.max() > 0:
            height = 0.25 * (high - low) * fit.lam / fit.lam.max()
            ax.fill_between(
                times[:t0],
                low,
                low + height,
                step="mid",
                color="C0",
                alpha=0.3,
                label="time weights",
            )
        ax.set_ylim(low, high)
        ax.set_xlabel("time")
        ax.set_ylabel("outcome")
        ax.set_title(f"{self.result_.method}: ATT = {self.result_.estimate:.3g}")
        ax.legend(loc="best")
        return ax

    def _fitted_panel(self) -> tuple[_Panel, _Fit]:
        if "_fit" not in self.__dict__:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before plot()."
            )
        return self._panel, self._fit

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
