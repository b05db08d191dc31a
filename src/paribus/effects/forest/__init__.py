"""Generalized random forests (Athey, Tibshirani & Wager 2019), compiled with numba.

A forest is composed of small parts, as grf composes them (table in ``_grow.py``):
honest trees grown on subsamples by a splitting rule (``_tree.py``: regression, or the
causal rule on gradient pseudo-outcomes), little-bag groups for the variance, and a
prediction strategy that solves a local moment with forest weights (``_predict.py``).
:class:`RegressionForest` (nuisances), :class:`CausalForest` (CATE with local centering)
and :class:`InstrumentalForest` (conditional LATE) share the core; ``summaries`` and
``rate`` hold the post-estimation tools (doubly robust averages, best linear projection,
calibration test, RATE / TOC, variable importance).
"""

from paribus.effects.forest.causal import CausalForest
from paribus.effects.forest.instrumental import InstrumentalForest
from paribus.effects.forest.rate import RATEResult, rate, toc
from paribus.effects.forest.regression import RegressionForest
from paribus.effects.forest.summaries import (
    CalibrationTest,
    average_treatment_effect,
    best_linear_projection,
    dr_scores,
    test_calibration,
    variable_importance,
)

__all__ = [
    "CalibrationTest",
    "CausalForest",
    "InstrumentalForest",
    "RATEResult",
    "RegressionForest",
    "average_treatment_effect",
    "best_linear_projection",
    "dr_scores",
    "rate",
    "test_calibration",
    "toc",
    "variable_importance",
]
