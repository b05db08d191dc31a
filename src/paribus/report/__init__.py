"""Plots and reports."""

from paribus.report.plots import plot_effects, plot_overlap

__all__ = ["plot_effects", "plot_overlap"]
