"""Errors and warnings raised by paribus.

Every error is a :class:`ParibusError` and also the builtin it refines, so
``except ValueError`` keeps working for callers who do not know paribus::

    ParibusError (Exception)
    ├── DataError (ValueError)             bad or unusable input data
    ├── ParameterError (ValueError)        an estimator setting out of range
    ├── GraphError (ValueError)            a graph that cannot be parsed or is cyclic
    ├── IdentificationError (ValueError)   the effect is not identified
    ├── OverlapError (ValueError)          no usable overlap between arms
    ├── ConvergenceError (RuntimeError)    an optimiser did not converge
    └── NotFittedError (sklearn's, i.e. ValueError and AttributeError)

    ParibusWarning (UserWarning)
    ├── OverlapWarning                     poor overlap: estimates lean on few units
    ├── DataWarning                        rows dropped or data altered on request
    ├── WeakInstrumentWarning              first stage too weak for normal inference
    ├── MassPointsWarning                  an RD running variable with repeated values
    └── SamplingWarning                    MCMC without clean convergence (R-hat, divergences)

Messages name the argument or column, what was expected, what was found and
what to do about it.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "ConvergenceError",
    "DataError",
    "DataWarning",
    "GraphError",
    "IdentificationError",
    "NotFittedError",
    "OverlapError",
    "OverlapWarning",
    "ParameterError",
    "ParibusError",
    "ParibusWarning",
    "SamplingWarning",
    "WeakInstrumentWarning",
]


class ParibusError(Exception):
    """Base class of every error paribus raises on purpose."""


class DataError(ParibusError, ValueError):
    """The data cannot be used as given (missing column, NaN, wrong type...)."""


class ParameterError(ParibusError, ValueError):
    """An estimator or function setting is invalid."""


class GraphError(ParibusError, ValueError):
    """A causal graph cannot be parsed, names an unknown node, or has a directed cycle."""


class IdentificationError(ParibusError, ValueError):
    """The causal effect is not identified under the stated assumptions.

    ``hedge`` holds the two c-forests ``(F, F')`` that witness non-identifiability
    (Shpitser & Pearl 2006) when the ID algorithm found one, else None.
    """

    hedge: tuple[frozenset[str], frozenset[str]] | None = None


class OverlapError(ParibusError, ValueError):
    """Treated and control units do not overlap enough to estimate the effect."""


class ConvergenceError(ParibusError, RuntimeError):
    """A numerical optimiser did not converge."""


class NotFittedError(ParibusError, _SklearnNotFittedError):
    """A fitted attribute or method was used before ``fit``."""


class ParibusWarning(UserWarning):
    """Base class of every warning paribus emits."""


class OverlapWarning(ParibusWarning):
    """Propensity scores near 0 or 1: the estimate rests on few, heavily weighted units."""


class DataWarning(ParibusWarning):
    """Rows were dropped or data altered, as the user asked."""


class WeakInstrumentWarning(ParibusWarning):
    """The first stage is too weak for normal-approximation inference."""


class SamplingWarning(ParibusWarning):
    """An MCMC sampler did not converge cleanly (R-hat above 1.01 or divergent transitions)."""


class MassPointsWarning(ParibusWarning):
    """The running variable of an RD design has mass points (many repeated values)."""
