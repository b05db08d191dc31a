"""Placebo cutoffs, covariate balance, bandwidth sensitivity and donut holes."""

from __future__ import annotations

import pytest

from designs.test_rdd import simulate_rd
from paribus.designs.rdd import RegressionDiscontinuity
from paribus.designs.rdd.analysis import (
    bandwidth_sensitivity,
    covariate_balance,
    donut_hole,
    placebo_cutoffs,
)
from paribus.errors import ParameterError


@pytest.fixture(scope="module")
def data():
    return simulate_rd(n=3000, seed=7, effect=1.0)


def test_placebo_cutoffs_use_one_side(data):
    table = placebo_cutoffs(RegressionDiscontinuity(), data, [-0.5, 0.5], outcome="y", running="x")
    assert list(table["cutoff"]) == [-0.5, 0.5]
    assert (table["p_value"] > 0.001).all()  # no true jump away from 0
    with pytest.raises(ParameterError, match="equals the true cutoff"):
        placebo_cutoffs(RegressionDiscontinuity(), data, [0.0], outcome="y", running="x")


def test_covariate_balance(data):
    table = covariate_balance(RegressionDiscontinuity(), data, ["z1", "z2"], running="x")
    assert list(table["covariate"]) == ["z1", "z2"]
    assert (table["ci_lower"] < 0).all() and (table["ci_upper"] > 0).all()


def test_bandwidth_sensitivity_matches_fixed_fit(data):
    table = bandwidth_sensitivity(
        RegressionDiscontinuity(), data, [0.3, 0.6], outcome="y", running="x"
    )
    direct = RegressionDiscontinuity(h=0.6).fit(data, outcome="y", running="x").result_
    assert table["estimate"].iloc[1] == pytest.approx(direct.estimate, rel=1e-12)
    default = bandwidth_sensitivity(RegressionDiscontinuity(), data, outcome="y", running="x")
    assert len(default) == 6


def test_donut_hole(data):
    table = donut_hole(RegressionDiscontinuity(), data, [0.0, 0.05], outcome="y", running="x")
    full = RegressionDiscontinuity().fit(data, outcome="y", running="x").result_
    assert table["estimate"].iloc[0] == pytest.approx(full.estimate, rel=1e-12)
    assert table["n_effective"].iloc[1] < table["n_effective"].iloc[0]
