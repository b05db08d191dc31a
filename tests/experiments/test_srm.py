"""Sample-ratio mismatch test: scipy reference, alarms and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from paribus.errors import DataError, ParameterError
from paribus.experiments.srm import SRMResult, srm_test


@pytest.mark.parametrize(
    ("counts", "ratios"),
    [
        ([5000, 5100], None),
        ([50_000, 49_200], [1, 1]),
        ([8100, 2000], [0.8, 0.2]),
        ([3300, 3250, 3480], [1, 1, 1]),
        ([1000, 2050, 2900], [1, 2, 3]),
    ],
)
def test_equals_scipy_chisquare(counts: list[int], ratios: list[float] | None) -> None:
    res = srm_test(counts, ratios)
    shares = np.ones(len(counts)) if ratios is None else np.asarray(ratios, float)
    f_exp = np.sum(counts) * shares / shares.sum()
    ref = stats.chisquare(counts, f_exp)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-15)
    assert res.df == len(counts) - 1
    np.testing.assert_allclose(res.expected, f_exp, rtol=1e-12)


def test_ratios_are_normalised_and_mappings_align_by_key() -> None:
    a = srm_test({"control": 5000, "treatment": 5400}, {"treatment": 50, "control": 50})
    b = srm_test([5000, 5400], [0.5, 0.5])
    assert a.statistic == pytest.approx(b.statistic, rel=1e-14)
    assert a.arms == ("control", "treatment")


def test_alarm_names_the_arm_most_off_and_suggests_causes() -> None:
    # 50/50 design, treatment lost 3% of its units (e.g. a redirect dropping slow browsers)
    res = srm_test({"control": 50_000, "treatment": 48_500})
    assert isinstance(res, SRMResult)
    assert res.alarm and res.p_value < 0.001
    assert "'control'" in res.message or "'treatment'" in res.message
    assert "bot" in res.message and "assignment" in res.message and "trigger" in res.message
    # three arms: arm "b" is the odd one out
    res3 = srm_test({"a": 10_000, "b": 10_900, "c": 10_050})
    assert res3.alarm and "'b'" in res3.message and "more" in res3.message


def test_no_alarm_on_a_healthy_split() -> None:
    res = srm_test([10_000, 10_050])
    assert not res.alarm
    assert res.message.startswith("No sample-ratio mismatch")
    assert "observed" in str(res)
    assert res.to_dict()["arms"] == ["0", "1"]


def test_false_alarm_rate_matches_alpha() -> None:
    # under a correct 50/50 design the p-value is (close to) uniform: alarm rate ~ alpha
    rng = np.random.default_rng(1)
    n_t = rng.binomial(20_000, 0.5, size=4000)
    alarms = [srm_test([20_000 - k, k], alpha=0.05).alarm for k in n_t]
    rate = float(np.mean(alarms))
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / 4000) + 0.005


@pytest.mark.parametrize(
    ("counts", "ratios", "match"),
    [
        ([100, -1], None, "non-negative"),
        ([100, 100], [1, 0], "positive"),
        ([100, 100, 100], [1, 1], "ratios has 2 entries but counts has 3"),
        ([100], None, "at least 2 arms"),
        ([0, 0], None, "every count is zero"),
        ({"a": 1, "b": 2}, {"a": 1, "c": 1}, "ratios names arms"),
        ([1, 2], {"a": 1, "b": 1}, "both as mappings"),
        ([1, float("nan")], None, "finite"),
    ],
)
def test_refusals(counts: object, ratios: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        srm_test(counts, ratios)  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [0, 1, -0.1, True, "0.01"])
def test_refuses_bad_alpha(alpha: object) -> None:
    with pytest.raises(ParameterError, match="alpha must be a number in"):
        srm_test([1, 2], alpha=alpha)  # type: ignore[arg-type]
