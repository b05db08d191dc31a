"""Kernel weights for local polynomial RD estimation.

The three boundary kernels of Calonico, Cattaneo & Titiunik (2014, Econometrica):
uniform ``K(u) = 1/2``, triangular ``K(u) = 1 - |u|`` and Epanechnikov
``K(u) = 3/4 (1 - u^2)``, each on ``|u| <= 1``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KERNELS", "kernel_weights", "pilot_constant"]

KERNELS = ("triangular", "uniform", "epanechnikov")
_ALIASES = {"tri": "triangular", "uni": "uniform", "epa": "epanechnikov"}

# rule-of-thumb constants of the pilot bandwidth c = C * min(sd, IQR/1.349) * n^(-1/5)
# (Calonico, Cattaneo & Farrell 2020, Section 4; the rdrobust Stata Journal articles)
_PILOT = {"triangular": 2.576, "uniform": 1.843, "epanechnikov": 2.34}


def canonical_kernel(name: str) -> str:
    """The full kernel name for a name or its three-letter alias."""
    return _ALIASES.get(name, name)


def pilot_constant(kernel: str) -> float:
    """Constant of the rule-of-thumb pilot bandwidth for ``kernel``."""
    return _PILOT[kernel]


def kernel_weights(u: np.ndarray, h: float, kernel: str) -> np.ndarray:
    """``K(u / h) / h`` for centred running values ``u`` (zero outside the window)."""
    a = np.abs(u) / h
    if kernel == "triangular":
        k = np.where(a <= 1.0, 1.0 - a, 0.0)
    elif kernel == "epanechnikov":
        k = np.where(a <= 1.0, 0.75 * (1.0 - a * a), 0.0)
    else:
        k = np.where(a <= 1.0, 0.5, 0.0)
    return k / h
