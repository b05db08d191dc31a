"""Rosenbaum bounds: how much hidden bias would explain away a matched-pairs result.

Rosenbaum (2002), *Observational Studies*, 2nd ed., Sec. 4.3 (and Rosenbaum 2010,
*Design of Observational Studies*, ch. 3). In a matched pair the two units' odds of
treatment may differ by at most a factor ``Gamma >= 1`` because of an unobserved
covariate. Wilcoxon's signed-rank statistic ``T = sum_i r_i 1[d_i > 0]`` (``d_i`` the
treated-minus-control difference, ``r_i`` the rank of ``|d_i|`` among the nonzero
differences, average ranks for ties, zero differences dropped) is then bounded in
distribution by sums of independent ``r_i * Bernoulli(p)`` with
``p+ = Gamma / (1 + Gamma)`` (upper bound) and ``p- = 1 / (1 + Gamma)`` (lower bound):

    E(T+) = p+ sum_i r_i,      Var(T+) = p+ (1 - p+) sum_i r_i^2,

and the bounds on the one-sided p-value (alternative: treated > control) are
``1 - Phi((T - E(T+/-)) / sqrt(Var(T+/-)))``, the normal approximation of the
book's eq. (4.11). Summing ``r_i^2`` over the average ranks is the standard tie
correction (at ``Gamma = 1`` it is ``n(n+1)(2n+1)/24 - sum(t^3 - t)/48``), so at
``Gamma = 1`` both bounds equal the ordinary signed-rank p-value. The sensitivity
value ``gamma_critical`` is the ``Gamma`` at which the upper bound reaches ``alpha``
(root search; the upper bound rises monotonically in ``Gamma``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import optimize, stats

from paribus.checks._fitted_data import outcome_and_treatment
from paribus.errors import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["RosenbaumBounds", "rosenbaum_bounds"]

_DEFAULT_GAMMA = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0)


@dataclasses.dataclass(frozen=True)
class RosenbaumBounds:
    """Bounds on the signed-rank p-value over a grid of ``Gamma`` (module docstring).

    Attributes
    ----------
    gamma, p_upper, p_lower : tuple of float
        The grid and the upper / lower bounds on the one-sided p-value.
    statistic : float
        Wilcoxon's signed-rank statistic ``T`` (sum of ranks of positive differences).
    n_pairs, n_zero : int
        Pairs used (nonzero differences) and pairs dropped for a zero difference.
    alpha : float
        Significance level for ``gamma_critical``.
    gamma_critical : float
        Smallest ``Gamma`` at which the upper bound reaches ``alpha`` (1.0 when the
        result is not significant even without hidden bias, inf when never).
    alternative : {"greater", "less"}
    """

    gamma: tuple[float, ...]
    p_upper: tuple[float, ...]
    p_lower: tuple[float, ...]
    statistic: float
    n_pairs: int
    n_zero: int
    alpha: float
    gamma_critical: float
    alternative: str

    def to_frame(self) -> pd.DataFrame:
        """One row per ``Gamma``: the lower and upper p-value bounds."""
        import pandas as pd

        return pd.DataFrame(
            {"gamma": self.gamma, "p_lower": self.p_lower, "p_upper": self.p_upper}
        ).set_index("gamma")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (an infinite ``gamma_critical`` becomes None)."""
        out = dataclasses.asdict(self)
        out["gamma"], out["p_upper"], out["p_lower"] = (
            list(self.gamma),
            list(self.p_upper),
            list(self.p_lower),
        )
        if not math.isfinite(self.gamma_critical):
            out["gamma_critical"] = None
        return out

    def __str__(self) -> str:
        lines = [
            "Rosenbaum bounds, Wilcoxon signed-rank test "
            f"({self.n_pairs} pairs, {self.n_zero} zero differences dropped; "
            f"alternative: treated {'>' if self.alternative == 'greater' else '<'} control)",
            f"{'Gamma':>8} {'p lower':>10} {'p upper':>10}",
        ]
        lines += [
            f"{g:>8.3g} {lo:>10.4g} {hi:>10.4g}"
            for g, lo, hi in zip(self.gamma, self.p_lower, self.p_upper, strict=True)
        ]
        lines.append(
            f"significance at alpha={self.alpha:g} is lost at Gamma = {self.gamma_critical:.4g}"
        )
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """The p-value bounds against ``Gamma``, with ``alpha`` and ``gamma_critical`` marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(self.gamma, self.p_upper, marker="o", label="upper bound")
        ax.plot(self.gamma, self.p_lower, marker="o", linestyle="--", label="lower bound")
        ax.axhline(self.alpha, color="grey", linewidth=0.8, label=f"alpha = {self.alpha:g}")
        if math.isfinite(self.gamma_critical):
            ax.axvline(self.gamma_critical, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xlabel("Gamma")
        ax.set_ylabel("one-sided p-value")
        ax.set_title("Rosenbaum bounds (signed-rank test)")
        ax.legend(frameon=False)
        return ax


def _signed_ranks(diff: np.ndarray) -> tuple[float, np.ndarray]:
    """``(T, r)``: the signed-rank statistic and the average ranks of ``|d|``, zeros dropped."""
    nonzero = diff[diff != 0]
    ranks = stats.rankdata(np.abs(nonzero))
    return float(ranks[nonzero > 0].sum()), ranks


def _p_bound(t_stat: float, ranks: np.ndarray, p: float, correction: bool) -> float:
    mean = p * ranks.sum()
    sd = math.sqrt(p * (1 - p) * float(np.sum(ranks**2)))
    # P(T >= t) ~ P(Z >= (t - 1/2 - E T) / sd T) with the continuity correction
    excess = t_stat - mean - (0.5 if correction else 0.0)
    return float(stats.norm.sf(excess / sd))


def _pairs_from_matching(
    matching: Any, data: Any, treatment: str | None, outcome: str | None
) -> np.ndarray:
    if getattr(matching, "n_neighbors", None) != 1:
        raise ParameterError(
            "rosenbaum_bounds: the signed-rank bounds need one-to-one matched pairs; the "
            f"Matching has n_neighbors={matching.n_neighbors!r}. Refit with n_neighbors=1."
        )
    matches = np.asarray(matching.matches_)  # NotFittedError before fit
    y, t = outcome_and_treatment(data, treatment, outcome, matches.shape[0], "rosenbaum_bounds")
    target = np.flatnonzero(matches[:, 0] >= 0)
    partner = matches[target, 0]
    units = np.concatenate([target, partner])
    if np.unique(units).size < units.size:
        raise ParameterError(
            "rosenbaum_bounds: some units belong to more than one matched pair (matching "
            "with replacement, or estimand 'ATE'); the bounds assume disjoint pairs. Refit "
            "Matching with replace=False and estimand='ATT' (or 'ATC')."
        )
    return np.where(t[target] == 1, y[target] - y[partner], y[partner] - y[target])


def rosenbaum_bounds(
    pairs: Any,
    gamma: Sequence[float] | None = None,
    alpha: float = 0.05,
    alternative: Literal["greater", "less"] = "greater",
    *,
    correction: bool = False,
    data: Any = None,
    treatment: str | None = None,
    outcome: str | None = None,
) -> RosenbaumBounds:
    """Rosenbaum (2002, Sec. 4.3) bounds on the Wilcoxon signed-rank p-value under hidden bias.

    Parameters
    ----------
    pairs : array-like or Matching
        Treated-minus-control outcome differences of matched pairs, or a fitted
        :class:`~paribus.Matching` with ``n_neighbors=1`` whose pairs are disjoint
        (then pass ``data`` and, for a table, ``treatment`` and ``outcome``: the
        estimator keeps no data).
    gamma : sequence of float >= 1, optional
        The grid; default ``(1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5)``.
    alpha : float in (0, 0.5), default 0.05
        Level at which ``gamma_critical`` is found.
    alternative : {"greater", "less"}, default "greater"
        One-sided alternative: treated outcomes larger (or smaller) than controls'.
    correction : bool, default False
        Continuity correction of the normal approximation.
    data, treatment, outcome
        The data a ``Matching`` was fitted on, rows as fitted.

    Returns
    -------
    RosenbaumBounds
    """
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ParameterError(f"rosenbaum_bounds: alpha={alpha!r} must lie in (0, 0.5).")
    if alternative not in ("greater", "less"):
        raise ParameterError(
            f"rosenbaum_bounds: alternative={alternative!r}; expected 'greater' or 'less'."
        )
    grid = np.asarray(_DEFAULT_GAMMA if gamma is None else gamma, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 1):
        raise ParameterError(
            f"rosenbaum_bounds: gamma={gamma!r} must be a non-empty sequence of finite "
            "values >= 1 (Gamma = 1 is no hidden bias)."
        )
    if hasattr(pairs, "fit") and hasattr(pairs, "get_params"):
        if type(pairs).__name__ != "Matching":
            raise ParameterError(
                f"rosenbaum_bounds: pairs is a {type(pairs).__name__}; expected pair "
                "differences or a fitted paribus.Matching."
            )
        diff = _pairs_from_matching(pairs, data, treatment, outcome)
    else:
        try:
            diff = np.asarray(pairs, dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"rosenbaum_bounds: pairs must be numeric pair differences ({exc})."
            ) from exc
        if diff.ndim != 1:
            raise DataError(
                f"rosenbaum_bounds: pairs must be one-dimensional; got shape {diff.shape}."
            )
    if not np.all(np.isfinite(diff)):
        raise DataError("rosenbaum_bounds: pair differences contain NaN or inf.")
    if alternative == "less":
        diff = -diff
    t_stat, ranks = _signed_ranks(diff)
    if ranks.size < 2:
        raise DataError(
            f"rosenbaum_bounds: {ranks.size} nonzero pair difference(s); at least 2 are "
            "needed for the signed-rank test."
        )

    def upper(g: float) -> float:
        return _p_bound(t_stat, ranks, g / (1 + g), correction)

    def lower(g: float) -> float:
        return _p_bound(t_stat, ranks, 1 / (1 + g), correction)

    return RosenbaumBounds(
        gamma=tuple(float(g) for g in grid),
        p_upper=tuple(upper(g) for g in grid),
        p_lower=tuple(lower(g) for g in grid),
        statistic=t_stat,
        n_pairs=int(ranks.size),
        n_zero=int(diff.size - ranks.size),
        alpha=float(alpha),
        gamma_critical=_gamma_critical(upper, float(alpha)),
        alternative=alternative,
    )


def _gamma_critical(upper: Any, alpha: float) -> float:
    """Smallest ``Gamma >= 1`` with ``upper(Gamma) >= alpha`` (upper is increasing)."""
    if upper(1.0) >= alpha:
        return 1.0
    hi = 2.0
    while upper(hi) < alpha:
        hi *= 2
        if hi > 1e12:
            return math.inf
    lo = hi / 2 if hi > 2 else 1.0
    return float(optimize.brentq(lambda g: upper(g) - alpha, lo, hi, xtol=1e-10))
