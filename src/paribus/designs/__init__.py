"""Quasi-experimental designs: instrumental variables and regression discontinuity."""

from paribus.designs.iv import (
    IV2SLS,
    IVGMM,
    IVLIML,
    IVResults,
    complier_characteristics,
    plausibly_exogenous,
)
from paribus.designs.rdd import RegressionDiscontinuity, density_test, rd_plot

__all__ = [
    "IV2SLS",
    "IVGMM",
    "IVLIML",
    "IVResults",
    "RegressionDiscontinuity",
    "complier_characteristics",
    "density_test",
    "plausibly_exogenous",
    "rd_plot",
]
