"""Synthetic control (Abadie, Diamond & Hainmueller): weights, published numbers, pysyncon.

References: Abadie & Gardeazabal (2003) Basque weights Cataluna .8508 / Madrid .1492;
ADH (2010) Prop 99, with the outcome-only numbers of ../shared/datasets/README.md
section 3 ("Ours"); pysyncon 1.7.0 on the same inputs.
"""

from __future__ import annotations

import itertools
import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from paribus.designs.synth._data import synth_panel, wide_to_long
from paribus.designs.synth.adh import SyntheticControl, simplex_lstsq
from paribus.errors import DataError, NotFittedError, ParameterError

matplotlib.use("Agg")

BASQUE = "Basque Country (Pais Vasco)"
SECTORS = ["agriculture", "energy", "industry", "construction", "services.venta"]
SPECIAL = [
    ("gdpcap", range(1960, 1970), "mean"),
    *[(f"sec.{s}", range(1961, 1970, 2), "mean") for s in [*SECTORS, "services.nonventa"]],
    ("popdens", [1969], "mean"),
]
SCHOOL = ["school.illit", "school.prim", "school.med", "school.high", "school.post.high"]
BASQUE_FIT = dict(
    outcome="gdpcap",
    unit="regionname",
    time="year",
    treated_unit=BASQUE,
    treatment_start=1970,
    predictors=[*SCHOOL, "invest"],
    predictor_period=range(1964, 1970),
    special_predictors=SPECIAL,
    mspe_period=range(1960, 1970),
)
PROP99_FIT = dict(
    outcome="packs", unit="state", time="Year", treated_unit="California", treatment_start=1989
)


@pytest.fixture(scope="module")
def basque(shared_datasets):
    df = pd.read_csv(shared_datasets / "basque.csv")
    return df[df["regionname"] != "Spain (Espana)"].reset_index(drop=True)


@pytest.fixture(scope="module")
def prop99(shared_datasets):
    wide = pd.read_csv(shared_datasets / "prop99_california_wide.csv")
    return wide_to_long(wide, time="Year", outcome="packs", unit="state")


@pytest.fixture(scope="module")
def basque_fit(basque):
    return SyntheticControl(inference=None).fit(basque, **BASQUE_FIT)


@pytest.fixture(scope="module")
def prop99_fit(prop99):
    return SyntheticControl(inference=None).fit(prop99, **PROP99_FIT)


# -- the quadratic program -------------------------------------------------------------------


def brute_force(a, b):
    """Slow exact answer: the best feasible equality-constrained LS over every support."""
    n = a.shape[1]
    best, best_w = np.inf, None
    for size in range(1, n + 1):
        for support in itertools.combinations(range(n), size):
            s = list(support)
            kkt = np.block([[a[:, s].T @ a[:, s], np.ones((size, 1))], [np.ones((1, size)), 0]])
            rhs = np.append(a[:, s].T @ b, 1.0)
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if sol.min() < -1e-12:
                continue
            w = np.zeros(n)
            w[s] = sol
            f = np.sum((b - a @ w) ** 2)
            if f < best:
                best, best_w = f, w
    return best, best_w


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("k", "n"), [(3, 2), (6, 4), (8, 5), (4, 4)])
def test_simplex_lstsq_matches_brute_force(seed, k, n):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, n))
    b = rng.normal(size=k) + (a @ rng.dirichlet(np.ones(n)) if seed % 2 else 0.0)
    f_best, w_best = brute_force(a, b)
    w = simplex_lstsq(a, b)
    assert w.min() >= 0 and w.sum() == pytest.approx(1, abs=1e-12)
    assert np.sum((b - a @ w) ** 2) == pytest.approx(f_best, rel=1e-9, abs=1e-12)
    if k > n:  # full column rank: the minimiser is unique
        np.testing.assert_allclose(w, w_best, atol=1e-7)


def test_simplex_lstsq_kkt_on_a_wide_problem():
    # more donors than rows: the Gram matrix is singular, the KKT conditions still hold
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(10, 40)), rng.normal(size=10) * 3
    w = simplex_lstsq(a, b)
    grad = a.T @ (a @ w - b)
    lam = grad[w > 0].mean()
    assert np.ptp(grad[w > 0]) < 1e-9  # stationarity on the support
    assert (grad - lam).min() > -1e-9  # dual feasibility off the support
    assert w.min() >= 0 and w.sum() == pytest.approx(1, abs=1e-12)


# -- published numbers --------------------------------------------------------------------------


def test_basque_matches_abadie_gardeazabal(basque_fit):
    w = basque_fit.weights_
    assert w["Cataluna"] == pytest.approx(0.8508, abs=1e-3)
    assert w["Madrid (Comunidad De)"] == pytest.approx(0.1492, abs=1e-3)
    assert w.drop(["Cataluna", "Madrid (Comunidad De)"]).max() < 1e-6
    assert basque_fit.fit_.loss_v == pytest.approx(0.0088645, rel=1e-4)
    late = basque_fit.gaps_.loc[1980:1997] / basque_fit.synthetic_.loc[1980:1997]
    assert late.mean() == pytest.approx(-0.096, abs=0.002)  # README: -9.6% over 1980-97
    diag = basque_fit.result_.diagnostics
    assert diag["weights"]["Cataluna"] == pytest.approx(w["Cataluna"])
    assert set(diag["v"]) == set(basque_fit.v_.index) and len(diag["v"]) == 14


def test_prop99_outcome_only_matches_readme(prop99_fit):
    gaps = prop99_fit.gaps_
    assert gaps.loc[2000] == pytest.approx(-26.6, abs=0.05)
    assert gaps.loc[1989:2000].mean() == pytest.approx(-19.5, abs=0.05)
    assert prop99_fit.result_.estimate == pytest.approx(gaps.loc[1989:2000].mean(), rel=1e-12)
    support = set(prop99_fit.weights_[prop99_fit.weights_ > 1e-3].index)
    expected = {"Utah", "Nevada", "Montana", "Connecticut", "New Hampshire", "Colorado"}
    assert support == expected


def test_prop99_outcome_only_minimises_pre_mspe(prop99_fit):
    # outcome-only nested V is the plain simplex least squares on the pre-period path
    panel = prop99_fit.panel_
    f_fit = np.mean((panel.y1[panel.pre] - panel.y0[panel.pre] @ prop99_fit.weights_) ** 2)
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = rng.dirichlet(np.full(panel.y0.shape[1], 0.2))
        assert np.mean((panel.y1[panel.pre] - panel.y0[panel.pre] @ w) ** 2) >= f_fit
    assert prop99_fit.pre_rmspe_ == pytest.approx(np.sqrt(f_fit), rel=1e-12)


# -- settings ----------------------------------------------------------------------------------


def test_equal_and_given_v(basque):
    equal = SyntheticControl(v="equal", inference=None).fit(basque, **BASQUE_FIT)
    given = SyntheticControl(v=np.ones(14) * 3.0, inference=None).fit(basque, **BASQUE_FIT)
    np.testing.assert_allclose(equal.weights_, given.weights_, atol=1e-12)
    np.testing.assert_allclose(equal.v_, 1 / 14)
    nested = SyntheticControl(inference=None).fit(basque, **BASQUE_FIT)
    assert nested.fit_.loss_v < equal.fit_.loss_v


def test_random_starts_never_worse(basque, basque_fit):
    more = SyntheticControl(n_random_starts=3, random_state=0, inference=None)
    more.fit(basque, **BASQUE_FIT)
    assert more.fit_.loss_v <= basque_fit.fit_.loss_v * (1 + 1e-9)


def test_cv_uses_validation_window(prop99):
    cv = SyntheticControl(v="cv", inference=None).fit(prop99, **PROP99_FIT)
    assert cv.weights_.sum() == pytest.approx(1.0, abs=1e-12)
    assert cv.v_.size == 10  # predictors: the 10 most recent pre-period outcomes
    assert cv.v_.index[0] == "packs (1979)" and cv.v_.index[-1] == "packs (1988)"
    recent = np.sqrt((cv.gaps_.loc[1979:1988] ** 2).mean())
    assert recent < 3.0  # the validation-window fit (pre-RMSPE over all years is 9.8)


def test_cv_refuses_predictors_that_cannot_shift(basque):
    with pytest.raises(DataError, match="no value for unit"):
        SyntheticControl(v="cv", inference=None).fit(basque, **BASQUE_FIT)


# -- invariance and simulation -----------------------------------------------------------------


def test_invariance_translation_scale_row_order(prop99, prop99_fit):
    shifted = prop99.assign(packs=prop99["packs"] + 100.0)
    fit = SyntheticControl(inference=None).fit(shifted, **PROP99_FIT)
    np.testing.assert_allclose(fit.weights_, prop99_fit.weights_, atol=1e-9)
    assert fit.result_.estimate == pytest.approx(prop99_fit.result_.estimate, abs=1e-9)
    scaled = prop99.assign(packs=prop99["packs"] * 10.0)
    fit = SyntheticControl(inference=None).fit(scaled, **PROP99_FIT)
    assert fit.result_.estimate == pytest.approx(10 * prop99_fit.result_.estimate, rel=1e-9)
    shuffled = prop99.sample(frac=1.0, random_state=3)
    fit = SyntheticControl(inference=None).fit(shuffled, **PROP99_FIT)
    np.testing.assert_array_equal(fit.weights_, prop99_fit.weights_)


def _factor_panel(seed, effect=5.0, n_donors=20, n_pre=30, n_post=10):
    """Linear factor model; the treated unit's loadings are a convex mix of donors'."""
    rng = np.random.default_rng(seed)
    t = n_pre + n_post
    factors = np.cumsum(rng.normal(size=(t, 3)), axis=0)
    load = rng.uniform(0, 2, size=(n_donors, 3))
    mix = rng.dirichlet(np.ones(4))
    treated_load = mix @ load[:4]
    y0 = factors @ load.T + rng.normal(scale=0.5, size=(t, n_donors))
    y1 = factors @ treated_load + rng.normal(scale=0.5, size=t)
    y1[n_pre:] += effect
    wide = pd.DataFrame(
        np.column_stack([y1, y0]), columns=["T", *[f"d{j}" for j in range(n_donors)]]
    )
    wide["time"] = np.arange(t)
    return wide_to_long(wide, time="time", outcome="y", unit="unit"), n_pre


def test_simulation_bias_small():
    estimates = []
    for seed in range(30):
        df, n_pre = _factor_panel(seed)
        fit = SyntheticControl(inference=None).fit(
            df, outcome="y", unit="unit", time="time", treated_unit="T", treatment_start=n_pre
        )
        estimates.append(fit.result_.estimate)
    est = np.array(estimates)
    assert abs(est.mean() - 5.0) < 3 * est.std(ddof=1) / np.sqrt(est.size)


# -- pysyncon ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pysyncon_prep(basque):
    pysyncon = pytest.importorskip("pysyncon")
    controls = [r for r in basque["regionname"].unique() if r != BASQUE]
    return pysyncon.Dataprep(
        foo=basque,
        predictors=[*SCHOOL, "invest"],
        predictors_op="mean",
        time_predictors_prior=range(1964, 1970),
        special_predictors=SPECIAL,
        dependent="gdpcap",
        unit_variable="regionname",
        time_variable="year",
        treatment_identifier=BASQUE,
        controls_identifier=controls,
        time_optimize_ssr=range(1960, 1970),
    )


def _criterion(fit, weights):
    x = np.column_stack([fit.panel_.x1, fit.panel_.x0])
    sd = x.std(axis=1, ddof=1)
    gap = (fit.panel_.x1 - fit.panel_.x0 @ weights) / sd
    return float(np.sum(fit.v_.to_numpy() * gap**2))


def test_pysyncon_same_v_same_weights(basque_fit, pysyncon_prep):
    from pysyncon import Synth

    peer = Synth()
    peer.fit(dataprep=pysyncon_prep, custom_V=basque_fit.v_.to_numpy())
    theirs = pd.Series(peer.W, index=pysyncon_prep.make_covariate_mats()[0].columns)
    theirs = theirs.reindex(basque_fit.weights_.index)
    # pysyncon's SLSQP stops ~3e-4 from the exact optimum; ours attains a lower criterion
    np.testing.assert_allclose(basque_fit.weights_, theirs, atol=1e-3)
    assert _criterion(basque_fit, basque_fit.weights_) <= _criterion(basque_fit, theirs)
    assert basque_fit.fit_.loss_v == pytest.approx(peer.loss_V, rel=1e-4)


def test_pysyncon_nested_not_better_than_ours(basque_fit, pysyncon_prep):
    # pysyncon's Nelder-Mead over |p|/sum|p| from the OLS start stops at MSPE 0.02491
    # (all weight on Cataluna); its equal start (slow, 7 s) at 0.03961; ours 0.0088645
    from pysyncon import Synth

    peer = Synth()
    peer.fit(dataprep=pysyncon_prep, optim_method="Nelder-Mead", optim_initial="ols")
    assert peer.loss_V == pytest.approx(0.0249133, rel=1e-4)
    assert basque_fit.fit_.loss_v < peer.loss_V


# -- results, plots, refusals ------------------------------------------------------------------


def test_result_serialises_and_conformal_default(prop99):
    fit = SyntheticControl().fit(prop99, **PROP99_FIT)
    res = fit.result_
    assert res.estimand == "ATT" and res.inference == "permutation"
    assert res.ci_lower < res.estimate < res.ci_upper
    assert 0 < res.p_value <= 1
    data = json.loads(res.to_json())
    assert data["diagnostics"]["weights"]["Utah"] == pytest.approx(fit.weights_["Utah"])


@pytest.mark.parametrize("kind", ["path", "gap", "weights", "placebo"])
def test_plots_draw(prop99_fit, kind):
    import matplotlib.pyplot as plt

    ax = prop99_fit.plot(kind=kind)
    assert len(ax.lines) + len(ax.patches) > 0
    plt.close("all")


def test_refusals(prop99, basque):
    with pytest.raises(ParameterError, match="kind='map' is unknown"):
        SyntheticControl(inference=None).fit(prop99, **PROP99_FIT).plot(kind="map")
    with pytest.raises(ParameterError, match="setting v='best'"):
        SyntheticControl(v="best").fit(prop99, **PROP99_FIT)
    with pytest.raises(ParameterError, match="setting inference='bootstrap'"):
        SyntheticControl(inference="bootstrap").fit(prop99, **PROP99_FIT)
    with pytest.raises(ParameterError, match="v has 3 weights but the design has 19"):
        SyntheticControl(v=[1, 1, 1]).fit(prop99, **PROP99_FIT)
    with pytest.raises(NotFittedError, match="call fit"):
        _ = SyntheticControl().weights_
    with pytest.raises(DataError, match="treated_unit='Atlantis'"):
        SyntheticControl().fit(prop99, **{**PROP99_FIT, "treated_unit": "Atlantis"})
    with pytest.raises(DataError, match="leaves 1 pre-period"):
        SyntheticControl().fit(prop99, **{**PROP99_FIT, "treatment_start": 1971})
    with pytest.raises(DataError, match="mspe_period"):
        SyntheticControl().fit(prop99, **PROP99_FIT, mspe_period=[1995])
    special = [("gdpcap", [1975], "mean")]
    with pytest.raises(DataError, match="at or after treatment_start"):
        SyntheticControl().fit(basque, **{**BASQUE_FIT, "special_predictors": special})
    with pytest.raises(ParameterError, match="operation 'median' is not supported"):
        SyntheticControl().fit(
            basque, **{**BASQUE_FIT, "special_predictors": [("gdpcap", [1960], "median")]}
        )


def test_data_refusals(prop99):
    with pytest.raises(DataError, match="missing value"):
        synth_panel(prop99.assign(packs=prop99["packs"].where(prop99.index != 5)), **PROP99_FIT)
    with pytest.raises(DataError, match="duplicated"):
        synth_panel(pd.concat([prop99, prop99.head(1)]), **PROP99_FIT)
    with pytest.raises(DataError, match="unbalanced"):
        synth_panel(prop99.drop(index=7), **PROP99_FIT)
    with pytest.raises(DataError, match="not found"):
        synth_panel(prop99, **{**PROP99_FIT, "outcome": "sales"})
    with pytest.raises(DataError, match="must be numeric"):
        synth_panel(prop99.assign(packs=prop99["packs"].astype(str)), **PROP99_FIT)
    with pytest.raises(DataError, match="at least 2"):
        synth_panel(prop99, **PROP99_FIT, donors=["Utah"])
    with pytest.raises(DataError, match="is the treated unit"):
        synth_panel(prop99, **PROP99_FIT, donors=["Utah", "California"])
