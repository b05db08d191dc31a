"""Always-valid inference: the mixture SPRT and asymptotic confidence sequences.

The formulas and references are in the :mod:`paribus.experiments.sequential` docstring.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize

from paribus._core.params import check_alpha
from paribus.errors import DataError, ParameterError
from paribus.results import Effect

__all__ = ["ConfidenceSequence", "SequentialTest", "confidence_sequence", "optimal_tau2"]


def _optimal_ratio(alpha: float) -> float:
    """``x`` solving ``x = 2 log(1/alpha) + log(1 + x)``: the best ``tau2 / s2``."""
    two_l = 2 * math.log(1 / alpha)
    return float(optimize.brentq(lambda v: v - two_l - math.log1p(v), two_l, 4 * two_l + 10))


def optimal_tau2(std_error: float, alpha: float = 0.05) -> float:
    """Mixing variance making the mSPRT confidence sequence narrowest at ``std_error``.

    The half-width at a look with ``s2 = std_error**2`` is ``sqrt(s2 (1 + 1/x) (2L +
    log(1 + x)))`` with ``x = tau2 / s2`` and ``L = log(1/alpha)``; it is smallest where
    ``x = 2L + log(1 + x)`` (solved here exactly; ``x ~ 2L + log(1 + 2L)`` is the usual
    approximation). Plan with the standard error expected at the horizon, e.g.
    ``sd * sqrt(2 / n_per_arm)``.
    """
    a = check_alpha(alpha)
    if isinstance(std_error, bool) or not (float(std_error) > 0 and math.isfinite(std_error)):
        raise ParameterError(f"std_error={std_error!r} is invalid; expected a positive number.")
    return _optimal_ratio(a) * float(std_error) ** 2


def _mixing(
    method: str, tau2: float | None, rho2: float | None, alpha: float, n_horizon: int
) -> tuple[str, float]:
    """Validate the method and its mixing parameter (tau2 for mSPRT, rho2 for AsympCS)."""
    if method not in ("msprt", "asymptotic"):
        raise ParameterError(f"method={method!r} is invalid; expected 'msprt' or 'asymptotic'.")
    name, value, other = ("tau2", tau2, rho2) if method == "msprt" else ("rho2", rho2, tau2)
    if other is not None:
        wrong = "rho2" if method == "msprt" else "tau2"
        raise ParameterError(
            f"{wrong}={other!r} does not apply to method={method!r}; give {name} instead."
        )
    if value is None:
        if method == "msprt" or n_horizon <= 0:
            raise ParameterError(f"method={method!r} needs {name}=<positive number>.")
        return name, _optimal_ratio(alpha) / n_horizon
    if isinstance(value, bool) or not (float(value) > 0 and math.isfinite(value)):
        raise ParameterError(f"{name}={value!r} is invalid; expected a positive number.")
    return name, float(value)


def _mixture(
    diff: np.ndarray, s2: np.ndarray, tau2: Any, alpha: float, null: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-look ``1 / Lambda`` (capped at 1) and CS half-width; no information where s2 = 0.

    ``tau2`` is the mixing variance of each look: fixed (mSPRT) or ``rho2 * N * s2``
    (AsympCS).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = s2 > 0
        s = np.where(ok, s2, 1.0)
        log_lr = 0.5 * np.log(s / (s + tau2)) + tau2 * (diff - null) ** 2 / (2 * s * (s + tau2))
        half = np.sqrt(s * (s + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log1p(tau2 / s)))
    p_raw = np.where(ok, np.minimum(1.0, np.exp(-log_lr)), 1.0)
    return p_raw, np.where(ok, half, np.inf)


@dataclasses.dataclass(frozen=True, eq=False)
class ConfidenceSequence:
    """An always-valid confidence sequence and p-values, one row per look.

    ``frame`` has columns ``n_treated, n_control, estimate, std_error, lower, upper,
    p_value``; ``lower``/``upper`` are running intersections and ``p_value`` the running
    minimum, so they may be read at any look, including one chosen by peeking.
    """

    frame: pd.DataFrame
    alpha: float
    method: str  # "msprt" or "asymptotic"
    mixing: float  # tau2 for "msprt", rho2 for "asymptotic"
    null: float

    @property
    def rejected(self) -> bool:
        """Whether ``null`` was rejected at some look (always-valid p-value <= alpha)."""
        return bool((self.frame["p_value"] <= self.alpha).any())

    @property
    def first_rejection(self) -> int | None:
        """Row index of the first look that rejects ``null``, or None."""
        hits = np.flatnonzero(self.frame["p_value"].to_numpy() <= self.alpha)
        return int(hits[0]) if hits.size else None

    def to_frame(self) -> pd.DataFrame:
        """A copy of the per-look table."""
        return self.frame.copy()

    def effect(self, look: int = -1) -> Effect:
        """The estimate at one look (default: the last) with its always-valid interval."""
        row = self.frame.iloc[look]
        return Effect(
            estimand="ATE",
            estimate=float(row["estimate"]),
            std_error=float(row["std_error"]),
            ci_lower=float(row["lower"]),
            ci_upper=float(row["upper"]),
            level=1 - self.alpha,
            p_value=float(row["p_value"]),
            n_obs=int(row["n_treated"] + row["n_control"]),
            method=self.method,
            inference="always-valid",
            diagnostics={
                "tau2" if self.method == "msprt" else "rho2": self.mixing,
                "null": self.null,
                "looks": len(self.frame),
            },
        )

    def __repr__(self) -> str:
        last = self.frame.iloc[-1]
        return (
            f"ConfidenceSequence({self.method}, {len(self.frame)} looks, alpha={self.alpha:g}, "
            f"{'tau2' if self.method == 'msprt' else 'rho2'}={self.mixing:.4g}; "
            f"last look: estimate {last['estimate']:.4g}, "
            f"[{last['lower']:.4g}, {last['upper']:.4g}], p={last['p_value']:.4g})"
        )


def _arm(y: Any, name: str) -> np.ndarray:
    a = np.asarray(y, dtype=float).ravel()
    if not np.isfinite(a).all():
        raise DataError(f"{name} has missing or infinite values; drop or impute them first.")
    return a


def _known_sd(sd: float | tuple[float, float] | None) -> tuple[float, float] | None:
    if sd is None:
        return None
    pair = np.atleast_1d(np.asarray(sd, dtype=float)).ravel()
    pair = np.repeat(pair, 2) if pair.size == 1 else pair
    if pair.size != 2 or not (np.isfinite(pair).all() and (pair > 0).all()):
        raise ParameterError(
            f"sd={sd!r} is invalid; expected a positive number or a (treated, control) pair, "
            "or None to estimate the variances from the data."
        )
    return float(pair[0]), float(pair[1])


def _prefix_sizes(n_t: int, n_c: int, looks: Any) -> tuple[np.ndarray, np.ndarray]:
    if looks is None:
        big = max(n_t, n_c)
        k = np.arange(1, big + 1)
        m_t = np.ceil(k * n_t / big - 1e-9).astype(int)
        m_c = np.ceil(k * n_c / big - 1e-9).astype(int)
        keep = (m_t >= 2) & (m_c >= 2)
        return m_t[keep], m_c[keep]
    arr = np.asarray(looks)
    if arr.ndim == 1:
        arr = np.column_stack([arr, arr])
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0 or arr.dtype.kind not in "iu":
        raise ParameterError(
            f"looks has shape {arr.shape} and dtype {arr.dtype}; expected integers: one count "
            "per look (units per arm) or a (looks, 2) array of (n_treated, n_control)."
        )
    m_t, m_c = arr[:, 0].astype(int), arr[:, 1].astype(int)
    steps = np.diff(arr, axis=0)
    if (
        m_t.min() < 2
        or m_c.min() < 2
        or m_t.max() > n_t
        or m_c.max() > n_c
        or (steps < 0).any()
        or (steps.sum(axis=1) == 0).any()
    ):
        raise ParameterError(
            "looks must be increasing counts with at least 2 units per arm and at most the "
            f"data's length ({n_t} treated, {n_c} control); got {looks!r}."
        )
    return m_t, m_c


def _prefix_moments(y: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample variance of ``y[:k]`` for each ``k`` in ``m``."""
    d = y - y[0]  # centring keeps the sums of squares accurate; variance is shift-invariant
    s1, s2 = np.cumsum(d)[m - 1], np.cumsum(d * d)[m - 1]
    var = np.maximum(s2 - s1 * s1 / m, 0.0) / (m - 1)
    return y[0] + s1 / m, var


def confidence_sequence(
    y_treated: Any,
    y_control: Any,
    *,
    alpha: float = 0.05,
    method: Literal["msprt", "asymptotic"] = "msprt",
    tau2: float | None = None,
    rho2: float | None = None,
    looks: Any = None,
    null: float = 0.0,
    sd: float | tuple[float, float] | None = None,
) -> ConfidenceSequence:
    """Always-valid confidence sequence and p-values for a difference in means.

    Parameters
    ----------
    y_treated, y_control : array-like
        Outcomes of each arm in order of arrival.
    alpha : float
        The sequence covers the true difference at every look at once with probability at
        least ``1 - alpha`` (asymptotically when the variances are estimated).
    method : {"msprt", "asymptotic"}
        The mSPRT of Johari et al. or the AsympCS of Waudby-Smith et al. (module docstring).
    tau2 : float, optional
        ``"msprt"``: variance of the normal mixing distribution, in squared outcome units.
        Default: :func:`optimal_tau2` at the standard error of the full data. Fix it before
        the experiment (e.g. ``optimal_tau2(sd * sqrt(2 / n_planned))``) when the data are
        analysed as they come.
    rho2 : float, optional
        ``"asymptotic"``: the mixing parameter, per unit. Default: narrowest at the last
        look, ``x / N`` (``N`` units in all at the last look; no outcome data used).
    looks : array-like of int, optional
        Counts at which to look: one number per look (units per arm) or ``(n_treated,
        n_control)`` rows. Default: every prefix, the arms growing in proportion to their
        lengths, from 2 units per arm.
    null : float
        The difference tested by the p-values.
    sd : float or (float, float), optional
        Known outcome standard deviations (treated, control); default: sample variances of
        each prefix (plug-in).

    Returns
    -------
    ConfidenceSequence
    """
    a = check_alpha(alpha)
    yt, yc = _arm(y_treated, "y_treated"), _arm(y_control, "y_control")
    if yt.size < 2 or yc.size < 2:
        raise DataError(
            f"each arm needs at least 2 units; got {yt.size} treated and {yc.size} control."
        )
    known = _known_sd(sd)
    m_t, m_c = _prefix_sizes(yt.size, yc.size, looks)
    mean_t, var_t = _prefix_moments(yt, m_t)
    mean_c, var_c = _prefix_moments(yc, m_c)
    if known is not None:
        var_t, var_c = np.full(m_t.size, known[0] ** 2), np.full(m_c.size, known[1] ** 2)
    s2 = var_t / m_t + var_c / m_c
    if method == "msprt" and tau2 is None and rho2 is None:
        if not s2[-1] > 0:
            raise DataError("the outcome is constant in both arms; tau2 cannot be tuned.")
        tau2 = optimal_tau2(math.sqrt(s2[-1]), a)
    _, mixing = _mixing(method, tau2, rho2, a, int(m_t[-1] + m_c[-1]))
    diff = mean_t - mean_c
    mix = mixing if method == "msprt" else mixing * (m_t + m_c) * s2
    p_raw, half = _mixture(diff, s2, mix, a, float(null))
    frame = pd.DataFrame(
        {
            "n_treated": m_t,
            "n_control": m_c,
            "estimate": diff,
            "std_error": np.sqrt(s2),
            "lower": np.maximum.accumulate(diff - half),
            "upper": np.minimum.accumulate(diff + half),
            "p_value": np.minimum.accumulate(p_raw),
        }
    )
    return ConfidenceSequence(frame=frame, alpha=a, method=method, mixing=mixing, null=float(null))


class SequentialTest:
    """A streaming mSPRT: feed batches with :meth:`update`, read :attr:`decision` anytime.

    The same test and confidence sequence as :func:`confidence_sequence` (looks at the end
    of each batch), with running sums merged batch by batch (Chan, Golub & LeVeque 1983).
    The mixing parameter (``tau2`` for ``"msprt"``, ``rho2`` for ``"asymptotic"``) must be
    fixed in advance; see :func:`optimal_tau2`.
    """

    def __init__(
        self,
        *,
        method: Literal["msprt", "asymptotic"] = "msprt",
        tau2: float | None = None,
        rho2: float | None = None,
        alpha: float = 0.05,
        null: float = 0.0,
        sd: float | tuple[float, float] | None = None,
    ) -> None:
        self.alpha = check_alpha(alpha)
        self.method = method
        _, self.mixing = _mixing(method, tau2, rho2, self.alpha, 0)
        self.null = float(null)
        self._sd = _known_sd(sd)
        self._moments = [[0, 0.0, 0.0], [0, 0.0, 0.0]]  # n, mean, sum of squared deviations
        self._rows: list[dict[str, float]] = []
        self.p_value = 1.0
        self.lower, self.upper = -math.inf, math.inf

    def _merge(self, arm: int, batch: np.ndarray) -> None:
        n, mean, m2 = self._moments[arm]
        k = batch.size
        if k == 0:
            return
        b_mean = float(batch.mean())
        b_m2 = float(((batch - b_mean) ** 2).sum())
        tot = n + k
        delta = b_mean - mean
        self._moments[arm] = [tot, mean + delta * k / tot, m2 + b_m2 + delta**2 * n * k / tot]

    def update(self, y_treated_batch: Any, y_control_batch: Any) -> SequentialTest:
        """Add a batch to each arm (either may be empty) and look once; returns self."""
        self._merge(0, _arm(y_treated_batch, "y_treated_batch"))
        self._merge(1, _arm(y_control_batch, "y_control_batch"))
        (n_t, m_t, q_t), (n_c, m_c, q_c) = self._moments
        if n_t < 2 or n_c < 2:
            return self
        v_t, v_c = (q_t / (n_t - 1), q_c / (n_c - 1)) if self._sd is None else (
            self._sd[0] ** 2, self._sd[1] ** 2)  # fmt: skip
        s2 = v_t / n_t + v_c / n_c
        diff = m_t - m_c
        mix = self.mixing if self.method == "msprt" else self.mixing * (n_t + n_c) * s2
        p_raw, half = _mixture(np.array([diff]), np.array([s2]), mix, self.alpha, self.null)
        self.p_value = min(self.p_value, float(p_raw[0]))
        self.lower = max(self.lower, diff - float(half[0]))
        self.upper = min(self.upper, diff + float(half[0]))
        self._rows.append(
            {"n_treated": n_t, "n_control": n_c, "estimate": diff, "std_error": math.sqrt(s2),
             "lower": self.lower, "upper": self.upper, "p_value": self.p_value}
        )  # fmt: skip
        return self

    @property
    def decision(self) -> str:
        """``"reject"`` once the always-valid p-value reached alpha, else ``"continue"``."""
        return "reject" if self.p_value <= self.alpha else "continue"

    @property
    def history(self) -> pd.DataFrame:
        """One row per look (columns as :class:`ConfidenceSequence`)."""
        cols = ["n_treated", "n_control", "estimate", "std_error", "lower", "upper", "p_value"]
        return pd.DataFrame(self._rows, columns=cols)

    def __repr__(self) -> str:
        return (
            f"SequentialTest({len(self._rows)} looks, decision={self.decision!r}, "
            f"p={self.p_value:.4g}, interval=[{self.lower:.4g}, {self.upper:.4g}])"
        )
