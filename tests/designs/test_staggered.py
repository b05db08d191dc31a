"""StaggeredDiD (Callaway & Sant'Anna 2021): published mpdta numbers, the `differences`
package (0.3.0, GPL-3, tests only) to tight tolerance, known-truth simulation, refusals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from paribus.designs.did.staggered import StaggeredDiD
from paribus.errors import DataError, NotFittedError, ParameterError

COLS = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}

# R `did` vignette "Getting Started" (no covariates, never-treated controls, varying base
# period); all 12 ATT(g,t) as printed there (4 decimals), in (g, t) order
VIGNETTE_ATT_GT = {
    (2004, 2004): -0.0105,
    (2004, 2005): -0.0704,
    (2004, 2006): -0.1373,
    (2004, 2007): -0.1008,
    (2006, 2004): 0.0065,
    (2006, 2005): -0.0028,
    (2006, 2006): -0.0046,
    (2006, 2007): -0.0412,
    (2007, 2004): 0.0305,
    (2007, 2005): -0.0027,
    (2007, 2006): -0.0311,
    (2007, 2007): -0.0261,
}


@pytest.fixture(scope="module")
def mpdta(shared_datasets):
    return pd.read_csv(shared_datasets / "mpdta.csv")


@pytest.fixture(scope="module")
def fitted(mpdta):
    return StaggeredDiD(random_state=7).fit(mpdta, **COLS)


def simulate(n=1000, seed=0, periods=6):
    """Staggered panel with cohort- and time-varying effects: ATT(e) = 1 + 0.5 e, larger
    for the early cohort; parallel trends hold, so ATT(e) is known."""
    rng = np.random.default_rng(seed)
    cohorts = np.array([3.0, 4.0, 5.0, np.inf])
    g = cohorts[rng.integers(0, 4, n)]
    alpha = rng.normal(size=n) + np.where(np.isfinite(g), 0.5, 0.0)
    t = np.arange(1, periods + 1, dtype=float)
    e = t[None, :] - g[:, None]
    tau = np.where(e >= 0, (1 + 0.5 * e) * np.where(g[:, None] == 3, 1.5, 1.0), 0.0)
    y = alpha[:, None] + 0.3 * t[None, :] + tau + rng.normal(size=(n, periods))
    frame = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "t": np.tile(t, n),
            "y": y.ravel(),
            "g": np.repeat(np.where(np.isfinite(g), g, 0.0), periods),
        }
    )
    return frame, g, tau


def true_dynamic(g, tau, periods=6):
    """Population-share-weighted ATT(e) of the simulation (e >= 0)."""
    out = {}
    t = np.arange(1, periods + 1)
    for e in range(periods):
        vals = [
            tau[i, np.flatnonzero(t - g[i] == e)[0]]
            for i in np.flatnonzero(np.isfinite(g))
            if g[i] + e <= periods
        ]
        if vals:
            out[e] = float(np.mean(vals))
    return out


# -- published numbers ------------------------------------------------------------------------


def test_vignette_att_gt(fitted):
    got = {
        (int(e.diagnostics["group"]), int(e.diagnostics["time"])): e.estimate
        for e in fitted.att_gt_
    }
    assert set(got) == set(VIGNETTE_ATT_GT)
    for key, value in VIGNETTE_ATT_GT.items():
        assert round(got[key], 4) == pytest.approx(value, abs=1e-12), key
    assert fitted.att_gt_["g=2004, t=2006"].estimate == pytest.approx(-0.1373, abs=5e-5)


def test_vignette_aggregations(fitted):
    assert round(fitted.aggregate("simple").overall.estimate, 4) == pytest.approx(-0.0400)
    assert round(fitted.aggregate("group").overall.estimate, 3) == pytest.approx(-0.031)
    assert round(fitted.aggregate("dynamic").overall.estimate, 4) == pytest.approx(-0.0772)


def test_vignette_pretest_p_value(fitted):
    # the vignette prints "P-value for pre-test of parallel trends assumption: 0.16812"
    assert fitted.pretrend_test_.p_value == pytest.approx(0.16812, abs=5e-6)
    assert fitted.pretrend_test_.df == 5


def test_simple_standard_errors(fitted):
    simple = fitted.aggregate("simple").overall
    # the influence-function SE; the vignette's 0.0118 is its bootstrap SE
    # (did's default bstrap=TRUE, interquartile-range scale), which varies by draw
    assert simple.std_error == pytest.approx(0.012034, abs=5e-7)
    assert simple.diagnostics["bootstrap_se"] == pytest.approx(0.0118, abs=0.0012)


def test_internal_consistency(fitted, mpdta):
    att = {(e.diagnostics["group"], e.diagnostics["time"]): e.estimate for e in fitted.att_gt_}
    sizes = mpdta.groupby("first.treat")["countyreal"].nunique()
    post = {k: v for k, v in att.items() if k[1] >= k[0]}
    w = np.array([sizes[int(g)] for g, _ in post])
    simple = w @ np.array(list(post.values())) / w.sum()
    assert fitted.aggregate("simple").overall.estimate == pytest.approx(simple, abs=1e-12)
    group = fitted.aggregate("group")
    theta = {g: np.mean([v for (gg, _), v in post.items() if gg == g]) for g in (2004, 2006, 2007)}
    for g, value in theta.items():
        assert group.table[f"g={g}"].estimate == pytest.approx(value, abs=1e-12)
    wg = np.array([sizes[g] for g in theta])
    assert group.overall.estimate == pytest.approx(wg @ np.array(list(theta.values())) / wg.sum())
    dyn = fitted.aggregate("dynamic")
    post_e = [
        e.estimate for lbl, e in zip(dyn.table.labels, dyn.table, strict=True) if int(lbl[2:]) >= 0
    ]
    assert dyn.overall.estimate == pytest.approx(np.mean(post_e), abs=1e-12)
    # ATT(2004, 2006) by hand: difference of mean changes 2003 -> 2006
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = wide[2006] - wide[2003]
    assert att[(2004.0, 2006.0)] == pytest.approx(dy[g == 2004].mean() - dy[g == 0].mean())


def test_pretrend_wald_by_hand(fitted):
    pre = [e for e in fitted.att_gt_ if not e.diagnostics["post"]]
    b = np.array([e.estimate for e in pre])
    phi = np.column_stack([e.scores for e in pre])
    n = phi.shape[0]
    stat = b @ np.linalg.solve(phi.T @ phi / n**2, b)
    assert fitted.pretrend_test_.statistic == pytest.approx(stat, rel=1e-10)
    assert fitted.pretrend_test_.p_value == pytest.approx(stats.chi2.sf(stat, len(pre)))


# -- peer: the `differences` package -------------------------------------------------------------


@pytest.mark.parametrize("estimator,theirs", [("dr", "dr"), ("ipw", "std_ipw"), ("reg", "reg")])
@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
def test_matches_differences_with_covariates(mpdta, estimator, theirs, control_group, base_period):
    differences = pytest.importorskip("differences")
    frame = mpdta.copy()
    frame["first.treat"] = frame["first.treat"].replace(0, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = differences.ATTgt(
            data=frame.set_index(["countyreal", "year"]),
            cohort_column="first.treat",
            base_period=base_period,
        )
        peer.fit(
            formula="lemp ~ lpop",
            est_method=theirs,
            control_group=control_group,
            progress_bar=False,
        )
        ref = peer.results()
        simple = peer.aggregate("simple")
    ref = ref[ref.index.get_level_values("base_period") != ref.index.get_level_values("time")]
    ours = StaggeredDiD(
        estimator=estimator, control_group=control_group, base_period=base_period, n_bootstrap=0
    ).fit(mpdta, covariates="lpop", **COLS)
    np.testing.assert_allclose([e.estimate for e in ours.att_gt_], ref.iloc[:, 0], atol=1e-8)
    np.testing.assert_allclose([e.std_error for e in ours.att_gt_], ref.iloc[:, 1], atol=1e-7)
    agg = ours.aggregate("simple").overall
    assert agg.estimate == pytest.approx(simple.iloc[0, 0], abs=1e-8)
    assert agg.std_error == pytest.approx(simple.iloc[0, 1], abs=1e-7)


@pytest.mark.parametrize(
    "kind,theirs", [("group", "cohort"), ("dynamic", "event"), ("calendar", "time")]
)
def test_aggregations_match_differences(mpdta, kind, theirs):
    differences = pytest.importorskip("differences")
    frame = mpdta.copy()
    frame["first.treat"] = frame["first.treat"].replace(0, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = differences.ATTgt(
            data=frame.set_index(["countyreal", "year"]), cohort_column="first.treat"
        )
        peer.fit(formula="lemp ~ lpop", est_method="dr", progress_bar=False)
        overall = peer.aggregate(theirs, overall=True)
        table = peer.aggregate(theirs)
    ours = StaggeredDiD(n_bootstrap=0).fit(mpdta, covariates="lpop", **COLS).aggregate(kind)
    assert ours.overall.estimate == pytest.approx(overall.iloc[0, 0], abs=1e-8)
    assert ours.overall.std_error == pytest.approx(overall.iloc[0, 1], abs=1e-7)
    np.testing.assert_allclose([e.estimate for e in ours.table], table.iloc[:, 0], atol=1e-8)
    np.testing.assert_allclose([e.std_error for e in ours.table], table.iloc[:, 1], atol=1e-7)


# -- simulation with known truth -------------------------------------------------------------------


def test_dynamic_effects_unbiased():
    frame, g, tau = simulate(n=1500, seed=3)
    fit = StaggeredDiD(n_bootstrap=0, control_group="not_yet_treated").fit(
        frame, outcome="y", unit="id", time="t", cohort="g"
    )
    truth = true_dynamic(g, tau)
    table = fit.aggregate("dynamic").table
    for e, value in truth.items():
        eff = table[f"e={e}"]
        assert abs(eff.estimate - value) < 3 * eff.std_error, (e, eff.estimate, value)
    for e in (-1, -2, -3):
        eff = table[f"e={e}"]
        assert abs(eff.estimate) < 3 * eff.std_error


def test_uniform_band_and_bootstrap():
    frame, _, _ = simulate(n=400, seed=1)
    kwargs = {"outcome": "y", "unit": "id", "time": "t", "cohort": "g"}
    a = StaggeredDiD(random_state=5).fit(frame, **kwargs).aggregate("dynamic").table
    b = StaggeredDiD(random_state=5).fit(frame, **kwargs).aggregate("dynamic").table
    assert [e.diagnostics["critical_value"] for e in a] == [
        e.diagnostics["critical_value"] for e in b
    ]
    crit = a[0].diagnostics["critical_value"]
    # sup over 8 event times: above the pointwise normal quantile, below Bonferroni
    assert stats.norm.ppf(0.975) < crit < stats.norm.ppf(1 - 0.025 / len(a)) + 0.2
    for e in a:
        assert (
            e.diagnostics["uniform_lower"]
            < e.ci_lower
            < e.ci_upper
            < e.diagnostics["uniform_upper"]
        )
        assert e.diagnostics["bootstrap_se"] == pytest.approx(e.std_error, rel=0.15)
    rad = StaggeredDiD(random_state=5, bootstrap_weights="rademacher").fit(frame, **kwargs)
    assert rad.att_gt_[0].diagnostics["critical_value"] > 1.5


# -- invariance -----------------------------------------------------------------------------------


def test_invariances(mpdta, fitted):
    shifted = mpdta.assign(lemp=mpdta["lemp"] + 3.0).sample(frac=1.0, random_state=0)
    refit = StaggeredDiD(n_bootstrap=0).fit(shifted, **COLS)
    np.testing.assert_allclose(
        [e.estimate for e in refit.att_gt_], [e.estimate for e in fitted.att_gt_], atol=1e-12
    )
    np.testing.assert_allclose(
        [e.std_error for e in refit.att_gt_], [e.std_error for e in fitted.att_gt_], atol=1e-12
    )
    weighted = StaggeredDiD(n_bootstrap=0, estimator="ipw").fit(
        mpdta.assign(w=2.5), weights="w", covariates="lpop", **COLS
    )
    plain = StaggeredDiD(n_bootstrap=0, estimator="ipw").fit(mpdta, covariates="lpop", **COLS)
    np.testing.assert_allclose(
        [e.estimate for e in weighted.att_gt_], [e.estimate for e in plain.att_gt_], atol=1e-10
    )


def test_clustering_at_unit_level_is_the_default(mpdta, fitted):
    clustered = StaggeredDiD(n_bootstrap=0, clustervars="countyreal").fit(mpdta, **COLS)
    np.testing.assert_allclose(
        [e.std_error for e in clustered.att_gt_], [e.std_error for e in fitted.att_gt_]
    )


# -- refusals -------------------------------------------------------------------------------------


def test_refuses_bad_settings(mpdta):
    with pytest.raises(ParameterError, match="control_group"):
        StaggeredDiD(control_group="never").fit(mpdta, **COLS)
    with pytest.raises(ParameterError, match="estimator"):
        StaggeredDiD(estimator="aipw").fit(mpdta, **COLS)
    with pytest.raises(ParameterError, match="n_bootstrap"):
        StaggeredDiD(n_bootstrap=-1).fit(mpdta, **COLS)


def test_refuses_bad_data(mpdta):
    with pytest.raises(DataError, match="balanced panel"):
        StaggeredDiD().fit(mpdta.iloc[1:], **COLS)
    treated_only = mpdta[mpdta["first.treat"] > 0]
    with pytest.raises(DataError, match="never-treated units"):
        StaggeredDiD().fit(treated_only, **COLS)
    uneven = mpdta.assign(w=np.arange(len(mpdta)) + 1.0)
    with pytest.raises(DataError, match="varies within a unit"):
        StaggeredDiD().fit(uneven, weights="w", **COLS)
    with pytest.raises(DataError, match="not found"):
        StaggeredDiD().fit(mpdta, **{**COLS, "outcome": "nope"})


def test_refuses_bad_aggregation(fitted):
    with pytest.raises(ParameterError, match="kind='event'"):
        fitted.aggregate("event")
    with pytest.raises(ParameterError, match="balance_e"):
        fitted.aggregate("simple", balance_e=1)
    with pytest.raises(ParameterError, match="widen"):
        fitted.aggregate("dynamic", min_e=10, max_e=12)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="att_gt_"):
        _ = StaggeredDiD().att_gt_


def test_always_treated_units_dropped_with_warning(mpdta):
    early = mpdta.assign(
        **{"first.treat": np.where(mpdta["countyreal"] == 8001, 2003, mpdta["first.treat"])}
    )
    with pytest.warns(Warning, match="treated in the first period"):
        fit = StaggeredDiD(n_bootstrap=0).fit(early, **COLS)
    assert fit.n_units_ == 499


def test_balanced_dynamic(fitted):
    bal = fitted.aggregate("dynamic", balance_e=1)
    # cohorts observed >= 1 period after adoption: 2004 and 2006; event times <= 1
    assert max(int(lbl[2:]) for lbl in bal.table.labels) == 1
    assert bal.table["e=1"].estimate == pytest.approx(
        np.average(
            [fitted.att_gt_["g=2004, t=2005"].estimate, fitted.att_gt_["g=2006, t=2007"].estimate],
            weights=[20, 40],
        )
    )


def test_anticipation(mpdta):
    with pytest.warns(Warning, match="treated in the first period"):
        fit = StaggeredDiD(n_bootstrap=0, anticipation=1).fit(mpdta, **COLS)
    # cohort 2004 has no period before 2004 - 1 and is dropped; 2006 uses base 2004
    assert fit.n_units_ == 480
    cell = fit.att_gt_["g=2006, t=2005"]
    assert cell.diagnostics["base_period"] == 2004 and cell.diagnostics["post"]
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    g = mpdta.groupby("countyreal")["first.treat"].first()
    dy = wide[2005] - wide[2004]
    assert cell.estimate == pytest.approx(dy[g == 2006].mean() - dy[g == 0].mean(), abs=1e-12)
    # the anticipation window t in [g - 1, g) is not averaged into the simple ATT
    simple = fit.aggregate("simple").overall.estimate
    post = [e for e in fit.att_gt_ if e.diagnostics["time"] >= e.diagnostics["group"]]
    w = np.array([e.diagnostics["n_treated"] for e in post])
    assert simple == pytest.approx(w @ np.array([e.estimate for e in post]) / w.sum())


# -- coverage (slow) ------------------------------------------------------------------------------


@pytest.mark.slow
def test_coverage_uniform_and_pointwise():
    reps, hits_uniform, hits_point, n_point = 200, 0, 0, 0
    for rep in range(reps):
        frame, g, tau = simulate(n=1000, seed=1000 + rep)
        truth = true_dynamic(g, tau)
        table = (
            StaggeredDiD(random_state=rep, n_bootstrap=499)
            .fit(frame, outcome="y", unit="id", time="t", cohort="g")
            .aggregate("dynamic")
            .table
        )
        ok_all = True
        for lbl, eff in zip(table.labels, table, strict=True):
            e = int(lbl[2:])
            target = truth.get(e, 0.0) if e >= 0 else 0.0
            ok_all &= eff.diagnostics["uniform_lower"] <= target <= eff.diagnostics["uniform_upper"]
            hits_point += eff.ci_lower <= target <= eff.ci_upper
            n_point += 1
        hits_uniform += ok_all
    uniform, pointwise = hits_uniform / reps, hits_point / n_point
    print(f"uniform coverage {uniform:.3f}, pointwise coverage {pointwise:.3f}")
    assert 0.91 <= uniform <= 0.985
    assert 0.92 <= pointwise <= 0.975


def test_dynamic_aggregation_plot(fitted):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = fitted.aggregate("dynamic")
    ax = agg.plot()
    plotted = {float(x) for ln in ax.get_lines() for x in np.atleast_1d(ln.get_xdata())}
    events = {float(label.split("=")[1]) for label in agg.table.labels}
    assert events <= plotted and ax.get_xlabel() == "periods relative to treatment"
    with pytest.raises(ParameterError, match="dynamic"):
        fitted.aggregate("group").plot()
    plt.close("all")
