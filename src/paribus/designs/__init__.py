"""Quasi-experimental designs: instrumental variables and regression discontinuity."""

from paribus.designs.iv import (
    IV2SLS,
    IVGMM,
    IVLIML,
    IVResults,
    complier_characteristics,
    plausibly_exogenous,
)

__all__ = [
    "IV2SLS",
    "IVGMM",
    "IVLIML",
    "IVResults",
    "complier_characteristics",
    "plausibly_exogenous",
]
