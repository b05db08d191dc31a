"""Benchmark: in-space placebo inference for synthetic control, paribus vs pysyncon 1.7.0.

Two studies, each timed for both libraries in one run:

1. Prop 99 (ADH 2010), outcome-only synthetic control, all 38 donors as placebos.
   paribus: ``SyntheticControl(v="equal")`` fitted on the 1970-88 outcome path
   (exact simplex least squares) and ``placebo_test``. pysyncon: ``PlaceboTest`` with
   ``Synth`` per placebo on the same predictors (one outcome per pre-period) and
   ``custom_V`` proportional to each year's variance across units, which undoes
   pysyncon's standardisation so both minimise the same pre-period MSPE.
2. Basque (Abadie & Gardeazabal 2003), the full nested V optimisation per placebo
   (16 placebos), both libraries with their defaults (pysyncon: Nelder-Mead from
   equal V; paribus: Nelder-Mead over softmax(V) from equal and regression starts).

Run: ``.venv/bin/python bench/bench_synth.py [--skip-basque] [--workers N]``.
Prints the date, versions, ``uptime`` load, times, time ratios and the largest
difference between the two libraries' placebo gaps and p-values.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from paribus.designs.synth._data import wide_to_long
from paribus.designs.synth.adh import SyntheticControl
from paribus.designs.synth.inference import placebo_test

DATA = Path(
    os.environ.get("PARIBUS_SHARED_DATASETS", Path(__file__).parents[2] / "shared/datasets")
)
BASQUE = "Basque Country (Pais Vasco)"


def _pysyncon_placebo(dataprep, options, workers):
    from pysyncon import Synth
    from pysyncon.utils import PlaceboTest

    test = PlaceboTest()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        test.fit(dataprep=dataprep, scm=Synth(), scm_options=options, max_workers=workers)
    return test, time.perf_counter() - start


def _pysyncon_ratio_p(test, treated_gap, pre, post):
    """pysyncon gaps -> the RMSPE-ratio rank p-value, computed as paribus does."""
    gaps = test.gaps.copy()
    gaps[treated_gap.name] = treated_gap
    pre_r = np.sqrt((gaps.loc[pre] ** 2).mean())
    post_r = np.sqrt((gaps.loc[post] ** 2).mean())
    ratio = post_r / pre_r
    return float(np.mean(ratio >= ratio[treated_gap.name] * (1 - 1e-12))), gaps


def prop99(workers: int) -> None:
    from pysyncon import Dataprep, Synth

    wide = pd.read_csv(DATA / "prop99_california_wide.csv")
    long = wide_to_long(wide, time="Year", outcome="packs", unit="state")
    fit_args = dict(
        outcome="packs", unit="state", time="Year", treated_unit="California", treatment_start=1989
    )
    start = time.perf_counter()
    est = SyntheticControl(v="equal", inference=None).fit(long, **fit_args)
    ours = placebo_test(est, n_jobs=1)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    ours_par = placebo_test(est, n_jobs=workers)
    t_ours_par = time.perf_counter() - start

    years = list(range(1970, 1989))
    controls = [s for s in wide.columns if s not in ("Year", "California")]
    prep = Dataprep(
        foo=long,
        predictors=[],
        predictors_op="mean",
        time_predictors_prior=years,
        special_predictors=[("packs", [y], "mean") for y in years],
        dependent="packs",
        unit_variable="state",
        time_variable="Year",
        treatment_identifier="California",
        controls_identifier=controls,
        time_optimize_ssr=years,
    )
    var = wide.set_index("Year").loc[1970:1988].var(axis=1, ddof=1).to_numpy()
    peer = Synth()
    peer.fit(dataprep=prep, custom_V=var / var.sum())
    test, t_peer = _pysyncon_placebo(prep, {"custom_V": var / var.sum()}, workers)
    z0, z1 = prep.make_outcome_mats(time_period=range(1970, 2001))
    gap1 = (z1 - z0 @ peer.W).rename("California")
    p_peer, gaps_peer = _pysyncon_ratio_p(test, gap1, range(1970, 1989), range(1989, 2001))
    pre_peer = np.sqrt((gaps_peer.loc[1970:1988] ** 2).mean())
    pre_ours = ours.table["pre_rmspe"].reindex(pre_peer.index)
    diff = (ours.gaps - gaps_peer[ours.gaps.columns]).abs().to_numpy().max()
    print("Prop 99, outcome-only SC, 38 in-space placebos")
    print(f"  paribus  serial     {t_ours:7.3f} s   p = {ours.p_value:.4f}")
    print(f"  paribus  n_jobs={workers}   {t_ours_par:7.3f} s   p = {ours_par.p_value:.4f}")
    print(f"  pysyncon workers={workers}  {t_peer:7.3f} s   p = {p_peer:.4f}")
    print(f"  time ratio pysyncon / paribus serial: {t_peer / t_ours:.1f}x")
    print(f"  largest |gap difference| over units and years: {diff:.2e} packs")
    print(
        "  placebos + treated with pre-RMSPE <= pysyncon's: "
        f"{int((pre_ours <= pre_peer + 1e-9).sum())}/39; largest pysyncon excess "
        f"{(pre_peer - pre_ours).max():.2e}, largest paribus excess "
        f"{(pre_ours - pre_peer).max():.2e}"
    )


def basque(workers: int) -> None:
    from pysyncon import Dataprep

    df = pd.read_csv(DATA / "basque.csv")
    df = df[df["regionname"] != "Spain (Espana)"]
    sectors = ["agriculture", "energy", "industry", "construction", "services.venta"]
    special = [
        ("gdpcap", range(1960, 1970), "mean"),
        *[(f"sec.{s}", range(1961, 1970, 2), "mean") for s in [*sectors, "services.nonventa"]],
        ("popdens", [1969], "mean"),
    ]
    school = ["school.illit", "school.prim", "school.med", "school.high", "school.post.high"]
    start = time.perf_counter()
    est = SyntheticControl(inference=None).fit(
        df,
        outcome="gdpcap",
        unit="regionname",
        time="year",
        treated_unit=BASQUE,
        treatment_start=1970,
        predictors=[*school, "invest"],
        predictor_period=range(1964, 1970),
        special_predictors=special,
        mspe_period=range(1960, 1970),
    )
    ours = placebo_test(est, n_jobs=workers)
    t_ours = time.perf_counter() - start
    controls = [r for r in df["regionname"].unique() if r != BASQUE]
    prep = Dataprep(
        foo=df,
        predictors=[*school, "invest"],
        predictors_op="mean",
        time_predictors_prior=range(1964, 1970),
        special_predictors=special,
        dependent="gdpcap",
        unit_variable="regionname",
        time_variable="year",
        treatment_identifier=BASQUE,
        controls_identifier=controls,
        time_optimize_ssr=range(1960, 1970),
    )
    test, t_peer = _pysyncon_placebo(prep, {}, workers)
    pre_peer = np.sqrt((test.gaps.loc[1960:1969] ** 2).mean())
    pre_ours = np.sqrt((ours.gaps.loc[1960:1969] ** 2).mean()).iloc[1:]
    print("Basque, nested V per placebo, 16 in-space placebos (both parallel)")
    print(f"  paribus  n_jobs={workers}   {t_ours:7.3f} s   p = {ours.p_value:.4f}")
    print(f"  pysyncon workers={workers}  {t_peer:7.3f} s")
    print(f"  time ratio pysyncon / paribus: {t_peer / t_ours:.1f}x")
    lower = int((pre_ours.reindex(pre_peer.index) <= pre_peer + 1e-9).sum())
    print(f"  placebos whose 1960-69 RMSPE (the V criterion) is <= pysyncon's: {lower}/16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-basque", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from importlib.metadata import version

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"date {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    names = ("paribus", "pysyncon", "numpy", "scipy", "pandas")
    print(", ".join(f"{n} {version(n)}" for n in names))
    print(f"uptime: {load}")
    prop99(args.workers)
    if not args.skip_basque:
        basque(args.workers)


if __name__ == "__main__":
    main()
