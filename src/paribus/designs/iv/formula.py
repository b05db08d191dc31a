"""Parsing IV formulas in bracket syntax: ``"y ~ 1 + x1 + [d1 + d2 ~ z1 + z2]"``.

Terms are column names joined by ``+``; one bracket ``[endogenous ~ instruments]``
names the endogenous regressors and their excluded instruments. An intercept is
included unless the right side has ``0`` or ``-1`` (``1`` may be written for clarity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paribus.errors import ParameterError

__all__ = ["ParsedFormula", "parse_formula"]

_BRACKET = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class ParsedFormula:
    outcome: str
    exog: tuple[str, ...]
    endogenous: tuple[str, ...]
    instruments: tuple[str, ...]
    intercept: bool


def _terms(text: str, formula: str) -> list[str]:
    terms = [t.strip() for t in re.split(r"\+", text)]
    if any(not t for t in terms):
        raise ParameterError(f"formula {formula!r} has an empty term near {text.strip()!r}.")
    return terms


def parse_formula(formula: str) -> ParsedFormula:
    """Split an IV formula into outcome, exogenous, endogenous and instrument columns."""
    if not isinstance(formula, str):
        raise ParameterError(f"formula must be a string; got {type(formula).__name__}.")
    brackets = _BRACKET.findall(formula)
    if len(brackets) != 1:
        raise ParameterError(
            f"formula {formula!r} needs exactly one [endogenous ~ instruments] block, "
            f'e.g. "lwage ~ 1 + exper + [educ ~ nearc4]"; found {len(brackets)}.'
        )
    rest = _BRACKET.sub("", formula)
    if rest.count("~") != 1:
        raise ParameterError(f"formula {formula!r} needs one '~' outside the brackets.")
    lhs, rhs = rest.split("~")
    outcome = lhs.strip()
    if not outcome or "+" in outcome:
        raise ParameterError(f"formula {formula!r} must have one outcome column left of '~'.")
    inner = brackets[0]
    if inner.count("~") != 1:
        raise ParameterError(
            f"the bracket [{inner}] must read [endogenous ~ instruments], with one '~'."
        )
    endo_text, instr_text = inner.split("~")
    endogenous = _terms(endo_text, formula)
    instruments = _terms(instr_text, formula)
    intercept = True
    exog: list[str] = []
    rhs = rhs.replace("-1", "+0").replace("- 1", "+0")
    for term in [t.strip() for t in rhs.split("+")]:
        if not term:
            continue  # the removed bracket leaves an empty slot
        if term == "1":
            continue
        if term == "0":
            intercept = False
            continue
        exog.append(term)
    return ParsedFormula(outcome, tuple(exog), tuple(endogenous), tuple(instruments), intercept)
