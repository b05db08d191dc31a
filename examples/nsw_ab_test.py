"""The NSW job-training experiment analysed as an A/B test, with and without CUPED.

The National Supported Work demonstration randomised 445 men (Dehejia-Wahba subset:
185 treated, 260 control) into a job-training programme. The outcome is real earnings
in 1978 (``re78``); earnings in 1974 and 1975 (``re74``, ``re75``) were measured before
randomisation, so they are valid CUPED covariates (Deng et al. 2013): adjusting for them
leaves the estimand unchanged and can only shrink the variance (here a little: pre-period
earnings explain little of 1978 earnings in this population).

Dehejia & Wahba (1999, JASA 94(448), Table 3) report the experimental effect as
$1,794 (SE 633); the difference in means in these data is 1794.34. Their SE is the
pooled-variance one; ABTest defaults to Welch's (671), and ``variance="pooled"`` prints 633.

Usage::

    python examples/nsw_ab_test.py [DATASETS_DIR]

``DATASETS_DIR`` holds ``lalonde_nsw_dw.csv``; it defaults to ``$PARIBUS_SHARED_DATASETS``,
else ``../shared/datasets`` beside the repository, else the copy bundled with paribus
(``paribus.datasets.load("lalonde_nsw")``, the same 445 rows).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from paribus.experiments.abtest import ABTest


def load_nsw(folder: str | None = None) -> pd.DataFrame:
    """The Dehejia-Wahba NSW sample from ``folder``, the shared datasets, or paribus."""
    candidates = [folder, os.environ.get("PARIBUS_SHARED_DATASETS")]
    candidates.append(str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets"))
    for path in filter(None, candidates):
        csv = Path(path) / "lalonde_nsw_dw.csv"
        if csv.is_file():
            return pd.read_csv(csv)
    from paribus.datasets import load

    return load("lalonde_nsw")


def main(folder: str | None = None) -> None:
    nsw = load_nsw(folder)
    print(f"NSW experiment: {len(nsw)} men, {int(nsw.treat.sum())} trained\n")
    for variance in ("welch", "pooled"):
        plain = ABTest(control=0, variance=variance).fit(nsw, variant="treat", metrics="re78")
        print(f"Difference in means ({variance} variance)")
        print(plain, "\n")
    cuped = ABTest(control=0).fit(nsw, variant="treat", metrics="re78", covariates=["re74", "re75"])
    print("CUPED on re74, re75")
    print(cuped)
    e = cuped[0]
    print(
        f"\nSE {e.diagnostics['std_error_unadjusted']:,.1f} -> {e.std_error:,.1f} "
        f"(variance reduction {e.diagnostics['variance_reduction']:.1%}, "
        f"theta = {[round(t, 4) for t in e.diagnostics['theta']]})"
    )
    print(
        f"relative lift {e.diagnostics['relative_lift']:.1%} "
        f"[{e.diagnostics['relative_ci_lower']:.1%}, {e.diagnostics['relative_ci_upper']:.1%}]"
    )
    lin = ABTest(control=0, adjustment="lin").fit(
        nsw, variant="treat", metrics="re78", covariates=["re74", "re75"]
    )
    print("\nLin (2013) interacted regression, HC2")
    print(lin)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
