"""IV estimators (2SLS, LIML, Fuller, GMM): Card (1995), linearmodels 7.1, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from designs._iv_data import simulate_iv
from paribus.designs.iv import IV2SLS, IVGMM, IVLIML, complier_characteristics
from paribus.errors import DataError, DataWarning, ParameterError, WeakInstrumentWarning

CONTROLS = [
    "exper", "expersq", "black", "smsa", "south", "smsa66",
    *[f"reg66{j}" for j in range(2, 10)],
]  # fmt: skip
WEAK_OK = pytest.mark.filterwarnings("ignore::paribus.errors.WeakInstrumentWarning")


@pytest.fixture(scope="module")
def card(shared_datasets):
    frame = pd.read_csv(shared_datasets / "card1995.csv")
    rng = np.random.default_rng(5)
    frame["g1"] = rng.integers(0, 40, size=len(frame))
    frame["g2"] = rng.integers(0, 15, size=len(frame))
    return frame


# -- published numbers ---------------------------------------------------------------------


def test_card_return_to_schooling_matches_card_1995(card):
    with pytest.warns(WeakInstrumentWarning, match="effective F = 13"):
        est = IV2SLS().fit(
            card,
            outcome="lwage",
            endogenous="educ",
            instruments="nearc4",
            exog=CONTROLS,
            cov_type="unadjusted",
            debiased=True,
        )
    res = est.result_
    # Card (1995) Table 3 col. 5 / Wooldridge Example 15.4: 0.132 (0.055)
    assert res.params["educ"] == pytest.approx(0.1315, abs=5e-5)
    assert res.std_errors["educ"] == pytest.approx(0.0550, abs=5e-5)
    eff = res.effect("educ")
    assert (eff.estimand, eff.method) == ("coefficient", "2sls")
    assert eff.ci_lower < 0.132 < eff.ci_upper


# -- linearmodels 7.1 ----------------------------------------------------------------------

COVS = {
    "unadjusted": ({"cov_type": "unadjusted"}, {"cov_type": "unadjusted"}),
    "robust": ({"cov_type": "robust"}, {"cov_type": "robust"}),
    "cluster1": ({"cov_type": "clustered", "clusters": "g1"}, {"cov_type": "clustered"}),
    "cluster2": ({"cov_type": "clustered", "clusters": ["g1", "g2"]}, {"cov_type": "clustered"}),
    "kernel": ({"cov_type": "kernel", "bandwidth": 4}, {"cov_type": "kernel", "bandwidth": 4}),
}
ESTIMATORS = ["2sls", "liml", "fuller", "gmm"]
SPECS = {
    "card": ("lwage", ["educ"], ["nearc4", "nearc2"], CONTROLS),
    "sim": ("y", ["d1", "d2"], ["z1", "z2", "z3"], ["w1", "w2"]),
}


def _ours(which: str):
    return {
        "2sls": IV2SLS(),
        "liml": IVLIML(),
        "fuller": IVLIML(fuller=1),
        "gmm": IVGMM(),
    }[which]


def _reference(which, frame, outcome, endog, instr, exog, lm_cov, clusters):
    iv = pytest.importorskip("linearmodels.iv")
    x = frame[exog].assign(const=1.0)[["const", *exog]]
    args = (frame[outcome], x, frame[endog], frame[instr])
    if clusters is not None:
        lm_cov = dict(lm_cov, clusters=frame[clusters])
    if which == "2sls":
        return iv.IV2SLS(*args).fit(**lm_cov)
    if which in ("liml", "fuller"):
        return iv.IVLIML(*args, fuller=1 if which == "fuller" else 0).fit(**lm_cov)
    weight = {k: v for k, v in lm_cov.items() if k != "cov_type"}
    return iv.IVGMM(*args, weight_type=lm_cov["cov_type"], **weight).fit(**lm_cov)


@WEAK_OK
@pytest.mark.parametrize("data_name", list(SPECS))
@pytest.mark.parametrize("cov", list(COVS))
@pytest.mark.parametrize("which", ESTIMATORS)
def test_estimates_and_covariance_equal_linearmodels(card, data_name, cov, which):
    if which == "gmm" and cov == "cluster2":
        pytest.skip("linearmodels' GMM has no two-way clustered weight or covariance")
    frame = card if data_name == "card" else simulate_iv().assign(g1=lambda f: f.g1)
    outcome, endog, instr, exog = SPECS[data_name]
    ours_kw, lm_cov = COVS[cov]
    res = (
        _ours(which)
        .fit(frame, outcome=outcome, endogenous=endog, instruments=instr, exog=exog, **ours_kw)
        .result_
    )
    ref = _reference(which, frame, outcome, endog, instr, exog, lm_cov, ours_kw.get("clusters"))
    order = ["Intercept", *exog, *endog]
    np.testing.assert_allclose(res.params[order].to_numpy(), ref.params.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(
        res.cov.loc[order, order].to_numpy(), ref.cov.to_numpy(), rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(
        res.std_errors[order].to_numpy(), ref.std_errors.to_numpy(), rtol=1e-8
    )


@WEAK_OK
@pytest.mark.parametrize("cov", list(COVS))
def test_first_stage_and_endogeneity_tests_equal_linearmodels(card, cov):
    ours_kw, lm_cov = COVS[cov]
    outcome, endog, instr, exog = SPECS["card"]
    res = (
        IV2SLS()
        .fit(card, outcome=outcome, endogenous=endog, instruments=instr, exog=exog, **ours_kw)
        .result_
    )
    ref = _reference("2sls", card, outcome, endog, instr, exog, lm_cov, ours_kw.get("clusters"))
    diag = ref.first_stage.diagnostics.loc["educ"]
    fs = res.first_stage[0]
    assert fs.partial_rsquared == pytest.approx(diag["partial.rsquared"], rel=1e-8)
    # linearmodels reports Wald / q when homoskedastic, the Wald chi2 otherwise
    ours_f = fs.f_stat if cov == "unadjusted" else fs.wald.statistic
    assert ours_f == pytest.approx(diag["f.stat"], rel=1e-8)
    assert res.overid["sargan"].statistic == pytest.approx(ref.sargan.stat, rel=1e-8)
    assert res.endogeneity["durbin"].statistic == pytest.approx(ref.durbin().stat, rel=1e-8)
    assert res.endogeneity["wu_hausman"].statistic == pytest.approx(ref.wu_hausman().stat, rel=1e-8)
    assert res.endogeneity["wu_hausman"].df == (1.0, float(ref.wu_hausman().df_denom))


@WEAK_OK
@pytest.mark.parametrize("cov", ["unadjusted", "robust", "cluster1", "kernel"])
def test_gmm_j_statistic_equals_linearmodels(card, cov):
    ours_kw, lm_cov = COVS[cov]
    outcome, endog, instr, exog = SPECS["card"]
    res = (
        IVGMM()
        .fit(card, outcome=outcome, endogenous=endog, instruments=instr, exog=exog, **ours_kw)
        .result_
    )
    ref = _reference("gmm", card, outcome, endog, instr, exog, lm_cov, ours_kw.get("clusters"))
    assert res.overid["hansen_j"].statistic == pytest.approx(ref.j_stat.stat, rel=1e-7)
    assert res.overid["hansen_j"].p_value == pytest.approx(ref.j_stat.pval, rel=1e-6)


@WEAK_OK
def test_debiased_robust_equals_linearmodels(card):
    iv = pytest.importorskip("linearmodels.iv")
    outcome, endog, instr, exog = SPECS["card"]
    res = (
        IV2SLS()
        .fit(card, outcome=outcome, endogenous=endog, instruments=instr, exog=exog, debiased=True)
        .result_
    )
    x = card[exog].assign(const=1.0)[["const", *exog]]
    ref = iv.IV2SLS(card[outcome], x, card[endog], card[instr]).fit(debiased=True)
    assert res.std_errors["educ"] == pytest.approx(ref.std_errors["educ"], rel=1e-8)


# -- diagnostics without a peer ------------------------------------------------------------


@WEAK_OK
def test_kleibergen_paap_is_cragg_donald_when_homoskedastic():
    frame = simulate_iv(strength=0.3)
    res = IV2SLS().fit(
        frame, outcome="y", endogenous=["d1", "d2"], instruments=["z1", "z2", "z3"],
        exog=["w1", "w2"], cov_type="unadjusted",
    ).result_  # fmt: skip
    # Cragg & Donald (1993): min eigenvalue of S^{-1/2} X~'P X~ S^{-1/2}, S = X~'M X~ / n
    w = np.column_stack([np.ones(len(frame)), frame[["w1", "w2"]]])

    def resid(a):
        return a - w @ np.linalg.lstsq(w, a, rcond=None)[0]

    x, z = resid(frame[["d1", "d2"]].to_numpy()), resid(frame[["z1", "z2", "z3"]].to_numpy())
    fit = z @ np.linalg.lstsq(z, x, rcond=None)[0]
    s = (x - fit).T @ (x - fit) / len(frame)
    root = np.linalg.inv(np.linalg.cholesky(s))
    cd = np.linalg.eigvalsh(root @ (fit.T @ fit) @ root.T).min()
    assert res.kleibergen_paap.statistic == pytest.approx(cd, rel=1e-8)
    assert res.kleibergen_paap.df == (2.0,)
    assert res.effective_f is None


@WEAK_OK
def test_one_endogenous_rk_and_effective_f_reduce_to_first_stage(card):
    outcome, endog, _, exog = SPECS["card"]
    res = (
        IV2SLS()
        .fit(card, outcome=outcome, endogenous=endog, instruments="nearc4", exog=exog)
        .result_
    )
    wald = res.first_stage[0].wald.statistic
    assert res.kleibergen_paap.statistic == pytest.approx(wald, rel=1e-10)
    assert res.effective_f is not None
    assert res.effective_f.statistic == pytest.approx(wald, rel=1e-10)  # one instrument
    # Montiel Olea & Pflueger (2013): with one instrument, tau = 10% gives 23.109
    assert res.effective_f.critical_values[0.1] == pytest.approx(23.1085, abs=1e-3)


def test_strong_instruments_do_not_warn_and_recover_truth():
    frame = simulate_iv(n=3000, seed=2, strength=1.0)
    res = IV2SLS().fit(
        frame, outcome="y", endogenous=["d1", "d2"], instruments=["z1", "z2", "z3"],
        exog=["w1", "w2"], cov_type="clustered", clusters="g1",
    ).result_  # fmt: skip
    for name, truth in (("d1", 0.5), ("d2", -0.3)):
        assert abs(res.params[name] - truth) < 3 * res.std_errors[name]
    assert res.n_clusters == (30,)
    assert "Kleibergen-Paap" in res.summary()
    frame_out = res.to_frame()
    assert list(frame_out.columns) == ["estimate", "std_error", "t", "p_value", "ci_lower",
                                       "ci_upper"]  # fmt: skip
    assert res.conf_int(0.9).loc["d1", "lower"] > res.conf_int(0.99).loc["d1", "lower"]


def test_weak_instruments_warn_with_the_remedy():
    frame = simulate_iv(seed=4, strength=0.03)
    with pytest.warns(WeakInstrumentWarning, match="rk Wald F"):
        IV2SLS().fit(frame, outcome="y", endogenous=["d1", "d2"], instruments=["z1", "z2", "z3"])
    with pytest.warns(WeakInstrumentWarning, match="anderson_rubin"):
        IV2SLS().fit(frame, outcome="y", endogenous="d1", instruments=["z1", "z2"])


# -- formula interface ---------------------------------------------------------------------


@WEAK_OK
def test_formula_equals_column_interface(card):
    by_formula = IVLIML.from_formula(
        "lwage ~ 1 + exper + expersq + black + [educ ~ nearc4 + nearc2]", card, fuller=1
    )
    by_columns = IVLIML(fuller=1).fit(
        card, outcome="lwage", endogenous="educ", instruments=["nearc4", "nearc2"],
        exog=["exper", "expersq", "black"],
    )  # fmt: skip
    pd.testing.assert_series_equal(by_formula.result_.params, by_columns.result_.params)
    no_const = IV2SLS.from_formula("lwage ~ 0 + exper + [educ ~ nearc4]", card)
    assert "Intercept" not in no_const.result_.params.index


@pytest.mark.parametrize(
    "formula",
    ["lwage ~ exper", "lwage ~ [educ ~ nearc4] + [exper ~ nearc2]", "~ [educ ~ nearc4]",
     "lwage ~ [educ nearc4]", "lwage ~ exper + [educ ~ ]"],
)  # fmt: skip
def test_bad_formulas_are_refused(card, formula):
    with pytest.raises(ParameterError):
        IV2SLS.from_formula(formula, card)


# -- LATE ----------------------------------------------------------------------------------


def _binary_iv(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.binomial(1, 0.5, size=n)
    kind = rng.choice(["complier", "always", "never"], p=[0.5, 0.2, 0.3], size=n)
    age = rng.normal(40, 5, size=n) + 5 * (kind == "complier")
    d = np.where(kind == "always", 1, np.where(kind == "never", 0, z))
    effect = np.where(kind == "complier", 2.0, 0.5)
    y = 1 + effect * d + 0.1 * age + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "z": z, "age": age}), age[kind == "complier"].mean()


def test_binary_instrument_and_treatment_give_the_late():
    frame, complier_age = _binary_iv()
    res = IV2SLS().fit(frame, outcome="y", endogenous="d", instruments="z").result_
    eff = res.effect()
    assert (eff.estimand, eff.method) == ("LATE", "2sls")
    # Wald estimator = difference of arm means ratio
    z = frame.z == 1
    wald = (frame.y[z].mean() - frame.y[~z].mean()) / (frame.d[z].mean() - frame.d[~z].mean())
    assert eff.estimate == pytest.approx(wald, rel=1e-10)
    assert abs(eff.estimate - 2.0) < 3 * eff.std_error  # the compliers' effect
    assert res.compliance is not None
    assert res.compliance.compliers == pytest.approx(0.5, abs=0.03)
    assert res.compliance.always_takers == pytest.approx(0.2, abs=0.03)
    assert res.compliance.never_takers == pytest.approx(0.3, abs=0.03)
    chars = complier_characteristics(frame, treatment="d", instrument="z", covariates="age")
    assert chars.loc["age", "compliers"] == pytest.approx(complier_age, abs=0.5)
    assert chars.loc["age", "compliers"] > chars.loc["age", "sample"]


# -- refusals ------------------------------------------------------------------------------


@pytest.fixture()
def small():
    return simulate_iv(n=200, seed=9)


def test_missing_column_names_it_with_close_matches(small, card):
    with pytest.raises(DataError, match=r"instruments column 'z4' is not in the data"):
        IV2SLS().fit(small, outcome="y", endogenous="d1", instruments="z4")
    with pytest.raises(DataError, match=r"'nearc5'.*Did you mean 'nearc4'"):
        IV2SLS().fit(card, outcome="lwage", endogenous="educ", instruments="nearc5")


def test_under_identification_is_refused(small):
    with pytest.raises(DataError, match="under-identified"):
        IV2SLS().fit(small, outcome="y", endogenous=["d1", "d2"], instruments="z1")


def test_collinear_and_constant_instruments_are_refused(small):
    with pytest.raises(DataError, match=r"collinear.*'z2b'"):
        IV2SLS().fit(
            small.assign(z2b=2 * small.z2), outcome="y", endogenous="d1",
            instruments=["z1", "z2", "z2b"],
        )  # fmt: skip
    with pytest.raises(DataError, match="'zc' is constant"):
        IV2SLS().fit(small.assign(zc=1.0), outcome="y", endogenous="d1", instruments="zc")
    with pytest.raises(DataError, match="'wc' is constant"):
        IV2SLS().fit(
            small.assign(wc=3.0), outcome="y", endogenous="d1", instruments="z1", exog="wc"
        )


def test_missing_values_refused_unless_dropna(small):
    small.loc[3, "z1"] = np.nan
    with pytest.raises(DataError, match="'z1' has 1 missing"):
        IV2SLS().fit(small, outcome="y", endogenous="d1", instruments="z1")
    with pytest.warns(DataWarning, match="dropped 1"):
        res = (
            IV2SLS().fit(small, outcome="y", endogenous="d1", instruments="z1", dropna=True).result_
        )
    assert res.n_obs == 199


def test_bad_covariance_settings_are_refused(small):
    kw = {"outcome": "y", "endogenous": "d1", "instruments": "z1"}
    with pytest.raises(DataError, match="single group"):
        IV2SLS().fit(small.assign(g=1), cov_type="clustered", clusters="g", **kw)
    with pytest.raises(ParameterError, match="cov_type="):
        IV2SLS().fit(small, cov_type="HC3", **kw)
    with pytest.raises(ParameterError, match="clusters="):
        IV2SLS().fit(small, cov_type="clustered", **kw)
    with pytest.raises(ParameterError, match="cov_type='clustered'"):
        IV2SLS().fit(small, clusters="g1", **kw)
    with pytest.raises(ParameterError, match="fuller"):
        IVLIML(fuller=-1).fit(small, **kw)
    with pytest.raises(ParameterError, match="effect"):
        IV2SLS().fit(small, **kw).result_.effect("w1")


def test_unfitted_estimator_raises():
    from paribus.errors import NotFittedError

    with pytest.raises(NotFittedError):
        _ = IV2SLS().result_
