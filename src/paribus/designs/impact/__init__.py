"""Time-series impact: Bayesian structural time series (CausalImpact) and interrupted time
series, with placebo-date, held-out and prior-sensitivity checks."""

from paribus.designs.impact.bsts import BSTS, effective_sample_size, geweke_z, split_rhat
from paribus.designs.impact.causal_impact import CausalImpact
from paribus.designs.impact.checks import (
    HoldoutCheck,
    PlaceboCheck,
    holdout_check,
    placebo_dates,
    prior_sensitivity,
)
from paribus.designs.impact.its import InterruptedTimeSeries
from paribus.designs.impact.report import ImpactSummary

__all__ = [
    "BSTS",
    "CausalImpact",
    "HoldoutCheck",
    "ImpactSummary",
    "InterruptedTimeSeries",
    "PlaceboCheck",
    "effective_sample_size",
    "geweke_z",
    "holdout_check",
    "placebo_dates",
    "prior_sensitivity",
    "split_rhat",
]
