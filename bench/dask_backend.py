"""Cross-fitting on a Dask cluster through ``paribus.config(backend="dask")``.

Run by hand in the bench environment (``.venv-bench/bin/pip install "dask[distributed]"``)::

    .venv-bench/bin/python bench/dask_backend.py

Starts a two-worker ``LocalCluster`` (offline, loopback), fits IRM with the folds on the
cluster, and checks the result equals the serial fit bit for bit (seeds are per task).
"""

import sys
import time
from pathlib import Path

from distributed import Client, LocalCluster

import paribus
from paribus import IRM

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _sim import COVARIATES, simulate

if __name__ == "__main__":
    frame = simulate(n=2000, seed=1).frame
    serial = IRM(random_state=0, n_jobs=1).fit(frame, "t", "y", COVARIATES).result_
    t = time.time()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster):
        print("cluster up", round(time.time() - t, 1), "s")
        with paribus.config(backend="dask", n_jobs=-1):
            t = time.time()
            dist = IRM(random_state=0).fit(frame, "t", "y", COVARIATES).result_
            print("dask fit", round(time.time() - t, 2), "s")
    print(f"serial {serial.estimate!r}, dask {dist.estimate!r}, identical: {serial == dist}")
    assert serial == dist
