"""paribus: causal inference from question to decision.

Identify, estimate, and try to break it::

    import paribus
    effect = paribus.estimate(df, treatment="t", outcome="y", covariates=["a", "b"],
                              method="aipw", estimand="ATT", random_state=0)
    print(effect)
"""

from paribus import checks, datasets, errors
from paribus._core.config import config, get_config
from paribus.data import CausalData
from paribus.effects import (
    AIPW,
    IPW,
    IRM,
    PLR,
    FrontDoor,
    GComputation,
    Logit,
    Matching,
    RegressionAdjustment,
    Subclassification,
    estimate,
)
from paribus.errors import ParibusError, ParibusWarning
from paribus.graph import CausalGraph, Estimand, identify
from paribus.results import Effect, EffectTable, Summary
from paribus.workflow import CausalModel

__version__ = "0.1.0"

__all__ = [
    "AIPW",
    "IPW",
    "IRM",
    "PLR",
    "CausalData",
    "CausalGraph",
    "CausalModel",
    "Effect",
    "EffectTable",
    "Estimand",
    "FrontDoor",
    "GComputation",
    "Logit",
    "Matching",
    "ParibusError",
    "ParibusWarning",
    "RegressionAdjustment",
    "Subclassification",
    "Summary",
    "__version__",
    "checks",
    "config",
    "datasets",
    "errors",
    "estimate",
    "get_config",
    "identify",
]
