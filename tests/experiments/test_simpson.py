"""Simpson's paradox check: the published kidney-stone and Berkeley tables, a ramped-up test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from paribus.errors import DataError, ParameterError
from paribus.experiments.simpson import SimpsonResult, simpson_check


def _expand(cells: dict[tuple[int, str], tuple[int, int]], arm: str, seg: str) -> pd.DataFrame:
    """Unit-level rows from ``(arm, segment) -> (n, successes)``."""
    frames = [
        pd.DataFrame({arm: t, seg: s, "y": np.r_[np.ones(k), np.zeros(n - k)]})
        for (t, s), (n, k) in cells.items()
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def kidney() -> pd.DataFrame:
    # Charig et al. (1986) BMJ 292:879; Julious & Mullee (1994) BMJ 309:1480, Table 1.
    # open = 1: open surgery (A); open = 0: percutaneous nephrolithotomy (B)
    return _expand(
        {
            (1, "small"): (87, 81),
            (1, "large"): (263, 192),
            (0, "small"): (270, 234),
            (0, "large"): (80, 55),
        },
        "open",
        "stone",
    )


@pytest.fixture
def berkeley() -> pd.DataFrame:
    # Bickel, Hammel & O'Connell (1975) Science 187:398, six largest departments
    # (applicants, admitted); male = 1 for men
    men = {"A": (825, 512), "B": (560, 353), "C": (325, 120)}
    men |= {"D": (417, 138), "E": (191, 53), "F": (373, 22)}
    women = {"A": (108, 89), "B": (25, 17), "C": (593, 202)}
    women |= {"D": (375, 131), "E": (393, 94), "F": (341, 24)}
    cells = {(1, d): v for d, v in men.items()} | {(0, d): v for d, v in women.items()}
    return _expand(cells, "male", "dept")


def test_kidney_stones_flagged(kidney: pd.DataFrame) -> None:
    res = simpson_check(kidney, treatment="open", outcome="y", segment="stone")
    assert isinstance(res, SimpsonResult)
    # published aggregate: A 273/350 = 78%, B 289/350 = 83%
    assert res.aggregate.estimate == pytest.approx(273 / 350 - 289 / 350, abs=1e-12)
    # within strata A is better: 81/87 vs 234/270 and 192/263 vs 55/80
    assert res.segments["small"].estimate == pytest.approx(81 / 87 - 234 / 270, abs=1e-12)
    assert res.segments["large"].estimate == pytest.approx(192 / 263 - 55 / 80, abs=1e-12)
    # standardised to the population of 700 patients (357 small, 343 large stones)
    strat = 357 / 700 * (81 / 87 - 234 / 270) + 343 / 700 * (192 / 263 - 55 / 80)
    assert res.stratified.estimate == pytest.approx(strat, abs=1e-12)
    assert res.aggregate.estimate < 0 < res.stratified.estimate
    assert res.paradox and res.reason == "sign"
    assert res.recommended == "stratified"
    text = res.explanation
    assert "allocation differs" in text and "'stone'" in text
    assert "small: 24.4%" in text and "large: 76.7%" in text  # 87/357 and 263/343
    assert "baseline" in text
    assert res.allocation["small"] == pytest.approx(87 / 357)
    assert res.baseline["large"] == pytest.approx(55 / 80)


def test_kidney_stratified_standard_error_by_hand(kidney: pd.DataFrame) -> None:
    res = simpson_check(kidney, treatment="open", outcome="y", segment="stone", estimand="ATT")

    def var(k: int, n: int) -> float:  # sample variance of a 0/1 outcome / n
        p = k / n
        return p * (1 - p) * n / (n - 1) / n

    w_small, w_large = 87 / 350, 263 / 350  # shares of the treated (ATT weights)
    est = w_small * (81 / 87 - 234 / 270) + w_large * (192 / 263 - 55 / 80)
    se = math.sqrt(
        w_small**2 * (var(81, 87) + var(234, 270)) + w_large**2 * (var(192, 263) + var(55, 80))
    )
    assert res.stratified.estimand == "ATT"
    assert res.stratified.estimate == pytest.approx(est, abs=1e-12)
    assert res.stratified.std_error == pytest.approx(se, rel=1e-10)
    assert res.stratified.diagnostics["weighting"] == "treated share"


def test_berkeley_admissions_flagged(berkeley: pd.DataFrame) -> None:
    res = simpson_check(berkeley, treatment="male", outcome="y", segment="dept")
    # published aggregate over the six departments: men 1198/2691 = 44.5%, women 557/1835 = 30.4%
    assert res.aggregate.diagnostics["mean_treated"] == pytest.approx(1198 / 2691)
    assert res.aggregate.diagnostics["mean_control"] == pytest.approx(557 / 1835)
    assert res.aggregate.estimate > 0.14 and res.aggregate.p_value < 1e-10
    assert res.stratified.estimate < 0  # within departments the gap reverses
    assert res.paradox and res.reason == "sign" and res.recommended == "stratified"
    assert "'dept'" in res.explanation and "A: 88.4%" in res.explanation  # 825/933 men in A
    assert "SIMPSON'S PARADOX" in str(res)


def _ramp(seed: int, effect: float = 0.01, n: int = 20_000) -> pd.DataFrame:
    """Week 1: 10% treated, baseline 20%; week 2: 50% treated, baseline 5%."""
    rng = np.random.default_rng(seed)
    frames = []
    for start, share, base in (("2026-01-05", 0.1, 0.20), ("2026-01-12", 0.5, 0.05)):
        t = (rng.uniform(size=n) < share).astype(int)
        y = (rng.uniform(size=n) < base + effect * t).astype(float)
        day = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 7, n), unit="D")
        frames.append(pd.DataFrame({"t": t, "y": y, "day": day}))
    return pd.concat(frames, ignore_index=True)


def test_ramp_up_flagged_with_time_allocation_explanation() -> None:
    res = simpson_check(_ramp(0), treatment="t", outcome="y", time="day", freq="W")
    assert res.aggregate.estimate < 0 and res.aggregate.p_value < 1e-10
    assert res.stratified.estimate > 0
    # truth: +0.01 within each week
    assert abs(res.stratified.estimate - 0.01) < 3 * res.stratified.std_error
    assert res.paradox and res.recommended == "stratified"
    assert res.time_allocation is not None and len(res.time_allocation) == 2
    shares = list(res.time_allocation.values())
    assert shares[0] == pytest.approx(0.1, abs=0.01) and shares[1] == pytest.approx(0.5, abs=0.02)
    assert "allocation changed over time" in res.explanation
    assert "ramp-up" in res.explanation and "stratified" in res.explanation


def test_segment_crossed_with_time() -> None:
    df = _ramp(1)
    df["device"] = np.where(np.arange(len(df)) % 2 == 0, "ios", "web")
    res = simpson_check(df, treatment="t", outcome="y", segment="device", time="day", freq="W")
    assert len(res.segments) == 4 and res.segments.labels[0].startswith("ios | 2026-01-05")
    assert res.paradox


def test_clean_randomised_test_not_flagged() -> None:
    rng = np.random.default_rng(5)
    n = 40_000
    seg = rng.choice(["new", "returning"], size=n, p=[0.3, 0.7])
    t = rng.integers(0, 2, n)
    base = np.where(seg == "new", 0.03, 0.12)
    y = (rng.uniform(size=n) < base + 0.01 * t).astype(float)
    df = pd.DataFrame({"t": t, "y": y, "seg": seg})
    res = simpson_check(df, treatment="t", outcome="y", segment="seg")
    assert not res.paradox and res.reason is None
    assert res.recommended == "aggregate"
    assert res.allocation_p_value > 0.001
    assert "the same across" in res.explanation
    # without confounding the two estimates agree closely
    assert abs(res.aggregate.estimate - res.stratified.estimate) < res.aggregate.std_error


def test_refusals(kidney: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="needs segment=, time= or both"):
        simpson_check(kidney, treatment="open", outcome="y")
    with pytest.raises(ParameterError, match="estimand must be 'ATE' or 'ATT'"):
        simpson_check(kidney, treatment="open", outcome="y", segment="stone", estimand="ATC")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="allocation_alpha"):
        simpson_check(kidney, treatment="open", outcome="y", segment="stone", allocation_alpha=2.0)
    one_arm = kidney.assign(stone=np.where(kidney.open == 1, "large", kidney.stone))
    one_arm = pd.concat([one_arm, one_arm.iloc[:0]])
    one_arm.loc[(one_arm.open == 0) & (one_arm.stone == "small"), "stone"] = "tiny"
    with pytest.raises(DataError, match="stone=tiny: each arm needs at least 2 units"):
        simpson_check(one_arm, treatment="open", outcome="y", segment="stone")
    with pytest.raises(ParameterError, match="freq='W' applies to a datetime time column"):
        simpson_check(kidney, treatment="open", outcome="y", time="stone", freq="W")


@pytest.mark.slow
def test_stratified_interval_coverage_under_ramp_up() -> None:
    reps, hits, flagged = 400, 0, 0
    for seed in range(reps):
        res = simpson_check(_ramp(seed, n=4000), treatment="t", outcome="y", time="day", freq="W")
        s = res.stratified
        hits += s.ci_lower <= 0.01 <= s.ci_upper
        flagged += res.paradox
    rate = hits / reps
    print(f"stratified 95% coverage {rate:.3f}, paradox flagged in {flagged}/{reps}")
    assert abs(rate - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)
