"""E-values against the worked examples of VanderWeele & Ding (2017), Ann. Intern. Med. 167:268.

The same examples are those of Mathur, Ding, Riddell & VanderWeele's EValue package
documentation (help of evalues.RR, "leukemia example in VanderWeele and Ding (2017)", and the
"unmeasured-confounding" vignette), as (estimate, interval) -> E-values at the paper's
printed precision:

* breastfeeding and infant respiratory death, a rare-outcome odds ratio 3.9 (1.8, 8.7)
  -> 7.26 for the estimate; the lower limit gives 1.8 + sqrt(1.8 * 0.8) = 3.0 exactly;
* smoking and lung cancer, risk ratio 10.73 (8.02, 14.36) -> 20.9 and 15.5;
* the leukemia example, protective risk ratio 0.80 (0.71, 0.91) -> 1.81 and 1.43.
"""

from __future__ import annotations

import math

import pytest

from paribus.checks.evalue import EValue, evalue
from paribus.errors import ParameterError
from paribus.results import Effect


def test_breastfeeding_example_rare_odds_ratio() -> None:
    ev = evalue(3.9, 1.8, 8.7, "OR", rare=True)
    assert round(ev.evalue, 2) == 7.26
    assert round(ev.evalue_ci, 1) == 3.0
    assert evalue(3.9, 1.8, 8.7).evalue == ev.evalue  # a rare OR is taken as the RR


def test_smoking_lung_cancer_example() -> None:
    ev = evalue(10.73, 8.02, 14.36)
    assert round(ev.evalue, 1) == 20.9
    assert round(ev.evalue_ci, 1) == 15.5


def test_protective_example_is_inverted() -> None:
    ev = evalue(0.80, 0.71, 0.91)
    assert round(ev.evalue, 2) == 1.81
    assert round(ev.evalue_ci, 2) == 1.43
    # symmetry: RR and 1/RR have the same E-value
    assert evalue(1 / 0.80).evalue == pytest.approx(ev.evalue, rel=1e-12)
    assert math.isnan(evalue(0.80).evalue_ci)


def test_formula() -> None:
    rr = 2.5
    assert evalue(rr).evalue == pytest.approx(rr + math.sqrt(rr * (rr - 1)), rel=1e-14)
    assert evalue(1.0).evalue == 1.0


def test_interval_crossing_null_gives_one() -> None:
    assert evalue(1.3, 0.9, 1.8).evalue_ci == 1.0
    assert evalue(0.7, 0.4, 1.2).evalue_ci == 1.0


def test_one_sided_interval() -> None:
    assert evalue(3.9, lower=1.8).evalue_ci == pytest.approx(3.0, rel=1e-14)
    assert math.isnan(evalue(3.9, upper=8.7).evalue_ci)
    assert evalue(0.8, upper=0.91).evalue_ci == pytest.approx(evalue(1 / 0.91).evalue)


def test_common_outcome_conversions() -> None:
    ev = evalue(0.86, 0.75, 0.99, "OR", rare=False)
    assert ev.rr == pytest.approx(math.sqrt(0.86))
    assert ev.evalue == pytest.approx(evalue(math.sqrt(0.86)).evalue)
    hr = evalue(0.56, 0.46, 0.69, "HR", rare=False)
    rr = (1 - 0.5 ** math.sqrt(0.56)) / (1 - 0.5 ** math.sqrt(1 / 0.56))
    assert hr.rr == pytest.approx(rr)
    assert hr.evalue_ci == pytest.approx(evalue(hr.rr_upper).evalue)
    assert evalue(1.0, scale="HR", rare=False).rr == pytest.approx(1.0)


def test_standardised_mean_difference_and_effect() -> None:
    ev = evalue(0.5, 0.2, 0.8, "SMD")
    assert ev.rr == pytest.approx(math.exp(0.91 * 0.5))
    assert ev.evalue_ci == pytest.approx(evalue(math.exp(0.91 * 0.2)).evalue)
    eff = Effect.from_normal(
        estimand="ATE",
        estimate=2.0,
        std_error=0.5,
        level=0.95,
        n_obs=100,
        method="regression",
        inference="influence-function",
    )
    from_effect = evalue(eff, scale="SMD", sd=4.0)
    assert from_effect.estimate == pytest.approx(0.5)
    assert from_effect.lower == pytest.approx(eff.ci_lower / 4)
    assert from_effect.evalue == pytest.approx(ev.evalue)
    assert evalue(-0.5, scale="SMD").evalue == pytest.approx(ev.evalue)


def test_true_value_other_than_null() -> None:
    ev = evalue(2.5, true=1.5)
    ratio = 2.5 / 1.5
    assert ev.evalue == pytest.approx(ratio + math.sqrt(ratio * (ratio - 1)))


def test_result_is_frozen_and_printable() -> None:
    ev = evalue(3.9, 1.8, 8.7)
    assert isinstance(ev, EValue)
    with pytest.raises(AttributeError):
        ev.evalue = 1.0  # type: ignore[misc]
    text = str(ev)
    assert "7.263" in text and "E-value" in text


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((-1.2,), {}, "positive"),
        ((0.0,), {}, "positive"),
        ((1.5, 1.8, 1.2), {}, "contain the estimate"),
        ((1.5, 1.6, 2.0), {}, "contain the estimate"),
        ((1.5,), {"scale": "RD"}, "not supported"),
        ((1.5, 1.1, 2.0, "OR"), {}, "rare="),
        ((1.5, 1.1, 2.0, "HR"), {}, "rare="),
        ((1.5,), {"rare": True}, "rare= applies"),
        ((1.5,), {"sd": 2.0}, "scale='SMD'"),
        ((0.5,), {"scale": "SMD", "sd": -1.0}, "positive"),
        ((float("nan"),), {}, "finite"),
        (("big",), {}, "number"),
        ((1.5,), {"true": 0.0}, "positive"),
    ],
)
def test_refusals(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        evalue(*args, **kwargs)


def test_effect_refusals() -> None:
    eff = Effect.from_normal(
        estimand="ATE",
        estimate=1.0,
        std_error=0.5,
        level=0.95,
        n_obs=10,
        method="m",
        inference="influence-function",
    )
    with pytest.raises(ParameterError, match="own interval"):
        evalue(eff, 0.5, 2.0, "SMD", sd=1.0)
    with pytest.raises(ParameterError, match="sd="):
        evalue(eff, scale="SMD")
