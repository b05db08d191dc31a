"""Causal mechanisms: the structural equation of one node given its parents.

A structural causal model (Pearl 2009, *Causality*, ch. 7) writes each variable
as ``X_j = f_j(PA_j, N_j)`` with jointly independent noises ``N_j``. A
:class:`Mechanism` holds one ``f_j`` with the law of its ``N_j``:

* :meth:`~Mechanism.sample_noise` draws ``N_j``;
* :meth:`~Mechanism.evaluate` applies ``f_j`` to given parents and noise (the
  forward pass of sampling, interventions and counterfactuals);
* :meth:`~Mechanism.noise` recovers the noise of observed units (abduction, the
  first step of a counterfactual), exactly when ``f_j`` is invertible in ``N_j``.

The implementations:

==========================  ==========================================  ==========
mechanism                   equation                                    invertible
==========================  ==========================================  ==========
:class:`EmpiricalDistribution`  ``X = N``, ``N`` resampled from the data    yes
:class:`AdditiveNoiseModel`     ``X = f(PA) + N`` (Hoyer et al. 2009)       yes
:class:`PostNonlinearModel`     ``X = g(f(PA) + N)`` (Zhang & Hyvärinen 2009) yes
:class:`ClassifierMechanism`    ``X = F^{-1}(U | PA)``, ``U ~ U[0, 1)``     no
==========================  ==========================================  ==========

The noise of the additive models is resampled from the training residuals (no
distributional assumption). :func:`select_mechanism` picks among candidate
mechanisms by K-fold cross-validated loss and records every candidate's score in
``fit_quality``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from paribus._core.defaults import default_classifier, default_regressor
from paribus.errors import DataError, NotFittedError, ParameterError

__all__ = [
    "AdditiveNoiseModel",
    "ClassifierMechanism",
    "EmpiricalDistribution",
    "Mechanism",
    "PostNonlinearModel",
    "clone_mechanism",
    "select_mechanism",
]

#: named invertible links for :class:`PostNonlinearModel`: (forward g, inverse g^-1)
LINKS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "identity": (lambda v: v, lambda v: v),
    "exp": (np.exp, np.log),
    "cube": (lambda v: v**3, np.cbrt),
    "logistic": (lambda v: 1.0 / (1.0 + np.exp(-v)), lambda p: np.log(p) - np.log1p(-p)),
}


def _learner_name(learner: Any) -> str:
    """The learner's class, or a pipeline's steps joined with "+"."""
    if learner is None:
        return "default boosting"
    steps = getattr(learner, "steps", None)
    if steps:
        return "+".join(type(step).__name__ for _, step in steps)
    return type(learner).__name__


def _as_parents(parents: np.ndarray, n: int | None = None) -> np.ndarray:
    arr = np.asarray(parents, dtype=float)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if arr.size and n is None else arr.reshape(n or 0, -1)
    return arr


class Mechanism:
    """Base class of a node's structural equation ``X = f(PA, N)``.

    Subclasses set :attr:`kind` and :attr:`invertible` and implement
    :meth:`fit`, :meth:`sample_noise`, :meth:`evaluate` and :meth:`noise`.

    Attributes
    ----------
    kind : str
        Short name (``"empirical"``, ``"additive_noise"``, ...).
    invertible : bool
        Whether :meth:`noise` recovers the exact noise of an observed unit.
    fit_quality : dict
        JSON-safe fit figures (cross-validated R² or log loss when chosen by
        :func:`select_mechanism`, in-sample otherwise).
    """

    kind: str = "mechanism"
    invertible: bool = True

    def __init__(self) -> None:
        self.fit_quality: dict[str, Any] = {}
        self._fitted = False

    # -- the contract ------------------------------------------------------------------------

    def fit(self, parents: np.ndarray, values: np.ndarray) -> Mechanism:
        raise NotImplementedError

    def sample_noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, parents: np.ndarray, noise: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def noise(
        self, parents: np.ndarray, values: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        raise NotImplementedError

    # -- shared helpers ----------------------------------------------------------------------

    @property
    def description(self) -> str:
        """A readable name for reports."""
        return self.kind

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call .fit(parents, values) "
                "or fit the StructuralCausalModel that holds it."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


class EmpiricalDistribution(Mechanism):
    """A root node: ``X = N`` with ``N`` drawn from the observed values.

    The noise of a unit is its value; sampling resamples the observed values with
    replacement (the empirical distribution, no smoothing).
    """

    kind = "empirical"
    invertible = True

    def fit(self, parents: np.ndarray, values: np.ndarray) -> EmpiricalDistribution:
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            raise DataError("EmpiricalDistribution.fit: values are empty; expected data rows.")
        self.values_ = values.copy()
        self.fit_quality = {"n_distinct": int(np.unique(values).size)}
        self._fitted = True
        return self

    def sample_noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        return np.asarray(rng.choice(self.values_, size=n, replace=True), dtype=float)

    def evaluate(self, parents: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return np.asarray(noise, dtype=float).copy()

    def noise(
        self, parents: np.ndarray, values: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        return np.asarray(values, dtype=float).copy()


class AdditiveNoiseModel(Mechanism):
    """``X = f(PA) + N`` with ``f`` any regressor and ``N`` resampled from residuals.

    Hoyer, Janzing, Mooij, Peters & Schölkopf (2009), "Nonlinear causal discovery
    with additive noise models", NeurIPS. The noise of an observed unit is its
    residual ``x - f(pa)``, so abduction is exact. Residuals are in-sample: with
    flexible regressors they understate the noise spread slightly.

    Parameters
    ----------
    regressor : scikit-learn regressor, optional
        Cloned before fitting; :func:`paribus.learners.default_regressor` when None.
    """

    kind = "additive_noise"
    invertible = True

    def __init__(self, regressor: Any = None) -> None:
        super().__init__()
        self.regressor = regressor

    @property
    def description(self) -> str:
        return f"additive noise ({_learner_name(self.regressor)})"

    def _fit_f(self, parents: np.ndarray, target: np.ndarray) -> None:
        parents = _as_parents(parents, target.size)
        if parents.shape[1] == 0:
            self.model_: Any = None
            self.intercept_ = float(np.mean(target))
        else:
            reg = default_regressor() if self.regressor is None else self.regressor
            self.model_ = clone(reg).fit(parents, target)

    def _f(self, parents: np.ndarray) -> np.ndarray:
        self._check_fitted()
        parents = _as_parents(parents)
        if self.model_ is None:
            return np.full(parents.shape[0], self.intercept_)
        return np.asarray(self.model_.predict(parents), dtype=float)

    def predict(self, parents: np.ndarray) -> np.ndarray:
        """``f(pa)``, the conditional mean of the node given its parents."""
        return self._f(parents)

    def fit(self, parents: np.ndarray, values: np.ndarray) -> AdditiveNoiseModel:
        values = np.asarray(values, dtype=float)
        self._fit_f(parents, values)
        self._fitted = True
        self.residuals_ = values - self._f(parents)
        var = float(np.var(values))
        self.fit_quality = {
            "r2_in_sample": 1.0 - float(np.var(self.residuals_)) / var if var > 0 else math.nan
        }
        return self

    def sample_noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        return np.asarray(rng.choice(self.residuals_, size=n, replace=True), dtype=float)

    def evaluate(self, parents: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return self._f(parents) + np.asarray(noise, dtype=float)

    def noise(
        self, parents: np.ndarray, values: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        return np.asarray(values, dtype=float) - self._f(parents)


class PostNonlinearModel(AdditiveNoiseModel):
    """``X = g(f(PA) + N)`` with an invertible link ``g``.

    Zhang & Hyvärinen (2009), "On the identifiability of the post-nonlinear causal
    model", UAI. ``f`` is fitted by regressing ``g^{-1}(X)`` on the parents, and the
    noise of a unit is ``g^{-1}(x) - f(pa)`` (exact abduction).

    Parameters
    ----------
    regressor : scikit-learn regressor, optional
    link : {"identity", "exp", "cube", "logistic"} or (g, g_inverse), default "exp"
        The link as a name or a pair of vectorised functions.
    """

    kind = "post_nonlinear"
    invertible = True

    def __init__(
        self,
        regressor: Any = None,
        link: str
        | tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] = ("exp"),
    ) -> None:
        super().__init__(regressor)
        if isinstance(link, str):
            if link not in LINKS:
                raise ParameterError(
                    f"PostNonlinearModel: link={link!r} is unknown; expected one of "
                    f"{', '.join(LINKS)} or a pair (g, g_inverse) of functions."
                )
            self._g, self._g_inv = LINKS[link]
        elif isinstance(link, tuple) and len(link) == 2 and all(callable(f) for f in link):
            self._g, self._g_inv = link
        else:
            raise ParameterError(
                f"PostNonlinearModel: link={link!r} is invalid; expected a name "
                f"({', '.join(LINKS)}) or a pair (g, g_inverse) of functions."
            )
        self.link = link

    @property
    def description(self) -> str:
        name = self.link if isinstance(self.link, str) else "custom"
        return f"post-nonlinear ({name} link, {super().description})"

    def fit(self, parents: np.ndarray, values: np.ndarray) -> PostNonlinearModel:
        values = np.asarray(values, dtype=float)
        with np.errstate(all="ignore"):
            inner = np.asarray(self._g_inv(values), dtype=float)
        if not np.all(np.isfinite(inner)):
            raise DataError(
                f"PostNonlinearModel: the inverse link {self.link!r} is not finite for some "
                "values of the node; choose a link whose range holds every observed value."
            )
        self._fit_f(parents, inner)
        self._fitted = True
        self.residuals_ = inner - self._f(parents)
        var = float(np.var(values))
        resid = values - self._g(self._f(parents) + self.residuals_.mean())
        self.fit_quality = {
            "r2_in_sample": 1.0 - float(np.var(resid)) / var if var > 0 else math.nan
        }
        return self

    def evaluate(self, parents: np.ndarray, noise: np.ndarray) -> np.ndarray:
        return np.asarray(self._g(self._f(parents) + np.asarray(noise, dtype=float)), dtype=float)

    def noise(
        self, parents: np.ndarray, values: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        return np.asarray(self._g_inv(np.asarray(values, dtype=float)), dtype=float) - self._f(
            parents
        )


class ClassifierMechanism(Mechanism):
    """A categorical node: ``X = F^{-1}(U | PA)`` with ``U ~ Uniform[0, 1)``.

    The classes are ordered as the classifier's ``classes_``; with predicted
    probabilities ``p_1..p_K`` and cumulative sums ``c_k``, the node takes the first
    class ``k`` with ``U < c_k`` (the inverse-CDF construction, so ``X | PA`` has the
    predicted law). The noise of an observed unit is **not** identified: every ``U``
    in ``[c_{k-1}, c_k)`` gives the observed class ``k``. :meth:`noise` draws ``U``
    uniformly from that interval (the posterior of ``U`` given the observation), so
    counterfactuals through this node are random, not exact.

    Parameters
    ----------
    classifier : scikit-learn classifier with ``predict_proba``, optional
        :func:`paribus.learners.default_classifier` when None.
    """

    kind = "classifier"
    invertible = False

    def __init__(self, classifier: Any = None) -> None:
        super().__init__()
        self.classifier = classifier

    @property
    def description(self) -> str:
        return f"classifier ({_learner_name(self.classifier)})"

    def fit(self, parents: np.ndarray, values: np.ndarray) -> ClassifierMechanism:
        values = np.asarray(values, dtype=float)
        parents = _as_parents(parents, values.size)
        self.classes_ = np.unique(values)
        if self.classes_.size < 2 or parents.shape[1] == 0:
            self.model_: Any = None
            self.prior_ = np.array([np.mean(values == c) for c in self.classes_])
        else:
            clf = default_classifier() if self.classifier is None else self.classifier
            self.model_ = clone(clf).fit(parents, values)
            model_classes = np.asarray(self.model_.classes_, dtype=float)
            if not np.array_equal(model_classes, self.classes_):
                raise DataError(
                    "ClassifierMechanism: the classifier's classes_ differ from the node's "
                    "values; use a scikit-learn classifier with predict_proba."
                )
        self._fitted = True
        proba = self.predict_proba(parents)
        idx = np.searchsorted(self.classes_, values)
        self.fit_quality = {
            "log_loss_in_sample": float(
                -np.mean(np.log(np.clip(proba[np.arange(idx.size), idx], 1e-15, 1)))
            )
        }
        return self

    def predict_proba(self, parents: np.ndarray) -> np.ndarray:
        """``P(X = class_k | pa)``, shape ``(n, K)`` in the order of ``classes_``."""
        self._check_fitted()
        parents = _as_parents(parents)
        if self.model_ is None:
            return np.tile(self.prior_, (parents.shape[0], 1))
        return np.asarray(self.model_.predict_proba(parents), dtype=float)

    def _cumulative(self, parents: np.ndarray) -> np.ndarray:
        cum = np.cumsum(self.predict_proba(parents), axis=1)
        cum[:, -1] = 1.0  # rounding must not leave U above the last bound
        return cum

    def sample_noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        return rng.random(n)

    def evaluate(self, parents: np.ndarray, noise: np.ndarray) -> np.ndarray:
        cum = self._cumulative(parents)
        u = np.asarray(noise, dtype=float)
        idx = np.minimum((u[:, None] >= cum).sum(axis=1), self.classes_.size - 1)
        return np.asarray(self.classes_[idx], dtype=float)

    def noise(
        self, parents: np.ndarray, values: np.ndarray, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        idx = np.searchsorted(self.classes_, values)
        bad = (idx >= self.classes_.size) | (
            self.classes_[np.minimum(idx, self.classes_.size - 1)] != values
        )
        if np.any(bad):
            raise DataError(
                f"ClassifierMechanism: {int(bad.sum())} values are not among the classes seen "
                f"in fitting ({', '.join(f'{c:g}' for c in self.classes_)})."
            )
        cum = self._cumulative(parents)
        upper = cum[np.arange(idx.size), idx]
        lower = np.where(idx > 0, cum[np.arange(idx.size), np.maximum(idx - 1, 0)], 0.0)
        generator = rng if rng is not None else np.random.default_rng()
        return lower + (upper - lower) * generator.random(idx.size)


# -- automatic selection ---------------------------------------------------------------------


#: the quadratic candidate is offered up to this many parents (its features grow as k^2 / 2)
_MAX_QUADRATIC_PARENTS = 10


def _candidates(categorical: bool, n_parents: int) -> dict[str, Mechanism]:
    if categorical:
        return {
            "logistic": ClassifierMechanism(LogisticRegression(max_iter=1000)),
            "boosting": ClassifierMechanism(default_classifier()),
        }
    out: dict[str, Mechanism] = {"linear": AdditiveNoiseModel(LinearRegression())}
    if n_parents <= _MAX_QUADRATIC_PARENTS:
        quadratic = make_pipeline(PolynomialFeatures(2), LinearRegression())
        out["quadratic"] = AdditiveNoiseModel(quadratic)
    out["boosting"] = AdditiveNoiseModel(default_regressor())
    return out


def _cv_loss(
    mechanism: Mechanism,
    parents: np.ndarray,
    values: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    categorical: bool,
) -> float:
    """Out-of-fold mean squared error (continuous) or log loss (categorical)."""
    losses = np.empty(values.size)
    for train, test in folds:
        fitted = clone_mechanism(mechanism).fit(parents[train], values[train])
        if categorical:
            assert isinstance(fitted, ClassifierMechanism)
            proba = fitted.predict_proba(parents[test])
            idx = np.searchsorted(fitted.classes_, values[test])
            found = (idx < fitted.classes_.size) & (
                fitted.classes_[np.minimum(idx, fitted.classes_.size - 1)] == values[test]
            )
            p = np.where(found, proba[np.arange(test.size), np.minimum(idx, proba.shape[1] - 1)], 0)
            losses[test] = -np.log(np.clip(p, 1e-15, 1.0))
        else:
            assert isinstance(fitted, AdditiveNoiseModel)
            losses[test] = (values[test] - fitted.predict(parents[test])) ** 2
    return float(np.mean(losses))


def clone_mechanism(mechanism: Mechanism) -> Mechanism:
    """An unfitted copy with the same settings (learners cloned by scikit-learn)."""
    if isinstance(mechanism, PostNonlinearModel):
        return PostNonlinearModel(mechanism.regressor, mechanism.link)
    if isinstance(mechanism, AdditiveNoiseModel):
        return AdditiveNoiseModel(mechanism.regressor)
    if isinstance(mechanism, ClassifierMechanism):
        return ClassifierMechanism(mechanism.classifier)
    if isinstance(mechanism, EmpiricalDistribution):
        return EmpiricalDistribution()
    import copy

    return copy.deepcopy(mechanism)


def select_mechanism(
    parents: np.ndarray,
    values: np.ndarray,
    *,
    categorical: bool,
    candidates: dict[str, Mechanism] | None = None,
    cv: int = 5,
    random_state: int | None = None,
) -> Mechanism:
    """The candidate with the lowest K-fold cross-validated loss, refitted on all rows.

    Continuous nodes compare additive-noise models by out-of-fold mean squared
    error (reported as ``cv_r2 = 1 - MSE / Var(X)``); categorical nodes compare
    classifiers by out-of-fold log loss. Ties go to the earlier (simpler) candidate.
    The default candidates are, for continuous nodes, linear least squares, a
    degree-2 polynomial least-squares fit (up to 10 parents) and
    :func:`paribus.learners.default_regressor` (boosting); for categorical nodes,
    ``LogisticRegression`` and :func:`paribus.learners.default_classifier`.

    Returns
    -------
    Mechanism
        Fitted; ``fit_quality`` holds ``metric``, ``cv_score`` (R² or log loss),
        ``selected`` and every candidate's score under ``candidates``.
    """
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise ParameterError(f"cv={cv!r} is invalid; expected an integer of at least 2 folds.")
    values = np.asarray(values, dtype=float)
    parents = _as_parents(parents, values.size)
    options = _candidates(categorical, parents.shape[1]) if candidates is None else dict(candidates)
    if not options:
        raise ParameterError("select_mechanism: candidates is empty; pass at least one mechanism.")
    n_folds = min(cv, values.size)
    if categorical:
        counts = np.unique(values, return_counts=True)[1]
        splitter: Any = (
            StratifiedKFold(n_folds, shuffle=True, random_state=random_state)
            if counts.min() >= n_folds
            else KFold(n_folds, shuffle=True, random_state=random_state)
        )
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=random_state)
    folds = list(splitter.split(parents, values))
    scores = {
        name: _cv_loss(mech, parents, values, folds, categorical) for name, mech in options.items()
    }
    best = min(scores, key=lambda k: (scores[k], list(options).index(k)))
    chosen = clone_mechanism(options[best]).fit(parents, values)
    var = float(np.var(values))
    if categorical:
        reported = {k: v for k, v in scores.items()}
        metric = "cv_log_loss"
    else:
        reported = {k: (1.0 - v / var if var > 0 else math.nan) for k, v in scores.items()}
        metric = "cv_r2"
    chosen.fit_quality = {
        **chosen.fit_quality,
        "metric": metric,
        "cv_score": reported[best],
        "selected": best,
        "candidates": reported,
        "cv_folds": n_folds,
    }
    return chosen
