"""Trying to break an estimate: balance, overlap and refuters (sensitivity to come)."""

from paribus._core.overlap import effective_sample_size, overlap_diagnostics
from paribus.checks.balance import balance_table
from paribus.checks.refute import REFUTERS, Refutation, refute

__all__ = [
    "REFUTERS",
    "Refutation",
    "balance_table",
    "effective_sample_size",
    "overlap_diagnostics",
    "refute",
]
