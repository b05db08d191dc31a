"""TWFE with absorbed fixed effects and the TWFE event study."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from paribus.designs.did.bacon import bacon_decomposition
from paribus.designs.did.plots import event_study_plot
from paribus.designs.did.twfe import TWFE, demean
from paribus.errors import DataError, NotFittedError, ParameterError


def staggered_panel(n_units=200, n_periods=8, seed=0, effect="constant", never=0.3):
    """Balanced staggered panel; ``effect`` "constant" (1.0) or "dynamic" (grows 0.5 a period)."""
    rng = np.random.default_rng(seed)
    cohorts = rng.choice([3, 5, 7], size=n_units).astype(float)
    cohorts[rng.uniform(size=n_units) < never] = np.inf
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    g = cohorts[unit]
    d = (t >= g).astype(float)
    exposure = np.where(d == 1, t - np.where(np.isfinite(g), g, 0) + 1, 0.0)
    tau = 1.0 * d if effect == "constant" else 0.5 * exposure
    y = rng.normal(size=n_units)[unit] + 0.3 * t + tau + rng.normal(size=unit.size)
    x = rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "t": t, "d": d, "y": y + 0.5 * x, "x": x, "tau": tau})


def _feols(pf, *args, **kwargs):
    # pyfixest 0.60 calls reset_index(inplace=True), deprecated in pandas 3.1
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=getattr(pd.errors, "Pandas4Warning", FutureWarning)
        )
        return pf.feols(*args, **kwargs)


def _mpdta(shared_datasets):
    df = pd.read_csv(shared_datasets / "mpdta.csv")
    df["d"] = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).astype(float)
    return df


# -- peer: pyfixest ----------------------------------------------------------------------------


CASES = {
    "balanced": ({}, "lemp ~ d | countyreal + year", {"CRV1": "countyreal"}),
    "unbalanced-weighted-covariate": (
        {"weights": "w", "covariates": "x"},
        "lemp ~ d + x | countyreal + year",
        {"CRV1": "countyreal"},
    ),
    "hc1": ({"covariates": "x"}, "lemp ~ d + x | countyreal + year", "hetero"),
    "state-clusters": ({"clusters": "state"}, "lemp ~ d | countyreal + year", {"CRV1": "state"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_pyfixest(case, shared_datasets):
    pf = pytest.importorskip("pyfixest")
    df = _mpdta(shared_datasets)
    rng = np.random.default_rng(1)
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    df["x"] = rng.normal(size=len(df))
    df["state"] = df["countyreal"] // 1000
    if case != "balanced":
        df = df.sample(frac=0.85, random_state=1)
    kwargs, formula, vcov = CASES[case]
    est = TWFE(vcov="hc1" if vcov == "hetero" else "cluster").fit(
        df, outcome="lemp", treatment="d", unit="countyreal", time="year", **kwargs
    )
    ref = _feols(
        pf,
        formula,
        data=df,
        vcov=vcov,
        weights=kwargs.get("weights"),
        demeaner=pf.MapDemeaner(fixef_tol=1e-12),
    )
    np.testing.assert_allclose(list(est.coef_.values()), ref.coef().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(est.vcov_)), ref.se().to_numpy(), rtol=0, atol=1e-8)
    assert est.result_.std_error == pytest.approx(ref.se().iloc[0], abs=1e-8)


def test_event_study_matches_pyfixest(shared_datasets):
    pf = pytest.importorskip("pyfixest")
    df = _mpdta(shared_datasets)
    est = TWFE(leads=3, lags=2).fit(
        df, outcome="lemp", treatment="d", unit="countyreal", time="year"
    )
    rel = np.where(df["first.treat"] > 0, df["year"] - df["first.treat"], np.nan)
    names = []
    for k in (-3, -2, 0, 1, 2):
        hit = rel <= k if k == -3 else (rel >= k if k == 2 else rel == k)
        df[f"r{k + 10}"] = np.where(np.isnan(rel), 0.0, hit.astype(float))
        names.append(f"r{k + 10}")
    ref = _feols(
        pf,
        f"lemp ~ {' + '.join(names)} | countyreal + year",
        data=df,
        vcov={"CRV1": "countyreal"},
        demeaner=pf.MapDemeaner(fixef_tol=1e-12),
    )
    table = est.event_study_
    assert table.labels == ("-3", "-2", "0", "1", "2")
    np.testing.assert_allclose([e.estimate for e in table], ref.coef().to_numpy(), atol=1e-8)
    np.testing.assert_allclose([e.std_error for e in table], ref.se().to_numpy(), atol=1e-8)
    assert table["-3"].diagnostics["binned"] is True
    # joint pre-trend Wald test recomputed from pyfixest's covariance of the two leads
    b, V = ref.coef().to_numpy()[:2], ref._vcov[:2, :2]
    assert est.pretrend_test_["statistic"] == pytest.approx(b @ np.linalg.solve(V, b), rel=1e-7)
    assert est.pretrend_test_["df"] == 2


# -- peer: statsmodels OLS with dummies ----------------------------------------------------------


def test_matches_statsmodels_dummies():
    df = staggered_panel(n_units=30, n_periods=6, seed=2).sample(frac=0.9, random_state=3)
    est = TWFE().fit(df, outcome="y", treatment="d", unit="unit", time="t", covariates="x")
    ref = smf.ols("y ~ d + x + C(unit) + C(t)", data=df).fit(
        cov_type="cluster", cov_kwds={"groups": df["unit"].to_numpy()}
    )
    assert est.coef_["d"] == pytest.approx(ref.params["d"], abs=1e-10)
    assert est.coef_["x"] == pytest.approx(ref.params["x"], abs=1e-10)
    # statsmodels counts every dummy in K; the CR1 here counts slopes + periods (unit
    # effects are nested in the unit clusters), so rescale (N-K_sm)/(N-K_ours)
    n, k_sm = len(df), len(ref.params)
    k_ours = 2 + df["t"].nunique()
    se_ref = ref.bse["d"] * np.sqrt((n - k_sm) / (n - k_ours))
    assert est.result_.std_error == pytest.approx(se_ref, rel=1e-8)
    assert est.result_.diagnostics["dof_k"] == k_ours


def test_demean_matches_dummy_regression():
    """Slow obvious reference: residuals on the full dummy matrix (weighted, unbalanced)."""
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 12, 300), rng.integers(0, 7, 300)
    x, w = rng.normal(size=(300, 2)), rng.uniform(0.5, 2.0, 300)
    D = np.column_stack([np.eye(12)[a], np.eye(7)[b]])
    sw = np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(D * sw, x * sw, rcond=None)[0]
    np.testing.assert_allclose(demean(x, [a, b], w), x - D @ coef, atol=1e-10)


# -- published: HonestDiD's Medicaid example (dataset README section 8) ---------------------------


def test_ehec_event_study_published(shared_datasets):
    df = pd.read_csv(shared_datasets / "ehec_medicaid.csv")
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    df["d"] = ((df["yexp2"] == 2014) & (df["year"] >= 2014)).astype(float)
    est = TWFE(event_study=True).fit(df, outcome="dins", treatment="d", unit="stfips", time="year")
    table = est.event_study_
    assert round(table["0"].estimate, 4) == 0.0464
    assert round(table["1"].estimate, 4) == 0.0692
    pre = [e.estimate for lbl, e in zip(table.labels, table, strict=True) if int(lbl) < -1]
    assert min(pre) == pytest.approx(-0.0113, abs=5e-5)
    assert max(pre) == pytest.approx(0.0003, abs=5e-5)
    assert "-1" not in table.labels


# -- simulation with known truth ----------------------------------------------------------------


def test_recovers_constant_effect():
    df = staggered_panel(n_units=400, seed=5)
    res = TWFE().fit(df, outcome="y", treatment="d", unit="unit", time="t", covariates="x").result_
    assert abs(res.estimate - 1.0) < 3 * res.std_error


def test_biased_under_dynamic_effects_as_bacon_predicts():
    """Effects growing with exposure: already-treated controls' outcomes keep rising, so the
    'later vs earlier' 2x2s are pushed down and TWFE falls below the ATT of treated cells."""
    df = staggered_panel(n_units=600, seed=6, effect="dynamic", never=0.1)
    res = TWFE().fit(df, outcome="y", treatment="d", unit="unit", time="t").result_
    truth = df.loc[df["d"] == 1, "tau"].mean()
    assert res.estimate < truth - 3 * res.std_error
    bacon = bacon_decomposition(df, outcome="y", treatment="d", unit="unit", time="t")
    assert bacon.twfe == pytest.approx(res.estimate, abs=1e-10)
    by_type = bacon.by_type()
    assert bacon.forbidden_weight > 0.2
    assert (
        by_type.loc["later vs earlier treated", "estimate"]
        < by_type.loc["treated vs never treated", "estimate"]
    )


@pytest.mark.slow
def test_coverage_constant_effect():
    hits, estimates = [], []
    for seed in range(300):
        df = staggered_panel(n_units=150, seed=1000 + seed)
        r = TWFE().fit(df, outcome="y", treatment="d", unit="unit", time="t").result_
        hits.append(r.ci_lower <= 1.0 <= r.ci_upper)
        estimates.append(r.estimate)
    coverage = np.mean(hits)
    print(f"TWFE constant effect: coverage {coverage:.3f}, bias {np.mean(estimates) - 1:.4f}")
    assert 0.92 <= coverage <= 0.98


# -- invariances --------------------------------------------------------------------------------


def test_invariant_to_row_order_and_outcome_shift():
    df = staggered_panel(n_units=80, seed=7)
    kw = {"outcome": "y", "treatment": "d", "unit": "unit", "time": "t"}
    base = TWFE().fit(df, **kw).result_
    other = TWFE().fit(df.sample(frac=1.0, random_state=1).assign(y=lambda f: f["y"] + 50), **kw)
    assert other.result_.estimate == pytest.approx(base.estimate, abs=1e-10)
    assert other.result_.std_error == pytest.approx(base.std_error, rel=1e-9)


# -- plots ------------------------------------------------------------------------------------


def test_event_study_plot_table_and_frame():
    df = staggered_panel(n_units=100, seed=8)
    table = TWFE(leads=3, lags=3).fit(df, outcome="y", treatment="d", unit="unit", time="t")
    ax = event_study_plot(table.event_study_)
    assert ax.get_xlabel() == "periods relative to treatment"
    frame = table.event_study_.to_frame().reset_index()
    frame["rel_time"] = frame["label"].astype(float)
    ax2 = event_study_plot(frame)
    assert len(ax2.lines) >= 2
    plt.close("all")
    with pytest.raises(DataError, match="lacks columns"):
        event_study_plot(frame.drop(columns="ci_lower"))


# -- refusals -----------------------------------------------------------------------------------


def test_refusals():
    df = staggered_panel(n_units=40, seed=9)
    kw = {"outcome": "y", "unit": "unit", "time": "t"}
    with pytest.raises(ParameterError, match="leads=0 is invalid"):
        TWFE(leads=0).fit(df, treatment="d", **kw)
    with pytest.raises(ParameterError, match="vcov='hc3' is invalid"):
        TWFE(vcov="hc3").fit(df, treatment="d", **kw)
    with pytest.raises(DataError, match="is constant"):
        TWFE().fit(df.assign(d=0.0), treatment="d", **kw)
    with pytest.raises(ParameterError, match="vcov='cluster' for cluster-robust"):
        TWFE(vcov="hc1").fit(df, treatment="d", clusters="unit", **kw)
    same_time = df.assign(d=(df["t"] >= 4).astype(float))
    with pytest.raises(DataError, match="absorbed by the unit and time fixed effects"):
        TWFE().fit(same_time, treatment="d", **kw)
    with pytest.raises(DataError, match="appears 2 times in period"):
        TWFE().fit(pd.concat([df, df.iloc[:1]]), treatment="d", **kw)
    with pytest.raises(DataError, match="missing values"):
        TWFE().fit(df.assign(y=np.where(df.index == 0, np.nan, df["y"])), treatment="d", **kw)
    with pytest.raises(DataError, match="must be 0/1"):
        TWFE().fit(df, treatment="y", **kw)
    switching = df.assign(d=((df["t"] % 2) * (df["unit"] % 2)).astype(float))
    with pytest.raises(DataError, match="staggered adoption"):
        TWFE(event_study=True).fit(switching, treatment="d", **kw)
    with pytest.raises(NotFittedError, match="call fit"):
        _ = TWFE().event_study_
