"""Solve a moment condition that is linear in the parameter.

For a score ``psi(W; theta, eta) = psi_a(W; eta) * theta + psi_b(W; eta)`` the
estimate is ``theta = -sum(psi_b) / sum(psi_a)`` and the influence value of unit
i is ``phi_i = -psi_i / mean(psi_a)`` (Chernozhukov et al. 2018, Sec. 3). AIPW,
double ML and the DR-learner differ only in their ``psi_a`` and ``psi_b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from paribus._core.inference import if_std_error

__all__ = ["LinearScoreSolution", "solve_linear_score"]


@dataclass(frozen=True)
class LinearScoreSolution:
    estimate: float
    std_error: float
    influence: np.ndarray


def solve_linear_score(
    psi_a: np.ndarray, psi_b: np.ndarray, cluster: np.ndarray | None = None
) -> LinearScoreSolution:
    """Estimate, standard error and per-unit influence values of a linear score."""
    j = float(np.mean(psi_a))
    theta = -float(np.mean(psi_b)) / j
    phi = -(psi_a * theta + psi_b) / j
    return LinearScoreSolution(theta, if_std_error(phi, cluster), phi)
