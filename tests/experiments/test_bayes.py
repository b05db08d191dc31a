"""Conjugate Bayesian A/B tests: posteriors by hand, closed forms against Monte Carlo and
numerical integration, refusals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.experiments.bayes import (
    ArmPosterior,
    BayesianABTest,
    BetaPrior,
    NormalInverseGammaPrior,
    expected_loss,
    prob_beat,
    prob_best,
)


def _binary_frame(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Rows with ``s`` ones and ``n - s`` zeros per arm."""
    parts = [
        pd.DataFrame({"arm": arm, "y": np.r_[np.ones(s), np.zeros(n - s)]})
        for arm, (s, n) in counts.items()
    ]
    return pd.concat(parts, ignore_index=True)


def _beta(a: float, b: float, arm: str = "x") -> ArmPosterior:
    return ArmPosterior(arm, 0, math.nan, "beta", (a, b))


def test_beta_posterior_parameters_by_hand() -> None:
    df = _binary_frame({"A": (30, 200), "B": (45, 210)})
    res = BayesianABTest(prior=BetaPrior(2, 3), random_state=0).fit(
        df, variant="arm", metric_column="y"
    )
    r = res.result_
    assert r.control == "A"
    assert r.posterior("A").params == (32.0, 173.0)
    assert r.posterior("B").params == (47.0, 168.0)
    lift = r.lift["B"]
    assert lift.inference == "posterior"
    assert lift.estimate == pytest.approx(47 / 215 - 32 / 205, abs=1e-12)
    var = stats.beta(47, 168).var() + stats.beta(32, 173).var()
    assert lift.std_error == pytest.approx(math.sqrt(var), rel=1e-12)


def test_nig_posterior_by_hand_and_reference_prior_gives_t_interval() -> None:
    rng = np.random.default_rng(1)
    ya, yb = rng.normal(10, 2, 40), rng.normal(10.5, 3, 50)
    df = pd.DataFrame({"g": ["a"] * 40 + ["b"] * 50, "y": np.r_[ya, yb]})
    prior = NormalInverseGammaPrior(mu=9.0, kappa=2.0, alpha=3.0, beta=4.0)
    r = BayesianABTest(metric="normal", prior=prior, random_state=0, level=0.9).fit(
        df, variant="g", metric_column="y"
    )
    n, ybar, ss = 40, ya.mean(), ((ya - ya.mean()) ** 2).sum()
    kn, an = 2.0 + n, 3.0 + n / 2
    mun = (2.0 * 9.0 + n * ybar) / kn
    bn = 4.0 + ss / 2 + 2.0 * n * (ybar - 9.0) ** 2 / (2 * kn)
    df_, loc, scale = r.result_.posterior("a").params
    assert df_ == pytest.approx(2 * an, rel=1e-12)
    assert loc == pytest.approx(mun, rel=1e-12)
    assert scale == pytest.approx(math.sqrt(bn / (an * kn)), rel=1e-12)
    # reference prior: one arm's credible interval is the classical t interval
    ref = BayesianABTest(metric="normal", random_state=0).fit(df, variant="g", metric_column="y")
    lo, hi = ref.result_.posterior("b").interval(0.95)
    t_lo, t_hi = stats.t.interval(0.95, 49, loc=yb.mean(), scale=stats.sem(yb))
    assert (lo, hi) == pytest.approx((t_lo, t_hi), rel=1e-10)


@pytest.mark.parametrize(
    ("ak", "bk", "ac", "bc"),
    [(47, 168, 32, 173), (5, 3, 4, 9), (300, 9700, 270, 9730), (1, 1, 1, 1)],
)
def test_miller_closed_form_matches_quadrature(ak: int, bk: int, ac: int, bc: int) -> None:
    closed = prob_beat(_beta(ak, bk), _beta(ac, bc))
    quad = integrate.quad(
        lambda x: stats.beta(ak, bk).pdf(x) * stats.beta(ac, bc).cdf(x), 0, 1, epsabs=1e-13
    )[0]
    assert closed == pytest.approx(quad, abs=1e-9)
    # non-integer parameters take the quadrature path and agree with it too
    shifted = prob_beat(_beta(ak + 0.5, bk), _beta(ac + 0.5, bc))
    quad2 = integrate.quad(
        lambda x: stats.beta(ak + 0.5, bk).pdf(x) * stats.beta(ac + 0.5, bc).cdf(x),
        0,
        1,
        epsabs=1e-13,
    )[0]
    assert shifted == pytest.approx(quad2, abs=1e-9)


def test_miller_closed_form_matches_monte_carlo_1e6() -> None:
    rng = np.random.default_rng(2024)
    closed = prob_beat(_beta(47, 168), _beta(32, 173))
    n = 1_000_000
    hits = rng.beta(47, 168, n) > rng.beta(32, 173, n)
    mc, se = hits.mean(), math.sqrt(closed * (1 - closed) / n)
    assert abs(mc - closed) < 3 * se


def test_expected_loss_matches_double_integral() -> None:
    b, a = _beta(47, 168, "B"), _beta(32, 173, "A")
    loss_b, loss_a = expected_loss([b, a])

    def truth(fk: object, fc: object) -> float:
        # E[max(theta_c - theta_k, 0)] as a plain double integral over the unit square
        val, _ = integrate.dblquad(
            lambda yk, yc: (yc - yk) * fk.pdf(yk) * fc.pdf(yc),  # type: ignore[attr-defined]
            0,
            1,
            0,
            lambda yc: yc,
            epsabs=1e-12,
        )
        return val

    fb, fa = stats.beta(47, 168), stats.beta(32, 173)
    assert loss_b == pytest.approx(truth(fb, fa), abs=1e-8)
    assert loss_a == pytest.approx(truth(fa, fb), abs=1e-8)
    # E[max] - E[theta_k] identity: loss_a - loss_b = E[theta_b] - E[theta_a]
    assert loss_a - loss_b == pytest.approx(fb.mean() - fa.mean(), abs=1e-9)


def test_three_arms_prob_best_and_loss_match_monte_carlo() -> None:
    posts = [_beta(40, 160, "A"), _beta(48, 152, "B"), _beta(45, 155, "C")]
    best, loss = prob_best(posts), expected_loss(posts)
    assert sum(best) == pytest.approx(1.0, abs=1e-8)
    rng = np.random.default_rng(7)
    n = 1_000_000
    draws = np.column_stack([rng.beta(*p.params, n) for p in posts])
    winner = draws.argmax(axis=1)
    for k in range(3):
        p = (winner == k).mean()
        assert abs(p - best[k]) < 3 * math.sqrt(best[k] * (1 - best[k]) / n)
        regret = draws.max(axis=1) - draws[:, k]
        assert abs(regret.mean() - loss[k]) < 3 * regret.std() / math.sqrt(n)


def test_normal_metric_decisions_match_monte_carlo() -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {"g": np.repeat(["c", "t1", "t2"], [30, 25, 35]), "y": rng.normal(0, 1, 90) + 5}
    )
    df.loc[df.g == "t1", "y"] += 0.3
    fit = BayesianABTest(metric="normal", random_state=0).fit(df, variant="g", metric_column="y")
    r = fit.result_
    n = 400_000
    draws = {p.arm: p.dist().rvs(size=n, random_state=rng) for p in r.posteriors}
    p_t1 = (draws["t1"] > draws["c"]).mean()
    assert abs(p_t1 - r.prob_beat_control["t1"]) < 3 * math.sqrt(p_t1 * (1 - p_t1) / n)
    stack = np.column_stack([draws[a] for a in ("c", "t1", "t2")])
    regret = stack.max(axis=1) - stack[:, 1]
    assert abs(regret.mean() - r.expected_loss["t1"]) < 3 * regret.std() / math.sqrt(n)
    # the lift interval (seeded Monte Carlo, n_draws) against the exact quantiles of the
    # difference of two Student-t posteriors, within 3 Monte Carlo standard errors of a
    # quantile: sqrt(q (1 - q) / n_draws) / density(quantile)
    fk, fc = r.posterior("t1").dist(), r.posterior("c").dist()

    def cdf(d: float) -> float:
        return integrate.quad(lambda x: fc.pdf(x) * fk.cdf(x + d), -np.inf, np.inf)[0]

    def pdf(d: float) -> float:
        return integrate.quad(lambda x: fc.pdf(x) * fk.pdf(x + d), -np.inf, np.inf)[0]

    eff = r.lift["t1"]
    for q, got in ((0.025, eff.ci_lower), (0.975, eff.ci_upper)):
        exact = optimize.brentq(lambda d, q=q: cdf(d) - q, -5, 5, xtol=1e-12)
        mc_se = math.sqrt(q * (1 - q) / fit.n_draws) / pdf(exact)
        assert abs(got - exact) < 3 * mc_se


def test_summary_table_and_reproducibility() -> None:
    df = _binary_frame({"ctrl": (100, 1000), "v1": (120, 1000), "v2": (90, 1000)})
    fit = BayesianABTest(random_state=5, n_draws=20_000).fit(
        df, variant="arm", metric_column="y", control="ctrl"
    )
    s = fit.summary()
    assert list(s.index) == ["ctrl", "v1", "v2"]
    assert s.loc["ctrl", "n"] == 1000
    assert s.loc["v1", "observed"] == pytest.approx(0.12)
    assert math.isnan(s.loc["ctrl", "prob_beat_control"])
    assert s["prob_best"].sum() == pytest.approx(1.0, abs=1e-8)
    assert s.loc["v1", "relative_lift_lower"] < s.loc["v1", "relative_lift"]
    assert s.loc["v1", "relative_lift"] == pytest.approx(0.2, abs=0.03)
    again = BayesianABTest(random_state=5, n_draws=20_000).fit(
        df, variant="arm", metric_column="y", control="ctrl"
    )
    assert again.result_.lift == fit.result_.lift


def test_simulated_lift_within_three_posterior_sd() -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    df = pd.DataFrame(
        {"arm": np.repeat(["A", "B"], n), "y": np.r_[rng.random(n) < 0.10, rng.random(n) < 0.11]}
    )
    eff = BayesianABTest(random_state=0).fit(df, variant="arm", metric_column="y").result_.lift
    assert abs(eff["B"].estimate - 0.01) < 3 * eff["B"].std_error


def test_refusals() -> None:
    df = _binary_frame({"A": (3, 10), "B": (4, 10)})
    with pytest.raises(DataError, match="metric_column='nope' is not a column"):
        BayesianABTest().fit(df, variant="arm", metric_column="nope")
    bad = df.assign(y=df.y * 2)
    with pytest.raises(DataError, match="needs 0/1 values"):
        BayesianABTest().fit(bad, variant="arm", metric_column="y")
    with pytest.raises(DataError, match="need at least 2"):
        BayesianABTest().fit(df[df.arm == "A"], variant="arm", metric_column="y")
    with pytest.raises(ParameterError, match="control='Z' is not an arm"):
        BayesianABTest().fit(df, variant="arm", metric_column="y", control="Z")
    with pytest.raises(ParameterError, match="needs prior=NormalInverseGammaPrior"):
        BayesianABTest(metric="normal", prior=BetaPrior()).fit(df, variant="arm", metric_column="y")
    with pytest.raises(ParameterError, match="setting metric='count' is invalid"):
        BayesianABTest(metric="count").fit(df, variant="arm", metric_column="y")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="BetaPrior needs a > 0"):
        BetaPrior(0, 1)
    with pytest.raises(ParameterError, match="kappa >= 0"):
        NormalInverseGammaPrior(kappa=-1)
    with pytest.raises(DataError, match="posterior is improper"):
        one = pd.DataFrame({"arm": ["A", "B", "B"], "y": [1.0, 2.0, 3.0]})
        BayesianABTest(metric="normal").fit(one, variant="arm", metric_column="y")
    with pytest.raises(DataError, match="missing, infinite or non-numeric"):
        BayesianABTest().fit(df.assign(y=np.nan), variant="arm", metric_column="y")
    with pytest.raises(NotFittedError, match="call fit"):
        BayesianABTest().summary()


def test_translation_invariance_of_normal_metric() -> None:
    """Reference prior: shifting every outcome by c shifts the posteriors, not the lift."""
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"g": np.repeat(["a", "b"], 40), "y": rng.normal(0, 1, 80)})
    base = BayesianABTest(metric="normal", random_state=1).fit(df, variant="g", metric_column="y")
    moved = BayesianABTest(metric="normal", random_state=1).fit(
        df.assign(y=df.y + 100.0), variant="g", metric_column="y"
    )
    b, m = base.result_, moved.result_
    assert m.posterior("a").mean == pytest.approx(b.posterior("a").mean + 100.0, abs=1e-9)
    assert m.lift["b"].estimate == pytest.approx(b.lift["b"].estimate, abs=1e-9)
    assert m.lift["b"].ci_lower == pytest.approx(b.lift["b"].ci_lower, abs=1e-9)
    assert m.prob_beat_control["b"] == pytest.approx(b.prob_beat_control["b"], abs=1e-8)
    assert m.expected_loss["a"] == pytest.approx(b.expected_loss["a"], abs=1e-8)
    # permuting rows changes nothing
    shuffled = df.sample(frac=1.0, random_state=0)
    again = BayesianABTest(metric="normal", random_state=1).fit(
        shuffled, variant="g", metric_column="y"
    )
    assert again.result_.posterior("b").params == pytest.approx(b.posterior("b").params)


@pytest.mark.slow
def test_lift_interval_frequentist_coverage() -> None:
    """1000 simulated experiments: the 95% credible interval of the lift covers the truth
    about 95% of the time under a uniform prior (large samples: Bernstein-von Mises)."""
    rng = np.random.default_rng(99)
    reps, n, pa, pb = 1000, 2000, 0.10, 0.12
    covered = 0
    for _ in range(reps):
        df = _binary_frame({"A": (int(rng.binomial(n, pa)), n), "B": (int(rng.binomial(n, pb)), n)})
        eff = (
            BayesianABTest(n_draws=5000, random_state=0)
            .fit(df, variant="arm", metric_column="y")
            .result_.lift["B"]
        )
        covered += eff.ci_lower <= pb - pa <= eff.ci_upper
    coverage = covered / reps
    print(f"coverage of the 95% lift interval: {coverage:.3f} over {reps} experiments")
    assert abs(coverage - 0.95) < 3 * math.sqrt(0.95 * 0.05 / reps)
