"""Uplift models: two models, class transformation, and paribus CATE learners as uplift models.

Every model follows scikit-learn's contract (settings in ``__init__``, ``fit(X, y,
treatment)`` returns ``self``, ``get_params`` / ``clone`` work) and ``predict(X)``
returns the predicted uplift ``tau(x) = E[Y | X = x, T = 1] - E[Y | X = x, T = 0]``,
shape ``(n,)``.

* :class:`TwoModel`: one outcome model per arm, ``tau_k(x) = mu_k(x) - mu_0(x)`` (the
  "two-model" approach, Radcliffe 2007; the T-learner of Künzel et al. 2019); several
  treated arms give one uplift per arm against control.
* :class:`ClassTransformation`: a single model of a transformed target.
  ``method="class"`` (binary outcome; Jaskowski & Jaroszewicz 2012): ``Z = Y T + (1 - Y)
  (1 - T)``; when both arms are equally likely, ``P(Z = 1 | x) = (1 + tau(x)) / 2``, so
  ``tau(x) = 2 P(Z = 1 | x) - 1``. Unequal arms (or a propensity ``e(x)``) are made
  equal by weighting treated units by ``1 / (2 e)`` and controls by ``1 / (2 (1 - e))``,
  which restores the identity in the weighted population (needs a classifier taking
  ``sample_weight``). ``method="transformed"`` (any outcome; Athey & Imbens 2015):
  ``Y* = Y (T - e) / (e (1 - e))`` has ``E[Y* | x] = tau(x)`` and is regressed on ``X``.
* :func:`as_uplift_model`: wraps a paribus CATE learner (``SLearner``, ``TLearner``,
  ``XLearner``, ``RLearner``, ``DRLearner``) so it fits and predicts as an uplift model.
* :func:`cross_predict`: out-of-fold uplift predictions of any of these, for honest
  evaluation on the fitting sample.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier

from paribus._core.crossfit import make_folds
from paribus._core.defaults import default_classifier, default_regressor
from paribus._core.learners import seeded_clone
from paribus._core.random import child_seeds, seed_sequence
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.uplift.evaluation import is_binary, propensity_array

__all__ = ["ClassTransformation", "TwoModel", "as_uplift_model", "cross_predict"]


def _design(X: Any, where: str) -> np.ndarray:
    try:
        M = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: X must be numeric ({exc}).") from exc
    if M.ndim == 1:
        M = M.reshape(-1, 1)
    if M.ndim != 2:
        raise DataError(f"{where}: X must be a 2-d table; found shape {M.shape}.")
    return M


def _targets(y: Any, treatment: Any, n: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y, dtype=float).ravel()
    t = np.asarray(treatment).ravel()
    if yy.size != n or t.size != n:
        raise DataError(
            f"{where}: X has {n} rows but y has {yy.size} and treatment {t.size}; pass "
            "arrays of equal length."
        )
    if not np.all(np.isfinite(yy)):
        raise DataError(f"{where}: y has missing or infinite values; drop those rows.")
    return yy, t


def _predict_outcome(model: Any, X: np.ndarray) -> np.ndarray:
    """``P(Y = 1 | X)`` from a classifier, ``E[Y | X]`` from a regressor."""
    if is_classifier(model):
        return np.asarray(model.predict_proba(X)[:, 1], dtype=float)
    return np.asarray(model.predict(X), dtype=float)


class TwoModel(BaseEstimator):
    """Separate outcome models per arm; the uplift is their difference (module docstring).

    Parameters
    ----------
    outcome_model : regressor or classifier, optional
        Cloned for each arm (a classifier's ``predict_proba`` is used). Default: the
        paribus boosting regressor.
    control : optional
        The control level of ``treatment`` (default: the smallest value).
    random_state : int or None

    Attributes
    ----------
    models_ : dict
        Fitted model per treatment level.
    treatment_levels_ : ndarray
        The treated levels, in the order of :meth:`predict_table`'s columns.
    """

    def __init__(
        self, outcome_model: Any = None, control: Any = None, random_state: int | None = None
    ) -> None:
        self.outcome_model = outcome_model
        self.control = control
        self.random_state = random_state

    def fit(self, X: Any, y: Any, treatment: Any) -> TwoModel:
        """Fit one clone of ``outcome_model`` per treatment level. Returns ``self``."""
        where = "TwoModel.fit"
        M = _design(X, where)
        yy, t = _targets(y, treatment, M.shape[0], where)
        levels = np.unique(t)
        control = levels[0] if self.control is None else self.control
        if levels.size < 2 or not np.any(levels == control):
            raise DataError(
                f"{where}: treatment needs the control level {control!r} and at least one "
                f"other level; found levels {levels.tolist()}."
            )
        learner = default_regressor() if self.outcome_model is None else self.outcome_model
        seeds = child_seeds(seed_sequence(self.random_state), levels.size)
        self.models_ = {}
        for level, seed in zip(levels, seeds, strict=True):
            rows = t == level
            if rows.sum() < 2:
                raise DataError(f"{where}: treatment level {level!r} has {rows.sum()} rows.")
            self.models_[level] = seeded_clone(learner, seed).fit(M[rows], yy[rows])
        self.control_ = control
        self.treatment_levels_ = levels[levels != control]
        self.n_features_in_ = M.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError("TwoModel is not fitted; call fit(X, y, treatment) first.")

    def predict(self, X: Any, treatment: Any = None) -> np.ndarray:
        """Uplift of ``treatment`` (a treated level; needed when there are several), (n,)."""
        self._check_fitted()
        levels = self.treatment_levels_
        if treatment is None:
            if levels.size > 1:
                raise ParameterError(
                    f"TwoModel.predict: there are {levels.size} treated levels "
                    f"{levels.tolist()}; pass treatment=<level>, or use predict_table(X)."
                )
            treatment = levels[0]
        if not np.any(levels == treatment):
            raise ParameterError(
                f"TwoModel.predict: treatment={treatment!r} is not a treated level; choose "
                f"from {levels.tolist()}."
            )
        M = _design(X, "TwoModel.predict")
        mu0 = _predict_outcome(self.models_[self.control_], M)
        return _predict_outcome(self.models_[treatment], M) - mu0

    def predict_table(self, X: Any) -> pd.DataFrame:
        """Uplift of every treated level against control: one column per level."""
        self._check_fitted()
        return pd.DataFrame(
            {f"{lvl} vs {self.control_}": self.predict(X, lvl) for lvl in self.treatment_levels_}
        )


class ClassTransformation(BaseEstimator):
    """One model of a transformed target (module docstring).

    Parameters
    ----------
    model : classifier or regressor, optional
        A classifier for ``method="class"``, a regressor for ``"transformed"``.
        Default: the paribus boosting classifier / regressor.
    method : {"auto", "class", "transformed"}, default "auto"
        ``"auto"``: ``"class"`` for a 0/1 outcome, else ``"transformed"``.
    random_state : int or None

    Attributes
    ----------
    method_ : str
        The method used.
    model_ : fitted model
    """

    def __init__(
        self,
        model: Any = None,
        method: Literal["auto", "class", "transformed"] = "auto",
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.method = method
        self.random_state = random_state

    def fit(self, X: Any, y: Any, treatment: Any, propensity: Any = None) -> ClassTransformation:
        """Fit on the transformed target. ``propensity``: ``P(T = 1 | X)`` (number or (n,)
        array); default the treated share (a randomised design). Returns ``self``."""
        where = "ClassTransformation.fit"
        if self.method not in ("auto", "class", "transformed"):
            raise ParameterError(
                f"{where}: method={self.method!r}; expected 'auto', 'class' or 'transformed'."
            )
        M = _design(X, where)
        yy, t = _targets(y, treatment, M.shape[0], where)
        t = t.astype(float)
        if not np.all((t == 0) | (t == 1)) or t.min() == t.max():
            raise DataError(
                f"{where}: treatment must be 0/1 with both values present; found "
                f"{np.unique(t)[:5].tolist()}. For several arms use TwoModel."
            )
        e = propensity_array(t.mean() if propensity is None else propensity, t.size, where)
        method = self.method
        if method == "auto":
            method = "class" if is_binary(yy) else "transformed"
        seed = child_seeds(seed_sequence(self.random_state), 1)[0]
        if method == "class":
            if not is_binary(yy):
                raise DataError(
                    f"{where}: method='class' needs a 0/1 outcome; use method='transformed'."
                )
            z = (yy * t + (1 - yy) * (1 - t)).astype(int)
            model = seeded_clone(default_classifier() if self.model is None else self.model, seed)
            if not is_classifier(model):
                raise ParameterError(f"{where}: method='class' needs a classifier as model.")
            w = np.where(t == 1, 1 / (2 * e), 1 / (2 * (1 - e)))
            if np.allclose(w, 1.0):
                model.fit(M, z)
            else:
                model.fit(M, z, sample_weight=w)
        else:
            ystar = yy * (t - e) / (e * (1 - e))
            model = seeded_clone(default_regressor() if self.model is None else self.model, seed)
            model.fit(M, ystar)
        self.method_ = method
        self.model_ = model
        self.n_features_in_ = M.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift, shape (n,)."""
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "ClassTransformation is not fitted; call fit(X, y, treatment) first."
            )
        M = _design(X, "ClassTransformation.predict")
        if self.method_ == "class":
            return np.asarray(2 * self.model_.predict_proba(M)[:, 1] - 1, dtype=float)
        return np.asarray(self.model_.predict(M), dtype=float)


class CATEUpliftModel(BaseEstimator):
    """A paribus CATE learner with the uplift-model interface (see :func:`as_uplift_model`)."""

    def __init__(self, estimator: Any, feature_names: Any = None) -> None:
        self.estimator = estimator
        self.feature_names = feature_names

    def _frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X.reset_index(drop=True)
        M = _design(X, "as_uplift_model")
        names = self.feature_names or [f"x{j}" for j in range(M.shape[1])]
        if len(names) != M.shape[1]:
            raise DataError(
                f"as_uplift_model: X has {M.shape[1]} columns but feature_names has {len(names)}."
            )
        return pd.DataFrame(M, columns=list(names))

    def fit(self, X: Any, y: Any, treatment: Any) -> CATEUpliftModel:
        """Fit a clone of the CATE learner on ``(X, y, treatment)``. Returns ``self``."""
        if not hasattr(self.estimator, "effect"):
            raise ParameterError(
                f"as_uplift_model: {type(self.estimator).__name__} has no effect(X); pass a "
                "paribus CATE learner (SLearner, TLearner, XLearner, RLearner, DRLearner)."
            )
        frame = self._frame(X)
        covariates = [str(c) for c in frame.columns]
        frame.columns = covariates
        yy, t = _targets(y, treatment, len(frame), "as_uplift_model")
        reserved = {"__uplift_y", "__uplift_t"} & set(covariates)
        if reserved:
            raise DataError(f"as_uplift_model: X may not have columns named {sorted(reserved)}.")
        data = frame.assign(__uplift_y=yy, __uplift_t=t)
        self.estimator_ = clone(self.estimator).fit(
            data, treatment="__uplift_t", outcome="__uplift_y", covariates=covariates
        )
        self.covariates_ = covariates
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The learner's ``effect(X)``, shape (n,)."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError("as_uplift_model: call fit(X, y, treatment) first.")
        frame = self._frame(X)
        frame.columns = [str(c) for c in frame.columns]
        return np.asarray(self.estimator_.effect(frame), dtype=float)


def as_uplift_model(cate_estimator: Any, feature_names: Any = None) -> CATEUpliftModel:
    """Use a paribus CATE learner as an uplift model: ``fit(X, y, treatment)``, ``predict(X)``.

    ``X`` may be a DataFrame (its columns become the covariates) or an array (columns
    named ``feature_names`` or ``x0, x1, ...``). The learner is cloned at each fit.
    """
    return CATEUpliftModel(cate_estimator, feature_names)


def cross_predict(
    model: Any,
    X: Any,
    y: Any,
    treatment: Any,
    *,
    folds: int = 5,
    random_state: int | None = 0,
) -> np.ndarray:
    """Out-of-fold uplift predictions: each row predicted by a clone fitted without its fold.

    Folds are stratified by treatment. Returns shape (n,).
    """
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ParameterError(f"cross_predict: folds={folds!r}; expected an integer >= 2.")
    frame = X if isinstance(X, pd.DataFrame) else None
    M = None if frame is not None else _design(X, "cross_predict")
    n = len(frame) if frame is not None else M.shape[0]  # type: ignore[union-attr]
    yy, t = _targets(y, treatment, n, "cross_predict")
    seed = child_seeds(seed_sequence(random_state), 1)[0]
    out = np.empty(n)
    for train, test in make_folds(int(folds), t, seed):
        fitted = clone(model).fit(_rows(X, train), yy[train], t[train])
        out[test] = fitted.predict(_rows(X, test))
    return out


def _rows(X: Any, idx: np.ndarray) -> Any:
    if isinstance(X, pd.DataFrame):
        return X.iloc[idx].reset_index(drop=True)
    return _design(X, "cross_predict")[idx]
