"""The single result type every estimator returns: :class:`Effect`."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from paribus.results._frozen import FrozenMapping, to_plain
from paribus.results.summary import Summary

__all__ = ["Effect", "normal_inference"]


def normal_inference(estimate: float, std_error: float, level: float) -> tuple[float, float, float]:
    """Two-sided normal-approximation interval and p-value for H0: effect = 0."""
    if not math.isfinite(std_error) or std_error <= 0:
        return math.nan, math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = float(2 * stats.norm.sf(abs(estimate / std_error)))
    return estimate - z * std_error, estimate + z * std_error, p


@dataclasses.dataclass(frozen=True, eq=False)
class Effect:
    """One estimated causal effect with its uncertainty.

    Attributes
    ----------
    estimand : {"ATE", "ATT", "ATC", "LATE", "CATE", ...}
        What is estimated.
    estimate, std_error : float
        Point estimate and its standard error.
    ci_lower, ci_upper, level : float
        Confidence (or credible) interval at ``level``.
    p_value : float
        Two-sided p-value for the null of no effect.
    n_obs : int
        Number of units the estimate uses.
    method : str
        The estimator (``"aipw"``, ``"ipw"``, ``"matching"``, ...).
    inference : str
        How the interval was computed: ``"influence-function"``,
        ``"bootstrap"``, ``"permutation"`` or ``"posterior"``.
    diagnostics : Mapping
        Read-only, JSON-safe method diagnostics (overlap, balance, ...).
    scores : ndarray or None
        Per-unit influence-function values ``phi_i`` with
        ``estimate - truth ~= mean(phi)``, so ``std_error ~= std(phi) / sqrt(n)``.
        Read-only. ``None`` where the method has none (bootstrap inference).
    """

    estimand: str
    estimate: float
    std_error: float
    ci_lower: float
    ci_upper: float
    level: float
    p_value: float
    n_obs: int
    method: str
    inference: str
    diagnostics: Mapping[str, Any] = dataclasses.field(default_factory=FrozenMapping)
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("estimate", "std_error", "ci_lower", "ci_upper", "level", "p_value"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "n_obs", int(self.n_obs))
        if not isinstance(self.diagnostics, FrozenMapping):
            object.__setattr__(self, "diagnostics", FrozenMapping(self.diagnostics))
        if self.scores is not None:
            scores = np.array(self.scores, dtype=float, copy=True)
            scores.setflags(write=False)
            object.__setattr__(self, "scores", scores)

    @classmethod
    def from_normal(
        cls,
        *,
        estimand: str,
        estimate: float,
        std_error: float,
        level: float,
        n_obs: int,
        method: str,
        inference: str,
        diagnostics: Mapping[str, Any] | None = None,
        scores: np.ndarray | None = None,
    ) -> Effect:
        """Build an Effect whose interval and p-value come from a normal approximation."""
        lo, hi, p = normal_inference(float(estimate), float(std_error), level)
        return cls(
            estimand=estimand,
            estimate=estimate,
            std_error=std_error,
            ci_lower=lo,
            ci_upper=hi,
            level=level,
            p_value=p,
            n_obs=n_obs,
            method=method,
            inference=inference,
            diagnostics=FrozenMapping(diagnostics),
            scores=scores,
        )

    def at_level(self, level: float) -> Effect:
        """A new Effect with a normal-approximation interval at another ``level``."""
        from paribus._core.params import check_level

        check_level(level)
        lo, hi, _ = normal_inference(self.estimate, self.std_error, level)
        return dataclasses.replace(self, ci_lower=lo, ci_upper=hi, level=level)

    def summary(self) -> Summary:
        """A printable table of this effect (text, HTML, DataFrame)."""
        return Summary([self])

    def _repr_html_(self) -> str:
        return self.summary().to_html()

    def __str__(self) -> str:
        return str(self.summary())

    def to_dict(self, *, include_scores: bool = True) -> dict[str, Any]:
        """A JSON-safe dict (non-finite numbers become ``None``)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "scores":
                value = None if value is None or not include_scores else value.tolist()
            out[field.name] = to_plain(value)
        return out

    def to_json(self, *, include_scores: bool = True, indent: int | None = None) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(include_scores=include_scores), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Effect:
        """Rebuild an Effect from :meth:`to_dict` output."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown Effect fields {sorted(unknown)}; expected {sorted(names)}")
        kwargs = dict(data)
        for name in _FLOATS:  # JSON null stands for a non-finite number
            if kwargs.get(name, 0.0) is None:
                kwargs[name] = math.nan
        if kwargs.get("scores") is not None:
            kwargs["scores"] = np.asarray(kwargs["scores"], dtype=float)
        return cls(**kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Effect):
            return NotImplemented
        for field in dataclasses.fields(self):
            a, b = getattr(self, field.name), getattr(other, field.name)
            if field.name == "scores":
                if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b)):
                    return False
            elif isinstance(a, float) and isinstance(b, float):
                if not (a == b or (math.isnan(a) and math.isnan(b))):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


_FLOATS = {"estimate", "std_error", "ci_lower", "ci_upper", "level", "p_value"}
