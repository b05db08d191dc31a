"""Staggered DiD (Callaway & Sant'Anna 2021): paribus against `differences` 0.3.0.

Run by hand in an environment that has both (differences adds nothing else to .venv)::

    .venv/bin/pip install differences==0.3.0
    .venv/bin/python bench/bench_staggered.py

A balanced 1,000-unit x 40-period panel, 12 adoption cohorts (periods 6, 9, ..., 39)
and never-treated units, one time-invariant covariate. Both libraries estimate every
ATT(g,t) (never-treated controls, varying base period) and the dynamic aggregation,
with analytic standard errors; paribus also without, then with, its 999-draw multiplier
bootstrap. Wall times by ``time.perf_counter``, best of ``REPEATS``; the largest
absolute differences of the estimates and standard errors are printed beside them.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
from differences import ATTgt

from paribus.designs.did.staggered import StaggeredDiD

N_UNITS, N_PERIODS = 1000, 40
REPEATS = int(os.environ.get("STAGGERED_BENCH_REPEATS", "3"))


def make(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohorts = np.append(np.arange(6, 40, 3, dtype=float), np.nan)
    g = cohorts[rng.integers(0, cohorts.size, N_UNITS)]
    x = rng.normal(size=N_UNITS)
    t = np.arange(1, N_PERIODS + 1, dtype=float)
    e = t[None, :] - g[:, None]
    tau = np.where(e >= 0, 1 + 0.05 * np.nan_to_num(e), 0.0)
    y = rng.normal(size=N_UNITS)[:, None] + 0.1 * t + 0.3 * x[:, None] * t / N_PERIODS
    y = y + tau + rng.normal(size=(N_UNITS, N_PERIODS))
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(N_UNITS), N_PERIODS),
            "t": np.tile(t, N_UNITS).astype(int),
            "y": y.ravel(),
            "x": np.repeat(x, N_PERIODS),
            "g": np.repeat(g, N_PERIODS),
        }
    )


def timed(fn: Callable[[], Any]) -> tuple[list[float], Any]:
    walls, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - start)
    return walls, out


def run_paribus(frame: pd.DataFrame, n_bootstrap: int) -> tuple[np.ndarray, np.ndarray, float]:
    fit = StaggeredDiD(n_bootstrap=n_bootstrap, random_state=0).fit(
        frame, outcome="y", unit="id", time="t", cohort="g", covariates="x"
    )
    dyn = fit.aggregate("dynamic")
    return (
        np.array([e.estimate for e in fit.att_gt_]),
        np.array([e.std_error for e in fit.att_gt_]),
        dyn.overall.estimate,
    )


def run_differences(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att = ATTgt(data=frame.set_index(["id", "t"]), cohort_column="g")
        att.fit(formula="y ~ x", est_method="dr", progress_bar=False)
        res = att.results()
        dyn = att.aggregate("event", overall=True)
    return res.iloc[:, 0].to_numpy(), res.iloc[:, 1].to_numpy(), float(dyn.iloc[0, 0])


def main() -> None:
    frame = make()
    print(f"date {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"paribus {version('paribus')}, differences {version('differences')}")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"panel {N_UNITS} units x {N_PERIODS} periods, covariate x, dr estimator")
    t_pb0, (att0, se0, dyn0) = timed(lambda: run_paribus(frame, 0))
    t_pb, _ = timed(lambda: run_paribus(frame, 999))
    t_df, (att1, se1, dyn1) = timed(lambda: run_differences(frame))
    print(f"ATT(g,t) cells: paribus {att0.size}, differences {att1.size}")
    print(
        f"max |ATT diff| {np.max(np.abs(att0 - att1)):.2e}, max |SE diff| "
        f"{np.max(np.abs(se0 - se1)):.2e}, dynamic {dyn0:.6f} vs {dyn1:.6f}"
    )
    rows = [
        ("paribus (analytic SE)", t_pb0),
        ("paribus (+999 bootstrap draws)", t_pb),
        ("differences 0.3.0 (analytic SE)", t_df),
    ]
    for name, walls in rows:
        print(f"{name:34s} best {min(walls):7.3f} s   all {[round(w, 3) for w in walls]}")
    print(f"time ratio differences / paribus (analytic): {min(t_df) / min(t_pb0):.1f}x")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
