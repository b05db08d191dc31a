"""Randomised experiments: A/B test analysis, design, guardrails, sequential and Bayesian.

::

    from paribus.experiments import ABTest, srm_test, simpson_check, power, sequential

    table = ABTest(adjustment="cuped").fit(df, variant="arm", metrics=["revenue"],
                                           covariates=["revenue_pre"])
    srm_test([50_211, 49_702]).alarm
    simpson_check(df, treatment="arm", outcome="converted", segment="country").paradox
    power(0.02, n=10_000, baseline=0.10, metric="proportion")
    sequential.GroupSequentialDesign(5, spending="obrien-fleming").boundaries

The Bayesian hierarchical model (:mod:`paribus.experiments.hierarchical`) needs the
``bayes`` extra (``pip install "paribus[bayes]"``); everything else runs on the core
dependencies.
"""

from paribus.experiments import sequential
from paribus.experiments._multiple import CORRECTIONS
from paribus.experiments.abtest import ABTest
from paribus.experiments.bayes import (
    BayesianABResult,
    BayesianABTest,
    BetaPrior,
    NormalInverseGammaPrior,
)
from paribus.experiments.design import (
    Duration,
    RatioMoments,
    SampleSize,
    duration,
    minimum_detectable_effect,
    power,
    sample_size,
)
from paribus.experiments.guardrails import BalanceCheck, NoveltyCheck, balance_check, novelty_check
from paribus.experiments.hierarchical import HierarchicalABResult, HierarchicalABTest
from paribus.experiments.noncompliance import complier_effect, intention_to_treat
from paribus.experiments.ratio import Ratio, ratio_of_means, relative_lift
from paribus.experiments.segments import HeterogeneityTest, heterogeneity_test, segment_effects
from paribus.experiments.sequential import (
    GroupSequentialDesign,
    SequentialTest,
    confidence_sequence,
)
from paribus.experiments.simpson import SimpsonResult, simpson_check
from paribus.experiments.srm import SRMResult, srm_test
from paribus.experiments.variance_reduction import CupedResult, LinFit, cupac, cuped, lin_adjust

__all__ = [
    "CORRECTIONS",
    "ABTest",
    "BalanceCheck",
    "BayesianABResult",
    "BayesianABTest",
    "BetaPrior",
    "CupedResult",
    "Duration",
    "GroupSequentialDesign",
    "HeterogeneityTest",
    "HierarchicalABResult",
    "HierarchicalABTest",
    "LinFit",
    "NormalInverseGammaPrior",
    "NoveltyCheck",
    "Ratio",
    "RatioMoments",
    "SRMResult",
    "SampleSize",
    "SequentialTest",
    "SimpsonResult",
    "balance_check",
    "complier_effect",
    "confidence_sequence",
    "cupac",
    "cuped",
    "duration",
    "heterogeneity_test",
    "intention_to_treat",
    "lin_adjust",
    "minimum_detectable_effect",
    "novelty_check",
    "power",
    "ratio_of_means",
    "relative_lift",
    "sample_size",
    "segment_effects",
    "sequential",
    "simpson_check",
    "srm_test",
]
