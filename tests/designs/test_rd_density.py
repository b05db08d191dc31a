"""The RD manipulation test (Cattaneo, Jansson & Ma 2020) against rddensity 3.0."""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest

from paribus.designs.rdd.density import DensityTest, density_test
from paribus.errors import DataError, ParameterError

matplotlib.use("Agg")

TOL = 1e-6


def _normal(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"x": np.random.default_rng(seed).normal(size=n)})


def _bunched(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Half of the units just below the cutoff push themselves just above it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    movers = (x > -0.5) & (x < 0) & (rng.random(n) < 0.5)
    x[movers] = -x[movers]
    return pd.DataFrame({"x": x})


@pytest.fixture(scope="module")
def senate(shared_datasets) -> pd.DataFrame:
    return pd.read_csv(shared_datasets / "senate_rd_cft2015.csv")


def _reference(x: np.ndarray, **kw):
    rdd = pytest.importorskip("rddensity")
    mass = kw.pop("mass_points", True)
    c = kw.pop("cutoff", 0.0)
    return rdd.rddensity(x, c=c, bino_flag=False, massPoints=mass, **kw)


def _assert_matches(res: DensityTest, ref, vce: str = "jackknife") -> None:
    sd, t, p = ("sd_jk", "t_jk", "p_jk") if vce == "jackknife" else ("sd_asy", "t_asy", "p_asy")
    got = [
        res.statistic,
        res.p_value,
        res.bandwidth_left,
        res.bandwidth_right,
        res.density_left,
        res.density_right,
        res.std_error_left,
        res.std_error_right,
        res.std_error_diff,
        res.n_eff_left,
        res.n_eff_right,
    ]
    want = [
        ref.test[t],
        ref.test[p],
        ref.h["left"],
        ref.h["right"],
        ref.hat["left"],
        ref.hat["right"],
        getattr(ref, sd)["left"],
        getattr(ref, sd)["right"],
        getattr(ref, sd)["diff"],
        ref.n["eff_left"],
        ref.n["eff_right"],
    ]
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bwselect": "each"},
        {"bwselect": "diff"},
        {"bwselect": "sum"},
        {"p": 1},
        {"p": 3},
        {"kernel": "uniform"},
        {"kernel": "epanechnikov"},
        {"vce": "plugin"},
        {"fitselect": "restricted"},
        {"fitselect": "restricted", "vce": "plugin", "bwselect": "diff"},
        {"cutoff": 0.4},
        {"h": (0.6, 0.9)},
    ],
)
def test_matches_rddensity_smooth(options):
    data = _normal()
    ref = _reference(data["x"].to_numpy(), **options)
    _assert_matches(density_test(data, "x", **options), ref, options.get("vce", "jackknife"))


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("mass_points", [True, False])
def test_matches_rddensity_manipulated_and_tied(mass_points):
    data = _bunched()
    data["x"] = data["x"].round(2)  # ties: mass points
    ref = _reference(data["x"].to_numpy(), mass_points=mass_points)
    _assert_matches(density_test(data, "x", mass_points=mass_points), ref)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("fitselect", ["unrestricted", "restricted"])
def test_matches_rddensity_senate(senate, fitselect):
    ref = _reference(senate["margin"].to_numpy(), fitselect=fitselect)
    _assert_matches(density_test(senate, "margin", fitselect=fitselect), ref)


def test_senate_reference_values(senate):
    # rddensity 3.0's output on the Senate margins (defaults), stored so that this check runs
    # without the peer installed: T = -0.8753, p = 0.3814, bandwidths 19.841 / 27.119,
    # n 640 / 750 (408 / 460 within h). Not yet checked against the printed illustration
    # in Cattaneo, Jansson & Ma (2018, Stata Journal), which was not available offline.
    res = density_test(senate, "margin")
    assert (res.n_left, res.n_right, res.n_eff_left, res.n_eff_right) == (640, 750, 408, 460)
    assert round(res.statistic, 4) == -0.8753
    assert round(res.p_value, 4) == 0.3814
    assert (round(res.bandwidth_left, 3), round(res.bandwidth_right, 3)) == (19.841, 27.119)


def test_detects_manipulation():
    res = density_test(_bunched(2000, seed=3), "x")
    assert res.density_right > res.density_left
    assert res.p_value < 0.01


def test_size_on_smooth_density():
    pvals = [density_test(_normal(800, seed), "x").p_value for seed in range(12)]
    assert np.mean(np.array(pvals) < 0.05) <= 2 / 12


def test_result_is_frozen_and_readable():
    res = density_test(_normal(), "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.statistic = 0.0  # type: ignore[misc]
    text = str(res)
    assert "T = " in text and "p-value" in text
    frame = res.to_frame()
    assert list(frame.index) == ["left", "right", "difference"]
    assert frame.loc["difference", "p_value"] == pytest.approx(res.p_value)


def test_plot_renders():
    import matplotlib.pyplot as plt

    ax = density_test(_bunched(), "x").plot()
    assert len(ax.lines) >= 2
    plt.close(ax.figure)


def test_translation_invariance():
    data = _normal()
    a = density_test(data, "x")
    b = density_test(data.assign(x=data["x"] + 5.0), "x", cutoff=5.0)
    np.testing.assert_allclose(
        [a.statistic, a.bandwidth_left], [b.statistic, b.bandwidth_left], rtol=1e-8
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"running": "nope"}, DataError, "'nope' is not in the data"),
        ({"cutoff": 10.0}, DataError, "at or above the cutoff"),
        ({"cutoff": -10.0}, DataError, "below the cutoff"),
        ({"p": 0}, ParameterError, "p=0"),
        ({"p": 8}, ParameterError, "p=8"),
        ({"kernel": "gaussian"}, ParameterError, "kernel='gaussian'.*triangular"),
        ({"bwselect": "cer"}, ParameterError, "bwselect='cer'"),
        ({"fitselect": "both"}, ParameterError, "fitselect"),
        ({"vce": "hc1"}, ParameterError, "vce"),
        ({"h": -1.0}, ParameterError, "h=-1.0"),
        ({"fitselect": "restricted", "bwselect": "each"}, ParameterError, "common bandwidth"),
    ],
)
def test_refuses_bad_input(kwargs, error, match):
    kwargs = {"running": "x"} | kwargs
    with pytest.raises(error, match=match):
        density_test(_normal(300), **kwargs)


def test_refuses_missing_values():
    data = _normal(300)
    data.loc[3, "x"] = np.nan
    with pytest.raises(DataError, match="'x' has 1 missing"):
        density_test(data, "x")


def test_refuses_too_few_on_one_side():
    x = np.r_[np.linspace(-1, -0.1, 200), [0.2, 0.5, 0.7]]
    with pytest.raises(DataError, match="3 distinct value"):
        density_test(pd.DataFrame({"x": x}), "x")
