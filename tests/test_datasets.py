"""Bundled datasets: contents match the shared reference copies and the published numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paribus import datasets
from paribus.errors import DataError


def test_names_and_describe():
    assert set(datasets.names()) == {"lalonde", "lalonde_nsw", "lalonde_cps"}
    assert "1,794" in datasets.describe("lalonde_nsw")


def test_experimental_benchmark():
    nsw = datasets.load("lalonde_nsw")
    assert nsw.shape[0] == 445 and nsw["treat"].sum() == 185
    gap = nsw.groupby("treat")["re78"].mean().diff().iloc[-1]
    assert gap == pytest.approx(1794.34, abs=0.01)  # Dehejia & Wahba (1999), Table 3


def test_observational_sample_matches_shared_copy(shared_datasets):
    cps = datasets.load("lalonde_cps")
    assert (cps["treat"] == 1).sum() == 185 and (cps["treat"] == 0).sum() == 15992
    gap = cps.groupby("treat")["re78"].mean().diff().iloc[-1]
    assert gap == pytest.approx(-8497.5, abs=1.0)  # the published naive gap, -$8,498
    shared = pd.read_csv(shared_datasets / "lalonde_dw_comparison_groups.csv")
    cols = ["age", "educ", "black", "hisp", "marr", "re74", "re75", "re78"]
    ours = cps.loc[cps.treat == 0, cols].sort_values(cols).to_numpy()
    theirs = shared.loc[shared["sample"] == "cps1", cols].sort_values(cols).to_numpy()
    np.testing.assert_allclose(ours, theirs, atol=0.01)


def test_load_returns_a_copy_and_refuses_unknown():
    a = datasets.load("lalonde")
    a.loc[0, "re78"] = -1
    assert datasets.load("lalonde").loc[0, "re78"] != -1
    with pytest.raises(DataError, match="unknown dataset 'lalond'"):
        datasets.load("lalond")
