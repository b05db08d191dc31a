"""Structural causal models: mechanisms per node, interventions, counterfactuals,
mediation, root-cause attribution, the best lever and causal fairness audits.

::

    from paribus.scm import StructuralCausalModel
    scm = StructuralCausalModel("usage -> churn; price -> churn; price -> usage").fit(df)
    scm.effect("price", "churn", shift=1.0)
    scm.attribute_change(last_month, this_month, target="churn")
"""

from paribus.scm.attribution import (
    AnomalyAttribution,
    ChangeAttribution,
    attribute_anomaly,
    attribute_change,
    intrinsic_causal_influence,
)
from paribus.scm.examples import SUBSCRIPTION_GRAPH, SubscriptionData, subscription_business
from paribus.scm.fairness import FairnessAudit, fairness_audit
from paribus.scm.levers import Lever, rank_levers
from paribus.scm.mechanisms import (
    AdditiveNoiseModel,
    ClassifierMechanism,
    EmpiricalDistribution,
    Mechanism,
    PostNonlinearModel,
    clone_mechanism,
    select_mechanism,
)
from paribus.scm.mediation import (
    controlled_direct_effect,
    natural_effects,
    path_decomposition,
    path_specific_effect,
)
from paribus.scm.model import ModelValidation, StructuralCausalModel
from paribus.scm.shapley import ShapleyResult, shapley_values

__all__ = [
    "SUBSCRIPTION_GRAPH",
    "AdditiveNoiseModel",
    "AnomalyAttribution",
    "ChangeAttribution",
    "ClassifierMechanism",
    "EmpiricalDistribution",
    "FairnessAudit",
    "Lever",
    "Mechanism",
    "ModelValidation",
    "PostNonlinearModel",
    "ShapleyResult",
    "StructuralCausalModel",
    "SubscriptionData",
    "attribute_anomaly",
    "attribute_change",
    "clone_mechanism",
    "controlled_direct_effect",
    "fairness_audit",
    "intrinsic_causal_influence",
    "natural_effects",
    "path_decomposition",
    "path_specific_effect",
    "rank_levers",
    "select_mechanism",
    "shapley_values",
    "subscription_business",
]
