"""The instrumental forest: heterogeneous local average treatment effects.

Athey, Tibshirani & Wager (2019), "Generalized random forests", Ann. Statist. 47(2),
Sec. 5 (grf's ``instrumental_forest``). With an instrument ``Z`` for an endogenous
treatment ``W`` (relevant, excluded, monotone, independent of the potential outcomes
given ``X``), the conditional LATE ``tau(x)`` solves the local moment

    E[(Z - E[Z|X]) (Y - E[Y|X] - (W - E[W|X]) tau(x)) | X = x] = 0.

1. ``y_hat, w_hat, z_hat`` estimate ``E[Y|X], E[W|X], E[Z|X]`` out of bag (regression
   forests, grf's default) or by cross-fitting ``nuisance_model``; ``Yc, Wc, Zc`` are
   the residuals.
2. The trees split on the gradient pseudo-outcomes of the moment (GRF Sec. 2.3):
   with ``tau_P`` the parent's IV slope,
   ``rho_i = (Z_i - Zbar_P)((Y_i - Ybar_P) - (W_i - Wbar_P) tau_P) / Cov_P(Z, W)``
   (:func:`instrumental_pseudo_outcomes`), and a CART regression split on ``rho``
   maximises the difference in ``tau`` between the children.
3. ``tau(x)`` solves the forest-weighted moment (:func:`local_iv_estimate` with
   ``center=False``, the convention of :mod:`.causal`)

       tau(x) = sum_i alpha_i(x) Zc_i Yc_i / sum_i alpha_i(x) Zc_i Wc_i,

   with pointwise variance by the bootstrap of little bags (GRF Sec. 4, :mod:`._predict`).

With ``Z = W`` all three steps are the causal forest's.

Deviations from grf, and why. (a) The shared grower (:func:`._tree.grow_tree`) relabels
per node for its causal rule only, so the pseudo-outcomes are computed once, at the
root over the whole sample, and the trees are grown by its regression rule on them
(honest, pruned, in little bags, by :func:`._grow.grow_forest`). CART's criterion
depends on the children's mean difference of ``rho``, ``~ Cov(Z, W)(tau_L - tau_R)``
either way; per-node relabeling differs by the node's recentring of ``Y, W, Z`` and a
per-node scale that does not change which split wins (it enters only the stopping
threshold and the imbalance penalty). Child sizes are counted in units, where grf
counts the instrument's within-node sum of squares. (b) grf centres ``Z, Y, W`` again
by their ``alpha``-weighted means in step 3; like :mod:`.causal` this does not, the
out-of-bag residuals being centred already (:func:`local_iv_estimate` computes both).

The average effect (:meth:`InstrumentalForest.ate`) is the mean of the doubly robust
scores (grf ``get_scores.instrumental_forest``)
``Gamma_i = tau_i + Zc_i (Yc_i - Wc_i tau_i) / c_i`` with ``c(x) = Cov(Z, W | X = x)``
the conditional first stage: by default the forest's out-of-bag local first stage
``sum alpha Zc Wc`` (grf fits a separate compliance forest), or one passed to
:meth:`InstrumentalForest.fit`. It estimates ``E[tau(X)]``, the average conditional
LATE, which is the LATE when compliance does not vary with ``X``. Noise in ``c`` enters
through ``1 / c``: in the simulation of the tests (n = 2000, 150 trees,
``min_node_size=20``) the average was biased by +0.056 (Monte Carlo SE 0.021), a
quarter of its standard error (100 replications, sd 0.206, mean SE 0.211, coverage
0.92). A cross-fitted boosting regression of ``Zc Wc`` on ``X`` was tried for ``c`` and
is worse: it overfits the noisy product and drives ``c`` towards 0.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict

from paribus._core.inference import if_std_error
from paribus._core.params import LEVEL, NONE, HasMethods, Interval, check_level, validate_params
from paribus._core.random import child_seeds, seed_sequence
from paribus.data.causal_data import CausalData
from paribus.effects.forest._grow import check_settings, grow_forest, predict_accumulators
from paribus.effects.forest._predict import forest_weights_csr, ratio_and_variance
from paribus.effects.forest._tree import RULE_REGRESSION
from paribus.effects.forest.regression import (
    FOREST_CONSTRAINTS,
    RegressionForest,
    as_matrix,
    split_frequencies,
    tree_settings,
)
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.results import Effect

__all__ = ["InstrumentalForest", "instrumental_pseudo_outcomes", "local_iv_estimate"]

_NAME = "InstrumentalForest"


def instrumental_pseudo_outcomes(
    y: np.ndarray, w: np.ndarray, z: np.ndarray, idx: np.ndarray
) -> np.ndarray:
    """Gradient pseudo-outcomes ``rho_i`` of the IV moment in the node ``idx`` (docstring).

    Returns an array of ``len(idx)`` values; raises DataError when the node's
    instrument does not move the treatment (``Cov_P(Z, W) = 0``).
    """
    yy, ww, zz = y[idx], w[idx], z[idx]
    dy, dw, dz = yy - yy.mean(), ww - ww.mean(), zz - zz.mean()
    cov_zw = float(np.mean(dz * dw))
    scale = float(np.std(dz) * np.std(dw))
    if not (scale > 0 and abs(cov_zw) > 1e-12 * scale):
        raise DataError(
            "the instrument does not move the treatment in this sample (Cov(Z, W) = 0); "
            "check the first stage."
        )
    tau = float(np.mean(dz * dy)) / cov_zw
    return np.asarray(dz * (dy - dw * tau) / cov_zw)


def local_iv_estimate(
    alpha: Any, y: np.ndarray, w: np.ndarray, z: np.ndarray, *, center: bool = True
) -> Any:
    """``tau = Cov_alpha(Z, Y) / Cov_alpha(Z, W)`` for weights ``alpha`` of shape (n,) or (m, n).

    The weights are normalised to sum to one per row. ``center=False`` drops the local
    means: ``sum alpha Z Y / sum alpha Z W``, the forest's moment for residualised data.
    Returns a float for one weight vector, an array of shape (m,) for several.
    """
    a = np.atleast_2d(np.asarray(alpha, dtype=float))
    a = a / a.sum(axis=1, keepdims=True)
    mz, my, mw = (a @ z, a @ y, a @ w) if center else (0.0, 0.0, 0.0)
    tau = (a @ (z * y) - mz * my) / (a @ (z * w) - mz * mw)
    return float(tau[0]) if np.ndim(alpha) == 1 else tau


class InstrumentalForest(BaseEstimator):
    """Generalized random forest for the conditional LATE (module docstring).

    Parameters
    ----------
    n_estimators : int, default 2000
        Trees; a multiple of ``ci_group_size``.
    sample_fraction, mtry, min_node_size, honesty, honesty_fraction, alpha,
    imbalance_penalty, ci_group_size, honesty_prune_leaves
        Tree settings, as :class:`~paribus.effects.forest.regression.RegressionForest`.
    nuisance_model : regressor, optional
        Learns ``E[Y|X]``, ``E[W|X]``, ``E[Z|X]`` by ``folds``-fold cross-fitting (grouped
        by cluster); None grows regression forests of ``max(50, n_estimators / 4)`` trees
        and uses their out-of-bag predictions (grf's default). Nuisances passed to
        :meth:`fit` are used as given.
    folds : int, default 5
    n_jobs, random_state, level
        Parallel workers (None: ``paribus.config``), seed, interval level.

    Attributes
    ----------
    oob_effect_, oob_std_error_ : ndarray (n,)
        Out-of-bag conditional LATEs and their little-bags standard errors.
    local_first_stage_ : ndarray (n,)
        Out-of-bag ``sum alpha Zc Wc``, the local ``Cov(Z, W | X)``.
    compliance_ : ndarray (n,)
        The ``c`` of the doubly robust scores.
    scores_ : ndarray (n,)
        Doubly robust scores ``Gamma_i``.
    nuisance_ : dict of ndarray
        ``y_hat``, ``w_hat``, ``z_hat``.
    forest_ : Forest
    result_ : Effect
        :meth:`ate`.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FOREST_CONSTRAINTS,
        "nuisance_model": [NONE, HasMethods(("fit", "predict"))],
        "folds": [Interval(2, None, integer=True)],
        "level": [LEVEL],
    }

    def __init__(
        self,
        n_estimators: int = 2000,
        sample_fraction: float = 0.5,
        mtry: int | None = None,
        min_node_size: int = 5,
        honesty: bool = True,
        honesty_fraction: float = 0.5,
        honesty_prune_leaves: bool = True,
        alpha: float = 0.05,
        imbalance_penalty: float = 0.0,
        ci_group_size: int = 2,
        nuisance_model: Any = None,
        folds: int = 5,
        n_jobs: int | None = None,
        random_state: int | None = None,
        level: float = 0.95,
    ) -> None:
        self.n_estimators = n_estimators
        self.sample_fraction = sample_fraction
        self.mtry = mtry
        self.min_node_size = min_node_size
        self.honesty = honesty
        self.honesty_fraction = honesty_fraction
        self.honesty_prune_leaves = honesty_prune_leaves
        self.alpha = alpha
        self.imbalance_penalty = imbalance_penalty
        self.ci_group_size = ci_group_size
        self.nuisance_model = nuisance_model
        self.folds = folds
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.level = level

    # ------------------------------------------------------------ fitting

    def fit(
        self,
        X: Any,
        y: Any = None,
        w: Any = None,
        z: Any = None,
        *,
        instrument: str | None = None,
        cluster: Any = None,
        y_hat: Any = None,
        w_hat: Any = None,
        z_hat: Any = None,
        compliance: Any = None,
        dropna: bool = False,
    ) -> InstrumentalForest:
        """Grow the forest for the conditional LATE of a treatment on an outcome.

        Two call forms:

        * the estimator contract, ``fit(data, "w", "y", ["x1", ...], instrument="z",
          cluster="c")``: a table (or :class:`~paribus.CausalData`, whose roles fill
          what is not given) with the treatment, outcome and covariate columns in
          that order, the instrument and the optional cluster named by keyword;
        * arrays in grf's order, ``fit(X, y, w, z, cluster=codes)``.

        ``cluster`` makes whole clusters the sampled units and the average effect's
        error cluster-robust. ``y_hat``, ``w_hat``, ``z_hat`` are out-of-bag or
        cross-fitted estimates of the conditional means given ``X`` (those not given
        are estimated here); ``compliance`` an estimate of ``Cov(Z, W | X)`` for the
        doubly robust scores (default: the forest's local first stage).
        """
        name = _NAME
        validate_params(name, self.get_params(deep=False), self._parameter_constraints)
        if isinstance(X, CausalData) or isinstance(y, str):
            X, y, w, z, cluster = self._from_table(X, y, w, z, instrument, cluster, dropna)
        elif instrument is not None:
            raise ParameterError(
                f"{name}.fit: instrument= names a column, so pass a table: "
                "fit(data, 'treatment', 'outcome', covariates, instrument='z'); with arrays "
                "pass the instrument fourth: fit(X, y, w, z)."
            )
        else:
            self.feature_names_in_: np.ndarray | None = None
        if y is None or w is None or z is None:
            raise ParameterError(
                f"{name}.fit needs the outcome, treatment and instrument: fit(X, y, w, z), "
                "or fit(data, 'treatment', 'outcome', covariates, instrument='z')."
            )
        Xa = as_matrix(name, "X", X)
        n, p = Xa.shape
        ys, ws, zs = (_column(k, v, n) for k, v in (("y", y), ("w", w), ("z", z)))
        codes = None if cluster is None else np.asarray(cluster).ravel()
        if codes is not None and codes.size != n:
            raise DataError(f"{name}: cluster has {codes.size} codes for {n} rows; align them.")
        s = tree_settings(self, RULE_REGRESSION, p)
        n_units = n if codes is None else np.unique(codes).size
        check_settings(name, s, int(self.n_estimators), n_units, p)
        nuis_root, forest_root = seed_sequence(self.random_state).spawn(2)
        given = {"y_hat": y_hat, "w_hat": w_hat, "z_hat": z_hat}
        targets = {"y_hat": ys, "w_hat": ws, "z_hat": zs}
        hats = self._nuisances(Xa, targets, given, codes, nuis_root)
        yr, wr, zr = ys - hats["y_hat"], ws - hats["w_hat"], zs - hats["z_hat"]
        scale = float(np.std(zr) * np.std(wr))
        if not scale > 0 or abs(np.mean(zr * wr)) < 1e-8 * scale:
            raise DataError(
                f"{name}: z does not predict w given X (residual covariance 0); the "
                "conditional LATE is not identified. Check the instrument."
            )
        rho = instrumental_pseudo_outcomes(yr, wr, zr, np.arange(n))
        forest, acc = grow_forest(
            Xa, rho, np.zeros(n), np.ones(n), zr * yr, zr * wr, s, int(self.n_estimators),
            forest_root, codes, self.n_jobs, f"{name} trees",
        )  # fmt: skip
        self.forest_ = forest
        self.n_features_in_ = p
        self._n_train = n
        tau, var = ratio_and_variance(acc, s.group_size)
        with np.errstate(invalid="ignore", divide="ignore"):
            first = acc[:, 1] / acc[:, 2]
        missing = ~np.isfinite(tau)
        if missing.any():  # rows inside every tree's subsample: all trees predict them
            full = predict_accumulators(forest, Xa[missing], self.n_jobs)
            tau[missing], var[missing] = ratio_and_variance(full, s.group_size)
            first[missing] = full[:, 1] / full[:, 2]
        self.oob_effect_, self.oob_std_error_ = tau, np.sqrt(var)
        self.local_first_stage_ = first
        self.compliance_ = first if compliance is None else _column("compliance", compliance, n)
        self.nuisance_ = hats
        self._residuals = (yr, wr, zr)
        self._cluster = codes
        self.scores_ = tau + zr * (yr - wr * tau) / self.compliance_
        self.result_ = self._average()
        return self

    def _from_table(
        self,
        data: Any,
        treatment: str | None,
        outcome: Any,
        covariates: Any,
        instrument: str | None,
        cluster: Any,
        dropna: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """(X, y, w, z, cluster codes) from a table and role names (the contract form)."""
        name = _NAME
        if isinstance(data, CausalData):
            first = {role: cols[0] if cols else None for role, cols in data.roles.items()}
            treatment = treatment or first["treatment"]
            outcome = outcome or first["outcome"]
            covariates = covariates if covariates is not None else data.roles["covariates"]
            instrument = instrument or first["instruments"]
            cluster = cluster or first["cluster"]
        if not (isinstance(treatment, str) and isinstance(outcome, str)):
            raise ParameterError(
                f"{name}.fit(data, treatment, outcome, covariates, instrument=...) needs "
                "the treatment and outcome as column names."
            )
        if not isinstance(instrument, str):
            raise ParameterError(
                f"{name}.fit needs instrument='column': one variable that moves "
                f"{treatment!r} and affects {outcome!r} only through it."
            )
        if cluster is not None and not isinstance(cluster, str):
            raise ParameterError(f"{name}.fit: with a table, cluster= names a column.")
        cd = CausalData(
            data,
            treatment=treatment,
            outcome=outcome,
            covariates=covariates,
            instruments=[instrument],
            cluster=cluster,
            binary_treatment=False,
            dropna=dropna,
        )
        if not cd.covariates:
            raise DataError(
                f"{name}: a conditional LATE is a function of covariates; pass "
                "covariates=[...] (the effect modifiers and the instrument's confounders)."
            )
        self.feature_names_in_ = np.asarray(cd.covariates, dtype=object)
        return cd.X, cd.y, cd.t, cd.Z[:, 0], cd.column("cluster")

    def _nuisances(
        self,
        X: np.ndarray,
        targets: dict[str, np.ndarray],
        given: dict[str, Any],
        cluster: np.ndarray | None,
        root: np.random.SeedSequence,
    ) -> dict[str, np.ndarray]:
        n = X.shape[0]
        out = {}
        for (name, target), seed in zip(targets.items(), child_seeds(root, 3), strict=True):
            if given[name] is not None:
                out[name] = _column(name, given[name], n)
            elif self.nuisance_model is None:
                out[name] = self._nuisance_forest(X, target, cluster, seed)
            else:
                out[name] = _cross_fit(clone(self.nuisance_model), X, target, cluster,
                                       self.folds, seed)  # fmt: skip
        return out

    def _nuisance_forest(
        self, X: np.ndarray, target: np.ndarray, cluster: np.ndarray | None, seed: int
    ) -> np.ndarray:
        ell = int(self.ci_group_size)
        trees = max(50, int(self.n_estimators) // 4)
        forest = RegressionForest(
            n_estimators=ell * -(-trees // ell),
            sample_fraction=self.sample_fraction,
            mtry=self.mtry,
            min_node_size=self.min_node_size,
            honesty=self.honesty,
            honesty_fraction=self.honesty_fraction,
            honesty_prune_leaves=self.honesty_prune_leaves,
            alpha=self.alpha,
            imbalance_penalty=self.imbalance_penalty,
            ci_group_size=ell,
            n_jobs=self.n_jobs,
            random_state=seed,
        )
        forest.fit(X, target, cluster=cluster)
        return np.asarray(forest.oob_prediction_)

    def _average(self) -> Effect:
        gamma = self.scores_
        theta = float(gamma.mean())
        return Effect.from_normal(
            estimand="average CLATE",
            estimate=theta,
            std_error=if_std_error(gamma - theta, self._cluster),
            level=self.level,
            n_obs=gamma.size,
            method="instrumental-forest",
            inference="influence-function",
            diagnostics={
                "n_estimators": self.n_estimators,
                "min_abs_compliance": float(np.min(np.abs(self.compliance_))),
            },
            scores=gamma - theta,
        )

    # ------------------------------------------------------------ prediction

    def _forest(self) -> Any:
        if "forest_" not in self.__dict__:
            raise NotFittedError(f"{_NAME} is not fitted; call fit(X, y, w, z) first.")
        return self.forest_

    def _predict(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        forest = self._forest()
        names = getattr(self, "feature_names_in_", None)
        if names is not None and hasattr(X, "columns"):  # fitted on a table: by name
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise DataError(
                    f"{_NAME}: the table lacks the covariate column(s) {missing} the forest "
                    "was fitted on; pass a table with every covariate."
                )
            X = X[list(names)]
        M = as_matrix(_NAME, "X", X, forest.n_features)
        return ratio_and_variance(predict_accumulators(forest, M, self.n_jobs), forest.group_size)

    def effect(self, X: Any = None) -> np.ndarray:
        """Conditional LATEs at ``X``, shape (n,); ``X=None`` gives the out-of-bag ones."""
        self._forest()
        if X is None:
            return np.asarray(self.oob_effect_.copy())
        return np.asarray(self._predict(X)[0])

    def effect_interval(
        self, X: Any = None, level: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise normal intervals (little bags) at ``X`` (None: out of bag)."""
        level = check_level(self.level if level is None else level)
        if self.ci_group_size < 2:
            raise ParameterError(
                f"{_NAME}: intervals need little bags; refit with ci_group_size >= 2."
            )
        self._forest()
        if X is None:
            est, se = self.oob_effect_, self.oob_std_error_
        else:
            est, var = self._predict(X)
            se = np.sqrt(var)
        half = float(stats.norm.ppf(0.5 + level / 2)) * se
        return est - half, est + half

    def forest_weights(self, X: Any) -> Any:
        """The forest weights ``alpha_i(x)`` as a sparse (len(X), n_train) matrix."""
        forest = self._forest()
        M = as_matrix(_NAME, "X", X, forest.n_features)
        return forest_weights_csr(forest, M, self._n_train)

    def split_frequencies(self, max_depth: int = 4) -> np.ndarray:
        """Splits on each covariate at depths ``0 .. max_depth - 1``: shape (max_depth, p)."""
        return split_frequencies(self._forest(), max_depth, _NAME)

    def ate(self) -> Effect:
        """The average conditional LATE, ``mean(Gamma_i)``, with its influence-function SE."""
        self._forest()
        return self.result_

    def residuals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The centred ``(Y - y_hat, W - w_hat, Z - z_hat)`` the local moment uses."""
        self._forest()
        return self._residuals


def _cross_fit(
    model: Any, X: np.ndarray, target: np.ndarray, cluster: np.ndarray | None, folds: int,
    seed: int,
) -> np.ndarray:  # fmt: skip
    if cluster is None:
        cv: Any = KFold(folds, shuffle=True, random_state=seed)
        return np.asarray(cross_val_predict(model, X, target, cv=cv), dtype=float)
    cv = GroupKFold(folds)
    return np.asarray(cross_val_predict(model, X, target, cv=cv, groups=cluster), dtype=float)


def _column(name: str, value: Any, n: int) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise DataError(f"{_NAME}: {name} must be numeric.") from None
    if arr.size != n:
        raise DataError(f"{_NAME}: {name} has {arr.size} values but X has {n} rows; align them.")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{_NAME}: {name} has missing or infinite values; drop those rows.")
    return arr
