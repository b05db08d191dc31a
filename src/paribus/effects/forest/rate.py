"""Rank-weighted average treatment effects (RATE) and the targeting operator characteristic.

Yadlowsky, Fleming, Shah, Brunskill & Wager (2024), "Evaluating treatment prioritization
rules via rank-weighted average treatment effects", JASA. With doubly robust scores
``Gamma_i`` and priorities ``S(X_i)``, ``TOC(q)`` is the mean score among the top ``q``
share by priority minus the overall mean (ties share their group's mean score); AUTOC
integrates ``TOC(q)`` over ``q`` with weight 1 and QINI with weight ``q``. Standard errors
come from grf's clustered half-sample bootstrap (half of the clusters, without
replacement, no rescaling). Used to test whether heterogeneity is useful for targeting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus._core.random import seed_sequence
from paribus.effects.forest.summaries import _cluster, _vector
from paribus.errors import DataError, ParameterError
from paribus.results import Effect

__all__ = ["RATEResult", "rate", "toc"]

DEFAULT_Q = np.round(np.arange(1, 1001) / 1000, 3)


def _rate_kernel(
    gamma: np.ndarray, priorities: np.ndarray, qini: bool, q_index: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """RATE and TOC(q) on one sample; ties share the mean score of their group.

    Averaging ``Gamma`` within tied priorities is the expectation over random
    tie-breaking (Yadlowsky et al. 2025, Sec. 2; grf ``estimate_rate``).
    """
    order = np.argsort(-priorities, kind="stable")
    g, p = gamma[order], priorities[order]
    new = np.empty(p.size, dtype=bool)
    new[0], new[1:] = True, p[1:] != p[:-1]
    gid = np.cumsum(new) - 1
    g = (np.bincount(gid, weights=g) / np.bincount(gid))[gid]
    n = g.size
    ranks = np.arange(1, n + 1)
    toc_all = np.cumsum(g) / ranks - g.mean()
    value = float(np.mean(toc_all * ranks / n) if qini else np.mean(toc_all))
    if q_index is None:
        return value, toc_all
    return value, toc_all[np.maximum(np.floor(q_index * n + 1e-12).astype(int), 1) - 1]


@dataclasses.dataclass(frozen=True)
class RATEResult:
    """A rank-weighted average treatment effect with its TOC curve.

    Attributes
    ----------
    effect : Effect
        The RATE (estimand ``"AUTOC"`` or ``"QINI"``), bootstrap standard error.
    toc : DataFrame
        Columns ``q``, ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``.
    target : str
    """

    effect: Effect
    toc: pd.DataFrame
    target: str

    @property
    def estimate(self) -> float:
        return self.effect.estimate

    @property
    def std_error(self) -> float:
        return self.effect.std_error

    @property
    def ci(self) -> tuple[float, float]:
        return self.effect.ci_lower, self.effect.ci_upper

    @property
    def p_value(self) -> float:
        return self.effect.p_value

    def __str__(self) -> str:
        e = self.effect
        return (
            f"{self.target}: {e.estimate:.4g} (SE {e.std_error:.4g}; {100 * e.level:g}% CI "
            f"[{e.ci_lower:.4g}, {e.ci_upper:.4g}]; p = {e.p_value:.3g}; half-sample bootstrap)"
        )

    def plot(self, ax: Any = None) -> Any:
        """The TOC curve with its pointwise interval; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self.toc
        ax.plot(t["q"], t["estimate"], color="C0", label="TOC")
        ax.fill_between(t["q"], t["ci_lower"], t["ci_upper"], color="C0", alpha=0.2)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel("treated fraction q")
        ax.set_ylabel("TOC(q)")
        ax.set_title(f"{self.target} = {self.estimate:.3g} (SE {self.std_error:.3g})")
        return ax


def _half_samples(
    n_bootstrap: int, cluster: np.ndarray | None, n: int, random_state: int | None
) -> list[np.ndarray]:
    """Row indices of grf's half-samples: floor(G/2) clusters drawn without replacement."""
    codes = np.arange(n) if cluster is None else np.unique(cluster, return_inverse=True)[1]
    n_groups = int(codes.max()) + 1
    if n_groups // 2 <= 1:
        raise DataError(
            f"the half-sample bootstrap needs at least 4 units or clusters; found {n_groups}."
        )
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_groups + 1))
    rng = np.random.default_rng(seed_sequence(random_state))
    out = []
    for _ in range(n_bootstrap):
        picked = rng.choice(n_groups, size=n_groups // 2, replace=False)
        if cluster is None:  # singletons: the same rows, without the per-cluster concatenation
            out.append(picked)
        else:
            out.append(np.concatenate([order[starts[g] : starts[g + 1]] for g in picked]))
    return out


def rate(
    scores: Any,
    priorities: Any,
    *,
    target: Literal["AUTOC", "QINI"] = "AUTOC",
    q: Sequence[float] | np.ndarray | None = None,
    n_bootstrap: int = 200,
    cluster: Any = None,
    level: float = 0.95,
    random_state: int | None = None,
) -> RATEResult:
    """Rank-weighted average treatment effect of a prioritization rule (Yadlowsky et al.).

    Sort units by decreasing ``priorities``. The targeting operator characteristic is
    ``TOC(q) = E[Y(1) - Y(0) | F(S(X)) >= 1 - q] - E[Y(1) - Y(0)]``, estimated by
    ``TOC(j/n) = (1/j) sum_{i <= j} Gamma_(i) - mean(Gamma)``. The RATE integrates it:
    ``AUTOC = int_0^1 TOC(u) du``, ``QINI = int_0^1 u TOC(u) du``, estimated by
    ``(1/n) sum_j TOC(j/n)`` and ``(1/n) sum_j (j/n) TOC(j/n)``. Ties in the priorities
    are broken at random in expectation: tied units share their group's mean score.
    A RATE of 0 means the priorities carry no information about the effect.

    Standard errors are grf's clustered half-sample bootstrap: each replicate
    recomputes the estimate on ``floor(G/2)`` clusters drawn without replacement; the
    finite-population factor 1/2 makes the spread of half-sample estimates an
    estimate of the full-sample standard error (no rescaling). Intervals and the
    p-value (H0: RATE = 0) are normal approximations.

    Parameters
    ----------
    scores : array of shape (n,)
        Doubly robust scores ``Gamma_i``, ideally computed on data not used to build
        ``priorities``.
    priorities : array of shape (n,)
        Larger means treat first (e.g. a held-out CATE estimate).
    target : {"AUTOC", "QINI"}
    q : increasing grid in (0, 1], default 0.001, ..., 1 (grf)
        Where the TOC curve is reported; ``TOC(q)`` uses the top ``max(1, floor(q n))``.
    n_bootstrap : int, default 200
    cluster : array, optional
        Clusters are resampled whole.
    level : float
    random_state : int, optional
    """
    check_level(level)
    if target not in ("AUTOC", "QINI"):
        raise ParameterError(f"target={target!r} is invalid; expected 'AUTOC' or 'QINI'.")
    if (
        isinstance(n_bootstrap, bool)
        or not isinstance(n_bootstrap, (int, np.integer))
        or n_bootstrap < 2
    ):
        raise ParameterError(f"n_bootstrap={n_bootstrap!r} is invalid; expected an integer >= 2.")
    gamma = _vector("scores", scores)
    n = gamma.size
    prio = _vector("priorities", priorities, n)
    grid = DEFAULT_Q if q is None else np.asarray(q, dtype=float)
    if (
        grid.ndim != 1
        or grid.size == 0
        or np.any(grid <= 0)
        or np.any(grid > 1)
        or np.any(np.diff(grid) <= 0)
    ):
        raise ParameterError("q must be a non-empty increasing grid of numbers in (0, 1].")
    qini = target == "QINI"
    value, toc_q = _rate_kernel(gamma, prio, qini, grid)
    draws = np.empty((n_bootstrap, grid.size + 1))
    for b, idx in enumerate(_half_samples(n_bootstrap, _cluster(cluster, n), n, random_state)):
        v, t = _rate_kernel(gamma[idx], prio[idx], qini, grid)
        draws[b, 0], draws[b, 1:] = v, t
    se = np.std(draws, axis=0, ddof=1)
    effect = Effect.from_normal(
        estimand=target,
        estimate=value,
        std_error=float(se[0]),
        level=level,
        n_obs=n,
        method="rate",
        inference="bootstrap",
        diagnostics={"bootstrap": "half-sample", "n_bootstrap": n_bootstrap},
    )
    z = float(stats.norm.ppf(0.5 + level / 2))
    curve = pd.DataFrame(
        {
            "q": grid,
            "estimate": toc_q,
            "std_error": se[1:],
            "ci_lower": toc_q - z * se[1:],
            "ci_upper": toc_q + z * se[1:],
        }
    )
    return RATEResult(effect=effect, toc=curve, target=target)


def toc(
    scores: Any,
    priorities: Any,
    *,
    q: Sequence[float] | np.ndarray | None = None,
    n_bootstrap: int = 200,
    cluster: Any = None,
    level: float = 0.95,
    random_state: int | None = None,
) -> pd.DataFrame:
    """The TOC curve of :func:`rate` alone: columns q, estimate, std_error, ci_lower, ci_upper."""
    return rate(
        scores,
        priorities,
        q=q,
        n_bootstrap=n_bootstrap,
        cluster=cluster,
        level=level,
        random_state=random_state,
    ).toc
