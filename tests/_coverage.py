"""Coverage studies: many simulated datasets, one estimator, interval coverage of the truth."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from _sim import COVARIATES, simulate


def _one(
    cls, settings, seed: int, n: int, estimand: str, linear: bool
) -> tuple[float, float, bool]:
    sim = simulate(n=n, seed=seed, linear=linear)
    effect = cls(**settings).fit(sim.frame, "t", "y", COVARIATES).result_
    truth = sim.truth(estimand)
    return effect.estimate - truth, effect.std_error, effect.ci_lower <= truth <= effect.ci_upper


def coverage_study(
    cls, settings: dict, reps: int, n: int, estimand: str, linear: bool, name: str
) -> dict:
    rows = Parallel(n_jobs=2)(
        delayed(_one)(cls, settings, 10_000 + r, n, estimand, linear) for r in range(reps)
    )
    return summarise(rows, name, estimand, n)


def summarise(rows: list, name: str, estimand: str, n: int) -> dict:
    """Coverage, bias and SE calibration of ``(error, se, covered)`` rows; appended as a JSON
    line to $PARIBUS_COVERAGE_OUT when set."""
    err, se, cover = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    reps = len(rows)
    summary = {
        "study": name,
        "estimand": estimand,
        "replications": reps,
        "n": n,
        "coverage": float(cover.mean()),
        "bias": float(err.mean()),
        "bias_mc_se": float(err.std(ddof=1) / np.sqrt(reps)),
        "empirical_sd": float(err.std(ddof=1)),
        "mean_se": float(se.mean()),
    }
    out = os.environ.get("PARIBUS_COVERAGE_OUT")
    if out:
        with Path(out).open("a") as fh:
            fh.write(json.dumps(summary) + "\n")
    print(summary)
    return summary
