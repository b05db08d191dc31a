"""Ratio metrics and relative lifts by the delta method.

A *ratio metric* divides two per-unit sums averaged over the randomisation units, e.g.
clicks per session ``R = mean(clicks) / mean(sessions)``. Its standard error is not that of
a mean of per-unit ratios: numerator and denominator vary together. Deng, Knoblich & Lu
(2018), "Applying the delta method in metric analytics: a practical guide with novel ideas",
KDD '18, section 2, give, for ``n`` i.i.d. units with numerator ``X`` and denominator ``Y``,

    Var(mean X / mean Y) ~= (1/n) [ s_X^2 / mu_Y^2 - 2 mu_X s_XY / mu_Y^3 + mu_X^2 s_Y^2 / mu_Y^4 ],

which equals ``s_e^2 / (n mu_Y^2)`` with the linearised metric ``e_i = X_i - R Y_i`` (the
influence function of the ratio, up to the factor ``1 / mu_Y``). That form is used here
(sample moments with ``n - 1``) because it needs one pass per arm and no 2 x 2 covariance.

The same formula covers *cluster-randomised* experiments: with clusters as the units, the
mean outcome of an arm is the ratio ``sum of cluster totals / sum of cluster sizes``
(Deng et al. 2018, section 3.2).

The *relative lift* of two independent arms, ``L = m_t / m_c - 1``, gets the delta-method
variance ``v_t / m_c^2 + m_t^2 v_c / m_c^4`` where ``v_a`` is the variance of ``m_a``
(Deng et al. 2018, section 3.3).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from paribus.errors import DataError

__all__ = [
    "Ratio",
    "RatioEstimate",
    "grouped_ratio",
    "ratio_of_means",
    "relative_lift",
]


@dataclasses.dataclass(frozen=True)
class Ratio:
    """A ratio metric ``mean(numerator) / mean(denominator)`` over the randomisation units.

    Parameters
    ----------
    numerator, denominator : str
        Column names of the per-unit numerator (e.g. clicks) and denominator (e.g. sessions).
    """

    numerator: str
    denominator: str

    @property
    def label(self) -> str:
        """``"numerator/denominator"``, the metric's name in result labels."""
        return f"{self.numerator}/{self.denominator}"


@dataclasses.dataclass(frozen=True)
class RatioEstimate:
    """A ratio of means with its delta-method standard error.

    Attributes
    ----------
    ratio : float
        ``mean(numerator) / mean(denominator)``.
    std_error : float
        Delta-method standard error (module docstring).
    mean_numerator, mean_denominator : float
        The two means.
    n : int
        Number of units.
    """

    ratio: float
    std_error: float
    mean_numerator: float
    mean_denominator: float
    n: int


def grouped_mean_var(
    y: np.ndarray, codes: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group mean and sample variance (``n - 1``) of ``y``, by two passes of bincount.

    ``codes`` are integer group codes in ``[0, len(counts))``; every group needs 2 units.
    The second pass sums squared deviations from the group mean, which keeps full precision
    where ``sum(y^2) - n mean^2`` would cancel.
    """
    k = counts.size
    means = np.bincount(codes, weights=y, minlength=k) / counts
    dev = y - means[codes]
    np.square(dev, out=dev)
    ss = np.bincount(codes, weights=dev, minlength=k)
    return means, ss / (counts - 1)


def grouped_ratio(
    numerator: np.ndarray, denominator: np.ndarray, codes: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group ratio of means, its delta-method variance and the mean denominator.

    Returns ``(ratio, var_ratio, mean_denominator)``, arrays of length ``len(counts)``.
    """
    k = counts.size
    mx = np.bincount(codes, weights=numerator, minlength=k) / counts
    my = np.bincount(codes, weights=denominator, minlength=k) / counts
    if np.any(my == 0):
        bad = [int(g) for g in np.flatnonzero(my == 0)]
        raise DataError(
            f"the denominator averages 0 in group(s) {bad}, so the ratio is undefined; "
            "check the denominator column or drop units with no exposure."
        )
    ratio = mx / my
    lin = numerator - ratio[codes] * denominator  # X - R Y, mean 0 within each group
    np.square(lin, out=lin)
    s2 = np.bincount(codes, weights=lin, minlength=k) / (counts - 1)
    return ratio, s2 / (counts * my**2), my


def ratio_of_means(numerator: np.ndarray, denominator: np.ndarray) -> RatioEstimate:
    """``mean(numerator) / mean(denominator)`` of one sample with its delta-method SE.

    Parameters
    ----------
    numerator, denominator : array-like of shape (n,)
        Per-unit numerator and denominator (finite, ``n >= 2``).
    """
    x = np.asarray(numerator, dtype=np.float64).ravel()
    y = np.asarray(denominator, dtype=np.float64).ravel()
    if x.size != y.size:
        raise DataError(
            f"numerator has {x.size} values but denominator has {y.size}; pass one pair per unit."
        )
    if x.size < 2:
        raise DataError(f"a ratio needs at least 2 units for a variance; got {x.size}.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError("numerator or denominator has missing or infinite values; drop them first.")
    codes = np.zeros(x.size, dtype=np.intp)
    counts = np.array([float(x.size)])
    r, v, my = grouped_ratio(x, y, codes, counts)
    return RatioEstimate(
        ratio=float(r[0]),
        std_error=math.sqrt(float(v[0])),
        mean_numerator=float(x.mean()),
        mean_denominator=float(my[0]),
        n=int(x.size),
    )


def relative_lift(
    mean_treated: float, var_treated: float, mean_control: float, var_control: float
) -> tuple[float, float]:
    """``m_t / m_c - 1`` and its delta-method standard error for independent arms.

    ``var_treated`` and ``var_control`` are the variances of the two means (squared
    standard errors). Returns ``(lift, std_error)``; both are ``nan`` when ``m_c == 0``.
    """
    if mean_control == 0:
        return math.nan, math.nan
    lift = mean_treated / mean_control - 1.0
    var = var_treated / mean_control**2 + mean_treated**2 * var_control / mean_control**4
    return lift, math.sqrt(var)
