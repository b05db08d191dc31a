"""Front-door adjustment recovers a known effect despite a latent confounder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import paribus
from paribus import FrontDoor
from paribus.errors import ParameterError


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, float]:
    """U confounds X and Y; X -> M -> Y is the only causal path. ATE = 1.5 * 2.0 = 3.0."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    x = (rng.random(n) < 1 / (1 + np.exp(-1.5 * u))).astype(float)
    m = 1.5 * x + rng.normal(size=n)
    y = 2.0 * m + 3.0 * u + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m": m, "y": y}), 3.0


def test_recovers_effect_within_three_se_where_naive_fails():
    frame, truth = simulate(4000, 0)
    effect = (
        FrontDoor(mediators=["m"], n_bootstrap=100, random_state=0).fit(frame, "x", "y").result_
    )
    naive = frame.groupby("x")["y"].mean().diff().iloc[-1]
    assert abs(naive - truth) > 1.0  # confounded by U
    assert abs(effect.estimate - truth) < 3 * effect.std_error
    assert effect.inference == "bootstrap" and effect.estimand == "ATE"


def test_linear_plug_in_is_product_of_coefficients():
    frame, _ = simulate(2000, 1)
    effect = FrontDoor(mediators=["m"], n_bootstrap=20, random_state=0).fit(frame, "x", "y").result_
    a = frame.groupby("x")["m"].mean().diff().iloc[-1]
    design = np.column_stack([np.ones(len(frame)), frame["m"], frame["x"]])
    b = np.linalg.lstsq(design, frame["y"], rcond=None)[0][1]
    assert effect.estimate == pytest.approx(a * b, rel=1e-9)


def test_estimate_entry_point_and_reproducibility():
    frame, _ = simulate(1000, 2)
    a = paribus.estimate(
        frame,
        treatment="x",
        outcome="y",
        method="frontdoor",
        mediators=["m"],
        n_bootstrap=30,
        random_state=3,
    )
    b = (
        FrontDoor(mediators=["m"], n_bootstrap=30, random_state=3, n_jobs=2)
        .fit(frame, "x", "y")
        .result_
    )
    assert a == b


def test_refusals():
    frame, _ = simulate(200, 3)
    with pytest.raises(ParameterError, match="mediators"):
        FrontDoor().fit(frame, "x", "y")
    with pytest.raises(ParameterError, match="uses no covariates"):
        FrontDoor(mediators=["m"]).fit(frame, "x", "y", ["m"])
    with pytest.raises(ParameterError, match="estimand='ATT'"):
        FrontDoor(mediators=["m"], estimand="ATT").fit(frame, "x", "y")
