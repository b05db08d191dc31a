"""Matching and AIPW: paribus against DoWhy, EconML and DoubleML on the same data.

Run by hand in the bench environment (``make bench``)::

    .venv-bench/bin/python bench/bench_matching_aipw.py

One run, one data set (``bench/_data.py``: 100k rows x 20 covariates, nonlinear
confounding, known ATE and ATT). Wall times by ``time.perf_counter`` (with the CPU
time of this process beside them): the matching calls best of 2 (both printed; the
first paribus run loads its compiled numba kernels), the AIPW-type fits once each,
except paribus with n_jobs=2, whose first call also starts joblib's worker processes:
it runs twice and the ratios use each call. Every learner is single-threaded LightGBM
with 100 trees, so the timings compare the libraries' machinery, not their threading.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import TypeVar

import doubleml as dml
import lightgbm as lgb
import numpy as np
import pandas as pd
from _data import Bench, make_data
from dowhy import CausalModel
from econml.dr import LinearDRLearner
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from paribus import AIPW, Logit, Matching

T = TypeVar("T")
REG = lgb.LGBMRegressor(n_estimators=100, num_threads=1, verbose=-1)
CLF = lgb.LGBMClassifier(n_estimators=100, num_threads=1, verbose=-1)
PACKAGES = ["numpy", "pandas", "scikit-learn", "lightgbm", "dowhy", "econml", "DoubleML", "paribus"]


@dataclass(frozen=True)
class Timing:
    """Wall (perf_counter) and this process's CPU (process_time) seconds of each run."""

    wall: list[float]
    cpu: list[float]

    @property
    def best(self) -> float:
        return min(self.wall)

    def __str__(self) -> str:
        runs = " ".join(f"{s:.2f}" for s in self.wall)
        return f"{self.best:7.2f} s  cpu {self.cpu[self.wall.index(self.best)]:6.2f} s  [{runs}]"


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, Timing]:
    """``fn()``'s last result and the times of each of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return out, Timing(wall, cpu)


def row(name: str, times: Timing, est: float, se: float | None, truth: float) -> float:
    se_txt = f"{se:.4f}" if se is not None else "   -  "
    print(f"  {name:<31} {times}  {est:.4f} (SE {se_txt})  bias {est - truth:+.4f}")
    return times.best


def paribus_matching(frame: pd.DataFrame, covs: list[str]) -> tuple[float, float]:
    m = Matching(estimand="ATT", distance="propensity", propensity_model=Logit(), random_state=0)
    r = m.fit(frame, treatment="t", outcome="y", covariates=covs).result_
    return r.estimate, r.std_error


def dowhy_matching(frame: pd.DataFrame, covs: list[str]) -> tuple[float, float]:
    """DoWhy's estimate and the seconds of its ``estimate_effect`` call alone."""
    # DoWhy writes the fitted score into the frame it holds, so every call gets a fresh copy
    model = CausalModel(data=frame.copy(), treatment="t", outcome="y", common_causes=covs)
    identified = model.identify_effect(proceed_when_unidentifiable=True)
    start = time.perf_counter()
    est = model.estimate_effect(
        identified,
        method_name="backdoor.propensity_score_matching",
        target_units="att",
        method_params={"propensity_score_model": Logit()},
    )
    return float(est.value), time.perf_counter() - start


def paribus_aipw(frame: pd.DataFrame, covs: list[str], n_jobs: int) -> tuple[float, float]:
    est = AIPW(
        estimand="ATE",
        outcome_model=REG,
        propensity_model=CLF,
        folds=5,
        random_state=0,
        n_jobs=n_jobs,
    )
    r = est.fit(frame, treatment="t", outcome="y", covariates=covs).result_
    return r.estimate, r.std_error


def econml_dr(frame: pd.DataFrame, covs: list[str]) -> tuple[float, float]:
    est = LinearDRLearner(
        model_regression=clone(REG), model_propensity=clone(CLF), cv=5, random_state=0
    )
    est.fit(frame["y"].to_numpy(), frame["t"].to_numpy(), X=None, W=frame[covs].to_numpy())
    inf = est.ate_inference()
    return float(inf.mean_point), float(inf.stderr_mean)


def doubleml_irm(frame: pd.DataFrame, covs: list[str]) -> tuple[float, float]:
    np.random.seed(0)  # noqa: NPY002 - DoubleML draws its folds from the global generator
    data = dml.DoubleMLData(frame, y_col="y", d_cols="t", x_cols=covs)
    irm = dml.DoubleMLIRM(data, ml_g=clone(REG), ml_m=clone(CLF), n_folds=5, score="ATE").fit()
    return float(irm.coef[0]), float(irm.se[0])


def nuisance_floor(frame: pd.DataFrame, covs: list[str]) -> None:
    """The 15 bare fits of cross-fitted AIPW (g0, g1, e on 5 training folds), serially."""
    X, y, t = frame[covs].to_numpy(), frame["y"].to_numpy(), frame["t"].to_numpy()
    for train, _ in StratifiedKFold(5, shuffle=True, random_state=0).split(X, t):
        control, treated = train[t[train] == 0], train[t[train] == 1]
        clone(REG).fit(X[control], y[control])
        clone(REG).fit(X[treated], y[treated])
        clone(CLF).fit(X[train], t[train])


def matching_section(b: Bench) -> None:
    f, covs = b.frame, b.covariates
    print(f"\nMatching, ATT, 1 neighbour with replacement, logistic propensity (truth {b.att:.4f})")
    print("  both use paribus.Logit (unpenalized ML logistic regression) as the propensity model")
    _, t_logit = timed(lambda: Logit().fit(f[covs].to_numpy(), f["t"].to_numpy()), 2)
    print(f"  {'propensity fit alone':<31} {t_logit}")
    (pe, pse), tp = timed(lambda: paribus_matching(f, covs), 2)
    (de, est_only), td = timed(lambda: dowhy_matching(f, covs), 2)
    p = row("paribus Matching", tp, pe, pse, b.att)
    d = row("DoWhy model+identify+estimate", td, de, None, b.att)
    print(f"  {'DoWhy estimate_effect alone':<31} {est_only:7.2f} s  (in the last run)")
    print(
        f"  ratio dowhy / paribus: {d / p:.1f} (estimate_effect alone {est_only / p:.1f}); "
        f"|paribus - dowhy| = {abs(pe - de):.2e}"
    )


def aipw_section(b: Bench) -> None:
    f, covs = b.frame, b.covariates
    print(f"\nAIPW-type ATE, 5 folds, LightGBM(100 trees, 1 thread) nuisances (truth {b.ate:.4f})")
    _, tf = timed(lambda: nuisance_floor(f, covs))
    floor = tf.best
    print(f"  {'floor: 15 bare nuisance fits':<31} {tf}")
    res = {
        "paribus AIPW n_jobs=1": timed(lambda: paribus_aipw(f, covs, 1)),
        "paribus AIPW n_jobs=2": timed(lambda: paribus_aipw(f, covs, 2), 2),
        "EconML LinearDRLearner": timed(lambda: econml_dr(f, covs)),
        "DoubleML DoubleMLIRM": timed(lambda: doubleml_irm(f, covs)),
    }
    secs = {name: row(name, times, *est, b.ate) for name, (est, times) in res.items()}
    p1 = secs["paribus AIPW n_jobs=1"]
    p2_cold, p2 = res["paribus AIPW n_jobs=2"][1].wall
    for name in ("EconML LinearDRLearner", "DoubleML DoubleMLIRM"):
        print(
            f"  ratio {name} / paribus: n_jobs=1 {secs[name] / p1:.2f}, n_jobs=2 first call "
            f"{secs[name] / p2_cold:.2f}, n_jobs=2 second call {secs[name] / p2:.2f}"
        )
    print(
        f"  ratio paribus / floor: n_jobs=1 {p1 / floor:.2f}, n_jobs=2 first call "
        f"{p2_cold / floor:.2f}, second call {p2 / floor:.2f}"
    )


def large_matching_section() -> None:
    b = make_data(n=1_000_000, p=5, seed=1)
    print(f"\nparibus Matching ATT with replacement, 1M rows x 5 covariates (truth {b.att:.4f})")
    (est, se), times = timed(lambda: paribus_matching(b.frame, b.covariates), 2)
    row("paribus Matching (1M x 5)", times, est, se, b.att)


def main() -> None:
    print(
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} (1 min)"
    )
    print(", ".join(f"{pkg} {version(pkg)}" for pkg in PACKAGES))
    b = make_data(n=100_000, p=20, seed=0)
    f = b.frame
    print(
        f"data: {len(f)} rows x {len(b.covariates)} covariates, {f['t'].mean():.1%} treated; "
        f"true ATE {b.ate:.4f}, true ATT {b.att:.4f}"
    )
    print(
        "columns: best wall time, CPU time of this process in that run (the parallel workers'"
        " not counted), [wall time of each run], estimate (SE), estimate - truth"
    )
    matching_section(b)
    aipw_section(b)
    large_matching_section()
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
