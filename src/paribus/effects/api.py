"""``paribus.estimate``: one call from a table to an :class:`Effect`, by method name."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from paribus.effects._base import EffectEstimator
from paribus.effects.aipw import AIPW
from paribus.effects.dml import IRM, PLR
from paribus.effects.dml_iv import IIVM, PLIV
from paribus.effects.forest.causal import CausalForest
from paribus.effects.frontdoor import FrontDoor
from paribus.effects.g_computation import GComputation
from paribus.effects.ipw import IPW
from paribus.effects.matching import Matching
from paribus.effects.meta import DRLearner, RLearner, SLearner, TLearner, XLearner
from paribus.effects.regression import RegressionAdjustment
from paribus.effects.subclassification import Subclassification
from paribus.errors import ParameterError
from paribus.results import Effect

__all__ = ["METHODS", "estimate", "estimator_for"]

#: method name -> estimator class; later issues add theirs here
METHODS: dict[str, type[EffectEstimator]] = {
    "regression": RegressionAdjustment,
    "g-computation": GComputation,
    "ipw": IPW,
    "matching": Matching,
    "subclassification": Subclassification,
    "aipw": AIPW,
    "frontdoor": FrontDoor,
    "dml-plr": PLR,
    "dml-irm": IRM,
    "dml-pliv": PLIV,
    "dml-iivm": IIVM,
    "s-learner": SLearner,
    "t-learner": TLearner,
    "x-learner": XLearner,
    "r-learner": RLearner,
    "dr-learner": DRLearner,
    "causal-forest": CausalForest,
}


def estimator_for(method: str, **settings: Any) -> EffectEstimator:
    """An unfitted estimator for ``method`` with ``settings``; unknown names are listed."""
    if method not in METHODS:
        close = difflib.get_close_matches(str(method), list(METHODS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"unknown method {method!r}.{hint} Valid methods: {', '.join(METHODS)}."
        )
    cls = METHODS[method]
    valid = cls._get_param_names()
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise ParameterError(
            f"method {method!r} ({cls.__name__}) has no setting "
            f"{', '.join(map(repr, unknown))}; its settings are "
            f"{', '.join(valid)}."
        )
    return cls(**settings)


def estimate(
    data: Any,
    *,
    treatment: str,
    outcome: str,
    covariates: str | Sequence[str] | None = None,
    method: str,
    estimand: str | None = None,
    instrument: str | Sequence[str] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    dropna: bool = False,
    **settings: Any,
) -> Effect:
    """Estimate the average effect of ``treatment`` on ``outcome`` with one method.

    Parameters
    ----------
    data : table or path
        Anything :class:`paribus.CausalData` accepts.
    treatment, outcome : str
    covariates : list of str
        The adjustment set.
    method : str
        A name in :data:`METHODS`: "regression", "g-computation", "ipw", "matching",
        "subclassification", "aipw", "frontdoor", "dml-plr", "dml-irm", "dml-pliv",
        "dml-iivm", "s-learner", "t-learner", "x-learner", "r-learner", "dr-learner",
        "causal-forest".
    estimand : str, optional
        "ATE", "ATT", "ATC" or "LATE" where the method supports it; default: the
        method's own (the ATE, or the LATE for "dml-iivm").
    instrument : str or list of str, optional
        The excluded instrument(s), for the instrumental-variable methods.
    weights, cluster : str, optional
        Sampling-weight and cluster columns, for the methods that support them.
    dropna : bool
        Drop rows with missing values instead of refusing them.
    **settings
        Passed to the estimator class (e.g. ``propensity_model=...``, ``folds=5``,
        ``random_state=0``, ``level=0.9``).

    Returns
    -------
    Effect
    """
    if estimand is not None:
        settings["estimand"] = estimand
    est = estimator_for(method, **settings)
    extra: dict[str, Any] = {}
    if instrument is not None:
        if not est._instrumented:
            iv = [name for name, cls in METHODS.items() if cls._instrumented]
            raise ParameterError(
                f"method {method!r} takes no instrument; the instrumental-variable methods "
                f"are {', '.join(iv)}."
            )
        extra["instrument"] = instrument
    est.fit(
        data,
        treatment,
        outcome,
        covariates,
        weights=weights,
        cluster=cluster,
        dropna=dropna,
        **extra,
    )
    return est.result_
