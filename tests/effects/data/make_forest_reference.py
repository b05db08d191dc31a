"""EconML's CausalForestDML on IHDP (Hill 2011, surface B) and ACIC 2016: reference RMSEs.

Run once with the benchmark environment (econml 0.17.0, lightgbm)::

    /work/main/.venv-bench/bin/python tests/effects/data/make_forest_reference.py

It writes ``forest_reference.json`` next to this file: for every instance, the in-sample
CATE RMSE of EconML's ``CausalForestDML`` against the known truth, with the seeds and
settings. ``tests/effects/test_forest_benchmarks.py`` rebuilds the same instances with
the functions below (no EconML needed) and fits paribus's ``CausalForest``.

Instances
---------
* IHDP, response surface B of Hill (2011, JCGS 20(1), Sec. 4.1), built from
  ``ihdp_hill2011_covariates.csv``: treated children of non-white mothers are dropped
  (747 = 139 treated + 608 controls); the covariates are the 6 continuous ones
  (standardised), 13 binary ones and 7 site dummies (25 in all: Hill's design);
  ``beta`` has entries drawn from (0, .1, .2, .3, .4) with probabilities
  (.6, .1, .1, .1, .1); ``Y(0) = exp((X + 0.5) beta) + e``,
  ``Y(1) = X beta - omega + e``, ``e ~ N(0, 1)``, with ``omega`` chosen so that the
  effect on the treated is 4. The true CATE is ``X beta - omega - exp((X + 0.5) beta)``.
  One ``numpy.random.default_rng(seed)`` draws ``beta``, then the noise.
* Wager & Athey (2018, JASA 113(523), Sec. 5), simulated, ``n = 2000``, ``d = 6``,
  ``X ~ U[0, 1]^d``, ``Y = m(X) + (W - 1/2) tau(X) + N(0, 1)``, one
  ``numpy.random.default_rng(seed)`` drawing X, then W, then the noise:
  ``wa_confounded``: ``e(x) = (1 + Beta_{2,4} cdf(x1)) / 4``, ``m(x) = 2 x1 - 1``,
  ``tau = 0``; ``wa_heterogeneous``: ``e = 1/2``, ``m = 0``,
  ``tau(x) = xi(x1) xi(x2)``, ``xi(u) = 1 + 1 / (1 + exp(-20 (u - 1/3)))``;
  ``wa_sigmoid``: ``e = 1/2``, ``m = 0``, ``tau(x) = c(x1) c(x2)``,
  ``c(u) = 2 / (1 + exp(-12 (u - 1/2)))``.
* ACIC 2016 (Dorie et al. 2019), ``acic2016/x.csv`` with ``zymu_k.csv``: treatment
  ``z``, outcome ``z y1 + (1 - z) y0``, true CATE ``mu1 - mu0``. The three text
  covariates (x_2, x_21, x_24) are one-hot encoded (every level, in sorted order).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

IHDP_SEEDS = (1, 2, 3)
WA_DESIGNS = ("wa_confounded", "wa_heterogeneous", "wa_sigmoid")
WA_SEEDS = (1, 2)
WA_N, WA_D = 2000, 6
ACIC_INSTANCES = (1, 2, 3, 4, 5)
#: trees of the full comparison and of the quick one run by default
N_TREES_FULL = 500
N_TREES_QUICK = 200
#: the nuisance learners on both sides: paribus's default LightGBM settings
#: (src/paribus/_core/defaults.py); min_child_samples=20 is also LightGBM's default
LGBM_SETTINGS: dict[str, Any] = {
    "n_estimators": 100,
    "learning_rate": 0.05,
    "max_depth": 3,
    "num_leaves": 8,
    "min_child_samples": 20,
    "reg_lambda": 1.0,
    "n_jobs": 1,
    "verbose": -1,
}

_IHDP_CONTINUOUS = ["bw", "b.head", "preterm", "birth.o", "nnhealth", "momage"]
_IHDP_BINARY = [
    "sex",
    "twin",
    "b.marr",
    "mom.lths",
    "mom.hs",
    "mom.scoll",
    "cig",
    "first",
    "booze",
    "drugs",
    "work.dur",
    "prenatal",
]
_IHDP_SITES = [f"site{k}" for k in range(1, 8)]
IHDP_COVARIATES = _IHDP_CONTINUOUS + _IHDP_BINARY + _IHDP_SITES


def ihdp_surface_b(datasets: Path, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """IHDP response surface B: a frame (``treat``, ``y``, covariates) and the true CATE."""
    raw = pd.read_csv(datasets / "ihdp_hill2011_covariates.csv")
    raw = raw[~((raw["treat"] == 1) & (raw["momwhite"] == 0))].reset_index(drop=True)
    X = raw[IHDP_COVARIATES].to_numpy(dtype=float)
    cont = X[:, : len(_IHDP_CONTINUOUS)]
    X[:, : len(_IHDP_CONTINUOUS)] = (cont - cont.mean(axis=0)) / cont.std(axis=0)
    t = raw["treat"].to_numpy(dtype=int)
    rng = np.random.default_rng(seed)
    beta = rng.choice([0.0, 0.1, 0.2, 0.3, 0.4], size=X.shape[1], p=[0.6, 0.1, 0.1, 0.1, 0.1])
    mu0_raw = np.exp((X + 0.5) @ beta)
    lin = X @ beta
    omega = float(np.mean(lin[t == 1] - mu0_raw[t == 1])) - 4.0
    mu1 = lin - omega
    y = np.where(t == 1, mu1, mu0_raw) + rng.normal(size=t.size)
    frame = pd.DataFrame(X, columns=IHDP_COVARIATES)
    frame.insert(0, "y", y)
    frame.insert(0, "treat", t)
    return frame, mu1 - mu0_raw


def wager_athey(design: str, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A Wager & Athey (2018) simulation: a frame (``w``, ``y``, ``x0..``) and the true CATE."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(WA_N, WA_D))
    if design == "wa_confounded":
        e = (1 + stats.beta.cdf(X[:, 0], 2, 4)) / 4
        m = 2 * X[:, 0] - 1
        tau = np.zeros(WA_N)
    else:
        e = np.full(WA_N, 0.5)
        m = np.zeros(WA_N)
        if design == "wa_heterogeneous":
            xi = lambda u: 1 + 1 / (1 + np.exp(-20 * (u - 1 / 3)))  # noqa: E731
        else:
            xi = lambda u: 2 / (1 + np.exp(-12 * (u - 1 / 2)))  # noqa: E731
        tau = xi(X[:, 0]) * xi(X[:, 1])
    w = (rng.random(WA_N) < e).astype(int)
    y = m + (w - 0.5) * tau + rng.normal(size=WA_N)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(WA_D)])
    frame.insert(0, "y", y)
    frame.insert(0, "w", w)
    return frame, tau


def acic_instance(datasets: Path, k: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """ACIC 2016 instance ``k``: a frame (``z``, ``y``, covariates), true CATE, covariates."""
    x = pd.read_csv(datasets / "acic2016" / "x.csv")
    text = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    x = pd.get_dummies(x, columns=text, dtype=float)
    x = x.astype(float)
    zymu = pd.read_csv(datasets / "acic2016" / f"zymu_{k}.csv")
    z = zymu["z"].to_numpy(dtype=int)
    y = np.where(z == 1, zymu["y1"], zymu["y0"]).astype(float)
    frame = x.copy()
    frame.insert(0, "y", y)
    frame.insert(0, "z", z)
    return frame, (zymu["mu1"] - zymu["mu0"]).to_numpy(dtype=float), list(x.columns)


def _instance(
    name: str, frame: pd.DataFrame, treatment: str, covariates: list[str], tau: np.ndarray
) -> dict[str, Any]:
    return {
        "name": name,
        "frame": frame,
        "treatment": treatment,
        "outcome": "y",
        "covariates": covariates,
        "tau": tau,
    }


def instances(datasets: Path) -> list[dict[str, Any]]:
    """Every instance: name, frame, treatment and outcome columns, covariates, truth."""
    out: list[dict[str, Any]] = []
    for seed in IHDP_SEEDS:
        frame, tau = ihdp_surface_b(datasets, seed)
        out.append(_instance(f"ihdp_B_seed{seed}", frame, "treat", IHDP_COVARIATES, tau))
    for design in WA_DESIGNS:
        for seed in WA_SEEDS:
            frame, tau = wager_athey(design, seed)
            covs = [f"x{j}" for j in range(WA_D)]
            out.append(_instance(f"{design}_seed{seed}", frame, "w", covs, tau))
    for k in ACIC_INSTANCES:
        frame, tau, cov = acic_instance(datasets, k)
        out.append(_instance(f"acic2016_{k}", frame, "z", cov, tau))
    return out


def rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.ravel(estimate) - truth) ** 2)))


def _econml_rmse(inst: dict[str, Any], n_trees: int, tuned: bool = False) -> tuple[float, float]:
    """In-sample RMSE and seconds; ``tuned`` calls EconML's ``tune`` (its default grid,
    out-of-sample R-score) before ``fit``, the counterpart of paribus's
    ``tune_parameters="min_node_size"``."""
    from econml.dml import CausalForestDML
    from lightgbm import LGBMClassifier, LGBMRegressor

    frame = inst["frame"]
    X = frame[inst["covariates"]].to_numpy(dtype=float)
    est = CausalForestDML(
        model_y=LGBMRegressor(**LGBM_SETTINGS),
        model_t=LGBMClassifier(**LGBM_SETTINGS),
        discrete_treatment=True,
        n_estimators=n_trees,
        cv=5,
        random_state=0,
    )
    start = time.perf_counter()
    y, t = frame[inst["outcome"]].to_numpy(), frame[inst["treatment"]].to_numpy()
    if tuned:
        est.tune(y, t, X=X)
    est.fit(y, t, X=X)
    value = rmse(est.effect(X), inst["tau"])
    return value, time.perf_counter() - start


def main() -> None:
    import econml
    import lightgbm

    here = Path(__file__).resolve().parent
    datasets = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parents[3] / "shared" / "datasets"
    rows: dict[str, Any] = {}
    for inst in instances(datasets):
        entry: dict[str, Any] = {
            "n": len(inst["frame"]),
            "p": len(inst["covariates"]),
            "n_treated": int(inst["frame"][inst["treatment"]].sum()),
            "true_ate": float(np.mean(inst["tau"])),
            "sd_true_cate": float(np.std(inst["tau"])),
        }
        for n_trees in (N_TREES_QUICK, N_TREES_FULL):
            value, secs = _econml_rmse(inst, n_trees)
            entry[f"econml_rmse_{n_trees}"] = value
            entry[f"econml_seconds_{n_trees}"] = round(secs, 2)
            print(f"{inst['name']}: {n_trees} trees RMSE {value:.4f} ({secs:.1f} s)", flush=True)
            value, secs = _econml_rmse(inst, n_trees, tuned=True)
            entry[f"econml_tuned_rmse_{n_trees}"] = value
            entry[f"econml_tuned_seconds_{n_trees}"] = round(secs, 2)
            print(f"  tuned: RMSE {value:.4f} ({secs:.1f} s)", flush=True)
        rows[inst["name"]] = entry
    out = {
        "note": (
            "EconML CausalForestDML in-sample CATE RMSE (effect(X) on the training rows) "
            "against the known truth; written by tests/effects/data/make_forest_reference.py "
            "(see its docstring for the data generation)."
        ),
        "econml_version": econml.__version__,
        "lightgbm_version": lightgbm.__version__,
        "numpy_version": np.__version__,
        "econml_settings": {
            "model_y": "LGBMRegressor(**lgbm_settings)",
            "model_t": "LGBMClassifier(**lgbm_settings)",
            "discrete_treatment": True,
            "cv": 5,
            "random_state": 0,
            "n_estimators": [N_TREES_QUICK, N_TREES_FULL],
            "other": "EconML defaults (min_samples_leaf=5, max_samples=0.45, honest=True)",
            "tuned": "econml_tuned_*: est.tune(y, t, X=X) (params='auto') before fit",
        },
        "lgbm_settings": LGBM_SETTINGS,
        "ihdp": {
            "surface": "B",
            "seeds": list(IHDP_SEEDS),
            "rng": "numpy.random.default_rng(seed): beta, then N(0,1) noise",
        },
        "wager_athey": {
            "designs": list(WA_DESIGNS),
            "seeds": list(WA_SEEDS),
            "n": WA_N,
            "d": WA_D,
            "rng": "numpy.random.default_rng(seed): X, then W, then N(0,1) noise",
        },
        "acic_instances": list(ACIC_INSTANCES),
        "instances": rows,
    }
    (here / "forest_reference.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
