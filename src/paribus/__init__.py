"""paribus: causal inference from question to decision.

Identify, estimate, and try to break it::

    import paribus
    effect = paribus.estimate(df, treatment="t", outcome="y", covariates=["a", "b"],
                              method="aipw", estimand="ATT", random_state=0)
    print(effect)
"""

from paribus import checks, datasets, designs, errors, experiments, learners, scm, uplift
from paribus._core.config import config, get_config
from paribus.checks import check
from paribus.data import CausalData
from paribus.designs import (
    IV2SLS,
    IVGMM,
    IVLIML,
    TWFE,
    CausalImpact,
    DiD,
    ImputationDiD,
    InterruptedTimeSeries,
    RegressionDiscontinuity,
    StaggeredDiD,
    SyntheticControl,
    SyntheticDiD,
    honest_did,
)
from paribus.effects import (
    AIPW,
    IIVM,
    IPW,
    IRM,
    PLIV,
    PLR,
    CATEEstimator,
    CausalForest,
    DRLearner,
    FrontDoor,
    GComputation,
    InstrumentalForest,
    Logit,
    Matching,
    RegressionAdjustment,
    RegressionForest,
    RLearner,
    SLearner,
    Subclassification,
    TLearner,
    XLearner,
    estimate,
)
from paribus.errors import ParibusError, ParibusWarning
from paribus.graph import CausalGraph, Estimand, identify
from paribus.results import Effect, EffectTable, Summary
from paribus.workflow import CausalModel

__version__ = "0.1.0"

__all__ = [
    "AIPW",
    "IIVM",
    "IPW",
    "IRM",
    "IV2SLS",
    "IVGMM",
    "IVLIML",
    "PLIV",
    "PLR",
    "TWFE",
    "CATEEstimator",
    "CausalData",
    "CausalForest",
    "CausalGraph",
    "CausalImpact",
    "CausalModel",
    "DRLearner",
    "DiD",
    "Effect",
    "EffectTable",
    "Estimand",
    "FrontDoor",
    "GComputation",
    "ImputationDiD",
    "InstrumentalForest",
    "InterruptedTimeSeries",
    "Logit",
    "Matching",
    "ParibusError",
    "ParibusWarning",
    "RLearner",
    "RegressionAdjustment",
    "RegressionDiscontinuity",
    "RegressionForest",
    "SLearner",
    "StaggeredDiD",
    "Subclassification",
    "Summary",
    "SyntheticControl",
    "SyntheticDiD",
    "TLearner",
    "XLearner",
    "__version__",
    "check",
    "checks",
    "config",
    "datasets",
    "designs",
    "errors",
    "estimate",
    "experiments",
    "get_config",
    "honest_did",
    "identify",
    "learners",
    "scm",
    "uplift",
]
