"""Benchmark: CausalImpact on 5 years of daily data (1,826 days) with 10 controls.

paribus (1,000 kept Gibbs draws) against tfcausalimpact (1,000 posterior draws; HMC and
its default variational fit), which needs TensorFlow and runs as a subprocess in its own
venv (``.venv-peers-impact``, see tests/designs/data/make_causal_impact_reference.py).
One run each; prints the seconds and the ratio. Run by hand::

    .venv/bin/python bench/bench_causal_impact.py [--peer-methods hmc vi]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PEER_PY = ROOT / ".venv-peers-impact" / "bin" / "python"
N_DAYS, N_CONTROLS, PRE = 1826, 10, 1461

PEER_SCRIPT = """
import json, sys, time
import pandas as pd
import tensorflow as tf
from causalimpact import CausalImpact
data = pd.read_csv(sys.argv[1], index_col=0, parse_dates=True)
tf.random.set_seed(1)
start = time.perf_counter()
ci = CausalImpact(data, [str(data.index[0].date()), str(data.index[{pre} - 1].date())],
                  [str(data.index[{pre}].date()), str(data.index[-1].date())],
                  model_args={{"fit_method": sys.argv[2], "niter": 1000}})
s = ci.summary_data
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "effect": float(s["average"]["abs_effect"]),
                  "lower": float(s["average"]["abs_effect_lower"]),
                  "upper": float(s["average"]["abs_effect_upper"])}}))
"""


def simulate(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2019-01-01", periods=N_DAYS, freq="D")
    X = 100 + np.cumsum(rng.normal(size=(N_DAYS, N_CONTROLS)), axis=0)
    beta = np.r_[1.0, -0.5, 0.5, np.zeros(N_CONTROLS - 3)]
    y = X @ beta + np.cumsum(rng.normal(scale=0.1, size=N_DAYS)) + rng.normal(size=N_DAYS)
    y[PRE:] += 2.0
    cols = {f"x{j}": X[:, j] for j in range(N_CONTROLS)}
    return pd.DataFrame({"y": y, **cols}, index=idx)


def run_paribus(data: pd.DataFrame) -> dict[str, float]:
    from paribus.designs.impact.causal_impact import CausalImpact

    kw = {
        "outcome": "y",
        "controls": [c for c in data.columns if c != "y"],
        "pre_period": (data.index[0], data.index[PRE - 1]),
        "post_period": (data.index[PRE], data.index[-1]),
    }
    small = data.iloc[:200]  # compile (numba cache) before timing
    CausalImpact(niter=20, random_state=0).fit(
        small, **{**kw, "pre_period": (small.index[0], small.index[149]),
                  "post_period": (small.index[150], small.index[-1])}
    )  # fmt: skip
    start = time.perf_counter()
    r = CausalImpact(niter=1000, random_state=1).fit(data, **kw).result_
    return {"seconds": time.perf_counter() - start, "effect": r.estimate,
            "lower": r.ci_lower, "upper": r.ci_upper}  # fmt: skip


def run_peer(data: pd.DataFrame, method: str) -> dict[str, float] | None:
    if not PEER_PY.exists():
        print(f"tfcausalimpact venv not found at {PEER_PY}; skipping the peer")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        data.to_csv(path)
        script = PEER_SCRIPT.format(pre=PRE)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([str(PEER_PY), "-c", script, str(path), method],
                             capture_output=True, text=True, env=env, check=False)  # fmt: skip
    if out.returncode != 0:
        print(out.stderr[-2000:])
        return None
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-methods", nargs="*", default=["hmc", "vi"])
    args = parser.parse_args()
    data = simulate()
    print(time.strftime("%Y-%m-%d %H:%M:%S"), "load:", os.getloadavg())
    ours = run_paribus(data)
    print(f"paribus        : {ours['seconds']:7.2f} s  effect {ours['effect']:.3f} "
          f"[{ours['lower']:.3f}, {ours['upper']:.3f}] (truth 2)")  # fmt: skip
    for method in args.peer_methods:
        peer = run_peer(data, method)
        if peer is None:
            continue
        ratio = peer["seconds"] / ours["seconds"]
        print(
            f"tfcausalimpact ({method}): {peer['seconds']:7.2f} s  effect {peer['effect']:.3f} "
            f"[{peer['lower']:.3f}, {peer['upper']:.3f}]  ratio {ratio:.1f}x"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
