"""CATE accuracy of the meta-learners: IHDP (Hill 2011) and ACIC 2016, against EconML and CausalML.

Run by hand in the bench environment::

    .venv-bench/bin/python bench/bench_cate.py [--seeds 50] [--acic 1 2 3 4 5]

Data (``../shared/datasets``, README sections 9 and 10):

* IHDP, Hill (2011, JCGS 20(1), Sec. 4): the 985 children of ``ihdp_hill2011_covariates.csv``
  less the treated children of non-white mothers, 747 = 139 treated + 608 controls; 25
  covariates (6 continuous, standardised; 19 binary, ``first`` coded 1/2 and site 8 the
  reference) plus an intercept. Response surface A: ``Y = X beta + 4 T + N(0, 1)``, beta's
  entries drawn from {0, 1, 2, 3, 4} with probabilities (.5, .2, .15, .1, .05): the effect
  is 4 for everyone. Surface B: ``Y(0) = exp((X + W) beta) + N(0, 1)``,
  ``Y(1) = X beta - omega + N(0, 1)``, W = 0.5 in every covariate (not the intercept),
  beta's entries from {0, .1, .2, .3, .4} with probabilities (.6, .1, .1, .1, .1), and
  omega chosen so that the average effect on the treated is 4: a heterogeneous effect.
  One replication per seed (``numpy.random.RandomState(seed)``); the draws follow
  EconML's ``ihdp_surface_A/B`` order, so the script checks its rows against them.
* ACIC 2016 (Dorie et al. 2019), instances 1-5: 4,802 rows, 58 covariates of which three
  categorical (one-hot, first level dropped: 79 columns), ``tau = mu1 - mu0``.

Metrics: PEHE = sqrt(mean((tau_hat - tau)^2)) over the sample the learner was fitted on
(in-sample, as in Hill 2011), and |ATE_hat - mean(tau)|. Every learner is LightGBM with
paribus's default settings (100 rounds at rate 0.05, depth 3, 8 leaves, 20 rows per leaf,
L2 penalty 1), single-threaded (``OMP_NUM_THREADS=1``; ``paribus.config(n_jobs=1)``);
paribus's learners are left at their defaults (which are exactly these). Intervals are
not asked for: paribus's S/T/X and boosting final stages run with ``n_bootstrap=0``.
CausalML's X-, R- and DR-learners get one propensity per data set (5-fold cross-fitted
LightGBM classifier, clipped to [0.01, 0.99]); its time is added to each of theirs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before LightGBM loads: one thread everywhere
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import datetime
import platform
import subprocess
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from causalml.inference.meta import (
    BaseDRRegressor,
    BaseRRegressor,
    BaseSRegressor,
    BaseTRegressor,
    BaseXRegressor,
)
from econml.dml import LinearDML, NonParamDML
from econml.dr import DRLearner as EconDR
from econml.dr import LinearDRLearner
from econml.metalearners import SLearner as EconS
from econml.metalearners import TLearner as EconT
from econml.metalearners import XLearner as EconX
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

import paribus
from paribus import DRLearner, RLearner, SLearner, TLearner, XLearner
from paribus._core.defaults import default_classifier, default_regressor

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
PACKAGES = ["numpy", "pandas", "scikit-learn", "lightgbm", "econml", "causalml", "paribus"]
CLIP = 0.01

paribus.config(n_jobs=1)
REG = default_regressor().set_params(n_jobs=1)  # paribus's default learners, for the peers
CLF = default_classifier().set_params(n_jobs=1)


# -- data ----------------------------------------------------------------------------------------

IHDP_CONTINUOUS = ["bw", "b.head", "preterm", "birth.o", "nnhealth", "momage"]
IHDP_BINARY = ["sex", "twin", "b.marr", "mom.lths", "mom.hs", "mom.scoll", "cig", "first"]
IHDP_BINARY += ["booze", "drugs", "work.dur", "prenatal"] + [f"site{j}" for j in range(1, 8)]


def ihdp_design() -> tuple[np.ndarray, np.ndarray]:
    """(747, 26) design (intercept first, then the 25 covariates) and the treatment."""
    raw = pd.read_csv(DATA / "ihdp_hill2011_covariates.csv")
    keep = raw[~((raw["treat"] == 1) & (raw["momwhite"] == 0))]
    cont = keep[IHDP_CONTINUOUS].to_numpy(dtype=float)
    cont = (cont - cont.mean(axis=0)) / cont.std(axis=0)
    binary = keep[IHDP_BINARY].to_numpy(dtype=float)
    binary[:, IHDP_BINARY.index("first")] += 1.0  # coded 1/2 in Hill's simulation code
    design = np.column_stack([np.ones(len(keep)), cont, binary])
    return design, keep["treat"].to_numpy(dtype=float)


def ihdp_surface(
    surface: str, seed: int, design: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One replication of response surface A or B: the outcome and the true CATEs."""
    rng = np.random.RandomState(seed)  # the legacy stream, as EconML's ihdp_surface_A/B
    n, p = design.shape
    if surface == "A":
        beta = rng.choice([0, 1, 2, 3, 4], size=p, replace=True, p=[0.5, 0.2, 0.15, 0.1, 0.05])
        tau = np.full(n, 4.0)
        y = design @ beta + 4.0 * t + rng.normal(0, 1, size=n)
        return y, tau
    beta = rng.choice([0, 0.1, 0.2, 0.3, 0.4], size=p, replace=True, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    offset = np.full_like(design, 0.5)
    offset[:, 0] = 0.0  # W shifts the covariates, not the intercept
    y0_mean = np.exp((design + offset) @ beta)
    linear = design @ beta
    omega = np.mean((linear - y0_mean)[t == 1]) - 4.0  # CATT = 4
    y1_mean = linear - omega
    y = np.where(t == 1, y1_mean, y0_mean) + rng.normal(0, 1, size=n)
    return y, y1_mean - y0_mean


def check_ihdp_against_econml(seeds: list[int], design: np.ndarray, t: np.ndarray) -> float:
    """Largest difference between our replications and EconML's ``ihdp_surface_A/B``."""
    from econml.data.dgps import ihdp_surface_A, ihdp_surface_B

    worst = 0.0
    for seed in seeds:
        for surface, theirs in (("A", ihdp_surface_A), ("B", ihdp_surface_B)):
            y, tau = ihdp_surface(surface, seed, design, t)
            y_e, t_e, X_e, tau_e = theirs(random_state=seed)
            for a, b in ((y, y_e), (tau, tau_e), (t, t_e), (design, X_e)):
                worst = max(worst, float(np.max(np.abs(np.asarray(a) - np.asarray(b)))))
    return worst


def acic(instance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = pd.read_csv(DATA / "acic2016" / "x.csv")
    categorical = list(x.select_dtypes(exclude="number").columns)
    X = pd.get_dummies(x, columns=categorical, drop_first=True, dtype=float).to_numpy(float)
    z = pd.read_csv(DATA / "acic2016" / f"zymu_{instance}.csv")
    t = z["z"].to_numpy(dtype=float)
    y = np.where(t == 1, z["y1"], z["y0"]).astype(float)
    return X, t, y, (z["mu1"] - z["mu0"]).to_numpy(dtype=float)


# -- learners: each returns (in-sample CATEs, ATE) -----------------------------------------------

Fit = Callable[[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]], tuple[np.ndarray, float]]


def _paribus(est: Any) -> Fit:
    def run(X: np.ndarray, t: np.ndarray, y: np.ndarray, ctx: dict[str, Any]) -> Any:
        cols = [f"x{j}" for j in range(X.shape[1])]
        frame = pd.DataFrame(X, columns=cols).assign(t=t, y=y)
        fitted = clone(est).fit(frame, treatment="t", outcome="y", covariates=cols)
        return fitted.effect(X), fitted.ate().estimate

    return run


def _econml(make: Callable[[], Any], **fit_kw: Any) -> Fit:
    def run(X: np.ndarray, t: np.ndarray, y: np.ndarray, ctx: dict[str, Any]) -> Any:
        est = make()
        est.fit(y, t.astype(int), X=X, **fit_kw)
        tau = np.ravel(est.effect(X))
        return tau, float(tau.mean())

    return run


def _causalml(make: Callable[[], Any], uses_p: bool) -> Fit:
    def run(X: np.ndarray, t: np.ndarray, y: np.ndarray, ctx: dict[str, Any]) -> Any:
        est = make()
        kw: dict[str, Any] = {"p": ctx["p"]} if uses_p else {}
        if isinstance(est, BaseRRegressor):
            kw["verbose"] = False
        if isinstance(est, BaseDRRegressor):
            kw["seed"] = 0
        est.fit(X, t.astype(int), y, **kw)
        tau = np.ravel(est.predict(X, p=ctx["p"]) if uses_p else est.predict(X))
        ctx["extra_seconds"] = ctx["p_seconds"] if uses_p else 0.0
        return tau, float(tau.mean())

    return run


def learners() -> dict[str, Fit]:
    boot0 = {"n_bootstrap": 0, "random_state": 0}
    return {
        "paribus S": _paribus(SLearner(**boot0)),
        "paribus T": _paribus(TLearner(**boot0)),
        "paribus X": _paribus(XLearner(**boot0)),
        "paribus R (linear final)": _paribus(RLearner(random_state=0)),
        "paribus DR (linear final)": _paribus(DRLearner(random_state=0)),
        "paribus R (boosting final)": _paribus(RLearner(final_model=default_regressor(), **boot0)),
        "paribus DR (boosting final)": _paribus(
            DRLearner(final_model=default_regressor(), **boot0)
        ),
        "EconML SLearner": _econml(lambda: EconS(overall_model=clone(REG))),
        "EconML TLearner": _econml(lambda: EconT(models=clone(REG))),
        "EconML XLearner": _econml(lambda: EconX(models=clone(REG), propensity_model=clone(CLF))),
        "EconML LinearDML": _econml(
            lambda: LinearDML(
                model_y=clone(REG),
                model_t=clone(CLF),
                discrete_treatment=True,
                cv=5,
                random_state=0,
            )
        ),
        "EconML LinearDRLearner": _econml(
            lambda: LinearDRLearner(
                model_regression=clone(REG),
                model_propensity=clone(CLF),
                min_propensity=CLIP,
                cv=5,
                random_state=0,
            )
        ),
        "EconML NonParamDML (boosting final)": _econml(
            lambda: NonParamDML(
                model_y=clone(REG),
                model_t=clone(CLF),
                model_final=clone(REG),
                discrete_treatment=True,
                cv=5,
                random_state=0,
            )
        ),
        "EconML DRLearner (boosting final)": _econml(
            lambda: EconDR(
                model_regression=clone(REG),
                model_propensity=clone(CLF),
                model_final=clone(REG),
                min_propensity=CLIP,
                cv=5,
                random_state=0,
            )
        ),
        "CausalML S": _causalml(lambda: BaseSRegressor(learner=clone(REG)), uses_p=False),
        "CausalML T": _causalml(lambda: BaseTRegressor(learner=clone(REG)), uses_p=False),
        "CausalML X": _causalml(lambda: BaseXRegressor(learner=clone(REG)), uses_p=True),
        "CausalML R (boosting final)": _causalml(
            lambda: BaseRRegressor(
                outcome_learner=clone(REG), effect_learner=clone(REG), n_fold=5, random_state=0
            ),
            uses_p=True,
        ),
        "CausalML DR (boosting final)": _causalml(
            lambda: BaseDRRegressor(learner=clone(REG)), uses_p=True
        ),
    }


def cross_fitted_propensity(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    e = np.empty(t.size)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, t):
        e[test] = clone(CLF).fit(X[train], t[train]).predict_proba(X[test])[:, 1]
    return np.clip(e, CLIP, 1 - CLIP)


# -- the study ---------------------------------------------------------------------------------


def evaluate(
    group: str, X: np.ndarray, t: np.ndarray, y: np.ndarray, tau: np.ndarray, rows: list
) -> None:
    start = time.perf_counter()
    ctx: dict[str, Any] = {"p": cross_fitted_propensity(X, t)}
    ctx["p_seconds"] = time.perf_counter() - start
    for name, run in learners().items():
        ctx["extra_seconds"] = 0.0
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau_hat, ate = run(X, t, y, ctx)
        seconds = time.perf_counter() - start + ctx["extra_seconds"]
        pehe = float(np.sqrt(np.mean((tau_hat - tau) ** 2)))
        rows.append((group, name, pehe, abs(ate - tau.mean()), seconds))


def summarise(rows: list, groups: list[str]) -> str:
    """Markdown table: per group the mean PEHE and mean |ATE error| (IHDP: with the Monte
    Carlo standard error of the mean over replications), and each learner's total time."""
    by: dict[tuple[str, str], list] = defaultdict(list)
    for group, name, pehe, ate_err, seconds in rows:
        by[(group, name)].append((pehe, ate_err, seconds))
    names = list(dict.fromkeys(name for _, name, *_ in rows))
    head = "| learner | " + " | ".join(f"{g}: PEHE | {g}: abs ATE error" for g in groups)
    lines = [head + " | total time |", "|---" * (2 * len(groups) + 2) + "|"]

    def cell(values: np.ndarray, with_se: bool) -> str:
        if not with_se or values.size < 2:
            return f"{values.mean():.3f}"
        return f"{values.mean():.3f} ({values.std(ddof=1) / np.sqrt(values.size):.3f})"

    for name in names:
        cells, total = [], 0.0
        for g in groups:
            vals = np.array(by[(g, name)])
            ihdp = g.startswith("IHDP")
            cells += [cell(vals[:, 0], ihdp), cell(vals[:, 1], ihdp)]
            total += vals[:, 2].sum()
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total:.1f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="IHDP replications per surface")
    parser.add_argument("--acic", type=int, nargs="*", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    print(
        f"date {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print("uptime at start:", subprocess.run(["uptime"], capture_output=True, text=True).stdout)
    print(", ".join(f"{pkg} {version(pkg)}" for pkg in PACKAGES))
    start_all = time.perf_counter()
    design, t = ihdp_design()
    seeds = list(range(args.seeds))
    print(
        f"IHDP: {len(t)} children ({int(t.sum())} treated), {design.shape[1] - 1} covariates; "
        f"max |ours - EconML ihdp_surface_A/B| over the seeds: "
        f"{check_ihdp_against_econml(seeds, design, t):.2e}"
    )
    rows: list = []
    groups = []
    for surface in ("A", "B"):
        group = f"IHDP {surface}"
        groups.append(group)
        for seed in seeds:
            y, tau = ihdp_surface(surface, seed, design, t)
            evaluate(group, design[:, 1:], t, y, tau, rows)
        print(f"{group}: {args.seeds} replications done ({time.perf_counter() - start_all:.0f} s)")
    if args.acic:
        groups.append("ACIC 2016")
        for k in args.acic:
            X, tz, y, tau = acic(k)
            evaluate("ACIC 2016", X, tz, y, tau, rows)
            for _, name, pehe, err, sec in rows[-len(learners()) :]:
                print(f"  ACIC {k} {name:<38} PEHE {pehe:6.3f}  |ATE err| {err:6.3f}  {sec:5.1f} s")
            print(f"ACIC instance {k} done ({time.perf_counter() - start_all:.0f} s)")
    print()
    print(
        f"Means over {args.seeds} IHDP replications per surface and ACIC instances {args.acic}; "
        "time summed over all fits of the column groups"
    )
    print(summarise(rows, groups))
    print(f"\nwhole run {time.perf_counter() - start_all:.0f} s")
    print("uptime at end:", subprocess.run(["uptime"], capture_output=True, text=True).stdout)


if __name__ == "__main__":
    main()
