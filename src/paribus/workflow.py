"""CausalModel: model -> identify -> estimate -> refute, each step an immutable object.

::

    model = paribus.CausalModel(df, "Z -> X; Z -> Y; X -> Y")
    identified = model.identify("X", "Y")          # IdentifiedEffect (the Estimand)
    estimated = identified.estimate("aipw")        # EstimatedEffect (the Effect)
    checked = estimated.refute()                   # RefutedEffect (the refutations)
    report = estimated.check()                     # CheckReport (the standard battery)
    report = model.refute(estimated)               # the same battery, from the model
    print(checked.summary())

Graph nodes that are not columns of the data are treated as unobserved: the
graph is replaced by its latent projection onto the observed columns before
identification, so an adjustment set never names a variable the data lack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from paribus.checks.refute import Refutation, refute
from paribus.data.convert import to_pandas
from paribus.effects._base import EffectEstimator
from paribus.effects.api import METHODS, estimator_for
from paribus.errors import ParameterError
from paribus.graph.causal_graph import CausalGraph
from paribus.graph.identify import Estimand, identify
from paribus.results import Effect

if TYPE_CHECKING:
    from paribus.checks.battery import CheckReport

__all__ = ["CausalModel", "EstimatedEffect", "IdentifiedEffect", "RefutedEffect"]

#: estimation methods by identification strategy
STRATEGY_METHODS: dict[str, tuple[str, ...]] = {
    "backdoor": tuple(m for m in METHODS if m != "frontdoor"),
    "frontdoor": ("frontdoor",),
    "iv": tuple(m for m, cls in METHODS.items() if cls._instrumented),
    "id": (),
}
DEFAULT_METHOD = {"backdoor": "aipw", "frontdoor": "frontdoor", "iv": "dml-pliv"}


class CausalModel:
    """Data plus the causal graph that says how they were generated.

    Parameters
    ----------
    data : table or path
        Anything :func:`paribus.data.to_pandas` accepts.
    graph : CausalGraph or anything CausalGraph accepts
        Nodes missing from the data are latent (projected out).
    """

    def __init__(self, data: Any, graph: Any) -> None:
        self._frame = to_pandas(data)
        self._graph = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
        observed = [v for v in self._graph.nodes if v in self._frame.columns]
        self._latent = tuple(v for v in self._graph.nodes if v not in self._frame.columns)
        self._projected = self._graph.latent_projection(observed) if self._latent else self._graph

    @property
    def graph(self) -> CausalGraph:
        """The graph as given."""
        return self._graph

    @property
    def observed_graph(self) -> CausalGraph:
        """The graph over the observed columns (the latent projection when some are missing)."""
        return self._projected

    @property
    def latent(self) -> tuple[str, ...]:
        """Graph nodes absent from the data."""
        return self._latent

    @property
    def data(self) -> pd.DataFrame:
        return self._frame

    def identify(
        self, treatment: str | Iterable[str], outcome: str | Iterable[str], estimand: str = "ATE"
    ) -> IdentifiedEffect:
        """Identify the effect in the observed graph; see :func:`paribus.identify`."""
        for role, names in (("treatment", treatment), ("outcome", outcome)):
            for name in [names] if isinstance(names, str) else names:
                if name in self._latent:
                    raise ParameterError(
                        f"{role} {name!r} is a graph node with no data column; "
                        "it cannot be intervened on or measured."
                    )
        return IdentifiedEffect(self, identify(self._projected, treatment, outcome, estimand))

    def refute(self, effect: EstimatedEffect | IdentifiedEffect, **settings: Any) -> CheckReport:
        """Run the standard battery (:func:`paribus.check`) on an effect of this model.

        ``effect`` is an estimate from :meth:`IdentifiedEffect.estimate`, or an identified
        effect, estimated first with its default method. ``settings`` go to
        :func:`paribus.checks.battery.check` (``checks``, ``n_repeats``, ...). The classic
        refuters alone are :meth:`EstimatedEffect.refute`.
        """
        if isinstance(effect, IdentifiedEffect):
            effect = effect.estimate()
        if not isinstance(effect, EstimatedEffect):
            raise ParameterError(
                f"refute takes an EstimatedEffect or IdentifiedEffect of this model, got "
                f"{type(effect).__name__}; call model.identify(...).estimate(...) first."
            )
        if effect.identified.model is not self:
            raise ParameterError(
                "refute: the effect was estimated on another CausalModel; call refute on "
                "the model it came from (its data and graph are what the checks use)."
            )
        return effect.check(**settings)

    def __repr__(self) -> str:
        latent = f", latent={list(self._latent)}" if self._latent else ""
        return f"CausalModel(n_obs={len(self._frame)}, graph={self._graph.to_string()!r}{latent})"


@dataclasses.dataclass(frozen=True)
class IdentifiedEffect:
    """The identified estimand; :meth:`estimate` computes it from the data."""

    model: CausalModel
    estimand: Estimand

    def methods(self) -> tuple[str, ...]:
        """The estimation methods that fit this identification strategy."""
        return STRATEGY_METHODS[self.estimand.strategy]

    def estimate(self, method: str | None = None, **settings: Any) -> EstimatedEffect:
        """Estimate with ``method`` (default: AIPW for adjustment, the plug-in for front door).

        ``settings`` go to the estimator (e.g. ``outcome_model=...``, ``random_state=0``).
        """
        strategy = self.estimand.strategy
        valid = self.methods()
        if not valid:
            raise ParameterError(
                f"the effect is identified by {strategy!r} ({self.estimand.expression}); "
                "paribus has no estimator for a general ID functional. Estimate it by hand "
                "from the data."
            )
        method = method or DEFAULT_METHOD[strategy]
        if method not in valid:
            raise ParameterError(
                f"method {method!r} does not fit a {strategy} estimand; valid "
                f"methods: {', '.join(valid)}."
            )
        (treatment,), (outcome,) = self.estimand.treatment, self.estimand.outcome
        extra: dict[str, Any] = {}
        if strategy == "frontdoor":
            settings = {"mediators": sorted(self.estimand.frontdoor_set or ()), **settings}
            covariates: list[str] | None = None
        elif strategy == "iv":
            # the first valid instrument and its conditioning set; the estimand is the
            # method's own (PLIV: constant effect, IIVM: LATE)
            inst = self.estimand.instruments[0]
            covariates = sorted(inst.conditioning)
            extra["instrument"] = inst.instrument
        else:
            settings = {"estimand": self.estimand.estimand, **settings}
            covariates = sorted(self.estimand.adjustment_set or ())
        estimator = estimator_for(method, **settings)
        estimator.fit(self.model.data, treatment, outcome, covariates, **extra)
        return EstimatedEffect(self, estimator, covariates)

    def summary(self) -> str:
        return str(self.estimand)

    def __str__(self) -> str:
        return self.summary()


@dataclasses.dataclass(frozen=True)
class EstimatedEffect:
    """An estimate of an identified effect; :meth:`refute` tries to break it."""

    identified: IdentifiedEffect
    estimator: EffectEstimator
    covariates: list[str] | None

    @property
    def effect(self) -> Effect:
        return self.estimator.result_

    def refute(
        self,
        refuters: Iterable[str] = ("placebo_treatment", "random_common_cause", "data_subset"),
        n_repeats: int = 20,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> RefutedEffect:
        """Run refuters (see :mod:`paribus.checks.refute`) and return the checked effect."""
        self._refuse_iv("refute")
        (treatment,), (outcome,) = (
            self.identified.estimand.treatment,
            self.identified.estimand.outcome,
        )
        results = refute(
            self.estimator,
            self.identified.model.data,
            treatment,
            outcome,
            self.covariates,
            refuters=tuple(refuters),
            n_repeats=n_repeats,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        return RefutedEffect(self, tuple(results))

    def check(self, **settings: Any) -> CheckReport:
        """Run the standard battery (:func:`paribus.check`) on this estimate and its data.

        ``settings`` go to :func:`paribus.checks.battery.check` (``checks``, ``n_repeats``,
        ``random_state``, ...); the data, treatment, outcome and covariates are this
        estimate's.
        """
        from paribus.checks.battery import check  # lazy: battery imports the effects

        self._refuse_iv("check")
        return check(self, **settings)

    def _refuse_iv(self, what: str) -> None:
        if self.identified.estimand.strategy == "iv":
            raise ParameterError(
                f"{what}: the refuters and the battery test adjustment estimates (placebo "
                "treatment, common causes, outcome models); an instrumental-variable "
                "estimate is checked through its first-stage diagnostics (effect."
                "diagnostics) and paribus.designs.plausibly_exogenous for the exclusion "
                "restriction."
            )

    def summary(self) -> str:
        return f"{self.identified.summary()}\n\n{self.effect}"

    def __str__(self) -> str:
        return self.summary()


@dataclasses.dataclass(frozen=True)
class RefutedEffect:
    """An estimate together with the refutations it went through."""

    estimated: EstimatedEffect
    refutations: tuple[Refutation, ...]

    @property
    def effect(self) -> Effect:
        return self.estimated.effect

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.refutations)

    def summary(self) -> str:
        lines = [self.estimated.summary(), "", "Refutations:"]
        lines += [f"  {r}" for r in self.refutations]
        n_fail = sum(not r.passed for r in self.refutations)
        lines.append(
            "  verdict: "
            + (
                "every refuter passed"
                if not n_fail
                else f"{n_fail} refuter(s) failed: do not trust the "
                "estimate before you understand why"
            )
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
