"""Synthetic control: Abadie-Diamond-Hainmueller with placebo and conformal inference,
synthetic difference in differences, and the ridge-augmented synthetic control."""

from paribus.designs.synth._data import wide_to_long
from paribus.designs.synth.adh import SyntheticControl
from paribus.designs.synth.augmented import AugmentedSyntheticControl
from paribus.designs.synth.inference import (
    ConformalInterval,
    LeaveOneOutResult,
    PlaceboResult,
    conformal_att,
    conformal_intervals,
    conformal_pvalue,
    in_time_placebo,
    leave_one_out,
    placebo_test,
)
from paribus.designs.synth.plots import gap_plot, path_plot, placebo_plot, weights_plot
from paribus.designs.synth.sdid import SyntheticDiD

__all__ = [
    "AugmentedSyntheticControl",
    "ConformalInterval",
    "LeaveOneOutResult",
    "PlaceboResult",
    "SyntheticControl",
    "SyntheticDiD",
    "conformal_att",
    "conformal_intervals",
    "conformal_pvalue",
    "gap_plot",
    "in_time_placebo",
    "leave_one_out",
    "path_plot",
    "placebo_plot",
    "placebo_test",
    "weights_plot",
    "wide_to_long",
]
