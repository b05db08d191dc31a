"""Uplift modelling and policy learning: who to treat.

Uplift curves and areas (scikit-uplift's conventions by default, CausalML's on request),
uplift by bin with intervals, doubly robust scores for observational data, two-model and
class-transformation uplift models (paribus CATE models plug in), targeting policies,
off-policy evaluation and exact policy trees; RATE / TOC (Yadlowsky et al.) test whether a
prioritisation is worth targeting on.
"""

from paribus.effects.forest.rate import RATEResult, rate, toc
from paribus.uplift.evaluation import (
    dr_scores,
    plot_uplift_by_bin,
    plot_uplift_curve,
    uplift_by_bin,
)
from paribus.uplift.forest import UpliftForest, UpliftTree
from paribus.uplift.metrics import (
    auuc,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)
from paribus.uplift.models import ClassTransformation, TwoModel, as_uplift_model, cross_predict
from paribus.uplift.policy import (
    budget_policy,
    cost_aware_policy,
    dr_rewards,
    policy_difference,
    policy_value,
    profit_curve,
    treat_if_positive,
)
from paribus.uplift.policy_tree import PolicyTree

__all__ = [
    "ClassTransformation",
    "PolicyTree",
    "RATEResult",
    "TwoModel",
    "UpliftForest",
    "UpliftTree",
    "as_uplift_model",
    "auuc",
    "budget_policy",
    "cost_aware_policy",
    "cross_predict",
    "dr_rewards",
    "dr_scores",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "plot_uplift_by_bin",
    "plot_uplift_curve",
    "policy_difference",
    "policy_value",
    "profit_curve",
    "qini_coefficient",
    "qini_curve",
    "rate",
    "toc",
    "treat_if_positive",
    "uplift_at_k",
    "uplift_by_bin",
    "uplift_curve",
]
