"""RD plots (Calonico, Cattaneo & Titiunik 2015) against rdrobust 2.1.1's rdplot."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from paribus.designs.rdd.rdplot import RDPlot, rd_plot
from paribus.errors import DataError, ParameterError

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BINSELECT = ["es", "espr", "esmv", "esmvpr", "qs", "qspr", "qsmv", "qsmvpr"]


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 1000)
    y = 0.5 + x + 0.3 * x**2 + 0.4 * (x >= 0) + rng.normal(0, 0.3, x.size)
    return pd.DataFrame({"x": x, "y": y})


@pytest.fixture(scope="module")
def senate(shared_datasets) -> pd.DataFrame:
    data = pd.read_csv(shared_datasets / "senate_rd_cft2015.csv")
    return data.dropna(subset=["vote", "margin"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _compare(data: pd.DataFrame, y: str, x: str, **kw) -> RDPlot:
    rdrobust = pytest.importorskip("rdrobust")
    ref = rdrobust.rdplot(
        data[y].to_numpy(),
        data[x].to_numpy(),
        c=kw.get("cutoff", 0.0),
        p=kw.get("p", 4),
        binselect=kw.get("binselect", "esmv"),
        nbins=kw.get("nbins"),
        hide=True,
    )
    res = rd_plot(data, y, x, **kw)
    assert res.nbins == tuple(int(j) for j in ref.J)
    assert res.nbins_imse == tuple(int(j) for j in ref.J_IMSE)
    assert res.nbins_mv == tuple(int(j) for j in ref.J_MV)
    bins, vb = res.bins, ref.vars_bins
    np.testing.assert_array_equal(bins["n"], vb["rdplot_N"])
    for ours, theirs in [
        ("mean_y", "rdplot_mean_y"),
        ("mean_x", "rdplot_mean_x"),
        ("midpoint", "rdplot_mean_bin"),
        ("lower_edge", "rdplot_min_bin"),
        ("upper_edge", "rdplot_max_bin"),
        ("std_error", "rdplot_se_y"),
    ]:
        np.testing.assert_allclose(bins[ours], vb[theirs], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.coef_left, ref.coef["Left"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(res.coef_right, ref.coef["Right"], rtol=1e-6, atol=1e-10)
    return res


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("binselect", BINSELECT)
def test_matches_rdplot_simulated(sim, binselect):
    _compare(sim, "y", "x", binselect=binselect)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("options", [{"p": 2}, {"cutoff": 0.2}, {"nbins": (10, 15)}])
def test_matches_rdplot_options(sim, options):
    _compare(sim, "y", "x", **options)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("binselect", ["esmv", "es", "qs", "qsmvpr"])
def test_matches_rdplot_senate(senate, binselect):
    res = _compare(senate, "vote", "margin", binselect=binselect)
    if binselect == "esmv":
        assert res.nbins == (15, 35)


def test_renders_and_fits(sim):
    res = rd_plot(sim, "y", "x", ci=True)
    assert res.ax is not None and len(res.ax.lines) == 3  # two fits and the cutoff
    jump = res.predict(np.array([0.0])) - res.predict(np.array([-1e-12]))
    assert jump[0] == pytest.approx(0.4, abs=0.15)
    assert res.bins["n"].sum() == len(sim)
    _, ax = plt.subplots()
    assert rd_plot(sim, "y", "x", ax=ax).ax is ax


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"outcome": "z"}, DataError, "'z' is not in the data"),
        ({"cutoff": 5.0}, DataError, "at or above the cutoff"),
        ({"binselect": "esx"}, ParameterError, "binselect='esx'"),
        ({"p": -1}, ParameterError, "p=-1"),
        ({"kernel": "cosine"}, ParameterError, "kernel"),
        ({"nbins": 0}, ParameterError, "nbins"),
    ],
)
def test_refuses_bad_input(sim, kwargs, error, match):
    kwargs = {"outcome": "y", "running": "x"} | kwargs
    with pytest.raises(error, match=match):
        rd_plot(sim, **kwargs)


def test_refuses_missing_outcome(sim):
    data = sim.copy()
    data.loc[0, "y"] = np.nan
    with pytest.raises(DataError, match="outcome column 'y' has 1 missing"):
        rd_plot(data, "y", "x")
