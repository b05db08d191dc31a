"""Quasi-experimental designs: instrumental variables, regression discontinuity, difference in
differences, synthetic control and time-series impact."""

from paribus.designs.did import (
    TWFE,
    DiD,
    ImputationDiD,
    StaggeredDiD,
    bacon_decomposition,
    event_study_plot,
    honest_did,
)
from paribus.designs.impact import CausalImpact, InterruptedTimeSeries
from paribus.designs.iv import (
    IV2SLS,
    IVGMM,
    IVLIML,
    IVResults,
    complier_characteristics,
    plausibly_exogenous,
)
from paribus.designs.rdd import RegressionDiscontinuity, density_test, rd_plot
from paribus.designs.synth import AugmentedSyntheticControl, SyntheticControl, SyntheticDiD

__all__ = [
    "IV2SLS",
    "IVGMM",
    "IVLIML",
    "TWFE",
    "AugmentedSyntheticControl",
    "CausalImpact",
    "DiD",
    "IVResults",
    "ImputationDiD",
    "InterruptedTimeSeries",
    "RegressionDiscontinuity",
    "StaggeredDiD",
    "SyntheticControl",
    "SyntheticDiD",
    "bacon_decomposition",
    "complier_characteristics",
    "density_test",
    "event_study_plot",
    "honest_did",
    "plausibly_exogenous",
    "rd_plot",
]
