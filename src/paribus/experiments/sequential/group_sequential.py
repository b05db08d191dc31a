"""Group-sequential designs with Lan-DeMets alpha spending (Armitage-McPherson-Rowe recursion).

The formulas and references are in the :mod:`paribus.experiments.sequential` docstring.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from paribus._core.params import check_alpha
from paribus.errors import DataError, ParameterError

__all__ = [
    "GroupSequentialDesign",
    "GroupSequentialTest",
    "obrien_fleming_spending",
    "pocock_spending",
]

Alternative = Literal["two-sided", "greater", "less"]
Spending = Literal["obrien-fleming", "pocock", "classic-pocock", "classic-obrien-fleming"]
_Z_MAX = 40.0  # boundaries beyond this z are treated as "never crossed"


def obrien_fleming_spending(t: Any, alpha: float) -> np.ndarray:
    """Lan-DeMets O'Brien-Fleming-type spending ``2 (1 - Phi(z_{1-alpha/2} / sqrt(t)))``."""
    tt = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(tt > 0, 2 * stats.norm.sf(stats.norm.isf(alpha / 2) / np.sqrt(tt)), 0.0)


def pocock_spending(t: Any, alpha: float) -> np.ndarray:
    """Lan-DeMets Pocock-type spending ``alpha log(1 + (e - 1) t)``."""
    return alpha * np.log1p((math.e - 1) * np.asarray(t, dtype=float))


_SPENDING: dict[str, Callable[[Any, float], np.ndarray]] = {
    "obrien-fleming": obrien_fleming_spending,
    "pocock": pocock_spending,
}


class _Recursion:
    """Armitage-McPherson-Rowe recursion for the density of ``S_k`` on its continuation set.

    The density is tabulated on a uniform Simpson grid over the continuation interval; the
    grid step is a small fraction of the smallest increment's standard deviation, so
    the integrals are accurate to far better than 1e-6.
    """

    def __init__(self, t: np.ndarray, two_sided: bool, drift: float = 0.0) -> None:
        self.t, self.two_sided, self.drift = t, two_sided, drift
        self.grid: np.ndarray | None = None  # S values at the previous look
        self.dens: np.ndarray | None = None  # density times Simpson weights there
        self.k = 0

    def _cross(self, z: float) -> float:
        """P(continue to look k-1 and cross at look k with critical value z)."""
        t_k = self.t[self.k]
        t_prev = self.t[self.k - 1] if self.k else 0.0
        dt, b = t_k - t_prev, z * math.sqrt(t_k)
        mu = self.drift * dt
        sd = math.sqrt(dt)
        if self.grid is None:
            up = stats.norm.sf((b - mu) / sd)
            return float(up + (stats.norm.cdf((-b - mu) / sd) if self.two_sided else 0.0))
        assert self.dens is not None
        up = special.ndtr(-(b - self.grid - mu) / sd)
        low = special.ndtr((-b - self.grid - mu) / sd) if self.two_sided else 0.0
        return float(self.dens @ (up + low))

    def advance(self, z: float) -> float:
        """Record the boundary ``z`` at the current look; return its crossing probability."""
        p = self._cross(z)
        t_k = self.t[self.k]
        t_prev = self.t[self.k - 1] if self.k else 0.0
        dt = t_k - t_prev
        mu, sd = self.drift * t_k, math.sqrt(t_k)
        # continuation set (-b, b) or (-inf, b), cut where the density is negligible
        hi = min(z * sd, abs(mu) + 12 * sd)
        lo = -hi if self.two_sided else min(mu, hi) - 12 * sd
        step = math.sqrt(min(dt, self._next_dt())) / 24
        m = max(101, math.ceil((hi - lo) / step))
        m += 1 - m % 2  # odd, for Simpson's rule
        grid = np.linspace(lo, hi, m)
        w = np.ones(m)
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        w *= (hi - lo) / (m - 1) / 3
        if self.grid is None:
            dens = stats.norm.pdf(grid, loc=self.drift * dt, scale=math.sqrt(dt))
        else:
            assert self.dens is not None
            kern = stats.norm.pdf(
                (grid[:, None] - self.grid[None, :] - self.drift * dt) / math.sqrt(dt)
            ) / math.sqrt(dt)
            dens = kern @ self.dens
        self.grid, self.dens = grid, dens * w
        self.k += 1
        return p

    def _next_dt(self) -> float:
        return float(self.t[self.k + 1] - self.t[self.k]) if self.k + 1 < self.t.size else 1.0


def _spent_by_boundaries(
    t: np.ndarray, z: np.ndarray, two_sided: bool, drift: float = 0.0
) -> np.ndarray:
    rec = _Recursion(t, two_sided, drift)
    return np.array([rec.advance(float(c)) for c in z])


def _boundaries_from_spending(t: np.ndarray, spent: np.ndarray, two_sided: bool) -> np.ndarray:
    rec = _Recursion(t, two_sided)
    out = np.empty(t.size)
    for k, target in enumerate(np.diff(np.concatenate([[0.0], spent]))):
        if target < 1e-15:
            z = math.inf
        else:
            z = float(
                optimize.brentq(
                    lambda c, goal=target: rec._cross(c) - goal, 0.0, _Z_MAX, xtol=1e-12
                )
            )
        out[k] = z
        rec.advance(z)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class GroupSequentialTest:
    """Decisions of a group-sequential design on the z-statistics seen so far."""

    table: pd.DataFrame
    stopped_at: int | None  # 1-based look at which the boundary was crossed
    final: bool  # whether the last planned look has been reached

    @property
    def decision(self) -> str:
        """``"reject"``, ``"continue"`` or (at the final look) ``"do not reject"``."""
        if self.stopped_at is not None:
            return "reject"
        return "do not reject" if self.final else "continue"

    def __repr__(self) -> str:
        where = f" at look {self.stopped_at}" if self.stopped_at else ""
        return f"GroupSequentialTest(decision={self.decision!r}{where})"


class GroupSequentialDesign:
    """A group-sequential efficacy design with Lan-DeMets alpha spending (module docstring).

    Parameters
    ----------
    looks : int or sequence of float
        Number of equally spaced looks, or the information fractions ``0 < t_1 < ... <
        t_K = 1`` (share of the final sample size at each look).
    alpha : float
        Overall type-I error.
    spending : {"obrien-fleming", "pocock", "classic-pocock", "classic-obrien-fleming"}
        or callable ``f(t, alpha) -> cumulative alpha spent``, nondecreasing, ``f(1) = alpha``.
    alternative : {"two-sided", "greater", "less"}
        Two-sided designs reject when ``|Z_k| >= c_k``; one-sided ones when ``Z_k >= c_k``
        (or ``Z_k <= -c_k``).
    beta : float, optional
        Type-II error at the design alternative; gives :attr:`inflation_factor`.

    Attributes
    ----------
    information_fractions, boundaries, spent_alpha : np.ndarray
        ``t_k``, critical values ``c_k`` for ``Z_k`` (``inf`` where no alpha is spent) and
        cumulative alpha spent by each look.
    inflation_factor : float or None
        Maximum sample size over the fixed-sample size with the same power ``1 - beta``.
    """

    def __init__(
        self,
        looks: int | Sequence[float],
        *,
        alpha: float = 0.05,
        spending: Spending | Callable[[Any, float], Any] = "obrien-fleming",
        alternative: Alternative = "two-sided",
        beta: float | None = None,
    ) -> None:
        self.alpha = check_alpha(alpha)
        self.information_fractions = _fractions(looks)
        if alternative not in ("two-sided", "greater", "less"):
            raise ParameterError(
                f"alternative={alternative!r} is invalid; expected 'two-sided', 'greater' or "
                "'less'."
            )
        self.alternative = alternative
        self.spending = spending
        if beta is not None and (isinstance(beta, bool) or not 0 < beta < 1 - self.alpha):
            raise ParameterError(
                f"beta={beta!r} is invalid; expected a type-II error in (0, 1 - alpha)."
            )
        self.beta = beta
        t, two = self.information_fractions, alternative == "two-sided"
        if spending in ("classic-pocock", "classic-obrien-fleming"):
            shape = np.ones_like(t) if spending == "classic-pocock" else 1 / np.sqrt(t)
            c = optimize.brentq(
                lambda v: _spent_by_boundaries(t, v * shape, two).sum() - self.alpha,
                0.5, _Z_MAX / shape.max(), xtol=1e-12,
            )  # fmt: skip
            self.boundaries = c * shape
            self.spent_alpha = np.cumsum(_spent_by_boundaries(t, self.boundaries, two))
        else:
            # two-sided designs spend alpha/2 on each side (Lan & DeMets 1983; the
            # convention of published tables and of gsDesign, rpact, ldbounds)
            half = self.alpha / 2 if two else self.alpha
            self.spent_alpha = (2 if two else 1) * _spending_values(spending, t, half)
            self.boundaries = _boundaries_from_spending(t, self.spent_alpha, two)
        self.inflation_factor = None if beta is None else self._inflation(beta)

    def _inflation(self, beta: float) -> float:
        t, two = self.information_fractions, self.alternative == "two-sided"
        z_a = stats.norm.isf(self.alpha / 2 if two else self.alpha)
        fixed = z_a + stats.norm.isf(beta)
        eta = optimize.brentq(
            lambda e: _spent_by_boundaries(t, self.boundaries, two, e).sum() - (1 - beta),
            fixed * 0.5, fixed * 3, xtol=1e-12,
        )  # fmt: skip
        return float((eta / fixed) ** 2)

    def power(self, drift: float) -> float:
        """Probability of crossing a boundary when ``E[Z_K] = drift`` (effect in z units)."""
        t, two = self.information_fractions, self.alternative == "two-sided"
        sign = -1.0 if self.alternative == "less" else 1.0
        return float(_spent_by_boundaries(t, self.boundaries, two, sign * float(drift)).sum())

    def to_frame(self) -> pd.DataFrame:
        """Look, information fraction, boundary, nominal p-value and alpha spent."""
        two = self.alternative == "two-sided"
        z = self.boundaries
        return pd.DataFrame(
            {
                "look": np.arange(1, z.size + 1),
                "information_fraction": self.information_fractions,
                "boundary": z,
                "nominal_p": (2 if two else 1) * stats.norm.sf(z),
                "spent_alpha": self.spent_alpha,
                "alpha_increment": np.diff(np.concatenate([[0.0], self.spent_alpha])),
            }
        )

    def test(self, z_statistics: Sequence[float]) -> GroupSequentialTest:
        """Compare the z-statistics of the looks so far with the boundaries."""
        z = np.asarray(z_statistics, dtype=float).ravel()
        k_max = self.boundaries.size
        if z.size == 0 or z.size > k_max or not np.isfinite(z).all():
            raise DataError(
                f"z_statistics must hold 1 to {k_max} finite values (one per look so far); "
                f"got {z.size} values{'' if np.isfinite(z).all() else ' with NaN/inf'}."
            )
        c = self.boundaries[: z.size]
        if self.alternative == "two-sided":
            crossed = np.abs(z) >= c
        else:
            crossed = (z if self.alternative == "greater" else -z) >= c
        hits = np.flatnonzero(crossed)
        table = pd.DataFrame(
            {"look": np.arange(1, z.size + 1),
             "information_fraction": self.information_fractions[: z.size],
             "z": z, "boundary": c, "crossed": crossed}
        )  # fmt: skip
        return GroupSequentialTest(
            table=table,
            stopped_at=int(hits[0]) + 1 if hits.size else None,
            final=z.size == k_max,
        )

    def sample_sizes(self, n_fixed: float) -> np.ndarray:
        """Cumulative sample size at each look for a fixed-sample design needing ``n_fixed``."""
        if self.inflation_factor is None:
            raise ParameterError("sample_sizes needs beta: build the design with beta=0.2, say.")
        return np.ceil(self.inflation_factor * float(n_fixed) * self.information_fractions)

    def plot(self, ax: Any = None, z_statistics: Sequence[float] | None = None) -> Any:
        """Plot the boundaries (and observed z-statistics) against information; returns Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t, c = self.information_fractions, np.minimum(self.boundaries, 8.0)
        sign = -1.0 if self.alternative == "less" else 1.0
        ax.plot(t, sign * c, "o-", color="C3", label="efficacy boundary")
        if self.alternative == "two-sided":
            ax.plot(t, -c, "o-", color="C3")
        if z_statistics is not None:
            z = np.asarray(z_statistics, dtype=float)
            ax.plot(t[: z.size], z, "s--", color="C0", label="observed z")
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_xlabel("information fraction")
        ax.set_ylabel("z")
        name = self.spending if isinstance(self.spending, str) else "custom"
        ax.set_title(f"{name} boundaries, alpha={self.alpha:g}")
        ax.legend()
        return ax

    def __repr__(self) -> str:
        rows = ", ".join(f"{c:.3f}" for c in self.boundaries)
        name = self.spending if isinstance(self.spending, str) else "custom"
        return (
            f"GroupSequentialDesign({self.boundaries.size} looks, {name}, alpha={self.alpha:g} "
            f"{self.alternative}; boundaries [{rows}])"
        )


def _fractions(looks: Any) -> np.ndarray:
    if isinstance(looks, (int, np.integer)) and not isinstance(looks, bool):
        if looks < 1:
            raise ParameterError(f"looks={looks!r} is invalid; expected at least 1 look.")
        return np.arange(1, int(looks) + 1) / int(looks)
    t = np.asarray(looks, dtype=float).ravel()
    if (
        t.size == 0
        or not np.isfinite(t).all()
        or t[0] <= 0
        or (np.diff(t) <= 0).any()
        or abs(t[-1] - 1) > 1e-12
    ):
        raise ParameterError(
            f"looks={looks!r} is invalid; expected a number of looks or increasing information "
            "fractions in (0, 1] ending at 1."
        )
    return t


def _spending_values(spending: Any, t: np.ndarray, alpha: float) -> np.ndarray:
    if isinstance(spending, str):
        if spending not in _SPENDING:
            raise ParameterError(
                f"spending={spending!r} is invalid; expected 'obrien-fleming', 'pocock', "
                "'classic-pocock', 'classic-obrien-fleming' or a callable f(t, alpha)."
            )
        fn = _SPENDING[spending]
    elif callable(spending):
        fn = spending
    else:
        raise ParameterError(f"spending={spending!r} is invalid; expected a name or a callable.")
    vals = np.array([float(fn(float(x), alpha)) for x in t])  # alpha per side
    if (
        not np.isfinite(vals).all()
        or vals.min() < 0
        or (np.diff(vals) < -1e-15).any()
        or abs(vals[-1] - alpha) > 1e-8
    ):
        raise ParameterError(
            f"spending gives cumulative alpha {vals.tolist()} at t={t.tolist()}; expected "
            f"nondecreasing values in [0, alpha] reaching alpha={alpha:g} at t = 1."
        )
    return vals
