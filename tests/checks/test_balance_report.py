"""balance: SMDs and variance ratios before and after an estimator's weights, love plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from _sim import COVARIATES, simulate
from paribus import AIPW, IPW, Matching, RegressionAdjustment
from paribus._core.propensity import balancing_weights
from paribus.checks.balance_report import BalanceReport, balance
from paribus.checks.standardized_differences import balance_table
from paribus.data import CausalData
from paribus.errors import DataError, NotFittedError, ParameterError


@pytest.fixture(scope="module")
def data():
    return simulate(n=2000, seed=4).frame


@pytest.fixture(scope="module")
def ipw(data):
    return IPW().fit(data, "t", "y", COVARIATES)


def test_ipw_weighting_removes_imbalance_and_matches_balance_table(data, ipw):
    report = balance(ipw, data, "t", COVARIATES)
    table = balance_table(data, treatment="t", covariates=COVARIATES, weights=ipw.weights_)
    np.testing.assert_allclose(report.smd_before, table["smd"], rtol=1e-12)
    np.testing.assert_allclose(report.smd_after, table["smd_weighted"], rtol=1e-12)
    np.testing.assert_allclose(report.variance_ratio_before, table["variance_ratio"], rtol=1e-12)
    np.testing.assert_allclose(
        report.variance_ratio_after, table["variance_ratio_weighted"], rtol=1e-12
    )
    assert report.n_imbalanced_before >= 1  # x1 drives the propensity
    assert abs(report.to_frame().loc["x1", "smd_before"]) > 0.3
    assert report.n_imbalanced_after == 0 and report.balanced
    assert max(abs(v) for v in report.smd_after) < 0.1
    t = data.t.to_numpy() == 1
    w = ipw.weights_
    assert report.ess_treated == pytest.approx(w[t].sum() ** 2 / (w[t] ** 2).sum())


def test_report_is_frozen_and_printable(data, ipw):
    report = balance(ipw, data, "t", COVARIATES)
    assert isinstance(report, BalanceReport)
    with pytest.raises(AttributeError):
        report.threshold = 0.2  # type: ignore[misc]
    frame = report.to_frame()
    assert list(frame.index) == COVARIATES
    assert list(frame.columns) == [
        "smd_before",
        "smd_after",
        "variance_ratio_before",
        "variance_ratio_after",
    ]
    text = str(report)
    assert "IPW weights_" in text and f"of {len(COVARIATES)} covariates before, 0 after" in text
    assert report.to_dict()["covariates"] == COVARIATES


def test_explicit_weights_and_causal_data_defaults(data, ipw):
    cd = CausalData(data, treatment="t", outcome="y", covariates=COVARIATES)
    from_cd = balance(ipw.weights_, cd)
    from_est = balance(ipw, data, "t", COVARIATES)
    assert from_cd.smd_after == from_est.smd_after and from_cd.source == "given weights"
    # covariates default to the estimator's
    assert balance(ipw, data, "t").covariates == tuple(COVARIATES)


def test_aipw_uses_balancing_weights_of_its_propensity(data):
    aipw = AIPW(folds=2, random_state=0).fit(data, "t", "y", COVARIATES)
    report = balance(aipw, data, "t", COVARIATES)
    t = data.t.to_numpy()
    w = balancing_weights(aipw.nuisance_["e"], t, "ATE")
    table = balance_table(data, treatment="t", covariates=COVARIATES, weights=w)
    np.testing.assert_allclose(report.smd_after, table["smd_weighted"], rtol=1e-10)
    assert "nuisance_['e']" in report.source


def test_matching_uses_matched_sample_weights(data):
    m = Matching(estimand="ATT").fit(data, "t", "y", COVARIATES)
    report = balance(m, data, "t", COVARIATES)
    table = balance_table(data, treatment="t", covariates=COVARIATES, weights=m.weights_)
    np.testing.assert_allclose(report.smd_after, table["smd_weighted"], rtol=1e-12)
    assert abs(report.smd_after[0]) < abs(report.smd_before[0])
    assert report.ess_treated == pytest.approx((data.t == 1).sum())  # each treated once


def test_love_plot_renders(data, ipw):
    ax = balance(ipw, data, "t", COVARIATES).plot()
    assert [t.get_text() for t in ax.get_yticklabels()] != []
    assert any(line.get_xdata()[0] == 0.1 for line in ax.get_lines())
    plt.close(ax.figure)


def test_refusals(data, ipw):
    with pytest.raises(NotFittedError):
        balance(IPW(), data, "t", COVARIATES)
    reg = RegressionAdjustment().fit(data, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="no weights_ or propensity"):
        balance(reg, data, "t", COVARIATES)
    with pytest.raises(DataError, match="one per row"):
        balance(np.ones(3), data, "t", COVARIATES)
    with pytest.raises(ParameterError, match="fitted on 2000"):
        balance(ipw, data.iloc[:100], "t", COVARIATES)
    with pytest.raises(ParameterError, match="treatment="):
        balance(ipw.weights_, data, covariates=COVARIATES)
    with pytest.raises(ParameterError, match="threshold"):
        balance(ipw, data, "t", COVARIATES, threshold=0)
    with pytest.raises(ParameterError, match="fitted estimator or an array"):
        balance("weights", data, "t", COVARIATES)
