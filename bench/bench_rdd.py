"""Regression discontinuity: paribus against rdrobust 2.1.1 (Python) on the same data.

Run by hand in the bench environment::

    .venv-bench/bin/python bench/bench_rdd.py

Sharp design, defaults of both (local linear, triangular kernel, mserd bandwidth,
nearest-neighbour variance), n = 10^4, 10^5, 10^6 continuous running values. Wall times
by ``time.perf_counter``, best of ``REPEATS`` (all printed; the first call of each
library also compiles its numba kernels). The estimates are printed side by side.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from importlib.metadata import version

import numpy as np
import pandas as pd
from rdrobust import rdrobust

from paribus.designs.rdd import RegressionDiscontinuity

SIZES = tuple(int(s) for s in os.environ.get("RDD_BENCH_SIZES", "10000,100000,1000000").split(","))
REPEATS = 3


def make(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    y = 0.5 + (x >= 0) + x + 0.8 * x**2 - 0.5 * x**3 + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"x": x, "y": y})


def timed(fn, repeats: int) -> tuple[list[float], object]:
    out, walls = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    return walls, out


def main() -> None:
    print(
        f"date {datetime.date.today()}  python {platform.python_version()}  "
        f"numpy {version('numpy')}  rdrobust {version('rdrobust')}  paribus {version('paribus')}"
    )
    print(f"load average {os.getloadavg()}")
    for n in SIZES:
        d = make(n)
        t_rd, ref = timed(lambda d=d: rdrobust(d.y, d.x), REPEATS)
        t_pb, fit = timed(
            lambda d=d: RegressionDiscontinuity().fit(d, outcome="y", running="x"), REPEATS
        )
        e = fit.result_  # type: ignore[attr-defined]
        print(
            f"n={n:>9,}  rdrobust {min(t_rd):8.3f} s {[round(t, 3) for t in t_rd]}  "
            f"paribus {min(t_pb):7.3f} s {[round(t, 3) for t in t_pb]}  "
            f"ratio {min(t_rd) / min(t_pb):6.1f}x"
        )
        print(
            f"   estimate {ref.coef.iloc[0, 0]:.6f} vs {e.estimate:.6f}  "  # type: ignore[attr-defined]
            f"h {ref.bws.iloc[0, 0]:.6f} vs {e.diagnostics['h'][0]:.6f}"  # type: ignore[attr-defined]
        )


if __name__ == "__main__":
    main()
