"""Reference numbers for the meta-learners from EconML and CausalML, on shared designs.

Run by hand in the bench environment (the peers are not test dependencies)::

    .venv-bench/bin/python bench/reference_meta.py

It rebuilds the deterministic designs of ``tests/_meta_designs.py`` (a binary and a
three-level treatment), fits the peers' meta-learners with deterministic learners
(ordinary least squares, ``paribus.Logit``, a fixed-seed tree, k-nearest neighbours)
and the same explicit cross-fitting folds paribus gets, and writes their ATEs, standard
errors and CATEs at 50 fixed evaluation points to ``tests/effects/data/meta_peers.json``.
``tests/effects/test_meta_peers.py`` compares paribus's learners to that file and says,
check by check, what is held equal and to which tolerance.

Two small adapters make the peers fit the model paribus fits, without changing the
estimator:

* EconML's DR-learner learns the outcome with one model on ``[X, onehot(T)]``; paribus
  fits one model per arm. :class:`ArmwiseRegressor` is a single regressor that does
  per-arm least squares (OLS on ``X`` within each arm), so both compute the same
  ``mu_a(x)``.
* EconML's X-learner fits its propensity on the labels ``{0, k}`` of each pair of
  levels; :class:`LabelLogit` is ``paribus.Logit`` for any two labels.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from causalml.inference.meta import (
    BaseDRRegressor,
    BaseRRegressor,
    BaseSRegressor,
    BaseTRegressor,
    BaseXRegressor,
)
from econml.dml import LinearDML, NonParamDML
from econml.dr import DRLearner, LinearDRLearner
from econml.inference import BootstrapInference, StatsModelsInference, StatsModelsInferenceDiscrete
from econml.metalearners import SLearner, TLearner, XLearner
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.tree import DecisionTreeRegressor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _meta_designs import (  # noqa: E402 - found through the path set just above
    DESIGNS,
    FOLD_SEED,
    Design,
    fingerprint,
    kfold,
    make_design,
    rotating_thirds,
)
from paribus import Logit  # noqa: E402

OUT = ROOT / "tests" / "effects" / "data" / "meta_peers.json"
COMMAND = ".venv-bench/bin/python bench/reference_meta.py"
PACKAGES = ["numpy", "scipy", "scikit-learn", "pandas", "econml", "causalml", "paribus"]

#: the learners; all deterministic (the tree's seed is fixed, KNN has no randomness)
OLS = LinearRegression()
#: the S-learner needs treatment-covariate interactions to show any heterogeneity
OLS_INTERACT = make_pipeline(
    PolynomialFeatures(degree=2, interaction_only=True, include_bias=False), LinearRegression()
)
TREE = DecisionTreeRegressor(max_depth=3, min_samples_leaf=50, random_state=0)
#: k-NN class shares: one-vs-rest fits normalised (paribus) equal the multinomial fit
#: (EconML), so the multi-level DR-learner's propensities agree exactly
KNN = KNeighborsClassifier(n_neighbors=100)
CLIP = 0.01  # paribus DRLearner's default clip; EconML's min_propensity
#: clips that bind for some units (Logit scores and k-NN shares reach 0.02)
BINDING_CLIP = {"binary": 0.1, "multi": 0.05}
N_BOOT = 500  # EconML bootstrap replicates (the tests compare at Monte Carlo tolerance)


class ArmwiseRegressor(RegressorMixin, BaseEstimator):
    """Regression on ``[X, onehot(T)]`` (the last ``n_treated`` columns, control = all zero)
    by a separate clone of ``base`` on ``X`` within each arm."""

    def __init__(self, base: Any = None, n_treated: int = 1) -> None:
        self.base = base
        self.n_treated = n_treated

    def _split(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = np.asarray(Z, dtype=float)
        onehot = Z[:, -self.n_treated :]
        arm = np.where(onehot.sum(axis=1) > 0.5, onehot.argmax(axis=1) + 1, 0)
        return Z[:, : -self.n_treated], arm

    def fit(self, Z: np.ndarray, y: np.ndarray) -> ArmwiseRegressor:
        X, arm = self._split(Z)
        base = LinearRegression() if self.base is None else self.base
        self.models_ = [
            clone(base).fit(X[arm == a], y[arm == a]) for a in range(self.n_treated + 1)
        ]
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        X, arm = self._split(Z)
        out = np.empty(X.shape[0])
        for a, model in enumerate(self.models_):
            rows = arm == a
            if rows.any():
                out[rows] = model.predict(X[rows])
        return out


class LabelLogit(ClassifierMixin, BaseEstimator):
    """``paribus.Logit`` for a target with any two labels (the larger one is 'treated')."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> LabelLogit:
        self.classes_ = np.unique(y)
        self.model_ = Logit().fit(X, (y == self.classes_[1]).astype(float))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.model_.predict_proba(X)[:, 1] > 0.5).astype(int)]


def cross_fitted_logit(X: np.ndarray, t: np.ndarray, folds: list) -> np.ndarray:
    """Out-of-fold ``P(t = 1 | X)`` by ``Logit`` on the given folds (what paribus computes)."""
    e = np.full(t.size, np.nan)
    for train, test in folds:
        e[test] = Logit().fit(X[train], t[train]).predict_proba(X[test])[:, 1]
    return e


def pair_logit(X: np.ndarray, t: np.ndarray, k: int, X_new: np.ndarray) -> np.ndarray:
    """``P(T = k | X, T in {0, k})`` by ``Logit`` on the pair's rows (the X-learner's g_k)."""
    pair = (t == 0) | (t == k)
    return Logit().fit(X[pair], (t[pair] == k).astype(float)).predict_proba(X_new)[:, 1]


def arr(a: Any) -> Any:
    return np.asarray(a, dtype=float).tolist()


# -- EconML ------------------------------------------------------------------------------------


def econml_ate(est: Any, X: np.ndarray, levels: list[int]) -> list[float]:
    return [float(est.ate(X, T0=0, T1=k)) for k in levels]


def econml_cate(est: Any, X: np.ndarray, levels: list[int]) -> np.ndarray:
    return np.column_stack([np.ravel(est.effect(X, T0=0, T1=k)) for k in levels])


def econml_stderr(est: Any, X: np.ndarray, levels: list[int]) -> np.ndarray:
    return np.column_stack([np.ravel(est.effect_inference(X, T0=0, T1=k).stderr) for k in levels])


def econml_metalearners(d: Design, levels: list[int]) -> dict[str, Any]:
    X, t, y, Xe = d.X, d.t.astype(int), d.y, d.X_eval
    out: dict[str, Any] = {}
    specs = {
        "econml_SLearner": SLearner(overall_model=clone(OLS_INTERACT)),
        "econml_TLearner": TLearner(models=clone(OLS)),
        # a tree as the effect model: with least squares in both stages the X-learner's two
        # effect models coincide with the T-learner's difference and the propensity
        # weighting would go untested
        "econml_XLearner": XLearner(
            models=clone(OLS), cate_models=clone(TREE), propensity_model=LabelLogit()
        ),
    }
    for name, est in specs.items():
        est.fit(y, t, X=X)
        out[name] = {
            "ate": econml_ate(est, X, levels),
            "cate_eval": arr(econml_cate(est, Xe, levels)),
        }
    if len(levels) == 1:
        # pointwise bootstrap standard errors (normal intervals), T-learner, binary design
        np.random.seed(0)  # noqa: NPY002 - EconML's bootstrap draws from the global generator
        boot = BootstrapInference(n_bootstrap_samples=N_BOOT, n_jobs=1, bootstrap_type="normal")
        est = TLearner(models=clone(OLS)).fit(y, t, X=X, inference=boot)
        out["econml_TLearner"]["boot_stderr_eval"] = arr(econml_stderr(est, Xe, levels))
        out["econml_TLearner"]["n_bootstrap"] = N_BOOT
    return out


def econml_linear_dr(
    d: Design, levels: list[int], propensity: Any, clip: float = CLIP
) -> dict[str, Any]:
    X, t, y, Xe = d.X, d.t.astype(int), d.y, d.X_eval
    folds = kfold(len(y))
    res: dict[str, Any] = {"min_propensity": clip}
    for cov in ("HC0", "HC1"):
        est = LinearDRLearner(
            model_regression=ArmwiseRegressor(LinearRegression(), n_treated=len(levels)),
            model_propensity=clone(propensity),
            min_propensity=clip,
            cv=folds,
        )
        est.fit(y, t, X=X, inference=StatsModelsInferenceDiscrete(cov_type=cov))
        if cov == "HC0":
            res["ate"] = econml_ate(est, X, levels)
            res["cate_eval"] = arr(econml_cate(est, Xe, levels))
            res["coef"] = [arr(np.r_[est.intercept_(T=k), est.coef_(T=k)]) for k in levels]
        res[f"stderr_eval_{cov}"] = arr(econml_stderr(est, Xe, levels))
        res[f"ate_stderr_mean_{cov}"] = [
            float(est.ate_inference(X, T0=0, T1=k).stderr_mean) for k in levels
        ]
    return res


def econml_dr_tree(d: Design) -> dict[str, Any]:
    X, t, y = d.X, d.t.astype(int), d.y
    est = DRLearner(
        model_regression=ArmwiseRegressor(LinearRegression(), n_treated=1),
        model_propensity=Logit(),
        model_final=clone(TREE),
        min_propensity=CLIP,
        cv=kfold(len(y)),
    )
    est.fit(y, t, X=X)
    return {"ate": econml_ate(est, X, [1]), "cate_eval": arr(econml_cate(est, d.X_eval, [1]))}


def econml_dml(d: Design) -> dict[str, Any]:
    X, t, y, Xe = d.X, d.t.astype(int), d.y, d.X_eval
    folds = kfold(len(y))
    out: dict[str, Any] = {}
    linear: dict[str, Any] = {}
    const: dict[str, Any] = {}
    for cov in ("HC0", "HC1"):
        est = LinearDML(
            model_y=LinearRegression(), model_t=Logit(), discrete_treatment=True, cv=folds
        )
        est.fit(y, t, X=X, inference=StatsModelsInference(cov_type=cov))
        if cov == "HC0":
            linear["ate"] = econml_ate(est, X, [1])
            linear["cate_eval"] = arr(econml_cate(est, Xe, [1]))
            linear["coef"] = [arr(np.r_[est.intercept_, est.coef_])]
        linear[f"stderr_eval_{cov}"] = arr(econml_stderr(est, Xe, [1]))
        linear[f"ate_stderr_mean_{cov}"] = [float(est.ate_inference(X).stderr_mean)]
        # constant effect: no effect modifiers, the covariates as controls W
        est0 = LinearDML(
            model_y=LinearRegression(), model_t=Logit(), discrete_treatment=True, cv=folds
        )
        est0.fit(y, t, X=None, W=X, inference=StatsModelsInference(cov_type=cov))
        inf = est0.const_marginal_effect_inference()
        const["theta"] = float(np.ravel(inf.point_estimate)[0])
        const[f"stderr_{cov}"] = float(np.ravel(inf.stderr)[0])
    out["econml_LinearDML"] = linear
    out["econml_LinearDML_constant"] = const
    np_dml = NonParamDML(
        model_y=LinearRegression(),
        model_t=Logit(),
        model_final=clone(TREE),
        discrete_treatment=True,
        cv=folds,
    )
    np_dml.fit(y, t, X=X)
    out["econml_NonParamDML_tree"] = {
        "ate": econml_ate(np_dml, X, [1]),
        "cate_eval": arr(econml_cate(np_dml, Xe, [1])),
    }
    return out


# -- CausalML ----------------------------------------------------------------------------------


def causalml_ate(est: Any, X: np.ndarray, t: np.ndarray, y: np.ndarray, p: Any) -> dict:
    extra = {"return_ci": True} if isinstance(est, BaseSRegressor) else {}
    ate, lb, ub = est.estimate_ate(X, t, y, p=p, pretrain=True, **extra)
    return {"ate": arr(np.ravel(ate)), "ate_lb": arr(np.ravel(lb)), "ate_ub": arr(np.ravel(ub))}


def causalml_learners(d: Design, levels: list[int]) -> dict[str, Any]:
    X, t, y, Xe = d.X, d.t.astype(int), d.y, d.X_eval
    out: dict[str, Any] = {}
    if len(levels) == 1:  # CausalML's S-learner fits each level against control separately
        s = BaseSRegressor(learner=clone(OLS_INTERACT), control_name=0)
        s.fit(X, t, y)
        out["causalml_BaseSRegressor"] = {
            **causalml_ate(s, X, t, y, None),
            "cate_eval": arr(s.predict(Xe)),
        }
    tl = BaseTRegressor(learner=clone(OLS), control_name=0)
    tl.fit(X, t, y)
    out["causalml_BaseTRegressor"] = {
        **causalml_ate(tl, X, t, y, None),
        "cate_eval": arr(tl.predict(Xe)),
    }
    # the same propensity as paribus's X-learner: Logit on each pair of levels, full sample
    p_fit = {k: pair_logit(X, t, k, X) for k in levels}
    p_eval = {k: pair_logit(X, t, k, Xe) for k in levels}
    xl = BaseXRegressor(
        control_outcome_learner=clone(OLS),
        treatment_outcome_learner=clone(OLS),
        control_effect_learner=clone(TREE),
        treatment_effect_learner=clone(TREE),
        control_name=0,
    )
    xl.fit(X, t, y, p=p_fit)
    out["causalml_BaseXRegressor"] = {
        **causalml_ate(xl, X, t, y, p_fit),
        "cate_eval": arr(xl.predict(Xe, p=p_eval)),
    }
    if len(levels) > 1:
        return out
    folds = kfold(len(y))
    e = cross_fitted_logit(X, t, folds)  # paribus's out-of-fold propensity on these folds
    for tag, effect_learner in (("", OLS), ("_tree", TREE)):
        r = BaseRRegressor(
            outcome_learner=clone(OLS),
            effect_learner=clone(effect_learner),
            n_fold=5,
            random_state=FOLD_SEED,
        )
        r.fit(X, t, y, p=e, verbose=False)
        res = {"cate_eval": arr(r.predict(Xe)), "ate": [float(r.predict(X).mean())]}
        if not tag:
            res.update(causalml_ate(r, X, t, y, e))
        out[f"causalml_BaseRRegressor{tag}"] = res
    thirds = rotating_thirds(len(y))
    e3 = cross_fitted_logit(X, t, thirds)
    dr = BaseDRRegressor(learner=clone(OLS), control_name=0)
    dr.fit(X, t, y, p=e3, seed=FOLD_SEED)
    out["causalml_BaseDRRegressor"] = {
        "ate": [float(dr.predict(X).mean())],
        "cate_eval": arr(dr.predict(Xe)),
    }
    return out


def design_references(d: Design) -> dict[str, Any]:
    levels = [int(k) for k in np.unique(d.t) if k != 0]
    peers: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name, fn in (
        ("econml metalearners", lambda: econml_metalearners(d, levels)),
        (
            "econml LinearDRLearner",
            lambda: {
                "econml_LinearDRLearner": econml_linear_dr(
                    d, levels, Logit() if len(levels) == 1 else KNN
                )
            },
        ),
        (
            "econml LinearDRLearner, binding clip",
            lambda: {
                "econml_LinearDRLearner_clip": econml_linear_dr(
                    d,
                    levels,
                    Logit() if len(levels) == 1 else KNN,
                    BINDING_CLIP[d.name],
                )
            },
        ),
        ("econml DRLearner tree", lambda: {"econml_DRLearner_tree": econml_dr_tree(d)}),
        ("econml DML", lambda: econml_dml(d)),
        ("causalml", lambda: causalml_learners(d, levels)),
    ):
        if len(levels) > 1 and name in ("econml DRLearner tree", "econml DML"):
            continue  # binary-treatment checks
        start = time.perf_counter()
        peers.update(fn())
        timings[name] = round(time.perf_counter() - start, 2)
    return {
        "fingerprint": fingerprint(d),
        "levels": levels,
        "true_cate_eval": arr(d.tau_eval),
        "peers": peers,
        "seconds": timings,
    }


def main() -> None:
    print(
        f"python {platform.python_version()}; " + ", ".join(f"{p} {version(p)}" for p in PACKAGES)
    )
    refs: dict[str, Any] = {
        "_about": {
            "command": COMMAND,
            "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in PACKAGES},
            "designs": "tests/_meta_designs.py",
            "folds": f"KFold(5, shuffle=True, random_state={FOLD_SEED}); CausalML's DR-learner: "
            f"rotating thirds of KFold(3, shuffle=True, random_state={FOLD_SEED})",
            "learners": "LinearRegression; Pipeline(PolynomialFeatures(2, interaction_only), "
            "LinearRegression) for S-learners; paribus.Logit; KNeighborsClassifier(100) for the "
            "three-level DR propensity; DecisionTreeRegressor(max_depth=3, min_samples_leaf=50, "
            "random_state=0) as a nonlinear final stage",
        }
    }
    for name in DESIGNS:
        d = make_design(name)
        refs[name] = design_references(d)
        print(f"{name}: {len(refs[name]['peers'])} peer fits, seconds {refs[name]['seconds']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(refs, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
