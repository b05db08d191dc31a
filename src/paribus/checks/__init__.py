"""Trying to break an estimate: balance, overlap, refuters, and validation of CATE models."""

from paribus._core.overlap import effective_sample_size, overlap_diagnostics
from paribus.checks.balance import balance_table
from paribus.checks.heterogeneity import (
    HeterogeneityReport,
    dr_pseudo_outcomes,
    validate_heterogeneity,
)
from paribus.checks.refute import REFUTERS, Refutation, refute

__all__ = [
    "REFUTERS",
    "HeterogeneityReport",
    "Refutation",
    "balance_table",
    "dr_pseudo_outcomes",
    "effective_sample_size",
    "overlap_diagnostics",
    "refute",
    "validate_heterogeneity",
]
