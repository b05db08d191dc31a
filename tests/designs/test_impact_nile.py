"""Nile acceptance for CausalImpact (issue 11): the 1899 level shift and a placebo.

Nile annual flow at Aswan, 1871-1970 (README section 12): the dam work of 1898/99
lowers the mean by 247.8 (1097.75 before, 849.97 after). A local-level CausalImpact
with no controls must find a clearly negative effect at 1899, and none at a placebo
date (1885) whose post-period ends before 1898. The pre-period checks are run on the
same series.
"""

from __future__ import annotations

import pandas as pd
import pytest

from paribus.designs.impact.causal_impact import CausalImpact
from paribus.designs.impact.checks import holdout_check, placebo_dates, prior_sensitivity

NITER = 400


@pytest.fixture(scope="module")
def nile(shared_datasets):
    return pd.read_csv(shared_datasets / "nile.csv").set_index("year")


def test_nile_detects_the_dam(nile):
    model = CausalImpact(niter=NITER, random_state=0)
    model.fit(nile, outcome="volume", pre_period=(1871, 1898), post_period=(1899, 1970))
    effect = model.result_
    print("Nile 1899:", effect.estimate, effect.ci_lower, effect.ci_upper, effect.p_value)
    assert -350 < effect.estimate < -200
    assert effect.ci_upper < 0
    assert effect.p_value < 0.05  # posterior tail-area probability of no effect


def test_nile_placebo_before_the_dam(nile):
    early = nile.loc[1871:1897]
    model = CausalImpact(niter=NITER, random_state=1)
    model.fit(early, outcome="volume", pre_period=(1871, 1884), post_period=(1885, 1897))
    effect = model.result_
    print("Nile placebo 1885:", effect.estimate, effect.ci_lower, effect.ci_upper)
    assert effect.ci_lower < 0 < effect.ci_upper


def test_nile_pre_period_checks(nile):
    model = CausalImpact(niter=NITER)
    check = placebo_dates(
        model,
        nile,
        outcome="volume",
        pre_period=(1871, 1898),
        n_placebos=3,
        post_length=6,
        min_pre=12,
        random_state=2,
    )
    print("Nile placebo dates:\n", check.to_frame()[["estimate", "ci_lower", "ci_upper"]])
    assert check.false_positive_rate <= 1 / 3
    holdout = holdout_check(
        model, nile, outcome="volume", pre_period=(1871, 1898), holdout=6, random_state=3
    )
    print("Nile holdout:", holdout.coverage, holdout.mape, holdout.mean_z, holdout.sd_z)
    assert holdout.coverage >= 0.5
    table = prior_sensitivity(
        model,
        nile,
        outcome="volume",
        pre_period=(1871, 1898),
        post_period=(1899, 1970),
        random_state=4,
    )
    print("Nile prior sensitivity:\n", table.to_frame()[["estimate", "ci_lower", "ci_upper"]])
    assert all(e.ci_upper < 0 for e in table)
