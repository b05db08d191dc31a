"""Uplift random forest: paribus ``UpliftForest`` vs CausalML 0.15.5's uplift forest.

Run with the benchmark environment (CausalML installed, paribus installed editable)::

    .venv-bench/bin/python bench/bench_uplift_forest.py --n 1000000 --trees 10

One run of each: fit on ``n`` training rows x ``p`` features (binary outcome, 0/1
randomised treatment, known uplift), predict on ``n_test`` fresh rows, and print the
wall time of fit + predict, the time ratio, and the Qini coefficient
(:func:`paribus.uplift.metrics.qini_coefficient`) and the treat-if-positive policy
value (true ``E[Y(pi(X))]``) of both. The two forests get the same settings: tree count,
CausalML's defaults (10 features per node, depth 5, 100 rows per leaf, 10 per arm,
``n_reg = 10``, KL criterion) and bootstrap samples of ``n`` rows. ``--causalml-n``
fits CausalML on fewer rows when it is too slow at ``n``; the ratio then compares
paribus at ``n`` with CausalML at the smaller size scaled linearly (said in the output).

CausalML's ``causalml.inference.tree`` package fails to import with this scikit-learn
(a Cython signature mismatch in its causal trees); the uplift module it needs is loaded
without the package ``__init__``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import types
from importlib.metadata import version

import numpy as np

from paribus.uplift.forest import UpliftForest
from paribus.uplift.metrics import qini_coefficient


def simulate(n: int, seed: int, p: int = 20) -> tuple[np.ndarray, ...]:
    """Binary outcome with a known uplift ``tau(x) = p1(x) - p0(x)`` on 2 of ``p`` features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    base = -1.0 + 0.5 * X[:, 0] + 0.3 * X[:, 1]
    lift = 0.8 * X[:, 2] - 0.5 * (X[:, 3] > 0)
    p0 = 1 / (1 + np.exp(-base))
    p1 = 1 / (1 + np.exp(-(base + lift)))
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(t == 1, p1, p0)).astype(float)
    return X, y, t, p1 - p0, p0


def _causalml_uplift() -> types.ModuleType:
    import causalml.inference as ci

    pkg = types.ModuleType("causalml.inference.tree")
    pkg.__path__ = [os.path.join(os.path.dirname(ci.__file__), "tree")]
    sys.modules["causalml.inference.tree"] = pkg
    import causalml.inference.tree.uplift as uplift

    return uplift


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--n-test", type=int, default=100_000)
    parser.add_argument("--p", type=int, default=20)
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--causalml-n", type=int, default=None)
    parser.add_argument("--skip-causalml", action="store_true")
    args = parser.parse_args()
    X, y, t, _, _ = simulate(args.n, 1, args.p)
    Xt, yt, tt, tau_t, p0_t = simulate(args.n_test, 2, args.p)
    settings = {"max_features": 10, "max_depth": 5, "min_samples_leaf": 100,
                "min_samples_treatment": 10, "n_reg": 10}  # fmt: skip
    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_before": os.getloadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": version("numba"),
        "n": args.n,
        "n_test": args.n_test,
        "p": args.p,
        "trees": args.trees,
        "settings": settings,
        "oracle_qini": qini_coefficient(yt, tt, tau_t),
    }
    # warm the numba kernels (compiled once and cached on disk) outside the timing
    UpliftForest(n_estimators=2, random_state=0).fit(X[:5000], y[:5000], t[:5000])

    start = time.perf_counter()
    forest = UpliftForest(
        n_estimators=args.trees, criterion="kl", bootstrap=True, sample_fraction=1.0,
        random_state=0, **settings,
    )  # fmt: skip
    forest.fit(X, y, t)
    fit_s = time.perf_counter() - start
    pred = forest.predict(Xt)
    ours_s = time.perf_counter() - start
    report["paribus"] = {
        "fit_s": fit_s,
        "fit_predict_s": ours_s,
        "qini": qini_coefficient(yt, tt, pred),
        "policy_value": float(np.mean(p0_t + (pred > 0) * tau_t)),
    }
    print("paribus", report["paribus"], flush=True)

    if not args.skip_causalml:
        uplift = _causalml_uplift()
        m = args.causalml_n or args.n
        model = uplift.UpliftRandomForestClassifier(
            control_name="0", n_estimators=args.trees, evaluationFunction="KL",
            random_state=0, n_jobs=-1, **settings,
        )  # fmt: skip
        start = time.perf_counter()
        model.fit(X[:m], treatment=t[:m].astype(str), y=y[:m].astype(int))
        fit_s = time.perf_counter() - start
        cpred = np.asarray(model.predict(Xt)).reshape(len(yt), -1)[:, 0]
        theirs_s = time.perf_counter() - start
        report["causalml"] = {
            "version": version("causalml"),
            "n_fit": m,
            "fit_s": fit_s,
            "fit_predict_s": theirs_s,
            "qini": qini_coefficient(yt, tt, cpred),
            "policy_value": float(np.mean(p0_t + (cpred > 0) * tau_t)),
        }
        scale = args.n / m
        report["speedup"] = theirs_s * scale / ours_s
        report["speedup_note"] = (
            "same n" if m == args.n else f"CausalML timed at n={m}, scaled x{scale:g} (linear)"
        )
        print("causalml", report["causalml"], flush=True)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
