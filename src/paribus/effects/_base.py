"""The estimator contract shared by every effect estimator.

Settings live in ``__init__`` (stored, never validated there); ``fit`` checks
the declared ``_parameter_constraints``, builds a :class:`CausalData`, runs the
method's ``_estimate`` and stores the :class:`Effect` in ``result_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from paribus._core.params import validate_params
from paribus.data import CausalData
from paribus.errors import NotFittedError, ParameterError
from paribus.results import Effect, Summary

__all__ = ["EffectEstimator", "learner_allows_nan"]


def learner_allows_nan(learner: Any) -> bool:
    """Whether a scikit-learn estimator handles NaN inputs natively (its ``allow_nan`` tag).

    A search meta-estimator (``GridSearchCV``, :func:`paribus.learners.tuned_regressor`)
    allows NaN when the estimator it tunes does.
    """
    inner = getattr(learner, "estimator", None)
    if inner is not None and hasattr(learner, "param_grid"):
        return learner_allows_nan(inner)
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(learner).input_tags.allow_nan)
    except Exception:
        return False


class EffectEstimator(BaseEstimator):
    """Base of estimators of an average effect of a binary treatment.

    Subclasses set ``_method`` (the name in results and ``paribus.estimate``),
    ``_estimands`` (those they support) and ``_parameter_constraints``, and
    implement ``_estimate(data) -> Effect``.
    """

    _method: ClassVar[str] = ""
    _estimands: ClassVar[tuple[str, ...]] = ("ATE", "ATT", "ATC")
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    _accepts_weights: ClassVar[bool] = False
    _accepts_cluster: ClassVar[bool] = True
    _min_per_arm: ClassVar[int] = 2
    #: False for estimators of a continuous (or binary) treatment's effect
    _binary_treatment: ClassVar[bool] = True
    #: True for instrumental-variable estimators (an ``instruments`` role is required)
    _instrumented: ClassVar[bool] = False

    def fit(
        self,
        data: Any,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        *,
        weights: str | None = None,
        cluster: str | None = None,
        dropna: bool = False,
    ) -> EffectEstimator:
        """Estimate the effect of ``treatment`` on ``outcome`` adjusting for ``covariates``.

        ``data`` is any table :class:`~paribus.CausalData` accepts, or a CausalData
        (whose roles are used where these arguments are None). Returns ``self``;
        the result is in ``result_``.
        """
        self._validate_settings()
        cd = self._causal_data(data, treatment, outcome, covariates, weights, cluster, dropna)
        self.result_ = self._estimate(cd)
        self.n_features_in_ = len(cd.covariates)
        self.feature_names_in_ = np.asarray(cd.covariates, dtype=object)
        return self

    # -- helpers for subclasses -------------------------------------------------------------

    def _validate_settings(self) -> None:
        name = type(self).__name__
        validate_params(name, self.get_params(deep=False), self._parameter_constraints)
        estimand = getattr(self, "estimand", None)
        if estimand is not None and estimand not in self._estimands:
            raise ParameterError(
                f"{name}: estimand={estimand!r} is not supported; expected one "
                f"of {', '.join(self._estimands)}."
            )

    def _learners(self) -> list[Any]:
        """The scikit-learn models this estimator fits (for the missing-value rule)."""
        return []

    def _causal_data(
        self,
        data: Any,
        treatment: str | None,
        outcome: str | None,
        covariates: str | Sequence[str] | None,
        weights: str | None,
        cluster: str | None,
        dropna: bool,
        instrument: str | Sequence[str] | None = None,
    ) -> CausalData:
        name = type(self).__name__
        if isinstance(data, CausalData):
            roles = data.roles
            first = {role: cols[0] if cols else None for role, cols in roles.items()}
            treatment = treatment or first["treatment"]
            outcome = outcome or first["outcome"]
            covariates = covariates if covariates is not None else roles["covariates"]
            weights = weights or first["weights"]
            cluster = cluster or first["cluster"]
            if self._instrumented and instrument is None:
                instrument = roles["instruments"]
        if treatment is None or outcome is None:
            raise ParameterError(f"{name}.fit needs treatment= and outcome= column names.")
        instruments = [instrument] if isinstance(instrument, str) else list(instrument or [])
        if self._instrumented and not instruments:
            raise ParameterError(
                f"{name}.fit needs instrument='column': a variable that moves {treatment!r} "
                f"and affects {outcome!r} only through it. None was given and the data "
                "declare no instruments role."
            )
        if weights is not None and not self._accepts_weights:
            raise ParameterError(
                f"{name} does not support sampling weights; use "
                "RegressionAdjustment or IPW, which do."
            )
        if cluster is not None and not self._accepts_cluster:
            raise ParameterError(f"{name} does not support cluster-robust inference.")
        learners = self._learners()
        allow_nan = bool(learners) and all(learner_allows_nan(m) for m in learners)
        cd = CausalData(
            data,
            treatment=treatment,
            outcome=outcome,
            covariates=covariates,
            instruments=instruments or None,
            weights=weights,
            cluster=cluster,
            binary_treatment=self._binary_treatment,
            dropna=dropna,
            allow_missing_covariates=allow_nan,
        )
        if self._binary_treatment:
            cd.require_arms(self._min_per_arm, name)
        return cd

    def _estimate(self, data: CausalData) -> Effect:
        raise NotImplementedError

    # -- fitted interface --------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def summary(self) -> Summary:
        """The fitted effect as a printable table."""
        return self.result_.summary()
