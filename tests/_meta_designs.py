"""Deterministic simulated designs shared by the meta-learner peer references.

``bench/reference_meta.py`` (run in the bench environment, with EconML and CausalML)
and ``tests/effects/test_meta_peers.py`` (run without them) must see the very same
rows, evaluation points and cross-fitting folds. Both import this module: the tests
find it on ``sys.path`` (``tests/conftest.py`` puts ``tests/`` there), the bench script
adds ``tests/`` itself. It lives under ``tests/`` rather than in ``bench/_data.py`` so
that the test suite never imports from ``bench/``, and it needs only numpy, pandas and
scikit-learn (paribus's own dependencies).

Designs (covariates independent standard normals, ``expit`` the logistic function):

``binary`` (n = 2000, 5 covariates), confounded through ``x0, x1, x2``, nonlinear in
both the propensity and the outcome, heterogeneous effect::

    e(x)   = expit(-0.3 + 0.9 x0 - 0.6 x1 + 0.5 sin(2 x2))
    mu0(x) = sin(1.5 x0) + 0.5 x1^2 + 0.5 x2 x3 + 0.3 x4
    tau(x) = 1 + 0.8 x0 - 0.5 x1 + 0.3 x2^2
    y      = mu0 + t tau + N(0, 1)

``multi`` (n = 3000, 4 covariates), treatment levels 0 (control), 1, 2 from a
multinomial logit with logits ``(0, 0.2 + 0.6 x0 - 0.4 x1, -0.2 - 0.5 x0 + 0.6 x2)``::

    mu0(x)   = cos(x0) + 0.5 x1^2 + 0.5 x2
    tau_1(x) = 1 + 0.5 x0
    tau_2(x) = 2 - 0.7 x1 + 0.3 x2 x3
    y        = mu0 + tau_t + N(0, 1)

Each design has 50 evaluation points (fresh draws of the covariates from their own
seed) at which the CATEs are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

__all__ = ["DESIGNS", "Design", "fingerprint", "kfold", "make_design", "rotating_thirds"]

#: the design names, in the order the reference file lists them
DESIGNS = ("binary", "multi")
#: seed of the cross-fitting folds (also CausalML's ``random_state`` / ``seed``)
FOLD_SEED = 7
N_EVAL = 50


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Design:
    name: str
    frame: pd.DataFrame  # x0..x{p-1}, t (0/1 or 0/1/2 as float), y
    covariates: list[str]
    tau: np.ndarray  # true CATEs of the rows, shape (n, K)
    X_eval: np.ndarray  # (50, p) evaluation points
    tau_eval: np.ndarray  # true CATEs there, (50, K)

    @property
    def X(self) -> np.ndarray:
        return self.frame[self.covariates].to_numpy()

    @property
    def t(self) -> np.ndarray:
        return self.frame["t"].to_numpy()

    @property
    def y(self) -> np.ndarray:
        return self.frame["y"].to_numpy()


def _binary(seed: int = 20261122) -> Design:
    rng = np.random.default_rng(seed)
    n, p = 2000, 5
    x = rng.standard_normal((n, p))
    e = _expit(-0.3 + 0.9 * x[:, 0] - 0.6 * x[:, 1] + 0.5 * np.sin(2 * x[:, 2]))
    t = (rng.random(n) < e).astype(float)

    def tau(z: np.ndarray) -> np.ndarray:
        return (1 + 0.8 * z[:, 0] - 0.5 * z[:, 1] + 0.3 * z[:, 2] ** 2)[:, None]

    mu0 = np.sin(1.5 * x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3] + 0.3 * x[:, 4]
    y = mu0 + t * tau(x)[:, 0] + rng.standard_normal(n)
    x_eval = np.random.default_rng(seed + 1).standard_normal((N_EVAL, p))
    return _assemble("binary", x, t, y, tau(x), x_eval, tau(x_eval))


def _multi(seed: int = 20261123) -> Design:
    rng = np.random.default_rng(seed)
    n, p = 3000, 4
    x = rng.standard_normal((n, p))
    logits = np.column_stack(
        [
            np.zeros(n),
            0.2 + 0.6 * x[:, 0] - 0.4 * x[:, 1],
            -0.2 - 0.5 * x[:, 0] + 0.6 * x[:, 2],
        ]
    )
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    t = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1).astype(float)

    def tau(z: np.ndarray) -> np.ndarray:
        return np.column_stack([1 + 0.5 * z[:, 0], 2 - 0.7 * z[:, 1] + 0.3 * z[:, 2] * z[:, 3]])

    mu0 = np.cos(x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.5 * x[:, 2]
    effects = np.column_stack([np.zeros(n), tau(x)])
    y = mu0 + effects[np.arange(n), t.astype(int)] + rng.standard_normal(n)
    x_eval = np.random.default_rng(seed + 1).standard_normal((N_EVAL, p))
    return _assemble("multi", x, t, y, tau(x), x_eval, tau(x_eval))


def _assemble(
    name: str,
    x: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    tau: np.ndarray,
    x_eval: np.ndarray,
    tau_eval: np.ndarray,
) -> Design:
    covariates = [f"x{j}" for j in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=covariates).assign(t=t, y=y)
    return Design(name, frame, covariates, tau, x_eval, tau_eval)


def make_design(name: str) -> Design:
    """The design called ``name`` (one of :data:`DESIGNS`)."""
    if name == "binary":
        return _binary()
    if name == "multi":
        return _multi()
    raise ValueError(f"unknown design {name!r}; choose from {DESIGNS}")


def kfold(n: int, k: int = 5, seed: int = FOLD_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold (train, test) pairs: the folds CausalML's R-learner draws itself
    from ``KFold(k, shuffle=True, random_state=seed)``, passed explicitly to the others."""
    return list(KFold(k, shuffle=True, random_state=seed).split(np.zeros((n, 1))))


def rotating_thirds(n: int, seed: int = FOLD_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """CausalML's DR-learner split as (train, test) pairs.

    CausalML cuts the rows into thirds ``S_0, S_1, S_2`` (``KFold(3, shuffle=True,
    random_state=seed)``) and, in round ``i``, learns the outcome models on
    ``S_{i+1}`` and fits the pseudo-outcomes of ``S_{i+2}`` (indices mod 3). As
    cross-fitting folds: train ``S_{i+1}``, test ``S_{i+2}``; the test sets partition
    the rows.
    """
    thirds = [test for _, test in KFold(3, shuffle=True, random_state=seed).split(np.zeros(n))]
    return [(thirds[(i + 1) % 3], thirds[(i + 2) % 3]) for i in range(3)]


def fingerprint(design: Design) -> dict[str, float]:
    """A few sums that change if the generated rows change (e.g. a new numpy RNG)."""
    return {
        "n": float(len(design.frame)),
        "sum_x": float(design.X.sum()),
        "sum_t": float(design.t.sum()),
        "sum_y": float(design.y.sum()),
        "sum_x_eval": float(design.X_eval.sum()),
    }
