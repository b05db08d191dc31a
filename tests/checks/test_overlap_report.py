"""overlap: diagnostics of an estimator's propensity scores, plot, Crump trimming."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from _sim import COVARIATES, simulate
from paribus import AIPW, IPW, Matching, RegressionAdjustment
from paribus._core.overlap import overlap_diagnostics
from paribus._core.propensity import balancing_weights, crump_threshold
from paribus.checks.overlap_report import OverlapReport, TrimmingSuggestion, overlap
from paribus.data import CausalData
from paribus.errors import DataError, NotFittedError, OverlapWarning, ParameterError


@pytest.fixture(scope="module")
def good():
    return simulate(n=2000, seed=4).frame


@pytest.fixture(scope="module")
def poor():
    return simulate(n=3000, seed=5, overlap=4.0).frame


def _fit_quietly(est, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OverlapWarning)
        return est.fit(frame, "t", "y", COVARIATES)


def test_diagnostics_equal_the_estimators(good):
    ipw = IPW().fit(good, "t", "y", COVARIATES)
    report = overlap(ipw, good, "t")
    assert isinstance(report, OverlapReport) and report.estimand == "ATE"
    t = good.t.to_numpy()
    expected = overlap_diagnostics(ipw.propensity_, t, balancing_weights(ipw.propensity_, t, "ATE"))
    assert report.diagnostics == pytest.approx(expected)
    assert report.ess_treated == pytest.approx(expected["ess_treated"])
    assert report.adequate and report.problems == ()
    text = str(report)
    assert "effective sample size" in text and "no poor-overlap rule fires" in text


def test_poor_overlap_is_flagged_and_crump_threshold_is_the_helpers(poor):
    ipw = _fit_quietly(IPW(), poor)
    report = overlap(ipw, poor, "t")
    assert not report.adequate and "poor overlap" in report.problems[0]
    s = report.suggest_trimming()
    assert isinstance(s, TrimmingSuggestion)
    e, t = ipw.propensity_, poor.t.to_numpy() == 1
    assert s.alpha == pytest.approx(crump_threshold(e), abs=0) and s.alpha > 0.02
    outside = (e < s.alpha) | (e > 1 - s.alpha)
    assert s.n_dropped_treated == int((outside & t).sum()) > 0
    assert s.n_dropped_control == int((outside & ~t).sum()) > 0
    assert s.share_dropped_treated == pytest.approx(outside[t].mean())
    assert s.share_dropped_control == pytest.approx(outside[~t].mean())
    assert s.share_dropped == pytest.approx(outside.mean())
    band = f"[{s.alpha:.3f}, {1 - s.alpha:.3f}]"
    assert f"the ATE on the overlap population {band}, not the ATE" in s.statement
    # the same share IPW(trim="crump") reports as trimmed
    trimmed = _fit_quietly(IPW(trim="crump"), poor)
    assert trimmed.result_.diagnostics["share_trimmed"] == pytest.approx(s.share_dropped)
    assert trimmed.result_.diagnostics["trim_threshold"] == pytest.approx(s.alpha)


def test_no_trimming_when_overlap_is_good(good):
    e = np.full(len(good), 0.5)
    s = overlap(e, good, "t").suggest_trimming()
    assert s.alpha == 0 and s.share_dropped == 0 and "stays the ATE" in s.statement


def test_estimand_follows_the_estimator_and_can_be_set(good):
    m = Matching(estimand="ATT").fit(good, "t", "y", COVARIATES)
    att = overlap(m, good, "t")
    assert att.estimand == "ATT"
    t = good.t.to_numpy()
    w = balancing_weights(m.propensity_, t, "ATT")
    assert att.ess_control == pytest.approx(w[t == 0].sum() ** 2 / (w[t == 0] ** 2).sum())
    assert "the ATT on the overlap population" in str(att) or att.suggest_trimming().alpha == 0
    assert overlap(m, good, "t", estimand="ATE").estimand == "ATE"


def test_aipw_array_and_causal_data_inputs_agree(good):
    aipw = AIPW(folds=2, random_state=0).fit(good, "t", "y", COVARIATES)
    cd = CausalData(good, treatment="t", outcome="y", covariates=COVARIATES)
    a = overlap(aipw, cd)
    b = overlap(aipw.nuisance_["e"], treatment=good.t.to_numpy())
    assert a.diagnostics == b.diagnostics


def test_plot_renders_with_trimming_band(poor):
    ipw = _fit_quietly(IPW(), poor)
    report = overlap(ipw, poor, "t")
    ax = report.plot()
    alpha = report.suggest_trimming().alpha
    xs = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_xdata()[0] > 0)
    assert xs == pytest.approx([alpha, 1 - alpha])
    assert len(ax.patches) == 80  # two mirrored histograms of 40 bins
    plt.close(ax.figure)


def test_refusals(good):
    with pytest.raises(NotFittedError):
        overlap(IPW(), good, "t")
    reg = RegressionAdjustment().fit(good, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="no propensity scores"):
        overlap(reg, good, "t")
    maha = Matching(distance="mahalanobis").fit(good, "t", "y", COVARIATES)
    with pytest.raises(ParameterError, match="no propensity scores"):
        overlap(maha, good, "t")
    e = np.full(len(good), 0.5)
    with pytest.raises(ParameterError, match="estimators keep no data"):
        overlap(e)
    with pytest.raises(ParameterError, match="estimand"):
        overlap(e, good, "t", estimand="LATE")
    with pytest.raises(DataError, match="shape"):
        overlap(e[:10], good, "t")
    with pytest.raises(DataError, match=r"within \[0, 1\]"):
        overlap(e + 1, good, "t")
    with pytest.raises(DataError, match="binary"):
        overlap(e, treatment=np.full(len(good), 2.0))
    with pytest.raises(DataError, match="not found"):
        overlap(e, good, "treated")
