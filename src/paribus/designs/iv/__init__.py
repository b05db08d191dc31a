"""Instrumental variables: 2SLS, LIML/Fuller and efficient GMM with instrument diagnostics.

Estimators (:mod:`.estimators`) share a fit that validates the specification
(:mod:`._design`), estimates (:mod:`.kclass`), computes sandwich covariances
(:mod:`.covariance`) and diagnostics (:mod:`.diagnostics`), and reports them in an
:class:`IVResults` (:mod:`.results`) with weak-instrument-robust inference
(:mod:`.weak`) and, for binary instrument and treatment, the LATE reading
(:mod:`.late`). :func:`plausibly_exogenous` (:mod:`.sensitivity`) relaxes the
exclusion restriction.
"""

from paribus.designs.iv.diagnostics import EffectiveF, FirstStage, Test
from paribus.designs.iv.estimators import IV2SLS, IVGMM, IVLIML
from paribus.designs.iv.late import ComplianceShares, complier_characteristics
from paribus.designs.iv.results import IVResults
from paribus.designs.iv.sensitivity import PlausiblyExogenous, plausibly_exogenous
from paribus.designs.iv.weak import ARSet

__all__ = [
    "IV2SLS",
    "IVGMM",
    "IVLIML",
    "ARSet",
    "ComplianceShares",
    "EffectiveF",
    "FirstStage",
    "IVResults",
    "PlausiblyExogenous",
    "Test",
    "complier_characteristics",
    "plausibly_exogenous",
]
