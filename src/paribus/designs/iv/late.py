"""The LATE reading of IV with a binary instrument and a binary treatment.

Under independence, exclusion and monotonicity (Imbens & Angrist 1994), the Wald
ratio ``[E(Y|Z=1) - E(Y|Z=0)] / [E(D|Z=1) - E(D|Z=0)]`` (= 2SLS with an intercept only)
is the average effect on compliers. The population splits into always-takers
(share ``E(D|Z=0)``), never-takers (``1 - E(D|Z=1)``) and compliers (the rest).
Abadie's (2003) kappa, ``k = 1 - D(1-Z)/(1-p) - (1-D)Z/p`` with ``p = P(Z=1)``,
weights any function of the covariates to its complier mean: ``E[k X] / E[k]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paribus.data import CausalData
from paribus.errors import DataError

__all__ = ["ComplianceShares", "compliance_shares", "complier_characteristics", "is_binary"]


def is_binary(values: np.ndarray) -> bool:
    """Whether an array takes exactly the values 0 and 1."""
    return set(np.unique(values).tolist()) == {0.0, 1.0}


@dataclass(frozen=True)
class ComplianceShares:
    """Shares of compliers, always-takers and never-takers (Imbens & Angrist 1994)."""

    compliers: float
    always_takers: float
    never_takers: float

    def to_dict(self) -> dict[str, float]:
        return {
            "compliers": self.compliers,
            "always_takers": self.always_takers,
            "never_takers": self.never_takers,
        }


def compliance_shares(d: np.ndarray, z: np.ndarray) -> ComplianceShares:
    """Shares from the treatment rates in the two instrument arms."""
    p1 = float(d[z == 1].mean())
    p0 = float(d[z == 0].mean())
    return ComplianceShares(p1 - p0, p0, 1.0 - p1)


def complier_characteristics(
    data: Any,
    *,
    treatment: str,
    instrument: str,
    covariates: str | Sequence[str],
    dropna: bool = False,
) -> pd.DataFrame:
    """Mean covariates among compliers (Abadie's kappa) beside the whole sample's.

    Assumes the instrument is as good as randomly assigned (``P(Z=1)`` constant).
    Returns one row per covariate with ``compliers``, ``sample`` and their ``ratio``.
    """
    cd = CausalData(
        data,
        treatment=treatment,
        covariates=covariates,
        instruments=instrument,
        dropna=dropna,
    )
    z = cd.Z[:, 0]
    if not is_binary(z):
        raise DataError(
            f"instrument column {instrument!r} must be binary 0/1 for complier "
            f"characteristics; found values {np.unique(z)[:5].tolist()}."
        )
    t = cd.t
    p = float(z.mean())
    kappa = 1.0 - t * (1 - z) / (1 - p) - (1 - t) * z / p
    if kappa.mean() <= 0:
        raise DataError(
            f"the estimated complier share is not positive ({kappa.mean():.3g}): "
            f"{instrument!r} does not raise {treatment!r}; recode the instrument or treatment."
        )
    x = cd.X
    compliers = (kappa @ x) / kappa.sum()
    sample = x.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = compliers / sample
    return pd.DataFrame(
        {"compliers": compliers, "sample": sample, "ratio": ratio},
        index=pd.Index(cd.covariates, name="covariate"),
    )
