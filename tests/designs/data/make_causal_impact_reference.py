"""Regenerate ``causal_impact_reference.json``: tfcausalimpact on the documented example.

The data follow the R CausalImpact vignette's simulated design (our own seeded draw):
``x1 = 100 + AR(1, phi = 0.999)`` noise, ``y = 1.2 x1 + N(0, 1)``, ``y[70:] += 10``;
pre-period rows 0..69, post-period rows 70..99. The series are stored in the fixture so
the tests use exactly the data the peer saw.

tfcausalimpact needs TensorFlow, so it lives in its own venv::

    python3 -m venv .venv-peers-impact
    .venv-peers-impact/bin/pip install tfcausalimpact==0.0.19
    .venv-peers-impact/bin/python tests/designs/data/make_causal_impact_reference.py

It is run with fit_method="hmc" (Hamiltonian Monte Carlo on the same local level +
regression model, 1000 draws, tfcausalimpact's default priors with prior_level_sd=0.01)
and with the default fit_method="vi" (variational inference), each with seed 1.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).with_name("causal_impact_reference.json")


def simulate(seed: int = 20150101, n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ar = np.zeros(n)
    for t in range(1, n):
        ar[t] = 0.999 * ar[t - 1] + rng.normal()
    x1 = 100.0 + ar
    y = 1.2 * x1 + rng.normal(size=n)
    y[70:] += 10.0
    return pd.DataFrame({"y": y, "x1": x1})


def run_peer(data: pd.DataFrame, method: str) -> dict:
    import tensorflow as tf
    from causalimpact import CausalImpact

    tf.random.set_seed(1)
    start = time.perf_counter()
    ci = CausalImpact(data, [0, 69], [70, 99], model_args={"fit_method": method, "niter": 1000})
    seconds = time.perf_counter() - start
    s = ci.summary_data
    return {
        "fit_method": method,
        "seconds": seconds,
        "average": {k: float(v) for k, v in s["average"].items()},
        "cumulative": {k: float(v) for k, v in s["cumulative"].items()},
        "p_value": float(ci.p_value),
    }


def main() -> None:
    import causalimpact
    import tensorflow as tf
    import tensorflow_probability as tfp

    data = simulate()
    out = {
        "note": "numbers from tfcausalimpact run by make_causal_impact_reference.py",
        "design": "x1 = 100 + AR(0.999); y = 1.2 x1 + N(0,1); y[70:] += 10; pre 0..69, post 70..99",
        "versions": {
            "python": platform.python_version(),
            "tfcausalimpact": getattr(causalimpact, "__version__", "0.0.19"),
            "tensorflow": tf.__version__,
            "tensorflow_probability": tfp.__version__,
        },
        "data": {"y": data["y"].tolist(), "x1": data["x1"].tolist()},
        "runs": [run_peer(data, m) for m in sys.argv[1:] or ["hmc", "vi"]],
    }
    OUT.write_text(json.dumps(out, indent=1))
    print(json.dumps(out["runs"], indent=1))


if __name__ == "__main__":
    main()
