"""ITT and complier effect: linearmodels / paribus IV2SLS references, truth, refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from linearmodels.iv import IV2SLS as LMIV2SLS
from scipy import stats

from paribus.designs.iv import IV2SLS
from paribus.errors import DataError, WeakInstrumentWarning
from paribus.experiments.noncompliance import complier_effect, intention_to_treat


def _trial(
    n: int = 4000, seed: int = 0, p_never: float = 0.2, p_always: float = 0.1
) -> pd.DataFrame:
    """Compliers gain 2 + x; never-takers and always-takers differ in baseline (confounding)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    kind = rng.choice(3, size=n, p=[1 - p_never - p_always, p_never, p_always])  # 0 complier
    d = np.where(kind == 0, z, kind == 2).astype(float)
    x = rng.normal(size=n)
    y = 1.0 + 1.5 * (kind == 1) - 1.0 * (kind == 2) + 0.8 * x + (2.0 + x) * d + rng.normal(size=n)
    return pd.DataFrame({"z": z, "d": d, "y": y, "x": x, "x2": rng.normal(size=n), "const": 1.0})


def test_itt_is_the_welch_difference_by_assignment() -> None:
    df = _trial()
    itt = intention_to_treat(df, assignment="z", outcome="y")
    ref = stats.ttest_ind(df.y[df.z == 1], df.y[df.z == 0], equal_var=False)
    assert itt.estimand == "ITT"
    assert itt.estimate == pytest.approx(df.y[df.z == 1].mean() - df.y[df.z == 0].mean(), abs=1e-12)
    assert itt.p_value == pytest.approx(ref.pvalue, rel=1e-8)


def test_wald_equals_2sls_with_hc0_errors() -> None:
    df = _trial()
    eff = complier_effect(df, assignment="z", exposure="d", outcome="y")
    zb = df.z == 1
    itt_y = df.y[zb].mean() - df.y[~zb].mean()
    itt_d = df.d[zb].mean() - df.d[~zb].mean()
    assert eff.estimate == pytest.approx(itt_y / itt_d, rel=1e-12)
    lm = LMIV2SLS(df.y, df[["const"]], df.d, df.z).fit(cov_type="robust")  # HC0
    assert eff.estimate == pytest.approx(lm.params["d"], rel=1e-10)
    assert eff.std_error == pytest.approx(lm.std_errors["d"], rel=1e-8)
    ours = IV2SLS().fit(df, outcome="y", endogenous="d", instruments="z").result_
    assert eff.std_error == pytest.approx(ours.std_errors["d"], rel=1e-8)
    assert eff.estimand == "LATE" and eff.method == "wald"
    diag = eff.diagnostics
    assert diag["compliance_rate"] == pytest.approx(itt_d, rel=1e-12)
    assert diag["itt_outcome"] == pytest.approx(itt_y, rel=1e-12)
    assert diag["cov_type"] == "HC0" and not diag["one_sided"]
    # scores are influence values: mean 0, std / sqrt(n) = se
    assert eff.scores is not None
    assert abs(eff.scores.mean()) < 1e-10
    assert eff.scores.std() / np.sqrt(len(df)) == pytest.approx(eff.std_error, rel=1e-10)


def test_covariates_equal_2sls_with_exogenous_regressors() -> None:
    df = _trial(seed=1)
    eff = complier_effect(df, assignment="z", exposure="d", outcome="y", covariates=["x", "x2"])
    lm = LMIV2SLS(df.y, df[["const", "x", "x2"]], df.d, df.z).fit(cov_type="robust")
    assert eff.estimate == pytest.approx(lm.params["d"], rel=1e-10)
    assert eff.std_error == pytest.approx(lm.std_errors["d"], rel=1e-8)
    assert eff.method == "2sls"
    # covariates that predict the outcome sharpen the estimate
    plain = complier_effect(df, assignment="z", exposure="d", outcome="y")
    assert eff.std_error < plain.std_error


def test_recovers_the_complier_effect() -> None:
    # truth: E[2 + x | complier] = 2 (x independent of type); the naive as-treated
    # comparison is biased by the always/never-takers' baselines
    df = _trial(n=20_000, seed=7)
    eff = complier_effect(df, assignment="z", exposure="d", outcome="y")
    assert abs(eff.estimate - 2.0) < 3 * eff.std_error
    naive = df.y[df.d == 1].mean() - df.y[df.d == 0].mean()
    assert abs(naive - 2.0) > 10 * eff.std_error
    assert eff.diagnostics["compliance_rate"] == pytest.approx(0.7, abs=0.02)


def test_one_sided_noncompliance_flagged() -> None:
    df = _trial(p_always=0.0)
    eff = complier_effect(df, assignment="z", exposure="d", outcome="y")
    assert eff.diagnostics["one_sided"] and eff.diagnostics["exposure_control"] == 0.0


def test_weak_first_stage_warns() -> None:
    df = _trial(n=600, p_never=0.47, p_always=0.47, seed=3)  # ~6% compliers
    with pytest.warns(WeakInstrumentWarning, match="weak first stage: robust F = .* below 10"):
        complier_effect(df, assignment="z", exposure="d", outcome="y")
    strong = _trial()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        complier_effect(strong, assignment="z", exposure="d", outcome="y")


def test_refusals() -> None:
    df = _trial(n=400)
    with pytest.raises(DataError, match="exposure column 'd' is constant"):
        complier_effect(df.assign(d=1.0), assignment="z", exposure="d", outcome="y")
    no_compliers = df.assign(d=np.tile([0.0, 0.0, 1.0, 1.0], 100), z=np.tile([0, 1, 0, 1], 100))
    with pytest.raises(DataError, match="there are no compliers"):
        complier_effect(no_compliers, assignment="z", exposure="d", outcome="y")
    with pytest.raises(DataError, match="each column plays one role"):
        complier_effect(df, assignment="z", exposure="d", outcome="y", covariates=["d"])
    with pytest.raises(DataError, match="not 0/1"):
        complier_effect(df.assign(z=df.z * 2 + 1), assignment="z", exposure="d", outcome="y")


@pytest.mark.slow
def test_wald_interval_coverage() -> None:
    reps, hits = 1000, 0
    for seed in range(reps):
        eff = complier_effect(_trial(n=1000, seed=seed), assignment="z", exposure="d", outcome="y")
        hits += eff.ci_lower <= 2.0 <= eff.ci_upper
    rate = hits / reps
    print(f"LATE 95% interval coverage over {reps} trials (n=1000): {rate:.3f}")
    assert abs(rate - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)
