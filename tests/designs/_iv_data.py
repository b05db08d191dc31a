"""Simulated IV data shared by the IV tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_iv(n: int = 600, seed: int = 0, strength: float = 0.8) -> pd.DataFrame:
    """Two endogenous regressors, three instruments, two controls; heteroskedastic, clustered."""
    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(size=n), rng.binomial(1, 0.4, size=n).astype(float)
    z = rng.normal(size=(n, 3))
    g1 = rng.integers(0, 30, size=n)
    g2 = rng.integers(0, 12, size=n)
    shock = rng.normal(size=30)[g1]
    u = rng.normal(size=n) * (1 + 0.5 * np.abs(z[:, 0])) + 0.5 * shock
    d1 = strength * (z[:, 0] + 0.5 * z[:, 1]) + 0.3 * w1 + 0.6 * u + rng.normal(size=n)
    d2 = strength * (z[:, 2] - 0.4 * z[:, 1]) + 0.2 * w2 + 0.4 * u + rng.normal(size=n)
    y = 1.0 + 0.5 * d1 - 0.3 * d2 + 0.4 * w1 + 0.2 * w2 + u
    return pd.DataFrame(
        {
            "y": y,
            "d1": d1,
            "d2": d2,
            "w1": w1,
            "w2": w2,
            "z1": z[:, 0],
            "z2": z[:, 1],
            "z3": z[:, 2],
            "g1": g1,
            "g2": g2,
        }
    )
