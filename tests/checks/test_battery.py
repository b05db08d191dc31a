"""The check battery: refuters alone pass a misspecified linear regression; the battery
catches it (doubly robust agreement, linear specification, dummy outcome) and passes AIPW."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from paribus import AIPW, RegressionAdjustment
from paribus.checks.battery import CHECKS, CheckReport, check
from paribus.errors import ParameterError

REFUTERS = ("placebo_treatment", "random_common_cause", "data_subset")


def nonlinear_design(n: int, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """The nonlinear confounded design of bench/_data.py (true ATE 1.25), p = 6."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6))
    x0, x1, x2, x3, x4 = x[:, :5].T
    t = (rng.random(n) < expit(-0.4 + 0.8 * x0 - 0.6 * x1 + 0.5 * x2 + 0.4 * x3)).astype(int)
    mu0 = 2 * np.sin(1.5 * x0) + x1**2 + 0.5 * x2 * x3 + np.abs(x4)
    y = mu0 + t * (1 + 0.5 * x0 + 0.25 * x1**2) + rng.standard_normal(n)
    covs = [f"x{j}" for j in range(6)]
    return pd.DataFrame(x, columns=covs).assign(t=t, y=y), covs


@pytest.fixture(scope="module")
def design() -> tuple[pd.DataFrame, list[str]]:
    return nonlinear_design(15_000)


@pytest.fixture(scope="module")
def reports(design: tuple[pd.DataFrame, list[str]]) -> dict[str, CheckReport]:
    frame, covs = design
    ra = RegressionAdjustment(interactions=False).fit(frame, "t", "y", covs)
    dr = AIPW(folds=2, random_state=0, n_jobs=1).fit(frame, "t", "y", covs)
    kw = {"n_repeats": 6, "random_state": 1, "n_jobs": 1}
    return {"ra": check(ra, frame, "t", "y", **kw), "aipw": check(dr, frame, "t", "y", **kw)}


def test_refuters_alone_pass_both(reports: dict[str, CheckReport]) -> None:
    for report in reports.values():
        assert [report[r].verdict for r in REFUTERS] == ["pass"] * 3


def test_linear_regression_flagged_unreliable(reports: dict[str, CheckReport]) -> None:
    ra = reports["ra"]
    assert ra.verdict == "fail" and not ra.passed
    assert ra["doubly_robust_agreement"].verdict in ("warn", "fail")
    assert ra["linear_specification"].verdict == "fail"
    assert ra["dummy_outcome"].verdict == "fail"
    assert ra.statement.startswith("UNRELIABLE")


def test_aipw_passes(reports: dict[str, CheckReport]) -> None:
    dr = reports["aipw"]
    assert dr.passed, dr.summary()
    assert dr["doubly_robust_agreement"].verdict == "pass"
    assert dr["dummy_outcome"].verdict == "pass"
    assert dr["linear_specification"].verdict == "skip"
    assert abs(dr.effect.estimate - 1.25) < 3 * dr.effect.std_error


def test_report_prints_and_serialises(reports: dict[str, CheckReport]) -> None:
    text = str(reports["ra"])
    assert "doubly_robust_agreement" in text and "Overall: FAIL" in text
    assert list(reports["ra"].to_frame().columns) == ["verdict", "statistic", "rule"]
    d = reports["ra"].to_dict()
    assert d["verdict"] == "fail" and len(d["checks"]) == len(reports["ra"].checks)
    with pytest.raises(KeyError):
        reports["ra"]["nope"]


def test_effect_only_skips_refits(design: tuple[pd.DataFrame, list[str]]) -> None:
    frame, covs = design
    effect = RegressionAdjustment(interactions=False).fit(frame, "t", "y", covs).result_
    report = check(
        effect,
        frame,
        "t",
        "y",
        covs,
        checks=("placebo_treatment", "linear_specification"),
        random_state=0,
        n_jobs=1,
    )
    assert report["placebo_treatment"].verdict == "skip"
    assert report["linear_specification"].verdict == "fail"


def test_refusals(design: tuple[pd.DataFrame, list[str]]) -> None:
    frame, covs = design
    ra = RegressionAdjustment(interactions=False).fit(frame, "t", "y", covs)
    with pytest.raises(ParameterError, match="unknown check"):
        check(ra, frame, "t", "y", checks=("nope",))
    with pytest.raises(ParameterError, match="data="):
        check(ra)
    assert "bootstrap" in CHECKS
