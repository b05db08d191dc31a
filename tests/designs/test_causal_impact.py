"""CausalImpact: the documented simulated example, a peer reference, invariance, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paribus.designs.impact.causal_impact import CausalImpact
from paribus.errors import DataError, NotFittedError, ParameterError, SamplingWarning

REF = json.loads((Path(__file__).parent / "data" / "causal_impact_reference.json").read_text())


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    """R CausalImpact's documented design (our seeded draw, stored with the peer numbers)."""
    return pd.DataFrame(REF["data"])


@pytest.fixture(scope="module")
def fitted(example: pd.DataFrame) -> CausalImpact:
    return CausalImpact(random_state=1).fit(
        example, outcome="y", controls=["x1"], pre_period=(0, 69), post_period=(70, 99)
    )


def test_documented_example_recovers_effect(fitted: CausalImpact, example: pd.DataFrame) -> None:
    r = fitted.result_
    assert r.inference == "posterior" and r.estimand == "ATT" and r.level == 0.95
    assert abs(r.estimate - 10.0) < 3 * r.std_error
    assert r.ci_lower < 10.0 < r.ci_upper
    assert r.p_value < 0.01  # 1 / (niter + 1) is the smallest possible
    # relative effect = effect / counterfactual average (about 10 / 125)
    pred_avg = example["y"].iloc[70:].mean() - r.estimate
    assert fitted.relative_effect.estimate == pytest.approx(r.estimate / pred_avg, rel=0.01)
    assert fitted.relative_effect.ci_lower < 10 / pred_avg < fitted.relative_effect.ci_upper
    cum = fitted.cumulative_effect
    assert cum.estimate == pytest.approx(30 * r.estimate, rel=1e-10)
    assert cum.ci_lower < 300 < cum.ci_upper


def test_agrees_with_tfcausalimpact_hmc(fitted: CausalImpact) -> None:
    """Stored tfcausalimpact 0.0.19 numbers (HMC, 1000 draws) on the same data.

    Both are Monte Carlo estimates; the posterior sd of the average effect is ~0.37, the
    Monte Carlo error of each mean ~0.015: we allow 0.1 on means and 0.2 on bounds.
    """
    peer = next(run for run in REF["runs"] if run["fit_method"] == "hmc")["average"]
    r = fitted.result_
    assert r.estimate == pytest.approx(peer["abs_effect"], abs=0.1)
    assert r.ci_lower == pytest.approx(peer["abs_effect_lower"], abs=0.2)
    assert r.ci_upper == pytest.approx(peer["abs_effect_upper"], abs=0.2)
    assert fitted.relative_effect.estimate == pytest.approx(peer["rel_effect"], abs=0.001)
    s = fitted.summary().to_frame()
    assert s.at["predicted", "Average"] == pytest.approx(peer["predicted"], abs=0.1)
    assert s.at["actual", "Average"] == pytest.approx(peer["actual"], abs=1e-4)


def test_series_and_tail_probability_consistent(
    fitted: CausalImpact, example: pd.DataFrame
) -> None:
    s = fitted.series_
    assert list(s.columns) == [
        "observed", "predicted", "predicted_lower", "predicted_upper", "point_effect",
        "point_effect_lower", "point_effect_upper", "cumulative_effect",
        "cumulative_effect_lower", "cumulative_effect_upper",
    ]  # fmt: skip
    np.testing.assert_allclose(s["observed"], example["y"], rtol=0, atol=0)
    np.testing.assert_allclose(s["predicted"], fitted.draws_.mean(axis=0), rtol=1e-12)
    assert np.all(s["cumulative_effect"].iloc[:70] == 0)
    assert s["cumulative_effect"].iloc[-1] == pytest.approx(fitted.cumulative_effect.estimate)
    assert s["point_effect"].iloc[70:].mean() == pytest.approx(fitted.result_.estimate)
    # CausalImpact's tail area: the observed sum ranked among the D predicted sums plus itself
    sums = np.append(fitted.draws_[:, 70:].sum(axis=1), example["y"].iloc[70:].sum())
    tail = min(np.sum(sums >= sums[-1]), np.sum(sums <= sums[-1])) / sums.size
    assert fitted.result_.p_value == pytest.approx(tail)
    assert np.all(s["predicted_lower"] <= s["predicted_upper"])


def test_invariant_to_location_and_scale(example: pd.DataFrame) -> None:
    kw = {"outcome": "y", "controls": ["x1"], "pre_period": (0, 69), "post_period": (70, 99)}
    base = CausalImpact(niter=200, random_state=4).fit(example, **kw).result_
    moved = example.assign(y=3.0 * example["y"] - 50.0, x1=example["x1"] + 7.0)
    other = CausalImpact(niter=200, random_state=4).fit(moved, **kw).result_
    assert other.estimate == pytest.approx(3.0 * base.estimate, rel=1e-8)
    assert other.std_error == pytest.approx(3.0 * base.std_error, rel=1e-8)
    assert other.p_value == base.p_value


def test_no_effect_interval_covers_zero() -> None:
    rng = np.random.default_rng(8)
    x = 50 + np.cumsum(rng.normal(size=120))
    data = pd.DataFrame({"y": 2 * x + rng.normal(size=120), "x": x, "noise": rng.normal(size=120)})
    ci = CausalImpact(niter=300, random_state=2).fit(
        data, outcome="y", controls=["x", "noise"], pre_period=(0, 89), post_period=(90, 119)
    )
    assert ci.result_.ci_lower < 0 < ci.result_.ci_upper
    assert ci.result_.p_value > 0.05
    assert "includes zero" in ci.report()


def _daily(n: int = 140, seed: int = 2, start: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="D")
    x = 20 + np.cumsum(rng.normal(scale=0.3, size=n))
    week = np.tile([0.0, 1.0, 2.0, 1.5, 0.5, -2.5, -2.5], n // 7 + 1)[:n]
    y = x + week + rng.normal(scale=0.3, size=n)
    y[start:] += 3.0
    return pd.DataFrame({"y": y, "x": x}, index=idx)


def test_dates_seasonality_missing_outcome_and_time_column() -> None:
    data = _daily()
    data.iloc[[10, 40, 110], 0] = np.nan
    ci = CausalImpact(niter=300, nseasons=[(7, 1)], random_state=5).fit(
        data, outcome="y", controls=["x"], pre_period=("2024-01-01", "2024-04-09"),
        post_period=("2024-04-10", "2024-05-19"),
    )  # fmt: skip
    r = ci.result_
    assert abs(r.estimate - 3.0) < 3 * r.std_error and r.ci_lower < 3.0 < r.ci_upper
    assert isinstance(ci.series_.index, pd.DatetimeIndex) and len(ci.series_) == 140
    assert np.isnan(ci.series_["observed"].iloc[110])
    # summaries use the observed post-period points only
    post = ci.series_.iloc[100:]
    assert r.estimate == pytest.approx(post["point_effect"].mean(skipna=True), rel=1e-10)
    # the same analysis with the dates in a column
    flat = data.reset_index(names="date")
    again = CausalImpact(niter=300, nseasons=[(7, 1)], random_state=5).fit(
        flat, outcome="y", controls=["x"], pre_period=("2024-01-01", "2024-04-09"),
        post_period=("2024-04-10", "2024-05-19"), time="date",
    )  # fmt: skip
    assert again.result_.estimate == pytest.approx(r.estimate, rel=1e-12)


def test_dynamic_regression_and_no_controls() -> None:
    data = _daily(105, seed=4, start=70)
    kw = {"outcome": "y", "pre_period": (data.index[0], data.index[69]),
          "post_period": (data.index[70], data.index[104])}  # fmt: skip
    dyn = CausalImpact(niter=200, dynamic_regression=True, nseasons=7, random_state=1)
    r = dyn.fit(data, controls=["x"], **kw).result_
    assert abs(r.estimate - 3.0) < 3 * r.std_error
    alone = CausalImpact(niter=200, random_state=1).fit(data, **kw).result_
    assert np.isfinite(alone.estimate) and alone.std_error > 0


def test_gap_between_periods_and_unstandardised(example: pd.DataFrame) -> None:
    """Rows between the periods are forecast but not summarised; standardize=False agrees."""
    kw = {"outcome": "y", "controls": ["x1"], "pre_period": (0, 59), "post_period": (70, 99)}
    ci = CausalImpact(niter=300, random_state=3).fit(example, **kw)
    s = ci.series_
    assert len(s) == 100 and np.all(s["cumulative_effect"].iloc[:70] == 0)
    assert ci.result_.estimate == pytest.approx(s["point_effect"].iloc[70:].mean(), rel=1e-10)
    assert ci.result_.ci_lower < 10 < ci.result_.ci_upper
    raw = CausalImpact(niter=300, standardize=False, random_state=3).fit(example, **kw).result_
    assert abs(raw.estimate - ci.result_.estimate) < 2 * ci.result_.std_error


def test_summary_report_plot(fitted: CausalImpact) -> None:
    import matplotlib

    matplotlib.use("Agg")
    text = str(fitted.summary())
    assert "Average" in text and "Cumulative" in text and "Posterior tail-area probability" in text
    report = fitted.report()
    assert "increase" in report and "excludes zero" in report
    fig = fitted.plot()
    assert len(fig.axes) == 3
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_warns_when_effect_draws_have_not_mixed(example: pd.DataFrame) -> None:
    """Ten draws (seed 5) whose halves disagree: split R-hat 1.31 > 1.1 raises a warning."""
    kw = {"outcome": "y", "controls": ["x1"], "pre_period": (0, 69), "post_period": (70, 99)}
    with pytest.warns(SamplingWarning, match=r"split R-hat of the average effect is 1\.3"):
        CausalImpact(niter=10, random_state=5).fit(example, **kw)


def test_refusals(example: pd.DataFrame) -> None:
    kw = {"outcome": "y", "controls": ["x1"], "pre_period": (0, 69), "post_period": (70, 99)}
    with pytest.raises(NotFittedError, match="not fitted"):
        _ = CausalImpact().relative_effect
    with pytest.raises(DataError, match="pandas DataFrame"):
        CausalImpact().fit(example.to_numpy(), **kw)
    with pytest.raises(
        DataError, match=r"irregular dates: a step of 2 days .* between 2024-01-05 and 2024-01-07"
    ):
        dated = example.set_index(pd.date_range("2024-01-01", periods=100, freq="D"))
        pre, post = ("2024-01-01", "2024-03-01"), ("2024-03-02", "2024-04-09")
        CausalImpact().fit(
            dated.drop(dated.index[5]), outcome="y", pre_period=pre, post_period=post
        )
    with pytest.raises(DataError, match="irregular time points"):
        CausalImpact().fit(example.drop(index=[30]), **kw)
    with pytest.raises(DataError, match="not numeric"):
        CausalImpact().fit(example.assign(x1=example["x1"].astype(str)), **kw)
    with pytest.raises(DataError, match="outside the data"):
        CausalImpact().fit(example, outcome="y", pre_period=(0, 69), post_period=(70, 120))
    with pytest.raises(ParameterError, match="overlap"):
        CausalImpact().fit(example, outcome="y", pre_period=(0, 69), post_period=(60, 99))
    with pytest.raises(ParameterError, match="pre_period must be a"):
        CausalImpact().fit(example, outcome="y", pre_period=(0,), post_period=(70, 99))
    with pytest.raises(DataError, match="missing or infinite"):
        CausalImpact().fit(example.assign(x1=example["x1"].where(example.index != 3)), **kw)
    with pytest.raises(DataError, match="not in data"):
        CausalImpact().fit(example, outcome="sales", pre_period=(0, 69), post_period=(70, 99))
    with pytest.raises(ParameterError, match="alpha"):
        CausalImpact(alpha=1.5).fit(example, **kw)


@pytest.mark.slow
def test_coverage_of_cumulative_effect() -> None:
    """Data from the model (local level + regression, effect 0.5 per period): 95% coverage.

    The level's innovation sd (0.03) is about 0.01 sd(y), CausalImpact's default prior
    guess. With a level sd of 0.1 (0.035 sd(y)) the default prior is too tight and the
    coverage drops to about 0.78; prior_level_sd=0.033 restores about 0.97.
    """
    hits, reps = [], 200
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        n, post = 100, 80
        x = np.cumsum(rng.normal(size=n))
        level = np.cumsum(rng.normal(scale=0.03, size=n))
        y = level + 0.8 * x + rng.normal(scale=0.5, size=n)
        y[post:] += 0.5
        ci = CausalImpact(niter=500, random_state=rep).fit(
            pd.DataFrame({"y": y, "x": x}), outcome="y", controls=["x"],
            pre_period=(0, post - 1), post_period=(post, n - 1),
        )  # fmt: skip
        c = ci.cumulative_effect
        hits.append(c.ci_lower <= 0.5 * (n - post) <= c.ci_upper)
    cover = float(np.mean(hits))
    print(f"coverage of the 95% cumulative-effect interval: {cover:.3f} over {reps} data sets")
    assert abs(cover - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps) + 0.02
