"""Sequential tests: published boundaries, MVN and Monte Carlo checks, peeking simulations."""

from __future__ import annotations

import math
import re

import matplotlib
import numpy as np
import pytest
from scipy import stats

from paribus.errors import DataError, ParameterError
from paribus.experiments.sequential import (
    ConfidenceSequence,
    GroupSequentialDesign,
    SequentialTest,
    confidence_sequence,
    obrien_fleming_spending,
    optimal_tau2,
    pocock_spending,
)
from paribus.results import Effect

matplotlib.use("Agg")

# -------------------------------------------------------------------------------------
# group-sequential designs: published tables

# Jennison & Turnbull (2000), Group Sequential Methods, Tables 2.1 and 2.3: constants
# C_P(K, 0.05) of Pocock's test and C_B(K, 0.05) of O'Brien & Fleming's, two-sided, three
# decimals (hence the 5e-4 tolerance)
POCOCK_C = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413}
OBF_C = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_classic_pocock_constant(k):
    d = GroupSequentialDesign(k, spending="classic-pocock")
    np.testing.assert_allclose(d.boundaries, POCOCK_C[k], atol=5e-4)
    assert d.spent_alpha[-1] == pytest.approx(0.05, abs=1e-10)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_classic_obrien_fleming(k):
    d = GroupSequentialDesign(k, spending="classic-obrien-fleming")
    t = np.arange(1, k + 1) / k
    np.testing.assert_allclose(d.boundaries, OBF_C[k] / np.sqrt(t), atol=5e-4 * math.sqrt(k))


def test_classic_obrien_fleming_k5_boundaries():
    d = GroupSequentialDesign(5, spending="classic-obrien-fleming")
    np.testing.assert_allclose(d.boundaries, [4.562, 3.226, 2.634, 2.281, 2.040], atol=5e-4)


def test_lan_demets_boundaries_k5():
    # Lan-DeMets spending, 5 equal looks, two-sided 0.05 (alpha/2 per side): the values of
    # Reboussin et al. (2000, ldbounds) and gsDesign/rpact to three decimals
    obf = GroupSequentialDesign(5, spending="obrien-fleming")
    np.testing.assert_allclose(obf.boundaries, [4.877, 3.357, 2.680, 2.290, 2.031], atol=5e-4)
    poc = GroupSequentialDesign(5, spending="pocock")
    np.testing.assert_allclose(poc.boundaries, [2.438, 2.427, 2.410, 2.397, 2.386], atol=5e-4)
    np.testing.assert_allclose(
        obf.spent_alpha, 2 * obrien_fleming_spending(obf.information_fractions, 0.025), rtol=1e-12
    )


def _mvn_cross(t, c, two_sided):
    """P(some |Z_k| >= c_k, k <= K) by multivariate normal integration (Genz)."""
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    c = np.minimum(c, 12.0)
    mvn = stats.multivariate_normal(
        mean=np.zeros(t.size), cov=corr, seed=0, abseps=1e-6, releps=1e-6, maxpts=200_000
    )
    lower = -c if two_sided else np.full(t.size, -np.inf)
    return 1 - mvn.cdf(c, lower_limit=lower)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock", "classic-pocock"])
@pytest.mark.parametrize("looks", [4, [0.15, 0.4, 0.7, 1.0]])
def test_spent_alpha_matches_multivariate_normal(spending, looks):
    d = GroupSequentialDesign(looks, spending=spending)
    t = d.information_fractions
    # Genz's integration is good to about 5e-7 here; our recursion agrees to that
    for k in (2, t.size):
        got = _mvn_cross(t[:k], d.boundaries[:k], True)
        assert got == pytest.approx(d.spent_alpha[k - 1], abs=2e-6)


def test_one_sided_design_matches_multivariate_normal():
    d = GroupSequentialDesign([0.3, 0.6, 1.0], alpha=0.025, alternative="greater")
    assert _mvn_cross(d.information_fractions, d.boundaries, False) == pytest.approx(
        0.025, abs=2e-6
    )
    # the two-sided 0.05 design is two one-sided 0.025 designs (crossing both: ~1e-9)
    two = GroupSequentialDesign([0.3, 0.6, 1.0], alpha=0.05)
    np.testing.assert_allclose(d.boundaries, two.boundaries, atol=1e-6)


def _brownian_z(t, reps, drift, rng):
    inc = rng.standard_normal((reps, t.size)) * np.sqrt(np.diff(np.concatenate([[0], t])))
    s = np.cumsum(inc, axis=1) + drift * t
    return s / np.sqrt(t)


def test_boundaries_by_monte_carlo():
    rng = np.random.default_rng(2024)
    d = GroupSequentialDesign(5, spending="pocock", beta=0.2)
    reps = 400_000
    z = _brownian_z(d.information_fractions, reps, 0.0, rng)
    cross = np.abs(z) >= d.boundaries
    first = np.where(cross.any(axis=1), cross.argmax(axis=1), -1)
    inc = np.diff(np.concatenate([[0.0], d.spent_alpha]))
    for k in range(5):
        rate = np.mean(first == k)
        assert abs(rate - inc[k]) < 4 * math.sqrt(inc[k] / reps)
    # power at the drift that the inflation factor promises
    eta = math.sqrt(d.inflation_factor) * (stats.norm.isf(0.025) + stats.norm.isf(0.2))
    z1 = _brownian_z(d.information_fractions, reps, eta, rng)
    rate = np.mean((np.abs(z1) >= d.boundaries).any(axis=1))
    assert abs(rate - 0.8) < 4 * math.sqrt(0.16 / reps)
    assert d.power(eta) == pytest.approx(0.8, abs=1e-8)


@pytest.mark.parametrize(
    ("spending", "k", "published"),
    # Jennison & Turnbull (2000) Tables 2.1 and 2.3: R_P(K, 0.05, 0.2) and R_B(5, 0.05, 0.2)
    [("classic-pocock", 2, 1.110), ("classic-pocock", 3, 1.166), ("classic-pocock", 4, 1.202),
     ("classic-obrien-fleming", 5, 1.028)],
)  # fmt: skip
def test_inflation_factor_published(spending, k, published):
    d = GroupSequentialDesign(k, spending=spending, beta=0.2)
    assert d.inflation_factor == pytest.approx(published, abs=5e-4)
    n = d.sample_sizes(1000)
    assert n[-1] == math.ceil(d.inflation_factor * 1000)


def test_custom_spending_and_table():
    def quadratic(t, a):
        return a * t**2

    d = GroupSequentialDesign(3, spending=quadratic)
    np.testing.assert_allclose(d.spent_alpha, 0.05 * (np.arange(1, 4) / 3) ** 2, rtol=1e-12)
    same = GroupSequentialDesign(3, spending=pocock_spending)
    np.testing.assert_allclose(
        same.boundaries, GroupSequentialDesign(3, spending="pocock").boundaries, rtol=1e-12
    )
    frame = d.to_frame()
    assert list(frame.columns) == [
        "look", "information_fraction", "boundary", "nominal_p", "spent_alpha",
        "alpha_increment",
    ]  # fmt: skip
    assert frame["alpha_increment"].sum() == pytest.approx(0.05, abs=1e-12)
    assert "boundaries [" in repr(d)


def test_design_decisions():
    d = GroupSequentialDesign(5)
    res = d.test([1.0, 2.0, 2.6])
    assert res.decision == "continue" and res.stopped_at is None
    res = d.test([1.0, 2.0, -2.7])
    assert res.decision == "reject" and res.stopped_at == 3
    assert d.test([0.0] * 5).decision == "do not reject"
    assert d.test([0, 0, 0, 0, 2.1]).stopped_at == 5
    less = GroupSequentialDesign(5, alpha=0.025, alternative="less")
    assert less.test([-5.0]).stopped_at == 1 and less.test([5.0]).decision == "continue"
    assert list(res.table["crossed"]) == [False, False, True]


def test_plot_returns_axes():
    d = GroupSequentialDesign(4)
    ax = d.plot(z_statistics=[0.5, 1.5])
    assert ax.get_xlabel() == "information fraction"
    assert len(ax.lines) >= 3
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0,), {}, "looks=0 is invalid"),
        (([0.5, 0.4, 1.0],), {}, "increasing information"),
        (([0.5, 0.9],), {}, "ending at 1"),
        ((3,), {"spending": "obrian"}, "spending='obrian' is invalid"),
        ((3,), {"spending": lambda t, a: t}, "reaching alpha=0.025"),
        ((3,), {"alpha": 1.0}, "alpha=1.0 is invalid"),
        ((3,), {"beta": 0.99}, "beta=0.99 is invalid"),
        ((3,), {"alternative": "larger"}, "alternative='larger' is invalid"),
    ],
)
def test_design_refusals(args, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        GroupSequentialDesign(*args, **kwargs)


def test_design_use_refusals():
    d = GroupSequentialDesign(3)
    with pytest.raises(DataError, match="1 to 3 finite values"):
        d.test([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(DataError, match="NaN"):
        d.test([float("nan")])
    with pytest.raises(ParameterError, match="sample_sizes needs beta"):
        d.sample_sizes(100)


# -------------------------------------------------------------------------------------
# always-valid inference


def _slow_msprt(yt, yc, tau2, alpha, null=0.0):
    """JKPW in their own notation: equal arms, n pairs, V = sigma_t^2 + sigma_c^2."""
    p_run, lo_run, hi_run, out = 1.0, -np.inf, np.inf, []
    for n in range(2, yt.size + 1):
        v = yt[:n].var(ddof=1) + yc[:n].var(ddof=1)
        diff = yt[:n].mean() - yc[:n].mean()
        lam = math.sqrt(v / (v + n * tau2)) * math.exp(
            n**2 * tau2 * (diff - null) ** 2 / (2 * v * (v + n * tau2))
        )
        half = math.sqrt(
            (2 * math.log(1 / alpha) + math.log((v + n * tau2) / v)) * v * (v + n * tau2)
            / (n**2 * tau2)
        )  # fmt: skip
        p_run = min(p_run, 1 / lam)
        lo_run, hi_run = max(lo_run, diff - half), min(hi_run, diff + half)
        out.append((p_run, lo_run, hi_run))
    return np.array(out)


def _data(n=300, effect=0.2, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(effect, 1.0, n), rng.normal(0.0, 1.3, n)


def test_msprt_equals_slow_reference():
    yt, yc = _data()
    cs = confidence_sequence(yt, yc, tau2=0.05)
    ref = _slow_msprt(yt, yc, 0.05, 0.05)
    got = cs.frame[["p_value", "lower", "upper"]].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_asymptotic_equals_waudby_smith_formula():
    # their Gaussian-mixture AsympCS on the paired differences: t pairs, sigma^2 estimated
    # by var_t + var_c, mixing rho_pair^2 = 2 rho2 (rho2 is per unit, a pair has 2 units)
    yt, yc = _data(seed=5)
    rho2, alpha = 0.004, 0.1
    cs = confidence_sequence(yt, yc, method="asymptotic", rho2=rho2, alpha=alpha)
    n = np.arange(2, yt.size + 1)
    sig2 = np.array([yt[:k].var(ddof=1) + yc[:k].var(ddof=1) for k in n])
    r2 = 2 * rho2
    half = np.sqrt(sig2 * (n * r2 + 1) / (n**2 * r2) * 2 * np.log(np.sqrt(n * r2 + 1) / alpha))
    diff = np.array([yt[:k].mean() - yc[:k].mean() for k in n])
    np.testing.assert_allclose(cs.frame["lower"], np.maximum.accumulate(diff - half), rtol=1e-10)
    np.testing.assert_allclose(cs.frame["upper"], np.minimum.accumulate(diff + half), rtol=1e-10)
    assert cs.method == "asymptotic"
    default = confidence_sequence(yt, yc, method="asymptotic")
    assert default.mixing == pytest.approx(optimal_tau2(1.0) / (2 * yt.size), rel=1e-12)


@pytest.mark.parametrize("method", ["msprt", "asymptotic"])
def test_p_value_inverts_confidence_sequence(method):
    yt, yc = _data(n=400, effect=0.4)
    kw = {"tau2": 0.03} if method == "msprt" else {"rho2": 0.01}
    cs = confidence_sequence(yt, yc, method=method, **kw)
    lo, hi = cs.frame["lower"].iloc[-1], cs.frame["upper"].iloc[-1]
    for edge, inside in [
        (hi - 1e-7, True),
        (hi + 1e-7, False),
        (lo + 1e-7, True),
        (lo - 1e-7, False),
    ]:
        p = confidence_sequence(yt, yc, method=method, null=edge, **kw).frame["p_value"].iloc[-1]
        assert (p > cs.alpha) == inside
    assert cs.rejected and cs.first_rejection is not None
    assert cs.frame["p_value"].iloc[cs.first_rejection] <= 0.05


@pytest.mark.parametrize("method", ["msprt", "asymptotic"])
def test_streaming_equals_batch(method):
    yt, yc = _data(n=500)
    kw = {"tau2": 0.02} if method == "msprt" else {"rho2": 0.005}
    seq = SequentialTest(method=method, **kw)
    for i in range(0, 500, 50):
        seq.update(yt[i : i + 50], yc[i : i + 50])
    batch = confidence_sequence(yt, yc, method=method, looks=np.arange(50, 501, 50), **kw)
    np.testing.assert_allclose(seq.history.to_numpy(), batch.frame.to_numpy(), rtol=1e-10)
    assert seq.decision == ("reject" if batch.rejected else "continue")
    assert seq.p_value == pytest.approx(batch.frame["p_value"].iloc[-1], rel=1e-10)


def test_unequal_arms_and_look_pairs():
    yt, yc = _data(n=600)
    cs = confidence_sequence(yt[:300], yc)
    assert (cs.frame["n_control"] == 2 * cs.frame["n_treated"]).iloc[-1]
    pairs = np.array([[10, 20], [50, 100], [300, 600]])
    sub = confidence_sequence(yt[:300], yc, looks=pairs, tau2=cs.mixing)
    m_t, m_c = 50, 100
    s2 = yt[:m_t].var(ddof=1) / m_t + yc[:m_c].var(ddof=1) / m_c
    assert sub.frame["std_error"].iloc[1] == pytest.approx(math.sqrt(s2), rel=1e-12)


def test_invariances():
    yt, yc = _data()
    base = confidence_sequence(yt, yc, tau2=0.05)
    shifted = confidence_sequence(yt + 7.0, yc + 7.0, tau2=0.05)
    np.testing.assert_allclose(shifted.frame.to_numpy(), base.frame.to_numpy(), rtol=1e-9)
    scaled = confidence_sequence(3 * yt, 3 * yc, tau2=0.45)
    np.testing.assert_allclose(scaled.frame["upper"], 3 * base.frame["upper"], rtol=1e-10)
    np.testing.assert_allclose(scaled.frame["p_value"], base.frame["p_value"], rtol=1e-10)


def test_optimal_tau2_minimises_width():
    se, alpha = 0.1, 0.05
    tau2 = optimal_tau2(se, alpha)
    x = tau2 / se**2
    assert x == pytest.approx(2 * math.log(20) + math.log1p(x), rel=1e-12)

    def width(t2):
        s2 = se**2
        return s2 * (s2 + t2) / t2 * (2 * math.log(1 / alpha) + math.log1p(t2 / s2))

    assert width(tau2) < min(width(tau2 * 0.95), width(tau2 * 1.05))


def test_effect_and_repr():
    yt, yc = _data()
    cs = confidence_sequence(yt, yc)
    e = cs.effect()
    assert isinstance(e, Effect) and isinstance(cs, ConfidenceSequence)
    assert e.inference == "always-valid" and e.level == 0.95
    assert e.ci_lower == cs.frame["lower"].iloc[-1] and e.n_obs == 600
    assert "msprt" in repr(cs) and "looks" in repr(SequentialTest(tau2=1.0))


def test_always_valid_refusals():
    yt, yc = _data(n=20)
    cases = [
        ({"alpha": 0.0}, ParameterError, r"alpha=0\.0 is invalid"),
        ({"tau2": -1.0}, ParameterError, r"tau2=-1\.0 is invalid"),
        ({"rho2": 0.1}, ParameterError, r"rho2=0\.1 does not apply to method='msprt'"),
        ({"method": "bayes"}, ParameterError, "method='bayes' is invalid"),
        ({"looks": [5, 3]}, ParameterError, "looks must be increasing"),
        ({"looks": [1, 3]}, ParameterError, "at least 2 units"),
        ({"looks": [5, 30]}, ParameterError, "at most the data's length"),
        ({"looks": [2.5]}, ParameterError, "expected integers"),
        ({"sd": -1.0}, ParameterError, r"sd=-1\.0 is invalid"),
    ]
    for kwargs, err, match in cases:
        with pytest.raises(err, match=match):
            confidence_sequence(yt, yc, **kwargs)
    with pytest.raises(DataError, match="y_control has missing"):
        confidence_sequence(yt, np.append(yc, np.nan))
    with pytest.raises(DataError, match="at least 2 units"):
        confidence_sequence(yt[:1], yc)
    with pytest.raises(ParameterError, match=re.escape("method='asymptotic' needs rho2")):
        SequentialTest(method="asymptotic")
    with pytest.raises(ParameterError, match="method='msprt' needs tau2"):
        SequentialTest()


# -------------------------------------------------------------------------------------
# peeking studies: A/A experiments looked at after every batch


def _peeking(reps, n_looks, batch, seed, outcome="normal"):
    """Type-I error of each procedure under continuous monitoring of A/A experiments."""
    rng = np.random.default_rng(seed)
    n = n_looks * batch
    if outcome == "normal":
        yt, yc = rng.normal(size=(reps, n)), rng.normal(size=(reps, n))
    else:
        yt, yc = rng.binomial(1, 0.1, (reps, n)) * 1.0, rng.binomial(1, 0.1, (reps, n)) * 1.0
    looks = np.arange(batch, n + 1, batch)
    sd_plan = 1.0 if outcome == "normal" else math.sqrt(0.09)
    tau2 = optimal_tau2(sd_plan * math.sqrt(2 / n))
    k_gsd = 10 if n_looks >= 10 else n_looks
    gsd_looks = looks[n_looks // k_gsd - 1 :: n_looks // k_gsd]
    design = GroupSequentialDesign(k_gsd, spending="obrien-fleming")
    hits = {"msprt": 0, "asymptotic": 0, "gsd": 0, "naive": 0}
    for r in range(reps):
        for method, kw in [("msprt", {"tau2": tau2}), ("asymptotic", {})]:
            cs = confidence_sequence(yt[r], yc[r], method=method, looks=looks, **kw)
            hits[method] += cs.rejected
        cs = confidence_sequence(yt[r], yc[r], looks=gsd_looks, tau2=tau2)
        z = cs.frame["estimate"] / cs.frame["std_error"]
        hits["gsd"] += design.test(z.to_numpy()).decision == "reject"
    naive = np.zeros(reps, dtype=bool)
    for m in looks:
        p = stats.ttest_ind(yt[:, :m], yc[:, :m], axis=1, equal_var=False).pvalue
        naive |= p < 0.05
    hits["naive"] = int(naive.sum())
    return {k: v / reps for k, v in hits.items()}


def test_peeking_small_study():
    # 300 A/A experiments, 20 looks of 25 per arm; Monte Carlo SE at 0.05 is 0.0126
    rates = _peeking(300, 20, 25, seed=1)
    se = math.sqrt(0.05 * 0.95 / 300)
    assert rates["msprt"] <= 0.05 + 3 * se
    assert rates["asymptotic"] <= 0.05 + 3 * se
    assert abs(rates["gsd"] - 0.05) <= 3 * se
    assert rates["naive"] > 0.10


def test_coverage_and_power_under_an_effect():
    rng = np.random.default_rng(9)
    reps, n, theta = 200, 400, 0.35
    covered = rejected = 0
    for _ in range(reps):
        yt, yc = rng.normal(theta, 1.0, n), rng.normal(0.0, 1.0, n)
        cs = confidence_sequence(yt, yc, looks=np.arange(20, n + 1, 20), tau2=0.01)
        covered += cs.frame["lower"].iloc[-1] <= theta <= cs.frame["upper"].iloc[-1]
        rejected += cs.rejected
    assert covered / reps >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / reps)
    assert rejected / reps > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["normal", "bernoulli"])
def test_peeking_study(outcome):
    # 2,000 A/A experiments, 100 looks of 20 per arm; Monte Carlo SE at 0.05 is 0.0049
    rates = _peeking(2000, 100, 20, seed=2, outcome=outcome)
    print(outcome, rates)
    se = math.sqrt(0.05 * 0.95 / 2000)
    assert rates["msprt"] <= 0.05 + 3 * se
    assert rates["asymptotic"] <= 0.05 + 3 * se
    assert abs(rates["gsd"] - 0.05) <= 3 * se
    assert rates["naive"] > 0.10
