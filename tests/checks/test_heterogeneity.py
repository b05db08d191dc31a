"""validate_heterogeneity (BLP, GATES, CLAN) and the calibration plot.

Simulation truths (an oracle proxy, a noise proxy, no heterogeneity, a T-learner
refitted over sample splits), a hand computation against statsmodels, the
reproducibility of the split path, refusals, and the plots.
"""

from __future__ import annotations

import itertools
import json

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression

import paribus
from paribus import AIPW, Logit
from paribus.checks import HeterogeneityReport, dr_pseudo_outcomes, validate_heterogeneity
from paribus.errors import DataError, ParameterError
from paribus.report import plot_calibration

matplotlib.use("Agg")

COVS = ["x1", "x2", "x3", "x4"]
#: fast, correctly specified nuisances for the linear designs below
FAST = {"outcome_model": LinearRegression(), "propensity_model": Logit(), "folds": 2}


def simulate(n: int, seed: int, slope: float = 1.5) -> tuple[pd.DataFrame, np.ndarray]:
    """Confounded data with ``tau(x) = 1 + slope * x1``; x1 also drives treatment and outcome."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    t = (rng.random(n) < expit(0.6 * x[:, 0] - 0.4 * x[:, 1])).astype(float)
    tau = 1.0 + slope * x[:, 0]
    y = 1.0 + x[:, 0] + 0.5 * x[:, 1] - 0.5 * x[:, 2] + 0.3 * x[:, 3] + t * tau
    frame = pd.DataFrame(x, columns=COVS).assign(t=t, y=y + rng.normal(size=n))
    return frame, tau


class TLearner(BaseEstimator):
    """A T-learner from two linear regressions, with the paribus CATE-model interface."""

    def fit(self, data, treatment, outcome, covariates):
        X, t, y = data[covariates].to_numpy(), data[treatment].to_numpy(), data[outcome].to_numpy()
        self.treated_ = LinearRegression().fit(X[t == 1], y[t == 1])
        self.control_ = LinearRegression().fit(X[t == 0], y[t == 0])
        return self

    def effect(self, X):
        X = np.asarray(X, dtype=float)
        return self.treated_.predict(X) - self.control_.predict(X)


class NoiseModel(BaseEstimator):
    """Predicts pure noise: no information about the effect."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, data, treatment, outcome, covariates):
        self.rng_ = np.random.default_rng(self.random_state)
        return self

    def effect(self, X):
        return self.rng_.normal(size=len(X))


class ConstantModel(TLearner):
    def effect(self, X):
        return np.full(len(X), 0.7)


class WideModel(TLearner):
    def effect(self, X):
        return np.zeros((len(X), 2))


def z_score(effect, truth=0.0):
    return (effect.estimate - truth) / effect.std_error


# -- (1) oracle proxy ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle():
    frame, tau = simulate(3000, seed=11)
    report = validate_heterogeneity(
        frame, treatment="t", outcome="y", covariates=COVS, predictions=tau, random_state=0, **FAST
    )
    return frame, tau, report


def test_oracle_proxy_is_calibrated_and_recovers_the_ate(oracle):
    _, tau, report = oracle
    beta1, beta2 = report.blp["beta1"], report.blp["beta2"]
    assert abs(z_score(beta2, 1.0)) < 3, beta2
    assert beta2.p_value < 1e-6
    assert abs(z_score(beta1, 1.0)) < 3, beta1  # E[tau] = 1 in the population
    assert abs(z_score(beta1, tau.mean())) < 3


def test_oracle_gates_increase_and_match_the_true_group_means(oracle):
    frame, tau, report = oracle
    k = report.n_groups
    gates = [report.gates[f"G{j}"] for j in range(1, k + 1)]
    assert all(b.estimate > a.estimate for a, b in itertools.pairwise(gates))
    edges = np.quantile(tau, np.arange(1, k) / k)
    groups = np.searchsorted(edges, tau, side="right")
    for j, g in enumerate(gates):
        assert abs(z_score(g, tau[groups == j].mean())) < 3, (j, g)
        assert g.n_obs == np.sum(groups == j)
        # the proxy is the truth, so the group's mean prediction is its true effect
        assert report.group_predictions[j] == pytest.approx(tau[groups == j].mean())
    spread = report.gates[f"G{k}-G1"]
    truth = tau[groups == k - 1].mean() - tau[groups == 0].mean()
    assert abs(z_score(spread, truth)) < 3 and spread.p_value < 1e-6
    # CLAN: the most affected have large x1 (tau increases in x1); x4 is unrelated
    assert report.clan["x1 | G5-G1"].estimate > 2 and report.clan["x1 | G5-G1"].p_value < 1e-6
    assert report.clan["x1 | G5"].estimate == pytest.approx(frame.x1[groups == 4].mean())
    assert abs(z_score(report.clan["x4 | G5-G1"])) < 3


def test_beta1_is_the_aipw_estimate_on_the_same_seed(oracle):
    frame, _, report = oracle
    aipw = AIPW(**FAST, random_state=0).fit(frame, "t", "y", COVS).result_
    assert report.blp["beta1"].estimate == pytest.approx(aipw.estimate, rel=1e-12)
    assert report.blp["beta1"].std_error == pytest.approx(aipw.std_error, rel=1e-12)


def test_report_renders_and_serialises(oracle):
    *_, report = oracle
    text = str(report)
    for needle in ("BLP", "GATES", "CLAN", "beta2", "G5-G1", "x1 | G5", "influence-function"):
        assert needle in text
    frame = report.to_frame()
    assert len(frame) == 2 + 6 + 3 * len(COVS)
    assert frame.loc[("BLP", "beta2"), "estimate"] == report.blp["beta2"].estimate
    assert "<table" in report._repr_html_()
    payload = json.loads(report.to_json())
    assert payload["gates"]["labels"][-1] == "G5-G1" and payload["splits"] is None
    assert report.blp["beta2"].scores is not None  # one sample: influence values travel
    with pytest.raises(AttributeError):
        report.level = 0.9  # type: ignore[misc]
    narrower = report.at_level(0.8)
    b = narrower.blp["beta2"]
    assert b.level == 0.8 and b.ci_upper - b.ci_lower < report.blp["beta2"].ci_upper - (
        report.blp["beta2"].ci_lower
    )


# -- (2) a proxy without information ----------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noise_proxy_shows_no_heterogeneity(seed):
    # under the null beta2 = 0; three fixed seeds, each |z| < 3 (a 0.3% tail per seed),
    # so the test fails only if the slope's centring or its error is wrong
    frame, _ = simulate(1500, seed=seed)
    noise = np.random.default_rng(100 + seed).normal(size=len(frame))
    report = validate_heterogeneity(
        frame,
        treatment="t",
        outcome="y",
        covariates=COVS,
        predictions=noise,
        random_state=seed,
        **FAST,
    )
    assert abs(z_score(report.blp["beta2"])) < 3


def test_noise_model_over_splits_is_not_significant():
    frame, _ = simulate(1500, seed=5)
    report = validate_heterogeneity(
        frame,
        NoiseModel(),
        treatment="t",
        outcome="y",
        covariates=COVS,
        splits=15,
        random_state=5,
        **FAST,
    )
    # the median rule doubles p-values: under the null it rejects at most at rate alpha
    assert report.blp["beta2"].p_value > 0.05
    assert report.gates["G5-G1"].p_value > 0.05
    assert report.blp["beta2"].ci_lower < 0 < report.blp["beta2"].ci_upper


# -- (3) no heterogeneity ---------------------------------------------------------------------


def test_gates_are_flat_without_heterogeneity():
    # tau = 1 for everyone; the proxy x1 moves the outcome level and the treatment, so
    # raw group differences of treated and control would differ: the DR scores must not
    frame, _ = simulate(3000, seed=21, slope=0.0)
    report = validate_heterogeneity(
        frame,
        treatment="t",
        outcome="y",
        covariates=COVS,
        predictions=frame.x1.to_numpy(),
        random_state=1,
        **FAST,
    )
    spread = report.gates["G5-G1"]
    assert abs(z_score(spread)) < 3 and spread.p_value > 0.01
    assert all(abs(z_score(g, 1.0)) < 3 for g in list(report.gates)[:5])


# -- (4) sample splitting with a CATE model -----------------------------------------------------


@pytest.fixture(scope="module")
def split_report():
    frame, tau = simulate(2000, seed=31)
    report = validate_heterogeneity(
        frame,
        TLearner(),
        treatment="t",
        outcome="y",
        covariates=COVS,
        splits=12,
        clan_covariates=["x1", "x4"],
        random_state=3,
        **FAST,
    )
    return frame, tau, report


def test_split_path_recovers_linear_heterogeneity(split_report):
    _, _, report = split_report
    assert report.splits == 12 and report.split_estimates.shape == (12, 2 + 6 + 6)
    beta2 = report.blp["beta2"]
    assert beta2.inference == "split-median"
    assert beta2.ci_lower < 1 < beta2.ci_upper and beta2.p_value < 1e-4
    assert abs(report.blp["beta1"].estimate - 1) < 3 * report.blp["beta1"].std_error
    gates = [report.gates[f"G{j}"].estimate for j in range(1, 6)]
    assert gates == sorted(gates)
    assert report.gates["G5-G1"].p_value < 1e-4
    assert report.clan["x1 | G5-G1"].estimate > 2 and report.clan["x1 | G5-G1"].p_value < 1e-4
    assert report.clan["x4 | G5-G1"].p_value > 0.01
    assert "2 x p-value" in str(report) and "TLearner" in str(report)


def test_split_aggregation_follows_the_median_rule(split_report):
    from scipy import stats

    _, _, report = split_report
    est, se = report.split_estimates, report.split_std_errors
    z = stats.norm.ppf(1 - 0.025 / 2)  # per-split level 1 - alpha with alpha = 0.025
    for j, effect in enumerate(report.to_frame().itertuples()):
        assert effect.estimate == pytest.approx(np.median(est[:, j]))
        assert effect.ci_lower == pytest.approx(np.median(est[:, j] - z * se[:, j]))
        assert effect.ci_upper == pytest.approx(np.median(est[:, j] + z * se[:, j]))
        p = 2 * stats.norm.sf(np.abs(est[:, j] / se[:, j]))
        assert effect.p_value == pytest.approx(min(1.0, 2 * np.median(p)))
    wider = report.at_level(0.99).blp["beta2"]
    assert wider.ci_lower < report.blp["beta2"].ci_lower and wider.estimate == (
        report.blp["beta2"].estimate
    )


def test_split_path_is_reproducible_serial_or_threaded():
    frame, _ = simulate(600, seed=41)
    kwargs = dict(treatment="t", outcome="y", covariates=COVS, splits=4, random_state=9, **FAST)
    serial = validate_heterogeneity(frame, TLearner(), **kwargs)
    with paribus.config(n_jobs=2, backend="threading"):
        threaded = validate_heterogeneity(frame, TLearner(), **kwargs)
    assert np.array_equal(serial.split_estimates, threaded.split_estimates)
    other = validate_heterogeneity(frame, TLearner(), **(kwargs | {"random_state": 10}))
    assert not np.array_equal(serial.split_estimates, other.split_estimates)


class BootstrappingTLearner(TLearner):
    """Like paribus's meta-learners: bootstrap refits at fit unless n_bootstrap=0."""

    def __init__(self, n_bootstrap=100):
        self.n_bootstrap = n_bootstrap

    def fit(self, data, treatment, outcome, covariates):
        assert self.n_bootstrap == 0, "the split loop must switch the model's bootstrap off"
        return super().fit(data, treatment, outcome, covariates)


def test_split_path_switches_off_the_models_own_bootstrap():
    frame, _ = simulate(400, seed=43)
    model = BootstrappingTLearner()
    validate_heterogeneity(
        frame, model, treatment="t", outcome="y", covariates=COVS, splits=2, **FAST
    )
    assert model.n_bootstrap == 100  # the user's model is cloned, never changed


def test_split_progress_bar_only_when_asked(capsys):
    frame, _ = simulate(400, seed=42)
    kwargs = dict(treatment="t", outcome="y", covariates=COVS, splits=3, random_state=0, **FAST)
    validate_heterogeneity(frame, TLearner(), show_progress=True, **kwargs)
    assert "heterogeneity splits" in capsys.readouterr().err
    validate_heterogeneity(frame, TLearner(), **kwargs)  # tests set PARIBUS_NO_PROGRESS
    assert capsys.readouterr().err == ""


# -- (5) by hand against statsmodels --------------------------------------------------------------


def test_blp_and_gates_match_statsmodels_by_hand():
    frame, tau = simulate(60, seed=51)
    s = tau + np.random.default_rng(0).normal(size=60)
    report = validate_heterogeneity(
        frame,
        treatment="t",
        outcome="y",
        covariates=COVS,
        predictions=s,
        n_groups=3,
        outcome_model=LinearRegression(),
        propensity=0.4,
        folds=1,
        clan_covariates=["x2"],
    )
    # the AIPW pseudo-outcome with full-sample linear fits and the known propensity
    X, t, y = frame[COVS].to_numpy(), frame.t.to_numpy(), frame.y.to_numpy()
    g1 = LinearRegression().fit(X[t == 1], y[t == 1]).predict(X)
    g0 = LinearRegression().fit(X[t == 0], y[t == 0]).predict(X)
    psi = g1 - g0 + t * (y - g1) / 0.4 - (1 - t) * (y - g0) / 0.6
    same = dr_pseudo_outcomes(
        frame,
        treatment="t",
        outcome="y",
        covariates=COVS,
        outcome_model=LinearRegression(),
        propensity=0.4,
        folds=1,
    )
    np.testing.assert_allclose(same, psi, rtol=1e-10)

    blp = sm.OLS(psi, np.column_stack([np.ones(60), s - s.mean()])).fit(cov_type="HC1")
    b1, b2 = report.blp["beta1"], report.blp["beta2"]
    assert b1.estimate == pytest.approx(blp.params[0], rel=1e-10)
    assert b2.estimate == pytest.approx(blp.params[1], rel=1e-10)
    assert b2.std_error == pytest.approx(blp.bse[1], rel=1e-10)
    # beta1's error is the AIPW one, sd(psi) / sqrt(n): it counts the centring of S
    assert b1.std_error == pytest.approx(psi.std() / np.sqrt(60), rel=1e-10)
    assert b1.std_error > blp.bse[0] * np.sqrt(58 / 60)

    groups = np.searchsorted(np.quantile(s, [1 / 3, 2 / 3]), s, side="right")
    dummies = np.eye(3)[groups]
    gates = sm.OLS(psi, dummies).fit(cov_type="HC1")
    for j in range(3):
        assert report.gates[f"G{j + 1}"].estimate == pytest.approx(gates.params[j], rel=1e-10)
        assert report.gates[f"G{j + 1}"].std_error == pytest.approx(gates.bse[j], rel=1e-10)
    diff = gates.t_test([-1, 0, 1])
    assert report.gates["G3-G1"].estimate == pytest.approx(float(diff.effect[0]), rel=1e-10)
    assert report.gates["G3-G1"].std_error == pytest.approx(float(diff.sd[0, 0]), rel=1e-10)
    clan = sm.OLS(frame.x2.to_numpy(), dummies).fit(cov_type="HC1")
    assert report.clan["x2 | G3"].estimate == pytest.approx(clan.params[2], rel=1e-10)
    assert report.clan["x2 | G1"].std_error == pytest.approx(clan.bse[0], rel=1e-10)
    assert report.diagnostics["propensity_model"] == "known"


# -- (6) refusals -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return simulate(200, seed=61)[0]


def run(small, *args, **kwargs):
    base = dict(treatment="t", outcome="y", covariates=COVS, **FAST)
    return validate_heterogeneity(small, *args, **(base | kwargs))


def test_refuses_both_or_neither_proxy(small):
    with pytest.raises(ParameterError, match=r"exactly one of cate_model= .* got neither"):
        run(small)
    with pytest.raises(ParameterError, match="got both"):
        run(small, TLearner(), predictions=np.arange(200.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_groups": 1}, r"n_groups=1 is invalid; expected an integer in \[2, inf\]"),
        ({"n_groups": 30}, r"n_groups=30 needs at least 10 units per group .* n_groups <= 20"),
        ({"splits": 0}, "splits=0 is invalid"),
        ({"level": 95}, "level=95 is invalid"),
        ({"propensity_model": Logit(), "propensity": 0.5}, "not both"),
    ],
)
def test_refuses_bad_settings(small, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        run(small, predictions=np.arange(200.0), **kwargs)


def test_refuses_bad_predictions(small):
    with pytest.raises(ParameterError, match=r"predictions has shape \(199,\); expected \(200,\)"):
        run(small, predictions=np.arange(199.0))
    bad = np.arange(200.0)
    bad[7] = np.nan
    with pytest.raises(DataError, match=r"1 non-finite values .* row 7"):
        run(small, predictions=bad)
    with pytest.raises(DataError, match=r"constant .* beta2 is not identified"):
        run(small, predictions=np.full(200, 2.0))
    with pytest.raises(DataError, match="3 distinct values, too few for 5 quantile groups"):
        run(small, predictions=np.repeat([0.0, 1.0, 2.0], [100, 60, 40]))


def test_refuses_bad_models_and_columns(small):
    with pytest.raises(ParameterError, match=r"cate_model=.* expected None or an object with"):
        run(small, LinearRegression())
    with pytest.raises(DataError, match="split 0 is constant"):
        run(small, ConstantModel(), splits=2)
    with pytest.raises(ParameterError, match=r"split 0 has shape \(\d+, 2\)"):
        run(small, WideModel(), splits=2)
    with pytest.raises(DataError, match="x9"):
        run(small, predictions=np.arange(200.0), clan_covariates=["x9"])
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        run(small, predictions=np.arange(200.0), propensity_model=None, propensity=1.0)


# -- (7) plots ----------------------------------------------------------------------------------


def test_plots_render(oracle):
    frame, tau, report = oracle
    ax = report.plot()
    assert len(ax.containers) == 1 and len(ax.get_lines()) >= 3
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"G{j}" for j in range(1, 6)]
    ax2 = report.plot_calibration()
    assert ax2.get_xlabel() == "mean predicted effect"
    psi = dr_pseudo_outcomes(
        frame, treatment="t", outcome="y", covariates=COVS, random_state=0, **FAST
    )
    _, ax3 = plt.subplots()
    assert plot_calibration(tau, psi, bins=8, ax=ax3) is ax3
    errorbar = ax3.containers[0]
    x = errorbar.lines[0].get_xdata()
    assert len(x) == 8 and np.all(np.diff(x) > 0)
    with pytest.raises(DataError, match="predicted has 3000 values but realized has 5"):
        plot_calibration(tau, psi[:5])
    with pytest.raises(ParameterError, match="bins=1 is invalid"):
        plot_calibration(tau, psi, bins=1)
    plt.close("all")


def test_report_type_is_exported():
    assert isinstance(validate_heterogeneity.__doc__, str)
    assert HeterogeneityReport.__name__ in paribus.checks.__all__


@pytest.mark.parametrize("learner", ["dr", "x"])
def test_paribus_meta_learners_are_cate_models(learner):
    frame, _ = simulate(1500, seed=41)
    model = (
        paribus.DRLearner(outcome_model=LinearRegression(), propensity_model=Logit())
        if learner == "dr"
        else paribus.XLearner(n_bootstrap=100)
    )
    report = validate_heterogeneity(
        frame, model, treatment="t", outcome="y", covariates=COVS, splits=4, random_state=0, **FAST
    )
    beta2 = report.blp["beta2"]
    assert beta2.p_value < 1e-3 and abs(beta2.estimate - 1) < 0.5
    assert model.get_params()["n_bootstrap"] == 100  # the user's model is not changed
