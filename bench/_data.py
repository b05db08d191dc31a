"""Simulated benchmark data with nonlinear confounding and known ATE and ATT.

Covariates ``x0..x{p-1}`` are independent standard normals (``p >= 5``); only
``x0..x4`` matter, the rest are noise columns. With ``expit`` the logistic function:

    e(x)   = expit(-0.4 + 0.8 x0 - 0.6 x1 + 0.5 x2 + 0.4 x3)        P(t = 1 | x)
    mu0(x) = 2 sin(1.5 x0) + x1^2 + 0.5 x2 x3 + |x4|                 E[y(0) | x]
    tau(x) = 1 + 0.5 x0 + 0.25 x1^2                                  E[y(1) - y(0) | x]
    y      = mu0(x) + t tau(x) + N(0, 1)

The confounders ``x0..x3`` drive treatment and outcome, the outcome through a sine,
a square and an interaction, so a linear outcome model is biased. The propensity is
logistic-linear, so matching on a fitted logistic regression is consistent. The
effect grows with ``x0``, which raises the chance of treatment, so ATT > ATE.

Population truths: ``ATE = E[tau] = 1 + 0.25 E[x1^2] = 1.25`` exactly, and
``ATT = E[tau e] / E[e]``, a three-dimensional Gauss-Hermite integral over
``(x0, x1, z)`` with ``0.5 x2 + 0.4 x3 = sqrt(0.41) z``: ATT = 1.435059 (40, 60 and 80 nodes
agree to 12 d.p.; a Monte Carlo check over 20 million draws gives ATE 1.25007 and
ATT 1.43506, ``python bench/_data.py``).

:func:`make_plr_data` is a partially linear design for the DML benchmark, on the same
covariates, with a continuous treatment and a constant effect ``THETA = 0.5``:

    m(x)  = sin(1.5 x0) + 0.4 x1 + 0.3 x2                            E[d | x]
    d     = m(x) + N(0, 1)
    y     = THETA d + mu0(x) + N(0, 1)                               (mu0 as above)

``x0..x2`` confound ``d`` and ``y`` (``x0`` through a sine in both), so the naive slope
of ``y`` on ``d`` is biased (1.06 on seed 0) while ``THETA`` is the partially linear
model's parameter exactly. ``m`` is kept easy to learn on purpose: with a square and an
interaction in ``m`` as well as in ``mu0``, 100-tree LightGBM nuisances leave errors in
``m`` and ``l`` that share those terms, and their product biased DML by +0.10 (29 SE)
at 100k rows; with this ``m`` the cross-fitted estimate is within one SE of ``THETA``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit

__all__ = ["THETA", "TRUE_ATE", "TRUE_ATT", "Bench", "make_data", "make_plr_data"]


def _index(x0: np.ndarray, x1: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """The propensity's logit; ``rest`` is ``0.5 x2 + 0.4 x3``."""
    return -0.4 + 0.8 * x0 - 0.6 * x1 + rest


def _tau(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    return 1.0 + 0.5 * x0 + 0.25 * x1**2


def true_att(nodes: int = 80) -> float:
    """``E[tau e] / E[e]`` by Gauss-Hermite quadrature (probabilists' weights)."""
    z, w = hermegauss(nodes)
    a, b, c = np.meshgrid(z, z, z, indexing="ij")
    weight = w[:, None, None] * w[None, :, None] * w[None, None, :]
    e = expit(_index(a, b, np.sqrt(0.41) * c))
    return float(np.sum(weight * e * _tau(a, b)) / np.sum(weight * e))


TRUE_ATE = 1.25
TRUE_ATT = true_att()


@dataclass(frozen=True)
class Bench:
    frame: pd.DataFrame  # columns x0..x{p-1}, t (0/1 int; continuous in make_plr_data), y
    covariates: list[str]
    ate: float  # population truths
    att: float


def make_data(n: int = 100_000, p: int = 20, seed: int = 0) -> Bench:
    """``n`` rows of the design in the module docstring with ``p`` covariates."""
    if p < 5:
        raise ValueError("the design needs p >= 5 covariates")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    x0, x1, x2, x3, x4 = x[:, :5].T
    t = (rng.random(n) < expit(_index(x0, x1, 0.5 * x2 + 0.4 * x3))).astype(np.int64)
    mu0 = 2 * np.sin(1.5 * x0) + x1**2 + 0.5 * x2 * x3 + np.abs(x4)
    y = mu0 + t * _tau(x0, x1) + rng.standard_normal(n)
    covariates = [f"x{j}" for j in range(p)]
    frame = pd.DataFrame(x, columns=covariates).assign(t=t, y=y)
    return Bench(frame, covariates, TRUE_ATE, TRUE_ATT)


THETA = 0.5


def make_plr_data(n: int = 100_000, p: int = 20, seed: int = 0) -> Bench:
    """``n`` rows of the partially linear design (module docstring): continuous ``t``.

    The returned :class:`Bench` holds ``THETA`` as both ``ate`` and ``att`` (a constant
    effect).
    """
    if p < 5:
        raise ValueError("the design needs p >= 5 covariates")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    x0, x1, x2, x3, x4 = x[:, :5].T
    d = np.sin(1.5 * x0) + 0.4 * x1 + 0.3 * x2 + rng.standard_normal(n)
    mu0 = 2 * np.sin(1.5 * x0) + x1**2 + 0.5 * x2 * x3 + np.abs(x4)
    y = THETA * d + mu0 + rng.standard_normal(n)
    covariates = [f"x{j}" for j in range(p)]
    frame = pd.DataFrame(x, columns=covariates).assign(t=d, y=y)
    return Bench(frame, covariates, THETA, THETA)


def monte_carlo_truths(draws: int = 20_000_000, seed: int = 1) -> tuple[float, float]:
    """(ATE, ATT) by Monte Carlo, in chunks: a check on the closed form and quadrature."""
    rng = np.random.default_rng(seed)
    chunks, size = draws // 1_000_000, 1_000_000
    sums = np.zeros(3)  # sum tau, sum tau e, sum e
    for _ in range(chunks):
        x0, x1, x2, x3 = rng.standard_normal((4, size))
        e, tau = expit(_index(x0, x1, 0.5 * x2 + 0.4 * x3)), _tau(x0, x1)
        sums += [tau.sum(), (tau * e).sum(), e.sum()]
    return float(sums[0] / (chunks * size)), float(sums[1] / sums[2])


if __name__ == "__main__":
    print(f"quadrature ATT {true_att(60):.6f} (60 nodes) {true_att(80):.6f} (80 nodes)")
    print("Monte Carlo (ATE, ATT):", monte_carlo_truths())
