"""Evaluating an uplift score: doubly robust scores, uplift by bin with intervals, plots.

Randomised data
    Within a group of units the uplift is the difference of the arms' mean outcomes,
    ``mean(Y | T = 1) - mean(Y | T = 0)``, with a Welch interval (unequal variances,
    Welch-Satterthwaite degrees of freedom).

Observational data (``propensity=`` given)
    Arm differences are confounded, so every unit gets the doubly robust (AIPW)
    pseudo-outcome of Robins, Rotnitzky & Zhao (1994)

        Gamma_i = mu1(X_i) - mu0(X_i) + T_i (Y_i - mu1(X_i)) / e(X_i)
                  - (1 - T_i) (Y_i - mu0(X_i)) / (1 - e(X_i)),

    whose conditional mean given ``X`` is the CATE if either the propensity ``e`` or the
    outcome predictions ``mu0``, ``mu1`` are right (with neither given, ``mu = 0`` and
    ``Gamma`` is the IPW transformed outcome of Athey & Imbens 2015). The uplift of a
    group is then ``mean(Gamma)`` with the normal interval ``sd(Gamma) / sqrt(n)``; curves
    accumulate ``Gamma`` instead of arm differences (as the targeting-operator and RATE
    evaluations of Yadlowsky, Fleming, Shah, Brunskill & Wager 2021 do). The nuisances
    should be cross-fitted (out-of-fold) predictions, and the score being evaluated
    should not have been trained on the same rows.

Bins are formed as scikit-uplift's ``uplift_by_percentile`` does: units sorted by
decreasing score (ties: later row first) and cut into ``bins`` groups of (almost) equal
size with ``numpy.array_split``; bin 1 holds the highest scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paribus._core.params import check_level
from paribus.errors import DataError, ParameterError

__all__ = [
    "check_uplift_inputs",
    "descending_order",
    "dr_scores",
    "plot_uplift_by_bin",
    "plot_uplift_curve",
    "uplift_by_bin",
]


def _vector(values: Any, name: str, where: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: {name} must be numeric ({exc}).") from exc
    if arr.ndim != 1:
        raise DataError(f"{where}: {name} must be one-dimensional; found shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise DataError(
            f"{where}: {name} has {int(np.sum(~np.isfinite(arr)))} missing or infinite "
            "values; drop or impute those rows first."
        )
    return arr


def check_uplift_inputs(
    y: Any, treatment: Any, score: Any | None, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate ``y``, a 0/1 ``treatment`` with both arms, and ``score``: float arrays."""
    yy = _vector(y, "y", where)
    t = _vector(treatment, "treatment", where)
    if t.size == 0:
        raise DataError(f"{where}: the inputs are empty.")
    if not np.all((t == 0) | (t == 1)):
        raise DataError(
            f"{where}: treatment must be coded 0 (control) / 1 (treated); found values "
            f"{np.unique(t)[:5].tolist()}. Recode it, or compare each arm with control "
            "separately."
        )
    if t.min() == t.max():
        raise DataError(
            f"{where}: treatment has only the value {int(t[0])}; uplift needs both treated "
            "and control units."
        )
    s = None if score is None else _vector(score, "score", where)
    for name, arr in (("y", yy), ("score", s)):
        if arr is not None and arr.size != t.size:
            raise DataError(
                f"{where}: {name} has {arr.size} values but treatment has {t.size}; pass "
                "arrays of equal length."
            )
    return yy, t, s


def is_binary(y: np.ndarray) -> bool:
    """True when ``y`` takes only the values 0 and 1."""
    return bool(np.all((y == 0) | (y == 1)))


def descending_order(score: np.ndarray) -> np.ndarray:
    """Indices by decreasing score; ties put the later row first (scikit-uplift's order)."""
    return np.argsort(score, kind="mergesort")[::-1]


def dr_scores(
    y: Any,
    treatment: Any,
    propensity: Any,
    mu0: Any = None,
    mu1: Any = None,
) -> np.ndarray:
    """Doubly robust (AIPW) pseudo-outcomes ``Gamma_i`` of the uplift (module docstring).

    Parameters
    ----------
    y, treatment : array of shape (n,)
        Outcomes and 0/1 treatment.
    propensity : float or array of shape (n,)
        ``P(T = 1 | X)``, strictly inside (0, 1); a number for a randomised design.
    mu0, mu1 : array of shape (n,), optional
        Out-of-fold predictions of ``E[Y | X, T = 0]`` and ``E[Y | X, T = 1]``; both or
        neither (then 0, giving the IPW transformed outcome).

    Returns
    -------
    ndarray of shape (n,)
    """
    where = "dr_scores"
    yy, t, _ = check_uplift_inputs(y, treatment, None, where)
    e = propensity_array(propensity, t.size, where)
    m0, m1 = outcome_predictions(mu0, mu1, t.size, where)
    return np.asarray(m1 - m0 + t * (yy - m1) / e - (1 - t) * (yy - m0) / (1 - e))


def propensity_array(propensity: Any, n: int, where: str) -> np.ndarray:
    """A propensity number or vector as an (n,) array strictly inside (0, 1)."""
    e = np.asarray(propensity, dtype=float)
    if e.ndim == 0:
        e = np.full(n, float(e))
    e = _vector(e, "propensity", where)
    if e.size != n:
        raise DataError(f"{where}: propensity has {e.size} values; expected {n}.")
    if np.any(e <= 0) or np.any(e >= 1):
        raise DataError(
            f"{where}: propensity must lie strictly between 0 and 1; found min {e.min():.3g} "
            f"and max {e.max():.3g}. Clip or trim the propensities (e.g. to [0.01, 0.99])."
        )
    return e


def outcome_predictions(mu0: Any, mu1: Any, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Arm outcome predictions, both given or neither (zeros)."""
    if (mu0 is None) != (mu1 is None):
        raise ParameterError(
            f"{where}: pass both mu0 and mu1 (outcome predictions under control and "
            "treatment) or neither."
        )
    if mu0 is None:
        return np.zeros(n), np.zeros(n)
    m0, m1 = _vector(mu0, "mu0", where), _vector(mu1, "mu1", where)
    if m0.size != n or m1.size != n:
        raise DataError(f"{where}: mu0 and mu1 need {n} values; found {m0.size}, {m1.size}.")
    return m0, m1


def _welch(y1: np.ndarray, y0: np.ndarray, level: float) -> tuple[float, float, float, float]:
    """Difference in means, its Welch standard error and interval."""
    diff = float(y1.mean() - y0.mean())
    if y1.size < 2 or y0.size < 2:
        return diff, float("nan"), float("nan"), float("nan")
    v1, v0 = y1.var(ddof=1) / y1.size, y0.var(ddof=1) / y0.size
    se = float(np.sqrt(v1 + v0))
    if se == 0:
        return diff, 0.0, diff, diff
    df = (v1 + v0) ** 2 / (v1**2 / (y1.size - 1) + v0**2 / (y0.size - 1))
    q = float(stats.t.ppf(0.5 + level / 2, df))
    return diff, se, diff - q * se, diff + q * se


def uplift_by_bin(
    y: Any,
    treatment: Any,
    score: Any,
    bins: int = 10,
    *,
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Uplift in bins of decreasing score, with intervals and the treatment balance.

    Parameters
    ----------
    y, treatment, score : array of shape (n,)
        Outcomes, 0/1 treatment and the uplift score being evaluated.
    bins : int, default 10
        Number of equal-size bins (deciles by default); bin 1 has the highest scores.
    propensity, mu0, mu1 : optional
        For observational data: the uplift of a bin is the mean doubly robust score
        (:func:`dr_scores`) with a normal interval instead of the arm difference with a
        Welch interval.
    level : float, default 0.95

    Returns
    -------
    DataFrame
        One row per bin: ``bin``, ``n``, ``n_treated``, ``n_control``,
        ``treated_share`` (balance: under randomisation close to the overall share in
        every bin), ``mean_treated``, ``mean_control``, ``uplift``, ``std_error``,
        ``ci_lower``, ``ci_upper``, ``score_min``, ``score_max``.
    """
    where = "uplift_by_bin"
    level = check_level(level)
    yy, t, s = check_uplift_inputs(y, treatment, score, where)
    assert s is not None
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ParameterError(f"{where}: bins={bins!r} is invalid; expected a positive integer.")
    if bins > t.size:
        raise ParameterError(
            f"{where}: bins={bins} exceeds the {t.size} units; use at most {t.size} bins."
        )
    gamma = None if propensity is None else dr_scores(yy, t, propensity, mu0, mu1)
    if propensity is None and mu0 is not None:
        raise ParameterError(f"{where}: mu0/mu1 are used only together with propensity=.")
    rows = []
    z = float(stats.norm.ppf(0.5 + level / 2))
    for b, idx in enumerate(np.array_split(descending_order(s), bins), start=1):
        tb, yb = t[idx], yy[idx]
        n1 = int(tb.sum())
        n0 = idx.size - n1
        y1, y0 = yb[tb == 1], yb[tb == 0]
        m1 = float(y1.mean()) if n1 else float("nan")
        m0 = float(y0.mean()) if n0 else float("nan")
        if gamma is not None:
            g = gamma[idx]
            est = float(g.mean())
            se = float(g.std(ddof=1) / np.sqrt(g.size)) if g.size > 1 else float("nan")
            lo, hi = est - z * se, est + z * se
        elif n1 and n0:
            est, se, lo, hi = _welch(y1, y0, level)
        else:
            est = se = lo = hi = float("nan")
        rows.append(
            {
                "bin": b,
                "n": idx.size,
                "n_treated": n1,
                "n_control": n0,
                "treated_share": n1 / idx.size,
                "mean_treated": m1,
                "mean_control": m0,
                "uplift": est,
                "std_error": se,
                "ci_lower": lo,
                "ci_upper": hi,
                "score_min": float(s[idx].min()),
                "score_max": float(s[idx].max()),
            }
        )
    return pd.DataFrame(rows)


def plot_uplift_curve(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    kind: str = "qini",
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
    perfect: bool = True,
    label: str = "model",
    ax: Any = None,
) -> Any:
    """Uplift (``kind="uplift"``) or Qini (``kind="qini"``) curve with random and perfect lines.

    The random line joins the origin to the curve's end; the perfect curve (binary
    outcomes, randomised data only) is :func:`~paribus.uplift.metrics.perfect_uplift_curve`
    or :func:`~paribus.uplift.metrics.perfect_qini_curve`. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    from paribus.uplift import metrics

    if kind not in ("uplift", "qini"):
        raise ParameterError(f"plot_uplift_curve: kind={kind!r}; expected 'uplift' or 'qini'.")
    curve = metrics.uplift_curve if kind == "uplift" else metrics.qini_curve
    x, g = curve(y, treatment, score, propensity=propensity, mu0=mu0, mu1=mu1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(x, g, color="C0", label=label)
    ax.plot([0, x[-1]], [0, g[-1]], color="grey", ls="--", label="random")
    yy, t, _ = check_uplift_inputs(y, treatment, None, "plot_uplift_curve")
    if perfect and propensity is None and is_binary(yy):
        best = metrics.perfect_uplift_curve if kind == "uplift" else metrics.perfect_qini_curve
        xp, gp = best(yy, t)
        ax.plot(xp, gp, color="C2", ls=":", label="perfect")
    ax.set_xlabel("number targeted")
    ax.set_ylabel(
        "incremental outcome" if kind == "uplift" else "Qini (incremental, treated scale)"
    )
    ax.legend()
    return ax


def plot_uplift_by_bin(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Bars of the uplift per bin (from :func:`uplift_by_bin`) with interval whiskers."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    b = table["bin"].to_numpy()
    est = table["uplift"].to_numpy(dtype=float)
    lo, hi = table["ci_lower"].to_numpy(dtype=float), table["ci_upper"].to_numpy(dtype=float)
    ax.bar(b, est, color="C0", alpha=0.7)
    ax.errorbar(b, est, yerr=[est - lo, hi - est], fmt="none", color="k", capsize=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(b)
    ax.set_xlabel("bin (1 = highest score)")
    ax.set_ylabel("uplift")
    return ax
