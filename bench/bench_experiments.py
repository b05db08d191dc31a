"""ABTest at scale: 100 metrics x 10,000,000 users, two arms, one run.

Run by hand (not in CI)::

    .venv/bin/python bench/bench_experiments.py [--users 10000000] [--metrics 100]
        [--seed 0] [--covariates 0]

The metrics are float32 columns (4 bytes x users x metrics: 4 GB at full size) held in one
column-contiguous block, so a column is a contiguous view; the variant is an int8 0/1
column. ABTest reads one column at a time, promotes it to float64 and summarises both arms
with ``np.bincount`` over arm codes computed once, so the extra memory is a few float64
columns, not a copy of the frame. Every fifth metric gets a 1% lift in arm 1.

Reported: the time to build the data, the fit's wall time, peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which covers numpy's allocations; tracemalloc
would slow a run this size many times over) after the data are built and after the fit,
and the one-minute load average before and after (the machine may be shared). If the data
cannot be allocated the script says so and retries with half the users until it fits.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import time
from importlib.metadata import version

import numpy as np
import pandas as pd

from paribus.experiments.abtest import ABTest


def peak_rss_gib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def make_data(users: int, metrics: int, seed: int, covariates: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, users, dtype=np.int8)
    block = np.empty((users, metrics + covariates), dtype=np.float32, order="F")
    for j in range(metrics + covariates):
        col = block[:, j]
        rng.standard_normal(out=col, dtype=np.float32)
        col += 10.0
        if j < metrics and j % 5 == 0:
            col[arm == 1] *= np.float32(1.01)
    names = [f"m{j}" for j in range(metrics)] + [f"x{j}" for j in range(covariates)]
    frame = pd.DataFrame(block, columns=names, copy=False)
    assert np.shares_memory(frame["m0"].to_numpy(), block), "the frame copied the block"
    frame["variant"] = arm
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000_000)
    parser.add_argument("--metrics", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--covariates", type=int, default=0, help="CUPED covariates")
    args = parser.parse_args()

    print(f"date {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"paribus {version('paribus')}, {os.cpu_count()} cores"
    )
    users = args.users
    while True:
        try:
            start = time.perf_counter()
            frame = make_data(users, args.metrics, args.seed, args.covariates)
            break
        except MemoryError:
            need = users * (args.metrics + args.covariates) * 4 / 2**30
            print(f"{users:,} users x {args.metrics} metrics ({need:.1f} GiB) do not fit; halving")
            users //= 2
    built = time.perf_counter() - start
    print(
        f"data: {users:,} users x {args.metrics} float32 metrics, built in {built:.1f} s, "
        f"peak RSS {peak_rss_gib():.2f} GiB"
    )

    load_before = os.getloadavg()[0]
    covs = [f"x{j}" for j in range(args.covariates)] or None
    metrics = [f"m{j}" for j in range(args.metrics)]
    start = time.perf_counter()
    table = ABTest(control=0).fit(frame, variant="variant", metrics=metrics, covariates=covs)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()[0]

    significant = sum(e.diagnostics["significant"] for e in table)
    print(f"fit: {len(table)} rows in {wall:.1f} s ({wall / args.metrics * 1e3:.0f} ms per metric)")
    print(f"peak RSS after fit {peak_rss_gib():.2f} GiB")
    print(f"load average (1 min) before {load_before:.2f}, after {load_after:.2f}")
    lifted = len(range(0, args.metrics, 5))
    print(f"significant after Holm: {significant} of {len(table)} ({lifted} carry a 1% lift)")
    print(table[:3])


if __name__ == "__main__":
    main()
