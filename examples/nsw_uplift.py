"""Uplift analysis of the NSW job-training experiment: whom should the programme target?

The National Supported Work demonstration randomised 445 men (Dehejia-Wahba subset: 185
trained, 260 controls). Outcomes: real earnings in 1978 (``re78``) and employment
(``re78 > 0``). Steps:

1. cross-fitted (out-of-fold) uplift predictions from a two-model approach (one boosting
   model per arm) and from paribus's DR-learner used as an uplift model;
2. uplift by decile of each score with Welch intervals, and Qini / AUUC areas;
3. doubly robust rewards (known randomisation propensity 185/445, cross-fitted arm
   outcome models) and a depth-2 policy tree, learned on one half of the sample and
   evaluated on the other (honest), compared with treating everyone.

With 445 men the intervals are wide: the point is the workflow, not a targeting rule.

Usage::

    python examples/nsw_uplift.py [DATASETS_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from paribus.effects.meta.dr_learner import DRLearner
from paribus.results import EffectTable
from paribus.uplift.evaluation import uplift_by_bin
from paribus.uplift.metrics import auuc, qini_coefficient
from paribus.uplift.models import ClassTransformation, TwoModel, as_uplift_model, cross_predict
from paribus.uplift.policy import dr_rewards, policy_difference, policy_value
from paribus.uplift.policy_tree import PolicyTree

COVARIATES = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]


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


def arm_predictions(
    X: np.ndarray, y: np.ndarray, t: np.ndarray, folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ``E[Y | X, T = 0]`` and ``E[Y | X, T = 1]`` from per-arm models."""
    mu0, mu1 = np.empty(y.size), np.empty(y.size)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(X, t):
        model = TwoModel(random_state=seed).fit(X[train], y[train], t[train])
        mu0[test] = model.models_[0].predict(X[test])
        mu1[test] = model.models_[1].predict(X[test])
    return mu0, mu1


def main(folder: str | None = None, fast: bool = False) -> dict[str, Any]:
    nsw = load_nsw(folder)
    X = nsw[COVARIATES].reset_index(drop=True)
    t = nsw["treat"].to_numpy(int)
    y = nsw["re78"].to_numpy(float)
    employed = (y > 0).astype(int)
    folds = 3 if fast else 5
    print(f"NSW experiment: {len(nsw)} men, {t.sum()} trained; outcome re78 (US$)\n")

    # 1. cross-fitted uplift scores
    dr = DRLearner(folds=5, n_bootstrap=0, random_state=0)
    if fast:  # linear nuisances: a quick run for the smoke test
        logit = make_pipeline(StandardScaler(), LogisticRegression())
        dr = DRLearner(
            outcome_model=LinearRegression(), propensity_model=logit, folds=2, n_bootstrap=0
        )
    scores = {
        "two-model": cross_predict(TwoModel(random_state=0), X, y, t, folds=folds),
        "dr-learner": cross_predict(as_uplift_model(dr), X, y, t, folds=folds),
    }
    employ_score = cross_predict(ClassTransformation(random_state=0), X, employed, t, folds=folds)

    # 2. uplift by decile and areas
    by_decile = {}
    for name, s in scores.items():
        table = uplift_by_bin(y, t, s, bins=5 if fast else 10)
        by_decile[name] = table
        cols = ["bin", "n_treated", "n_control", "uplift", "ci_lower", "ci_upper"]
        print(f"Uplift in re78 by bin of the {name} score (bin 1 = highest predicted uplift)")
        print(table[cols].round(1).to_string(index=False), "\n")
    areas = pd.DataFrame(
        {
            name: {
                "AUUC (area above random, $)": auuc(y, t, s, normalize=False),
                "Qini (area above random, $)": qini_coefficient(y, t, s, normalize=False),
            }
            for name, s in scores.items()
        }
    )
    print(areas.round(0).to_string(), "\n")
    q_emp = qini_coefficient(employed, t, employ_score)
    print(f"Employment (re78 > 0): class-transformation model, normalised Qini {q_emp:.3f}\n")

    # 3. policy tree on doubly robust rewards, honest evaluation on the other half
    e = t.mean()  # randomised: the known assignment share
    mu0, mu1 = arm_predictions(X.to_numpy(float), y, t, folds, seed=0)
    rewards = pd.DataFrame(
        dr_rewards(y, t, propensity=e, mu0=mu0, mu1=mu1), columns=["control", "train"]
    )
    rng = np.random.default_rng(0)
    half = rng.permutation(len(y)) < len(y) // 2
    tree = PolicyTree(depth=2, min_node_size=30).fit(X[half], rewards[half])
    print("Depth-2 policy tree (fitted on half the sample)")
    print(tree.to_text(), "\n")
    test = ~half
    pi = (tree.predict(X[test]) == "train").astype(float)
    kw = {"propensity": e, "mu0": mu0[test], "mu1": mu1[test], "method": "dr"}
    value = policy_value(pi, y[test], t[test], **kw)
    vs_all = policy_difference(pi, y[test], t[test], baseline="treat_all", **kw)
    vs_none = policy_difference(pi, y[test], t[test], baseline="treat_none", **kw)
    summary = EffectTable(
        [value, vs_all, vs_none],
        ["value of the tree's policy", "tree minus treat-all", "tree minus treat-none"],
        title="Policy evaluation on the held-out half (doubly robust, $)",
    )
    print(summary)
    print(f"\nThe tree trains {pi.mean():.0%} of the held-out men.")
    return {"by_decile": by_decile, "areas": areas, "tree": tree, "policy_value": summary}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
