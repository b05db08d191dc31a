"""Trying to break an estimate: balance, overlap, refuters, sensitivity to unobserved
confounding (E-value, omitted-variable bias), and validation of CATE models."""

from paribus._core.overlap import effective_sample_size, overlap_diagnostics
from paribus.checks.balance_report import BalanceReport, balance
from paribus.checks.battery import CHECKS, CheckReport, CheckResult, check
from paribus.checks.confounder_sweep import ConfounderSweep, confounder_sweep
from paribus.checks.dml_sensitivity import DMLSensitivity, dml_sensitivity, dml_sensitivity_contour
from paribus.checks.evalue import EValue, evalue
from paribus.checks.heterogeneity import (
    HeterogeneityReport,
    dr_pseudo_outcomes,
    validate_heterogeneity,
)
from paribus.checks.omitted_variable_bias import OmittedVariableBias
from paribus.checks.overlap_report import OverlapReport, TrimmingSuggestion, overlap
from paribus.checks.refute import REFUTERS, Refutation, refute
from paribus.checks.refuters_more import (
    IntervalRefutation,
    bootstrap_refuter,
    dummy_outcome,
    negative_control_exposure,
    negative_control_outcome,
)
from paribus.checks.rosenbaum import RosenbaumBounds, rosenbaum_bounds
from paribus.checks.standardized_differences import balance_table

__all__ = [
    "CHECKS",
    "REFUTERS",
    "BalanceReport",
    "CheckReport",
    "CheckResult",
    "ConfounderSweep",
    "DMLSensitivity",
    "EValue",
    "HeterogeneityReport",
    "IntervalRefutation",
    "OmittedVariableBias",
    "OverlapReport",
    "Refutation",
    "RosenbaumBounds",
    "TrimmingSuggestion",
    "balance",
    "balance_table",
    "bootstrap_refuter",
    "check",
    "confounder_sweep",
    "dml_sensitivity",
    "dml_sensitivity_contour",
    "dr_pseudo_outcomes",
    "dummy_outcome",
    "effective_sample_size",
    "evalue",
    "negative_control_exposure",
    "negative_control_outcome",
    "overlap",
    "overlap_diagnostics",
    "refute",
    "rosenbaum_bounds",
    "validate_heterogeneity",
]
