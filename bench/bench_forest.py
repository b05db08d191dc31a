"""Causal forest speed and accuracy: paribus's CausalForest against EconML's CausalForestDML.

Run by hand in the bench environment (it has EconML 0.17 and LightGBM)::

    .venv-bench/bin/python bench/bench_forest.py [--n 100000] [--p 20] [--trees 500]
    .venv-bench/bin/python bench/bench_forest.py --n 1000000 --trees 100 --only paribus

Data: :func:`bench._data.make_data` (``tau(x) = 1 + 0.5 x0 + 0.25 x1^2``, nonlinear
confounding through ``x0..x4``, the other covariates noise). Each engine runs once in
its own process (so peak memory is its own: ``ru_maxrss``) and times
``fit`` plus CATEs with 95 % intervals at every training row (paribus's numba kernels
are compiled, or loaded from numba's on-disk cache, on a tiny warm-up fit first, not
timed: a one-off cost per installation, printed); the script prints the
time ratio, peak memory and the CATE RMSE against the true ``tau`` of both.

Nuisances are the same for both: LightGBM (200 rounds, rate 0.05, 31 leaves,
single-threaded) for ``E[Y | X]`` and ``P(T = 1 | X)``, cross-fitted on 2 folds
(EconML's ``cv=2``; paribus's ``folds=2``). ``--nuisance forest`` runs paribus with its own
default (out-of-bag regression forests) instead. Forests: the same number of trees,
half-samples (``max_samples=0.5``), honest, leaves of at least 5 (``min_samples_leaf=5``
vs ``min_node_size=5``), all features tried at each split; EconML's intervals come
from its bootstrap of little bags (``inference=True``, subforests of 4 trees),
paribus's from little bags of 2 trees. Both use every core (``n_jobs=-1``).

Results, 2026-11-22, on the shared 2-core machine (other jobs running: wall times vary
by 2-3x with the load; each row is one run):

=========================  ======  ==========  ========  =======  ======  =======
run                        trees   total s     CPU s     peak MB  RMSE    cover
=========================  ======  ==========  ========  =======  ======  =======
paribus, LightGBM          100     10.4        14        576      0.1726  0.971
EconML, LightGBM           100     116.3       153       783      0.1825  0.985
paribus, LightGBM          500     34.9        63        765      0.1624  0.949
EconML, LightGBM           500     392.8       717       2140     0.1612  0.971
paribus, forest nuisances  100     23.8        25        620      0.2141  0.953
paribus, forest, n = 1M    100     438.4       450       2902     0.1218  0.990
=========================  ======  ==========  ========  =======  ======  =======

Time ratio EconML / paribus: 11.2x at 100 trees and at 500 (CPU s count in-process
threads only; the LightGBM cross-fitting runs in loky worker processes for both).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _data import make_data  # noqa: E402


def _lgbm(kind: str) -> object:
    import lightgbm as lgb

    args = dict(n_estimators=200, learning_rate=0.05, num_leaves=31, n_jobs=1, verbose=-1)
    return lgb.LGBMRegressor(**args) if kind == "reg" else lgb.LGBMClassifier(**args)


def _true_tau(X: np.ndarray) -> np.ndarray:
    return 1 + 0.5 * X[:, 0] + 0.25 * X[:, 1] ** 2


def run_paribus(n: int, p: int, trees: int, nuisance: str, seed: int) -> dict:
    from paribus.effects.forest.causal import CausalForest

    warm = make_data(300, p, seed + 1)  # compile (or load from numba's cache) the kernels
    start = time.perf_counter()
    CausalForest(n_estimators=4).fit(warm.frame, "t", "y", warm.covariates).effect_interval(
        warm.frame[warm.covariates]
    )
    compile_s = time.perf_counter() - start
    b = make_data(n, p, seed)
    X = b.frame[b.covariates].to_numpy()
    models = (
        {}
        if nuisance == "forest"
        else dict(outcome_model=_lgbm("reg"), treatment_model=_lgbm("clf"), folds=2)
    )
    start = time.perf_counter()
    cf = CausalForest(n_estimators=trees, random_state=seed, n_jobs=-1, **models)
    cf.fit(b.frame, "t", "y", b.covariates)
    fitted = time.perf_counter()
    lo, hi = cf.effect_interval(X)
    tau = cf.effect(X)
    done = time.perf_counter()
    truth = _true_tau(X)
    return dict(
        engine=f"paribus ({nuisance} nuisances)",
        fit_s=fitted - start,
        cate_s=done - fitted,
        total_s=done - start,
        rmse=float(np.sqrt(np.mean((tau - truth) ** 2))),
        coverage=float(np.mean((lo < truth) & (truth < hi))),
        ate=cf.result_.estimate,
        ate_se=cf.result_.std_error,
        compile_s=compile_s,
    )


def run_econml(n: int, p: int, trees: int, seed: int) -> dict:
    from econml.dml import CausalForestDML

    b = make_data(n, p, seed)
    X = b.frame[b.covariates].to_numpy()
    T, Y = b.frame["t"].to_numpy(), b.frame["y"].to_numpy()
    start = time.perf_counter()
    est = CausalForestDML(
        model_y=_lgbm("reg"),
        model_t=_lgbm("clf"),
        discrete_treatment=True,
        cv=2,
        n_estimators=trees,
        max_samples=0.5,
        min_samples_leaf=5,
        honest=True,
        inference=True,
        n_jobs=-1,
        random_state=seed,
    )
    est.fit(Y, T, X=X)
    fitted = time.perf_counter()
    lo, hi = est.effect_interval(X)
    tau = est.effect(X)
    done = time.perf_counter()
    truth = _true_tau(X)
    return dict(
        engine="EconML CausalForestDML",
        fit_s=fitted - start,
        cate_s=done - fitted,
        total_s=done - start,
        rmse=float(np.sqrt(np.mean((tau - truth) ** 2))),
        coverage=float(np.mean((lo < truth) & (truth < hi))),
        ate=float(np.mean(tau)),
        ate_se=float("nan"),
    )


def _child(args: argparse.Namespace) -> None:
    if args.engine == "econml":
        out = run_econml(args.n, args.p, args.trees, args.seed)
    else:
        out = run_paribus(args.n, args.p, args.trees, args.nuisance, args.seed)
    me = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_mb"] = me.ru_maxrss / 1024
    # CPU seconds of this process's threads (paribus runs all its work here; EconML's
    # loky worker processes are not counted, so its figure is a lower bound)
    out["cpu_s"] = me.ru_utime + me.ru_stime
    print("RESULT " + json.dumps(out), flush=True)


def _spawn(args: argparse.Namespace, engine: str) -> dict:
    cmd = [sys.executable, __file__, "--engine", engine, "--n", str(args.n), "--p", str(args.p)]
    cmd += ["--trees", str(args.trees), "--nuisance", args.nuisance, "--seed", str(args.seed)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"{engine} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nuisance", choices=["lgbm", "forest"], default="lgbm")
    ap.add_argument("--only", choices=["paribus", "econml", "both"], default="both")
    ap.add_argument("--engine", choices=["paribus", "econml"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:
        _child(args)
        return
    engines = ["paribus", "econml"] if args.only == "both" else [args.only]
    results = {e: _spawn(args, e) for e in engines}
    print(f"n={args.n} p={args.p} trees={args.trees}, CATE with 95% intervals at all n rows")
    header = f"{'engine':34s} {'fit s':>8s} {'CATE s':>8s} {'total s':>8s} {'CPU s':>7s}"
    header += f" {'peak MB':>8s}"
    print(header + f" {'RMSE':>7s} {'cover':>6s} {'ATE':>7s}")
    for r in results.values():
        print(
            f"{r['engine']:34s} {r['fit_s']:8.1f} {r['cate_s']:8.1f} {r['total_s']:8.1f} "
            f"{r['cpu_s']:7.0f} "
            f"{r['peak_mb']:8.0f} {r['rmse']:7.4f} {r['coverage']:6.3f} {r['ate']:7.4f}"
        )
    if "paribus" in results:
        print(
            "(paribus kernel compile / cache load, untimed: "
            f"{results['paribus']['compile_s']:.1f} s)"
        )
    if len(results) == 2:
        ratio = results["econml"]["total_s"] / results["paribus"]["total_s"]
        print(f"time ratio EconML / paribus: {ratio:.1f}x")


if __name__ == "__main__":
    main()
