"""Selection on observables: average effects of a treatment, and CATE meta-learners."""

from paribus._core.logit import Logit
from paribus.effects.aipw import AIPW
from paribus.effects.api import METHODS, estimate
from paribus.effects.dml import IRM, PLR
from paribus.effects.dml_iv import IIVM, PLIV
from paribus.effects.forest import CausalForest, InstrumentalForest, RegressionForest
from paribus.effects.frontdoor import FrontDoor
from paribus.effects.g_computation import GComputation
from paribus.effects.ipw import IPW
from paribus.effects.matching import Matching
from paribus.effects.meta import (
    CATEEstimator,
    DRLearner,
    RLearner,
    SLearner,
    TLearner,
    XLearner,
)
from paribus.effects.regression import RegressionAdjustment
from paribus.effects.subclassification import Subclassification

__all__ = [
    "AIPW",
    "IIVM",
    "IPW",
    "IRM",
    "METHODS",
    "PLIV",
    "PLR",
    "CATEEstimator",
    "CausalForest",
    "DRLearner",
    "FrontDoor",
    "GComputation",
    "InstrumentalForest",
    "Logit",
    "Matching",
    "RLearner",
    "RegressionAdjustment",
    "RegressionForest",
    "SLearner",
    "Subclassification",
    "TLearner",
    "XLearner",
    "estimate",
]
