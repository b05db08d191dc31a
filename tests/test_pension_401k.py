"""Published-result check: the effect of 401(k) eligibility on net financial assets.

Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey & Robins (2018), "Double/debiased
machine learning for treatment and structural parameters", *Econometrics Journal* 21(1),
Sec. 6.1: 9,915 households of the 1991 SIPP, outcome ``net_tfa``, treatment ``e401``
(the employer offers a 401(k)), covariates age, inc, educ, fsize, marr, twoearn, db, pira,
hown. The naive difference in means is $19,559 (SE 1,413).

References (dollars; standard errors in parentheses):

* The paper's 401(k) table, partially linear model, 5-fold cross-fitting, median over
  100 splits: Lasso 8,187 (1,298), Reg. Tree 8,871 (1,358), **Forest 9,247 (1,295)**,
  **Boosting 9,110 (1,314)**, Neural Net 9,038 (1,322), Ensemble 9,166 (1,299), Best
  9,215 (1,294); with the between-split spread added ("adjusted" errors) Forest 1,328 and
  Boosting 1,328. Read from a public replication script that transcribes the table
  cell by cell; the PDF itself was not at hand.
* The paper's interactive-model cells were not found in a readable source, so the IRM
  references come from the same authors' textbook with the same data, covariates and
  propensity trimming at 0.01: Chernozhukov, Hansen, Kallus, Spindler & Syrgkanis,
  *Applied Causal Inference Powered by ML and AI* (2024), ch. 9, Table 9.4 -- interactive
  model Lasso 8,860 (1,347), Tree 7,856 (1,250), **Forest 8,349 (1,502)**, **Boost 7,871
  (1,157)**, Best 8,204 (1,144), Ensemble 8,146 (1,142); its partially linear panel
  (Forest 9,112 (1,281), Boost 8,859 (1,321)) agrees with the paper's within 140.

Tolerance: |estimate - reference| <= one reference standard error (about $1,150-1,500).
Both fits use the very same households, so the gap is not sampling error: it comes from
the fold split and the learners' tuning. The paper's own numbers bound those: its
split-adjusted error for the forest (1,328 against 1,295) implies a split-to-split
standard deviation of about sqrt(1328^2 - 1295^2) = 294, and its flexible learners agree
within about 400 of each other. Five seeds of this module's settings moved the estimates
by about +-450 (PLR forests 8,545-9,468, IRM forests 7,790-8,601; boosting 8,799-9,062
and 7,705-8,117), so one SE (3-4 split standard deviations) passes a correct estimator
reliably, while the naive gap sits 8 SE away and is rejected outright. The reported SE
must be within 30% of the reference's (same data, same score, so the errors should
agree closely; ours are 1,130-1,420).

paribus's own numbers for these settings: PLR forests 8,545 (1,266), IRM forests 7,790
(1,241), PLR default boosting 8,799 (1,317), IRM default boosting 7,705 (1,139). The
forests are kept small (50 trees) so the module runs in a few seconds serially.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

import paribus

COVARIATES = ["age", "inc", "educ", "fsize", "marr", "twoearn", "db", "pira", "hown"]
NAIVE = 19_559.34  # difference in mean net_tfa, eligible minus not eligible
#: (model, learners) -> (published estimate, published standard error); docstring sources
REFERENCE = {
    ("PLR", "forest"): (9_247.0, 1_295.0),  # paper, partially linear, 5-fold, Forest
    ("PLR", "boosting"): (9_110.0, 1_314.0),  # paper, partially linear, 5-fold, Boosting
    ("IRM", "forest"): (8_349.0, 1_502.0),  # textbook Table 9.4, interactive, Forest
    ("IRM", "boosting"): (7_871.0, 1_157.0),  # textbook Table 9.4, interactive, Boost
}


@pytest.fixture(scope="module")
def pension(shared_datasets):
    return pd.read_csv(
        shared_datasets / "pension_401k_sipp1991.csv", usecols=["net_tfa", "e401", *COVARIATES]
    )


def forests() -> tuple[RandomForestRegressor, RandomForestClassifier]:
    settings = {"n_estimators": 50, "min_samples_leaf": 5, "max_features": 0.5}
    return RandomForestRegressor(**settings), RandomForestClassifier(**settings)


def estimator(model: str, learners: str):
    # random_state seeds the folds and every learner left unseeded; 5 folds as in the paper
    common = {"folds": 5, "random_state": 0}
    reg, clf = forests() if learners == "forest" else (None, None)  # None: paribus's boosting
    if model == "PLR":
        return paribus.PLR(outcome_model=reg, treatment_model=clf, **common)
    return paribus.IRM(outcome_model=reg, propensity_model=clf, **common)


def test_naive_difference_matches_the_paper(pension):
    treated = pension["e401"] == 1
    naive = pension.loc[treated, "net_tfa"].mean() - pension.loc[~treated, "net_tfa"].mean()
    assert len(pension) == 9_915
    assert naive == pytest.approx(NAIVE, abs=0.01)


@pytest.mark.parametrize("learners", ["forest", "boosting"])
@pytest.mark.parametrize("model", ["PLR", "IRM"])
def test_dml_reproduces_the_401k_effect(pension, model, learners):
    est = estimator(model, learners).fit(
        pension, treatment="e401", outcome="net_tfa", covariates=COVARIATES
    )
    r = est.result_
    reference, reference_se = REFERENCE[(model, learners)]
    assert abs(r.estimate - reference) <= reference_se, (r.estimate, r.std_error)
    assert r.std_error == pytest.approx(reference_se, rel=0.3)
    # the published value is inside our interval, and the naive gap far outside it
    assert r.ci_lower < reference < r.ci_upper
    assert (NAIVE - r.estimate) / r.std_error > 6
    assert r.ci_upper < NAIVE - 4 * r.std_error
