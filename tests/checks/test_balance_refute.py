"""balance_table and the refuters: values, and the inputs they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from _sim import COVARIATES, simulate
from paribus import IPW, RegressionAdjustment
from paribus.checks import balance_table, refute
from paribus.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def data():
    return simulate(n=2000, seed=4).frame


def test_balance_before_and_after_weighting(data):
    ipw = IPW().fit(data, "t", "y", COVARIATES)
    table = balance_table(data, treatment="t", covariates=COVARIATES, weights=ipw.weights_)
    treated, control = data[data.t == 1], data[data.t == 0]
    pooled = np.sqrt((treated.x1.var(ddof=0) + control.x1.var(ddof=0)) / 2)
    assert table.loc["x1", "smd"] == pytest.approx((treated.x1.mean() - control.x1.mean()) / pooled)
    assert table.loc["x1", "smd"] > 0.3  # x1 drives the propensity
    assert (table["smd_weighted"].abs() < 0.1).all() and table["balanced"].all()


def test_balance_refusals(data):
    with pytest.raises(DataError, match="one per row"):
        balance_table(data, treatment="t", covariates=COVARIATES, weights=np.ones(3))
    with pytest.raises(DataError, match="non-negative"):
        balance_table(data, treatment="t", covariates=COVARIATES, weights=-np.ones(len(data)))


def test_refuters_pass_a_correct_model_and_keep_the_original(data):
    est = RegressionAdjustment().fit(data, "t", "y", COVARIATES)
    before = est.result_
    results = refute(est, data, "t", "y", COVARIATES, n_repeats=20, random_state=0)
    assert all(r.passed for r in results), [str(r) for r in results]
    assert est.result_ is before
    placebo = results[0]
    assert abs(placebo.mean) < 0.2 and len(placebo.estimates) == 20
    assert placebo.to_dict()["refuter"] == "placebo_treatment"


def test_refuter_refusals(data):
    est = RegressionAdjustment().fit(data, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="unknown refuter"):
        refute(est, data, "t", "y", COVARIATES, refuters=["placebo"])
    with pytest.raises(ParameterError, match="n_repeats=1"):
        refute(est, data, "t", "y", COVARIATES, n_repeats=1)
    with pytest.raises(ParameterError, match="subset_fraction"):
        refute(est, data, "t", "y", COVARIATES, subset_fraction=1.5)
