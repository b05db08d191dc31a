"""Difference in differences: 2x2 (with the doubly robust DiD), two-way fixed effects and
event studies, the Goodman-Bacon decomposition, staggered adoption (Callaway-Sant'Anna,
Borusyak-Jaravel-Spiess imputation) and the HonestDiD sensitivity analysis."""

from paribus.designs.did.aggregate import Aggregation
from paribus.designs.did.bacon import BaconDecomposition, bacon_decomposition
from paribus.designs.did.drdid import drdid_panel, drdid_rc
from paribus.designs.did.honest import (
    HonestDiDResult,
    PretrendTest,
    honest_did,
    identified_set,
    pretrend_test,
)
from paribus.designs.did.imputation import ImputationDiD
from paribus.designs.did.plots import event_study_plot
from paribus.designs.did.staggered import StaggeredDiD, WaldTest
from paribus.designs.did.twfe import TWFE, demean
from paribus.designs.did.twobytwo import DiD

__all__ = [
    "TWFE",
    "Aggregation",
    "BaconDecomposition",
    "DiD",
    "HonestDiDResult",
    "ImputationDiD",
    "PretrendTest",
    "StaggeredDiD",
    "WaldTest",
    "bacon_decomposition",
    "demean",
    "drdid_panel",
    "drdid_rc",
    "event_study_plot",
    "honest_did",
    "identified_set",
    "pretrend_test",
]
