"""Plots and reports."""

from paribus.report.plots import (
    plot_calibration,
    plot_cate,
    plot_effects,
    plot_gates,
    plot_overlap,
)

__all__ = ["plot_calibration", "plot_cate", "plot_effects", "plot_gates", "plot_overlap"]
