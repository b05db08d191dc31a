"""Causal graphs and identification: what must be adjusted for, and whether it can be."""

from paribus.graph.adjustment import (
    is_adjustment_set,
    is_backdoor_set,
    minimal_adjustment_sets,
    optimal_adjustment_set,
)
from paribus.graph.causal_graph import CausalGraph, Independence
from paribus.graph.expression import Expression, Fraction, Probability, Product, Sum
from paribus.graph.falsify import FalsificationReport, falsify
from paribus.graph.frontdoor import frontdoor_sets, is_frontdoor_set
from paribus.graph.id_algorithm import identify_conditional_effect, identify_effect
from paribus.graph.identify import Estimand, identify
from paribus.graph.instruments import Instrument, find_instruments, is_instrument

__all__ = [
    "CausalGraph",
    "Estimand",
    "Expression",
    "FalsificationReport",
    "Fraction",
    "Independence",
    "Instrument",
    "Probability",
    "Product",
    "Sum",
    "falsify",
    "find_instruments",
    "frontdoor_sets",
    "identify",
    "identify_conditional_effect",
    "identify_effect",
    "is_adjustment_set",
    "is_backdoor_set",
    "is_frontdoor_set",
    "is_instrument",
    "minimal_adjustment_sets",
    "optimal_adjustment_set",
]
