"""Trying to break an estimate: balance and overlap (refutation and sensitivity to come)."""

from paribus._core.overlap import effective_sample_size, overlap_diagnostics
from paribus.checks.balance import balance_table

__all__ = ["balance_table", "effective_sample_size", "overlap_diagnostics"]
