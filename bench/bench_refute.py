"""The refutation battery: paribus ``refute`` against DoWhy's refuters on one estimate.

Run by hand in the bench environment::

    .venv-bench/bin/python bench/bench_refute.py [DOWHY_REPS] [--refit] [--plr | --both]

Data: 50k rows x 20 covariates of the ``bench/_data.py`` design (seed 0). One paribus
AIPW estimate (default learners: depth-3 LightGBM, 100 rounds, one thread per fit;
5 folds), then placebo treatment, random common cause and data subset (fraction 0.8),
100 repetitions each, by ``paribus.checks.refute`` with ``n_jobs=-1`` (every core,
joblib's loky workers) and the default config. By default ``refute`` reuses the fitted
nuisances where the perturbation allows (placebo from the stored cross-fitted
``E[y | x]``, subsets from the stored influence values; ``paribus.checks.refit_free``)
and refits for the random common cause, each refit's folds serial inside its worker.
``--refit`` runs paribus with ``reuse=False`` (every repetition refits, as DoWhy does).
``--plr`` benches paribus's ``PLR`` (partialling out, 10 nuisance fits per refit: the
same estimator as DoWhy's ``LinearDML`` with no effect modifiers) instead of AIPW;
``--both`` benches both against the one DoWhy run. The random common cause refits
keep the estimator's seed (same folds) and bin the original covariates once per worker
(``paribus._core.binned_boosting``).

DoWhy: a ``CausalModel`` with the same 20 covariates as common causes, estimated with
``backdoor.econml.dml.LinearDML`` given the same nuisance learners (paribus's default
regressor and classifier, ``discrete_treatment=True``, ``cv=5``), so each refit does the
same kind of cross-fitted work as paribus's AIPW (10 nuisance fits instead of AIPW's
15). Its refuters: ``placebo_treatment_refuter`` (``placebo_type="permute"``),
``random_common_cause`` and ``data_subset_refuter`` (``subset_fraction=0.8``), each with
DoWhy's default ``n_jobs=1``. A DoWhy refit costs seconds, so it runs ``DOWHY_REPS``
simulations (default 10) per refuter and its time is extrapolated linearly to 100;
the printout says so. Wall times by ``time.perf_counter``.

(The runs recorded on 2026-11-22 registered a pickle reducer for FrozenMapping; paribus
now defines FrozenMapping.__reduce__ itself, so the script needs no workaround.)"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from importlib.metadata import version

from _data import make_data
from dowhy import CausalModel

from paribus import AIPW, PLR
from paribus._core.defaults import default_classifier, default_regressor
from paribus.checks import refute

PACKAGES = ["numpy", "pandas", "scikit-learn", "lightgbm", "joblib", "dowhy", "econml", "paribus"]
REPS = 100
REFUTERS = ("placebo_treatment", "random_common_cause", "data_subset")
DOWHY_NAMES = {
    "placebo_treatment": ("placebo_treatment_refuter", {"placebo_type": "permute"}),
    "random_common_cause": ("random_common_cause", {}),
    "data_subset": ("data_subset_refuter", {"subset_fraction": 0.8}),
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def paribus_section(frame, covs, reuse: bool, kind: type = AIPW) -> dict[str, float]:
    start = time.perf_counter()
    est = kind(folds=5, random_state=0).fit(frame, "t", "y", covs)
    fit = time.perf_counter() - start
    r = est.result_
    print(f"paribus {kind.__name__} fit {fit:.2f} s: ATE {r.estimate:.4f} (SE {r.std_error:.4f})")
    times = {}
    for name in REFUTERS:
        start = time.perf_counter()
        (out,) = refute(
            est,
            frame,
            "t",
            "y",
            covs,
            refuters=(name,),
            n_repeats=REPS,
            random_state=0,
            n_jobs=-1,
            reuse=reuse,
        )
        times[name] = time.perf_counter() - start
        print(f"  paribus {name:<20} {REPS} reps {times[name]:8.2f} s   {out}")
    return times


def dowhy_section(frame, covs, reps: int) -> dict[str, float]:
    model = CausalModel(data=frame.copy(), treatment="t", outcome="y", common_causes=covs)
    identified = model.identify_effect(proceed_when_unidentifiable=True)
    start = time.perf_counter()
    estimate = model.estimate_effect(
        identified,
        method_name="backdoor.econml.dml.LinearDML",
        method_params={
            "init_params": {
                "model_y": default_regressor(),
                "model_t": default_classifier(),
                "discrete_treatment": True,
                "cv": 5,
                "random_state": 0,
            },
            "fit_params": {},
        },
    )
    fit = time.perf_counter() - start
    print(f"DoWhy LinearDML estimate {fit:.2f} s: ATE {float(estimate.value):.4f}")
    times = {}
    for name in REFUTERS:
        method, kwargs = DOWHY_NAMES[name]
        start = time.perf_counter()
        res = model.refute_estimate(
            identified, estimate, method_name=method, num_simulations=reps, **kwargs
        )
        secs = time.perf_counter() - start
        times[name] = secs * REPS / reps
        print(
            f"  DoWhy {name:<22} {reps} reps {secs:8.2f} s -> {REPS} reps {times[name]:8.2f} s"
            f" (extrapolated x{REPS / reps:g}); new effect {float(res.new_effect):.4f}"
        )
    return times


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    reuse = "--refit" not in sys.argv
    dowhy_reps = int(args[0]) if args else 10
    print(
        f"date {datetime.datetime.now().isoformat(timespec='seconds')}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load()}"
    )
    print(", ".join(f"{pkg} {version(pkg)}" for pkg in PACKAGES))
    b = make_data(n=50_000, p=20, seed=0)
    print(f"data: {len(b.frame)} rows x {len(b.covariates)} covariates, true ATE {b.ate}")
    print(f"paribus reuse={reuse}")
    kinds = [AIPW, PLR] if "--both" in sys.argv else [PLR] if "--plr" in sys.argv else [AIPW]
    ours = {}
    for kind in kinds:
        ours[kind.__name__] = paribus_section(b.frame, b.covariates, reuse, kind)
        print(f"load average after paribus {kind.__name__} {load()}")
    d = dowhy_section(b.frame, b.covariates, dowhy_reps)
    for label, p in ours.items():
        print(f"\n{'refuter':<22} {'paribus ' + label + ' (s)':>18} {'DoWhy (s)':>12} {'ratio':>7}")
        for name in REFUTERS:
            print(f"{name:<22} {p[name]:18.2f} {d[name]:12.2f} {d[name] / p[name]:6.1f}x")
        tp, td = sum(p.values()), sum(d.values())
        print(f"{'total':<22} {tp:18.2f} {td:12.2f} {td / tp:6.1f}x")
    print(f"load average at the end {load()}")


if __name__ == "__main__":
    main()
