"""identify(): the strategy chosen for textbook graphs, the Estimand, and refusals."""

from __future__ import annotations

import json

import pytest

from paribus import Estimand, identify
from paribus.errors import GraphError, IdentificationError, ParameterError

CONFOUNDER = "Z -> X; Z -> Y; X -> Y"
FRONTDOOR = "X -> M -> Y; X <-> Y"
IV = "Z -> X -> Y; X <-> Y"
NAPKIN = "W1 -> W2 -> X -> Y; W1 <-> X; W1 <-> Y"
M_GRAPH = "A -> M; B -> M; A -> X; B -> Y; X -> Y"
BOW = "X -> Y; X <-> Y"


def test_backdoor_with_optimal_set():
    est = identify(CONFOUNDER, "X", "Y")
    assert isinstance(est, Estimand)
    assert est.strategy == "backdoor" and est.adjustment_set == {"Z"}
    assert est.adjustment_sets == (frozenset({"Z"}),)
    assert est.expression == "sum_{Z} P(Y | X, Z) P(Z)"
    assert r"\sum" in est.expression_latex
    assert any("Positivity" in a for a in est.assumptions)


def test_m_graph_never_adjusts_for_the_collider_alone():
    est = identify(M_GRAPH, "X", "Y", estimand="ATT")
    assert frozenset() in est.adjustment_sets
    assert frozenset({"M"}) not in est.adjustment_sets
    assert est.adjustment_set == {"B"}  # O-set: the outcome's non-forbidden parents
    assert est.estimand == "ATT"


def test_frontdoor_and_id_and_iv():
    fd = identify(FRONTDOOR, "X", "Y")
    assert fd.strategy == "frontdoor" and fd.frontdoor_set == {"M"}
    napkin = identify(NAPKIN, "X", "Y")
    assert napkin.strategy == "id" and "/" in napkin.expression
    iv = identify(IV, "X", "Y")
    assert iv.strategy == "iv" and iv.instruments[0].instrument == "Z"


def test_not_identifiable_names_the_hedge():
    with pytest.raises(IdentificationError, match="hedge") as info:
        identify(BOW, "X", "Y")
    assert info.value.hedge == (frozenset({"X", "Y"}), frozenset({"Y"}))


def test_att_needs_adjustment():
    with pytest.raises(IdentificationError, match=r"ATT .* only by covariate adjustment"):
        identify(FRONTDOOR, "X", "Y", estimand="ATT")


def test_refusals():
    with pytest.raises(GraphError, match="not in the graph"):
        identify(CONFOUNDER, "X", "W")
    with pytest.raises(GraphError, match="overlap"):
        identify(CONFOUNDER, ["X", "Y"], "Y")
    with pytest.raises(ParameterError, match="estimand='LATE'"):
        identify(CONFOUNDER, "X", "Y", estimand="LATE")


def test_estimand_is_frozen_and_serialises():
    est = identify(CONFOUNDER, "X", "Y")
    with pytest.raises(AttributeError):
        est.strategy = "iv"  # type: ignore[misc]
    payload = json.loads(json.dumps(est.to_dict()))
    assert payload["adjustment_set"] == ["Z"] and payload["strategy"] == "backdoor"
    assert "identified by backdoor" in str(est)
