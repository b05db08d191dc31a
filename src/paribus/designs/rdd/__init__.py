"""Regression discontinuity designs: local polynomial estimation and its checks.

:class:`RegressionDiscontinuity` estimates sharp, fuzzy and kink designs with robust
bias-corrected inference (Calonico, Cattaneo & Titiunik 2014); :mod:`.analysis` adds
placebo cutoffs, covariate balance, bandwidth sensitivity and donut-hole estimates;
:func:`density_test` is the Cattaneo-Jansson-Ma manipulation test and :func:`rd_plot`
the data-driven RD plot (Calonico, Cattaneo & Titiunik 2015).
"""

from paribus.designs.rdd.analysis import (
    bandwidth_sensitivity,
    covariate_balance,
    donut_hole,
    placebo_cutoffs,
)
from paribus.designs.rdd.density import DensityTest, density_test
from paribus.designs.rdd.estimator import RegressionDiscontinuity
from paribus.designs.rdd.rdplot import RDPlot, rd_plot
from paribus.errors import MassPointsWarning

__all__ = [
    "DensityTest",
    "MassPointsWarning",
    "RDPlot",
    "RegressionDiscontinuity",
    "bandwidth_sensitivity",
    "covariate_balance",
    "density_test",
    "donut_hole",
    "placebo_cutoffs",
    "rd_plot",
]
