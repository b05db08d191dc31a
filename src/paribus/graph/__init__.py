"""Causal graphs and identification: what must be adjusted for, and whether it can be."""

from paribus.graph.causal_graph import CausalGraph, Independence

__all__ = ["CausalGraph", "Independence"]
