"""Selection on observables: estimators of average effects of a binary treatment."""

from paribus._core.logit import Logit
from paribus.effects.aipw import AIPW
from paribus.effects.api import METHODS, estimate
from paribus.effects.dml import IRM, PLR
from paribus.effects.frontdoor import FrontDoor
from paribus.effects.g_computation import GComputation
from paribus.effects.ipw import IPW
from paribus.effects.matching import Matching
from paribus.effects.regression import RegressionAdjustment
from paribus.effects.subclassification import Subclassification

__all__ = [
    "AIPW",
    "IPW",
    "IRM",
    "METHODS",
    "PLR",
    "FrontDoor",
    "GComputation",
    "Logit",
    "Matching",
    "RegressionAdjustment",
    "Subclassification",
    "estimate",
]
