"""TWFE with absorbed unit and time effects: paribus vs pyfixest on staggered panels.

Run ``.venv/bin/python bench/bench_twfe.py [--units 1000 100000] [--periods 40]``.
Each size is fitted ``--repeat`` times by both libraries (best time reported), both
with unit-clustered CR1 errors; the coefficients and errors must agree to 1e-8.
The panel: cohorts first treated in periods 10, 20 or 30, or never (a quarter
each), unit and time effects, a constant effect 1.0 and N(0, 1) noise.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd

from paribus.designs.did.twfe import TWFE


def staggered(n_units: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohort = rng.choice([10.0, 20.0, 30.0, np.inf], size=n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(n_periods), n_units)
    d = (t >= cohort[unit]).astype(float)
    y = rng.normal(size=n_units)[unit] + 0.05 * t + d + rng.normal(size=unit.size)
    return pd.DataFrame({"unit": unit, "t": t, "d": d, "y": y})


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--periods", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import pyfixest as pf

    print(f"python {platform.python_version()}, numpy {np.__version__}, pyfixest {pf.__version__}")
    print(f"{'units':>8} {'rows':>10} {'paribus s':>10} {'pyfixest s':>11} {'ratio':>7}  max|diff|")
    for n_units in args.units:
        df = staggered(n_units, args.periods)

        def ours(df=df):
            return TWFE().fit(df, outcome="y", treatment="d", unit="unit", time="t").result_

        def theirs(df=df):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pf.feols(
                    "y ~ d | unit + t",
                    data=df,
                    vcov={"CRV1": "unit"},
                    demeaner=pf.MapDemeaner(fixef_tol=1e-10),
                )

        theirs()  # warm up numba / rust kernels once
        t_ours, r_ours = best_of(ours, args.repeat)
        t_theirs, r_theirs = best_of(theirs, args.repeat)
        diff = max(
            abs(r_ours.estimate - r_theirs.coef().iloc[0]),
            abs(r_ours.std_error - r_theirs.se().iloc[0]),
        )
        print(
            f"{n_units:>8} {len(df):>10} {t_ours:>10.3f} {t_theirs:>11.3f} "
            f"{t_ours / t_theirs:>7.2f}  {diff:.1e}"
        )


if __name__ == "__main__":
    main()
