"""Generate ``causalml_forest_reference.json``: CausalML 0.15.5 uplift forests on simulated data.

Run with the benchmark environment that has CausalML (and paribus, for the Qini)::

    .venv-bench/bin/python tests/uplift/data/make_causalml_forest_reference.py

The data come from :func:`simulate` (numpy only; the same function is copied in
``tests/uplift/test_uplift_forest.py``, which checks the stored checksums so both use the
same rows). The test compares paribus's ``UpliftForest`` with the numbers stored here, so
it needs no CausalML.

CausalML 0.15.5's ``causalml.inference.tree`` package fails to import with the
scikit-learn in ``.venv-bench`` (a Cython signature mismatch in its causal trees); its
uplift module does not need those, so the package ``__init__`` is bypassed below.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import numpy as np


def simulate(n: int, seed: int, p: int = 10) -> tuple[np.ndarray, ...]:
    """Binary outcome, randomised 0/1 treatment, known ``tau(x) = p1(x) - p0(x)``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    base = -1.0 + 0.5 * X[:, 0] + 0.3 * X[:, 1]
    lift = 0.8 * X[:, 2] - 0.5 * (X[:, 3] > 0)
    p0 = 1 / (1 + np.exp(-base))
    p1 = 1 / (1 + np.exp(-(base + lift)))
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(t == 1, p1, p0)).astype(float)
    return X, y, t, p1 - p0, p0


def _uplift_module() -> types.ModuleType:
    import causalml.inference as ci

    path = os.path.join(os.path.dirname(ci.__file__), "tree")
    pkg = types.ModuleType("causalml.inference.tree")
    pkg.__path__ = [path]
    sys.modules["causalml.inference.tree"] = pkg
    import causalml.inference.tree.uplift as uplift

    return uplift


def main() -> None:
    from importlib.metadata import version

    from paribus.uplift.metrics import qini_coefficient

    uplift = _uplift_module()
    n, n_test, seed_train, seed_test = 20_000, 100_000, 1, 2
    X, y, t, _, _ = simulate(n, seed_train)
    Xt, yt, tt, tau_t, p0_t = simulate(n_test, seed_test)
    out: dict = {
        "note": "CausalML 0.15.5 UpliftRandomForestClassifier on simulate(n, seed_train) "
        "(train) and "
        "simulate(n_test, seed_test) (test) of "
        "make_causalml_forest_reference.py; Qini by paribus.uplift.metrics.qini_coefficient "
        "(sklift definition) on the test rows; policy value = mean(p0 + 1{uplift > 0} tau) "
        "with the true p0 and tau of the test rows.",
        "causalml_version": version("causalml"),
        "n": n,
        "n_test": n_test,
        "seed_train": seed_train,
        "seed_test": seed_test,
        "checksum_train": [float(X.sum()), float(y.sum()), int(t.sum())],
        "checksum_test": [float(Xt.sum()), float(yt.sum()), int(tt.sum())],
        "oracle_qini": qini_coefficient(yt, tt, tau_t),
        "oracle_policy_value": float(np.mean(p0_t + np.maximum(tau_t, 0))),
        "runs": {},
    }
    settings = {
        # CausalML's defaults apart from the tree count, KL and ED criteria
        "kl_defaults": {
            "max_features": 10,
            "max_depth": 5,
            "n_reg": 10,
            "evaluationFunction": "KL",
        },
        "ed_defaults": {
            "max_features": 10,
            "max_depth": 5,
            "n_reg": 10,
            "evaluationFunction": "ED",
        },
        # sqrt(p) features per node, depth 6
        "kl_sqrt_depth6": {
            "max_features": 3,
            "max_depth": 6,
            "n_reg": 10,
            "evaluationFunction": "KL",
        },
        "ed_sqrt_depth6": {
            "max_features": 3,
            "max_depth": 6,
            "n_reg": 10,
            "evaluationFunction": "ED",
        },
    }
    for name, extra in settings.items():
        model = uplift.UpliftRandomForestClassifier(
            control_name="0",
            n_estimators=100,
            min_samples_leaf=100,
            min_samples_treatment=10,
            random_state=7,
            n_jobs=2,
            **extra,
        )
        start = time.perf_counter()
        model.fit(X, treatment=t.astype(str), y=y.astype(int))
        pred = np.asarray(model.predict(Xt)).reshape(len(yt), -1)[:, 0]
        seconds = time.perf_counter() - start
        out["runs"][name] = {
            "params": {"n_estimators": 100, "min_samples_leaf": 100, **extra},
            "qini": qini_coefficient(yt, tt, pred),
            "policy_value": float(np.mean(p0_t + (pred > 0) * tau_t)),
            "seconds": seconds,
        }
        print(name, out["runs"][name])
    path = Path(__file__).with_name("causalml_forest_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
