"""Meta-learners of the conditional average treatment effect (CATE).

S-, T- and X-learners (Künzel et al. 2019), the R-learner (Nie & Wager 2021) and the
DR-learner (Kennedy 2023), on one interface (:class:`CATEEstimator`): ``fit``,
``effect(X)``, ``effect_interval(X)``, ``ate()`` and ``result_``.
"""

from paribus.effects.meta._base import CATEEstimator
from paribus.effects.meta.dr_learner import DRLearner
from paribus.effects.meta.r_learner import RLearner
from paribus.effects.meta.s_learner import SLearner
from paribus.effects.meta.t_learner import TLearner
from paribus.effects.meta.x_learner import XLearner

__all__ = ["CATEEstimator", "DRLearner", "RLearner", "SLearner", "TLearner", "XLearner"]
