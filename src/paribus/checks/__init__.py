"""Trying to break an estimate: balance, overlap, refuters, sensitivity to unobserved
confounding (E-value, omitted-variable bias), and validation of CATE models."""

from paribus._core.overlap import effective_sample_size, overlap_diagnostics
from paribus.checks.balance import balance_table
from paribus.checks.dml_sensitivity import DMLSensitivity, dml_sensitivity, dml_sensitivity_contour
from paribus.checks.evalue import EValue, evalue
from paribus.checks.heterogeneity import (
    HeterogeneityReport,
    dr_pseudo_outcomes,
    validate_heterogeneity,
)
from paribus.checks.omitted_variable_bias import OmittedVariableBias
from paribus.checks.refute import REFUTERS, Refutation, refute
from paribus.checks.rosenbaum import RosenbaumBounds, rosenbaum_bounds

__all__ = [
    "REFUTERS",
    "DMLSensitivity",
    "EValue",
    "HeterogeneityReport",
    "OmittedVariableBias",
    "Refutation",
    "RosenbaumBounds",
    "balance_table",
    "dml_sensitivity",
    "dml_sensitivity_contour",
    "dr_pseudo_outcomes",
    "effective_sample_size",
    "evalue",
    "overlap_diagnostics",
    "refute",
    "rosenbaum_bounds",
    "validate_heterogeneity",
]
