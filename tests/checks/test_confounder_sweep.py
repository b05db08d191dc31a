"""Simulated confounder sweep: omitting U shifts a linear estimate by gamma * delta, adjusting
for it removes the shift, and the zero crossing lies on gamma * delta = -tau."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from paribus import RegressionAdjustment
from paribus.checks.confounder_sweep import ConfounderSweep, confounder_sweep
from paribus.errors import DataError


@pytest.fixture(scope="module")
def sweep() -> ConfounderSweep:
    rng = np.random.default_rng(0)
    n = 20_000
    x = rng.standard_normal(n)
    t = (rng.random(n) < expit(x)).astype(int)
    y = 0.5 * t + x + rng.standard_normal(n)
    frame = pd.DataFrame({"x": x, "t": t, "y": y})
    ra = RegressionAdjustment().fit(frame, "t", "y", ["x"])
    return confounder_sweep(
        ra,
        frame,
        "t",
        "y",
        treatment_strengths=[0.25, 0.5, 1.0],
        outcome_strengths=np.linspace(-3, 1, 9),
        random_state=0,
        n_jobs=1,
    )


def test_bias_is_the_product_of_strengths(sweep: ConfounderSweep) -> None:
    d = np.asarray(sweep.treatment_strengths)[:, None]
    g = np.asarray(sweep.outcome_strengths)[None, :]
    se = 0.016 * np.sqrt(1 + g**2)  # the regression's SE with outcome noise 1 + gamma^2
    assert np.all(np.abs(sweep.omitted - (sweep.original + g * d)) < 3.5 * se)
    assert np.all(np.abs(sweep.included - sweep.original) < 3.5 * se)


def test_zero_crossing_where_theory_says(sweep: ConfounderSweep) -> None:
    theory = -sweep.original / np.asarray(sweep.treatment_strengths)
    np.testing.assert_allclose(sweep.zero_crossings(), theory, atol=0.15)
    assert sweep.to_frame().shape == (27, 4)


def test_heat_map(sweep: ConfounderSweep) -> None:
    ax = sweep.plot()
    assert ax.get_xlabel().startswith("effect of U")
    plt.close(ax.figure)


def test_refuses_unknown_columns() -> None:
    frame = pd.DataFrame({"x": np.arange(8.0), "t": [0, 1] * 4, "y": np.arange(8.0) ** 2})
    ra = RegressionAdjustment().fit(frame, "t", "y", ["x"])
    with pytest.raises(DataError, match="not found"):
        confounder_sweep(ra, frame, "t", "y", ["nope"])
