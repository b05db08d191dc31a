"""Double ML: paribus PLR and IRM against DoubleML and EconML, and the bare-nuisance floor.

Run by hand in the bench environment (``make bench-dml``)::

    .venv-bench/bin/python bench/bench_dml.py [--repeat 3] [--only plr|irm]

One process, one data set per model (``bench/_data.py``, 100k rows x 20 covariates,
nonlinear confounding): the partially linear design (continuous treatment, theta 0.5)
for PLR and the binary design (ATE 1.25) for IRM. Every library gets the same learners
(single-threaded LightGBM, 100 trees, fixed seed) and the same five folds, passed as
explicit ``(train, test)`` index pairs; with identical nuisances the estimates agree.

The floor is the bare work every implementation must do: clone, fit and predict
exactly the nuisance models on the same folds (fit on the training rows, predict the
held-out rows), with no validation, scores or inference. It is timed serially and
with the parallelism paribus uses (joblib's loky backend, one task per (nuisance,
fold), two workers, one inner thread each).

Timings are interleaved: each repetition runs every case once, so a burst of load
from other processes hits all cases alike. Each row gives the best and the median of
``--repeat`` runs; ratios use the best. Before and after each run the one-minute load
average is read, and the share of both cores busy during the run (``/proc/stat``):
a serial run alone on an idle machine keeps about 50% busy, a two-worker run about
100%; more than that means other processes were running. Parallel cases run after a
first paribus call that starts the loky workers; that cold call is reported apart.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import doubleml as dml
import lightgbm as lgb
import numpy as np
from _data import Bench, make_data, make_plr_data
from econml.dml import LinearDML
from econml.dr import LinearDRLearner
from joblib import Parallel, delayed, parallel_config
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

import paribus
from paribus import IRM, PLR

REG = lgb.LGBMRegressor(n_estimators=100, n_jobs=1, random_state=0, verbose=-1)
CLF = lgb.LGBMClassifier(n_estimators=100, n_jobs=1, random_state=0, verbose=-1)
N_FOLDS = 5
PACKAGES = [
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "joblib",
    "lightgbm",
    "econml",
    "DoubleML",
    "paribus",
]
Folds = list[tuple[np.ndarray, np.ndarray]]


def workers() -> int:
    """What paribus's default ``n_jobs=-1`` resolves to here: every core it may use."""
    return len(os.sched_getaffinity(0))


# -- measuring ---------------------------------------------------------------------------------


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields_ = [int(v) for v in fh.readline().split()[1:]]
    idle = fields_[3] + fields_[4]  # idle + iowait
    return sum(fields_) - idle, sum(fields_)


@dataclass(frozen=True)
class Run:
    wall: float  # perf_counter seconds
    cpu: float  # this process's CPU seconds (parallel workers not counted)
    load_before: float  # one-minute load average
    load_after: float
    busy: float  # share of all cores busy during the run, any process


def measure(fn: Callable[[], Any]) -> tuple[Any, Run]:
    load = os.getloadavg()[0]
    busy0, total0 = _cpu_jiffies()
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    busy1, total1 = _cpu_jiffies()
    busy = (busy1 - busy0) / max(1, total1 - total0)
    return out, Run(wall, cpu, load, os.getloadavg()[0], busy)


@dataclass
class Case:
    name: str
    fn: Callable[[], tuple[float, float] | None]
    mode: str  # "serial" or "parallel"
    role: str  # "floor", "paribus" or "peer"
    runs: list[Run] = field(default_factory=list)
    estimate: tuple[float, float] | None = None

    @property
    def best(self) -> float:
        return min(r.wall for r in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(r.wall for r in self.runs)


# -- the floor: bare nuisance fits -------------------------------------------------------------


def _fit_predict(model: Any, X: np.ndarray, target: np.ndarray, train, test, proba: bool):
    fitted = clone(model).fit(X[train], target[train])
    return fitted.predict_proba(X[test])[:, 1] if proba else fitted.predict(X[test])


def plr_tasks(b: Bench, folds: Folds) -> list[tuple[Any, ...]]:
    """l(X) = E[y | X] and m(X) = E[d | X] on every training fold (paribus's task order)."""
    X, y, d = b.frame[b.covariates].to_numpy(), b.frame["y"].to_numpy(), b.frame["t"].to_numpy()
    return [(REG, X, target, tr, te, False) for target in (y, d) for tr, te in folds]


def irm_tasks(b: Bench, folds: Folds) -> list[tuple[Any, ...]]:
    """g0 and g1 on each arm of every training fold, and the propensity on all of it."""
    X, y, t = b.frame[b.covariates].to_numpy(), b.frame["y"].to_numpy(), b.frame["t"].to_numpy()
    return (
        [(REG, X, y, tr[t[tr] == 0], te, False) for tr, te in folds]
        + [(REG, X, y, tr[t[tr] == 1], te, False) for tr, te in folds]
        + [(CLF, X, t, tr, te, True) for tr, te in folds]
    )


def floor(tasks: list[tuple[Any, ...]], n_jobs: int) -> None:
    if n_jobs == 1:
        for task in tasks:
            _fit_predict(*task)
        return
    # paribus's loky setting: one BLAS/OpenMP thread per worker on two cores
    with parallel_config(backend="loky", inner_max_num_threads=max(1, workers() // n_jobs)):
        Parallel(n_jobs=n_jobs)(delayed(_fit_predict)(*task) for task in tasks)


# -- the estimators ----------------------------------------------------------------------------


def paribus_plr(b: Bench, folds: Folds, n_jobs: int) -> tuple[float, float]:
    with paribus.config(n_jobs=n_jobs):
        est = PLR(outcome_model=REG, treatment_model=REG, folds=folds, random_state=0)
        r = est.fit(b.frame, treatment="t", outcome="y", covariates=b.covariates).result_
    return r.estimate, r.std_error


def paribus_irm(b: Bench, folds: Folds, n_jobs: int) -> tuple[float, float]:
    with paribus.config(n_jobs=n_jobs):
        est = IRM(outcome_model=REG, propensity_model=CLF, folds=folds, random_state=0)
        r = est.fit(b.frame, treatment="t", outcome="y", covariates=b.covariates).result_
    return r.estimate, r.std_error


def doubleml_fit(model: str, b: Bench, folds: Folds, n_jobs: int, **learners: Any):
    data = dml.DoubleMLData(b.frame, y_col="y", d_cols="t", x_cols=b.covariates)
    est = getattr(dml, model)(data, n_folds=N_FOLDS, draw_sample_splitting=False, **learners)
    est.set_sample_splitting(folds)
    if n_jobs == 1:
        est.fit()
    else:  # the same worker settings as paribus, so joblib reuses the same loky workers
        with parallel_config(backend="loky", inner_max_num_threads=max(1, workers() // n_jobs)):
            est.fit(n_jobs_cv=n_jobs)
    return float(est.coef[0]), float(est.se[0])


def econml_linear_dml(b: Bench, folds: Folds) -> tuple[float, float]:
    """Partialling out with a constant final stage: no X, all covariates as controls W."""
    est = LinearDML(model_y=clone(REG), model_t=clone(REG), cv=folds, random_state=0)
    est.fit(b.frame["y"].to_numpy(), b.frame["t"].to_numpy(), X=None, W=b.frame[b.covariates])
    inf = est.ate_inference()
    return float(inf.mean_point), float(inf.stderr_mean)


def econml_linear_dr(b: Bench, folds: Folds) -> tuple[float, float]:
    """EconML's DR learner: one outcome model with the treatment as a feature (not per arm)."""
    est = LinearDRLearner(
        model_regression=clone(REG), model_propensity=clone(CLF), cv=folds, random_state=0
    )
    est.fit(b.frame["y"].to_numpy(), b.frame["t"].to_numpy(), X=None, W=b.frame[b.covariates])
    inf = est.ate_inference()
    return float(inf.mean_point), float(inf.stderr_mean)


# -- the two sections ----------------------------------------------------------------------------


def plr_cases(b: Bench, folds: Folds, par: int) -> list[Case]:
    tasks = plr_tasks(b, folds)
    return [
        Case("floor: 10 bare fits (l, m)", lambda: floor(tasks, 1), "serial", "floor"),
        Case(f"floor: 10 bare fits, {par} workers", lambda: floor(tasks, par), "parallel", "floor"),
        Case("paribus PLR n_jobs=1", lambda: paribus_plr(b, folds, 1), "serial", "paribus"),
        Case("paribus PLR n_jobs=-1", lambda: paribus_plr(b, folds, -1), "parallel", "paribus"),
        Case(
            "DoubleML DoubleMLPLR",
            lambda: doubleml_fit("DoubleMLPLR", b, folds, 1, ml_l=REG, ml_m=REG),
            "serial",
            "peer",
        ),
        Case(
            f"DoubleML DoubleMLPLR n_jobs_cv={par}",
            lambda: doubleml_fit("DoubleMLPLR", b, folds, par, ml_l=REG, ml_m=REG),
            "parallel",
            "peer",
        ),
        Case("EconML LinearDML (X=None)", lambda: econml_linear_dml(b, folds), "serial", "peer"),
    ]


def irm_cases(b: Bench, folds: Folds, par: int) -> list[Case]:
    tasks = irm_tasks(b, folds)
    return [
        Case("floor: 15 bare fits (g0, g1, m)", lambda: floor(tasks, 1), "serial", "floor"),
        Case(f"floor: 15 bare fits, {par} workers", lambda: floor(tasks, par), "parallel", "floor"),
        Case("paribus IRM n_jobs=1", lambda: paribus_irm(b, folds, 1), "serial", "paribus"),
        Case("paribus IRM n_jobs=-1", lambda: paribus_irm(b, folds, -1), "parallel", "paribus"),
        Case(
            "DoubleML DoubleMLIRM",
            lambda: doubleml_fit("DoubleMLIRM", b, folds, 1, ml_g=REG, ml_m=CLF),
            "serial",
            "peer",
        ),
        Case(
            f"DoubleML DoubleMLIRM n_jobs_cv={par}",
            lambda: doubleml_fit("DoubleMLIRM", b, folds, par, ml_g=REG, ml_m=CLF),
            "parallel",
            "peer",
        ),
        Case("EconML LinearDRLearner (*)", lambda: econml_linear_dr(b, folds), "serial", "peer"),
    ]


def report(title: str, cases: list[Case], truth: float) -> None:
    print(f"\n{title} (truth {truth:.4f})")
    floors = {c.mode: c.best for c in cases if c.role == "floor"}
    paribus_best = {c.mode: c.best for c in cases if c.role == "paribus"}
    print(
        f"  {'':<36} {'estimate':>8} {'SE':>7} {'best s':>7} {'median':>7}  "
        f"{'/ floor':>7} {'pb1/this':>8} {'pb-1/this':>9}  runs (s); busy %; load before>after"
    )
    for c in cases:
        est = f"{c.estimate[0]:8.4f} {c.estimate[1]:7.4f}" if c.estimate else f"{'':8} {'':7}"
        ratio = f"{c.best / floors[c.mode]:7.2f}"
        vs = f"{paribus_best['serial'] / c.best:8.2f} {paribus_best['parallel'] / c.best:9.2f}"
        runs = " ".join(f"{r.wall:.2f}" for r in c.runs)
        busy = " ".join(f"{100 * r.busy:.0f}" for r in c.runs)
        load = " ".join(f"{r.load_before:.2f}>{r.load_after:.2f}" for r in c.runs)
        print(
            f"  {c.name:<36} {est} {c.best:7.2f} {c.median:7.2f}  {ratio} {vs}  "
            f"[{runs}]; [{busy}]; [{load}]"
        )
    ests = {c.name: c.estimate for c in cases if c.estimate}
    ref_name = next(c.name for c in cases if c.role == "paribus")
    ref = ests[ref_name]
    for name, (e, se) in ests.items():
        if name != ref_name:
            print(
                f"  {name:<36} - {ref_name}: estimate {e - ref[0]:+.2e} "
                f"({(e - ref[0]) / ref[1]:+.3f} SE), SE {se - ref[1]:+.2e}"
            )


def run_section(cases: list[Case], repeat: int) -> None:
    for _ in range(repeat):
        for c in cases:
            est, run = measure(c.fn)
            c.runs.append(run)
            if est is not None:
                c.estimate = est


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("plr", "irm"))
    parser.add_argument("--rows", type=int, default=100_000, help="a smaller n for a smoke test")
    args = parser.parse_args()
    par = workers()
    print(
        f"date {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs ({par} usable), "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(", ".join(f"{pkg} {version(pkg)}" for pkg in PACKAGES))
    print(f"learners: {REG!r}, {CLF!r}; {N_FOLDS} explicit folds; repeat {args.repeat}")
    print(
        "columns: estimate, SE, best and median wall time (s), best / the floor of the same "
        "mode (serial or parallel), paribus n_jobs=1 best / this best, paribus n_jobs=-1 best "
        "/ this best; then each run's wall time, share of both cores busy (any process), and "
        "the one-minute load average before > after"
    )
    plr_b, irm_b = make_plr_data(args.rows, 20, seed=0), make_data(args.rows, 20, seed=0)
    plr_folds = list(KFold(N_FOLDS, shuffle=True, random_state=0).split(plr_b.frame))
    irm_t = irm_b.frame["t"].to_numpy()
    irm_folds = list(
        StratifiedKFold(N_FOLDS, shuffle=True, random_state=0).split(irm_t.reshape(-1, 1), irm_t)
    )
    # the first parallel call starts the loky workers (imports in each); timed apart
    (est, se), cold = measure(lambda: paribus_plr(plr_b, plr_folds, -1))
    print(
        f"\ncold start: first paribus PLR n_jobs=-1 call {cold.wall:.2f} s "
        f"(busy {100 * cold.busy:.0f}%, load {cold.load_before:.2f}>{cold.load_after:.2f}); "
        f"estimate {est:.4f} (SE {se:.4f})"
    )
    if args.only in (None, "plr"):
        cases = plr_cases(plr_b, plr_folds, par)
        run_section(cases, args.repeat)
        report("PLR, partialling out, 5 folds (KFold, seed 0)", cases, plr_b.ate)
    if args.only in (None, "irm"):
        cases = irm_cases(irm_b, irm_folds, par)
        run_section(cases, args.repeat)
        report("IRM, ATE, 5 folds (StratifiedKFold, seed 0)", cases, irm_b.ate)
        print(
            "  (*) EconML's DR learner fits one outcome model on (W, t), not one per arm: "
            "different nuisances, so its estimate need not match"
        )
    print(f"\nload average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
