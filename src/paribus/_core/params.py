"""Declared parameter constraints, checked at the start of ``fit``.

Each estimator lists ``_parameter_constraints = {"name": [constraint, ...]}``;
a value is valid when it satisfies any one constraint. Failures raise
:class:`paribus.errors.ParameterError` naming the setting, what was expected
and what was found.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from paribus.errors import ParameterError

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "check_level",
    "validate_params",
]


@dataclass(frozen=True)
class Interval:
    """A real (or integer, with ``integer=True``) number in a range."""

    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right", "neither"
    integer: bool = False

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.integer and not isinstance(value, numbers.Integral):
            return False
        value = float(value)
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return bool(lo_ok and hi_ok)

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a number"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{kind} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with ``==``)."""

    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class HasMethods:
    """An object with the given methods (e.g. a scikit-learn estimator)."""

    methods: tuple[str, ...]

    def accepts(self, value: Any) -> bool:
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self) -> str:
        return "an object with methods " + ", ".join(f"{m}()" for m in self.methods)


@dataclass(frozen=True)
class Instance:
    """An instance of the given type(s)."""

    types: tuple[type, ...]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )

    def __str__(self) -> str:
        return "an instance of " + " or ".join(t.__name__ for t in self.types)


@dataclass(frozen=True)
class Satisfies:
    """Any value for which ``predicate`` is true; ``description`` says what that means."""

    predicate: Callable[[Any], bool]
    description: str

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except Exception:
            return False

    def __str__(self) -> str:
        return self.description


class _NoneConstraint:
    def accepts(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


NONE = _NoneConstraint()
RANDOM_STATE = Satisfies(
    lambda v: (
        v is None
        or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= int(v) < 2**63)
    ),
    "None or a non-negative integer seed",
)
LEVEL = Interval(0, 1, closed="neither")
N_JOBS = Satisfies(
    lambda v: v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v != 0),
    "None or a non-zero integer (-1 uses every core)",
)


def validate_params(
    owner: str, params: Mapping[str, Any], constraints: Mapping[str, Iterable[Any]]
) -> None:
    """Raise ParameterError for the first setting that satisfies none of its constraints."""
    for name, options in constraints.items():
        options = list(options)
        value = params[name]
        if any(c.accepts(value) for c in options):
            continue
        expected = " or ".join(str(c) for c in options)
        raise ParameterError(f"{owner}: setting {name}={value!r} is invalid; expected {expected}.")


def check_level(level: Any) -> float:
    """Validate a confidence level in (0, 1)."""
    if not LEVEL.accepts(level):
        raise ParameterError(f"level={level!r} is invalid; expected a number in (0, 1), e.g. 0.95.")
    return float(level)


def check_alpha(alpha: Any) -> float:
    """Validate a significance level in (0, 1)."""
    if isinstance(alpha, bool) or not LEVEL.accepts(alpha):
        raise ParameterError(f"alpha={alpha!r} is invalid; expected a number in (0, 1), e.g. 0.05.")
    return float(alpha)
