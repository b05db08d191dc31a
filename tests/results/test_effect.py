"""Effect / EffectTable / Summary: immutability, rendering and JSON round trips."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from paribus import Effect, EffectTable
from paribus.errors import ParameterError


def make(estimate: float = 1.5, se: float = 0.5, **kw) -> Effect:
    args = {
        "estimand": "ATE",
        "estimate": estimate,
        "std_error": se,
        "level": 0.95,
        "n_obs": 100,
        "method": "aipw",
        "inference": "influence-function",
        "diagnostics": {"ess": np.float64(42.0), "nested": {"a": [1, 2]}},
        "scores": np.arange(4.0),
    } | kw
    return Effect.from_normal(**args)


def test_normal_interval_and_p_value():
    e = make()
    assert e.ci_lower == pytest.approx(1.5 - 1.959964 * 0.5, abs=1e-6)
    assert e.ci_upper == pytest.approx(1.5 + 1.959964 * 0.5, abs=1e-6)
    assert e.p_value == pytest.approx(0.0026998, abs=1e-6)


def test_immutable():
    e = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.estimate = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        e.diagnostics["ess"] = 1  # type: ignore[index]
    with pytest.raises(ValueError):
        e.scores[0] = 9.0  # type: ignore[index]


def test_at_level_returns_new_effect():
    e = make()
    e90 = e.at_level(0.90)
    assert e90 is not e and e.level == 0.95 and e90.level == 0.90
    assert e90.ci_upper - e90.ci_lower < e.ci_upper - e.ci_lower
    with pytest.raises(ParameterError, match=r"level=1\.5"):
        e.at_level(1.5)


def test_json_round_trip_with_and_without_scores():
    e = make()
    assert Effect.from_dict(json.loads(e.to_json())) == e
    light = Effect.from_dict(json.loads(e.to_json(include_scores=False)))
    assert light.scores is None and light.estimate == e.estimate
    nan = make(se=0.0)  # no usable SE: interval is NaN, serialised as null
    assert json.loads(nan.to_json())["ci_lower"] is None
    assert Effect.from_dict(json.loads(nan.to_json())) == nan


def test_summary_text_html_frame():
    e = make(estimate=1794.34, se=632.9)
    text = str(e)
    assert "ATE" in text and "1,794" in text and "95%" in text
    assert "<table" in e._repr_html_()
    frame = e.summary().to_frame()
    assert frame.loc[0, "estimate"] == 1794.34


def test_effect_table():
    table = EffectTable([make(1.0), make(2.0)], ["a", "b"], title="two")
    assert table["b"].estimate == 2.0 and table[0].estimate == 1.0 and len(table) == 2
    assert list(table.to_frame().index) == ["a", "b"]
    assert EffectTable.from_dict(json.loads(table.to_json())) == table
    assert "two" in str(table)
    with pytest.raises(KeyError, match="labels are"):
        table["c"]
    with pytest.raises(ValueError, match="unique"):
        EffectTable([make(), make()], ["a", "a"])
    with pytest.raises(AttributeError):
        table.title = "x"  # type: ignore[misc]
