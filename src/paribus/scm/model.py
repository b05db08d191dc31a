"""A structural causal model fitted to data: sampling, interventions, counterfactuals.

Given a causal DAG, :class:`StructuralCausalModel` fits one mechanism
``X_j = f_j(PA_j, N_j)`` per node (:mod:`paribus.scm.mechanisms`) and answers the
three rungs of Pearl's ladder (Pearl 2009, *Causality*, §1.4 and §7.1):

* observational: :meth:`~StructuralCausalModel.sample` draws every noise and runs
  the equations in topological order;
* interventional: :meth:`~StructuralCausalModel.do` replaces the equations of the
  intervened nodes by constants (hard ``do``) or by functions of their natural
  value (soft / shift interventions, e.g. ``lambda v: v + 1``), and
  :meth:`~StructuralCausalModel.effect` averages the difference;
* counterfactual: :meth:`~StructuralCausalModel.counterfactual` runs Pearl's
  abduction-action-prediction: recover each unit's noise from its observed
  values (:meth:`~StructuralCausalModel.abduct`), intervene, and propagate the
  same noise (:meth:`~StructuralCausalModel.propagate`). Abduction is exact for
  invertible mechanisms (additive and post-nonlinear noise); a classifier's noise
  is only known to lie in an interval and is sampled from it, with a warning.

Effects are Monte Carlo averages over ``n`` simulated units that share their
noise across the compared worlds (common random numbers, so the Monte Carlo
error is that of the per-unit differences). Their uncertainty about the fitted
mechanisms comes from the nonparametric bootstrap: refit every mechanism on
resampled rows (``n_bootstrap``) and recompute.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from paribus._core.config import config, get_config
from paribus._core.parallel import run_tasks
from paribus._core.params import check_level
from paribus._core.random import child_seeds, seed_sequence
from paribus.data.convert import to_pandas
from paribus.errors import (
    DataError,
    GraphError,
    NotFittedError,
    ParameterError,
    ParibusWarning,
)
from paribus.graph.causal_graph import CausalGraph
from paribus.results import Effect
from paribus.scm._effects import make_effect
from paribus.scm.mechanisms import (
    AdditiveNoiseModel,
    ClassifierMechanism,
    EmpiricalDistribution,
    Mechanism,
    clone_mechanism,
    select_mechanism,
)

if TYPE_CHECKING:
    from paribus.graph.falsify import FalsificationReport
    from paribus.results import EffectTable

__all__ = ["ModelValidation", "StructuralCausalModel"]

#: an intervention on one node: a constant, per-unit values, or a function of the natural value
Intervention = float | np.ndarray | Callable[[np.ndarray], np.ndarray]


def _is_categorical(series: pd.Series) -> bool:
    """Non-numeric, boolean, pandas categorical, or an integer column with two values."""
    if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(series):
        return True
    if not pd.api.types.is_numeric_dtype(series):
        return True
    return bool(pd.api.types.is_integer_dtype(series) and series.nunique() <= 2)


def _fit_node(
    mechanism: Mechanism | None,
    parents: np.ndarray,
    values: np.ndarray,
    categorical: bool,
    auto: bool,
    cv: int,
    seed: int,
) -> Mechanism:
    """Fit one node's mechanism (chosen by cross-validation when none is given)."""
    if mechanism is not None:
        return clone_mechanism(mechanism).fit(parents, values)
    if parents.shape[1] == 0:
        return EmpiricalDistribution().fit(parents, values)
    if auto:
        return select_mechanism(parents, values, categorical=categorical, cv=cv, random_state=seed)
    if categorical:
        return ClassifierMechanism().fit(parents, values)
    return AdditiveNoiseModel().fit(parents, values)


def _refit(
    model: StructuralCausalModel,
    seed: int,
    statistic: Callable[[StructuralCausalModel, np.random.Generator], np.ndarray],
) -> np.ndarray:
    """One bootstrap replicate: refit every mechanism on resampled rows, recompute."""
    rng = np.random.default_rng(seed)
    copy = model._resampled(rng)
    return np.asarray(statistic(copy, rng), dtype=float)


def _shift_statistic(
    treatment: str,
    outcome: str,
    shift: float | None,
    values: tuple[Any, Any] | None,
    n: int,
    condition: Callable[[pd.DataFrame], Any] | None,
    model: StructuralCausalModel,
    rng: np.random.Generator,
) -> np.ndarray:
    diff = model._effect_differences(treatment, outcome, shift, values, n, condition, rng)
    return np.array([diff.mean()])


@dataclasses.dataclass(frozen=True, eq=False)
class ModelValidation:
    """What :meth:`StructuralCausalModel.validate` found: graph tests and mechanism fit.

    Attributes
    ----------
    falsification : FalsificationReport
        The graph's implied independences tested on the data
        (:func:`paribus.graph.falsify.falsify`).
    fit : DataFrame
        :meth:`StructuralCausalModel.fit_report`.
    """

    falsification: FalsificationReport
    fit: pd.DataFrame

    def summary(self) -> str:
        return f"{self.falsification.summary()}\n\nMechanisms\n{self.fit.to_string(index=False)}"

    def __str__(self) -> str:
        return self.summary()


class StructuralCausalModel:
    """A structural causal model on a DAG, with one fitted mechanism per node.

    Parameters
    ----------
    graph : CausalGraph or anything it accepts
        A DAG (bidirected edges, i.e. latent confounders, are refused: an SCM
        needs every common cause as a node).
    mechanisms : dict of str to Mechanism, optional
        Mechanisms for some nodes (cloned at fit); the others are chosen at fit.
    auto : bool, default True
        For nodes without a given mechanism: choose by ``cv``-fold cross-validated
        loss between a linear and a boosting model (:func:`select_mechanism`);
        with False, boosting is used directly. Root nodes always get
        :class:`EmpiricalDistribution`.
    cv : int, default 5
        Folds of the selection.
    random_state : int, optional
        Seeds the selection folds and the model's random stream (sampling,
        abduction of classifiers, bootstrap).
    n_jobs : int, optional
        Parallel node fits and bootstrap replicates (:func:`run_tasks`).

    Attributes
    ----------
    nodes_ : list of str
        The nodes in topological order.
    parents_ : dict of str to list of str
        Sorted parent names: the column order of each mechanism's parent matrix.
    mechanisms_ : dict of str to Mechanism
    categorical_ : frozenset of str
        Nodes modelled by classifiers (non-numeric, boolean, pandas categorical,
        or integer with two values). Non-numeric labels are coded 0..K-1 in the
        parent matrices and noise frames, and decoded in sampled frames.
    n_obs_ : int
    """

    def __init__(
        self,
        graph: Any,
        mechanisms: Mapping[str, Mechanism] | None = None,
        *,
        auto: bool = True,
        cv: int = 5,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        g = graph if isinstance(graph, CausalGraph) else CausalGraph(graph)
        if not g.is_dag:
            pairs = ", ".join(f"{a} <-> {b}" for a, b in g.bidirected_edges)
            raise GraphError(
                f"a structural causal model needs a DAG, but the graph has bidirected edges "
                f"({pairs}); add the latent common cause as a measured node or drop the edge."
            )
        given = dict(mechanisms or {})
        g.check_nodes(list(given), role="mechanisms key")
        bad = [k for k, m in given.items() if not isinstance(m, Mechanism)]
        if bad:
            raise ParameterError(
                f"mechanisms[{bad[0]!r}] is a {type(given[bad[0]]).__name__}; expected a "
                "paribus.scm.mechanisms.Mechanism such as AdditiveNoiseModel(regressor)."
            )
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
            raise ParameterError(f"cv={cv!r} is invalid; expected an integer of at least 2.")
        self.graph = g
        self.mechanisms = given
        self.auto = auto
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting -----------------------------------------------------------------------------

    def _encode(self, data: Any) -> dict[str, np.ndarray]:
        frame = to_pandas(data)
        columns = [str(c) for c in frame.columns]
        frame.columns = columns
        missing = [v for v in self.graph.nodes if v not in columns]
        if missing:
            hints = []
            for name in missing:
                close = difflib.get_close_matches(name, columns, n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise GraphError(
                f"graph node{'s' if len(missing) > 1 else ''} {', '.join(hints)} not among the "
                f"data columns ({', '.join(columns)}); every node of a structural causal model "
                "must be measured. Rename the columns or the nodes so they match."
            )
        out: dict[str, np.ndarray] = {}
        categories: dict[str, np.ndarray] = {}
        categorical = set()
        for v in self.graph.nodes:
            col = frame[v]
            if col.isna().any():
                raise DataError(
                    f"column {v!r} has {int(col.isna().sum())} missing values; drop those rows "
                    "(df.dropna()) or impute them before fitting the model."
                )
            if _is_categorical(col):
                categorical.add(v)
                if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                    cat = pd.Categorical(col)
                    categories[v] = np.asarray(cat.categories, dtype=object)
                    out[v] = cat.codes.astype(float)
                    continue
            arr = col.to_numpy(dtype=float)
            if not np.all(np.isfinite(arr)):
                raise DataError(
                    f"column {v!r} has infinite values; drop or cap them before fitting."
                )
            out[v] = arr
        self.categorical_ = frozenset(categorical)
        self.categories_ = categories
        return out

    def fit(self, data: Any) -> StructuralCausalModel:
        """Fit every node's mechanism on ``data`` (independent fits, run in parallel).

        Every node must be a complete column of ``data``; other columns are ignored.
        """
        columns = self._encode(data)
        self.nodes_ = self.graph.topological_order()
        self.parents_ = {v: sorted(self.graph.parents(v)) for v in self.nodes_}
        root = seed_sequence(self.random_state)
        seeds = child_seeds(root, len(self.nodes_) + 1)
        tasks = [
            (
                self.mechanisms.get(v),
                self._parent_matrix(columns, v, len(columns[v])),
                columns[v],
                v in self.categorical_,
                self.auto,
                self.cv,
                seed,
            )
            for v, seed in zip(self.nodes_, seeds, strict=False)
        ]
        # node fits are many and often small: threads (the learners release the GIL in
        # their numerical cores) instead of starting process workers and copying the data
        # to them, which cost 11 s for 30 linear fits on a loaded 2-core machine; a
        # backend the user chose with paribus.config is kept
        backend = get_config().backend or "threading"
        with config(backend=backend):
            fitted = run_tasks(_fit_node, tasks, n_jobs=self.n_jobs, desc="fit SCM mechanisms")
        self.mechanisms_ = dict(zip(self.nodes_, fitted, strict=True))
        self.n_obs_ = len(columns[self.nodes_[0]]) if self.nodes_ else 0
        self._data = columns
        self._rng = np.random.default_rng(seeds[-1])
        return self

    def _resampled(self, rng: np.random.Generator) -> StructuralCausalModel:
        """A copy whose mechanisms (same kinds) are refitted on rows drawn with replacement."""
        self._check_fitted()
        idx = rng.integers(0, self.n_obs_, self.n_obs_)
        data = {v: col[idx] for v, col in self._data.items()}
        copy = StructuralCausalModel(self.graph, random_state=None, n_jobs=1)
        copy.nodes_, copy.parents_ = self.nodes_, self.parents_
        copy.categorical_, copy.categories_ = self.categorical_, self.categories_
        copy.mechanisms_ = {
            v: clone_mechanism(m).fit(self._parent_matrix(data, v, idx.size), data[v])
            for v, m in self.mechanisms_.items()
        }
        copy.n_obs_, copy._data, copy._rng = self.n_obs_, data, rng
        return copy

    def _check_fitted(self) -> None:
        if not hasattr(self, "mechanisms_"):
            raise NotFittedError(
                "this StructuralCausalModel is not fitted yet; call .fit(data) before "
                "sampling, intervening or asking for effects."
            )

    def _parent_matrix(self, values: Mapping[str, np.ndarray], node: str, n: int) -> np.ndarray:
        names = self.parents_[node]
        if not names:
            return np.empty((n, 0))
        return np.column_stack([values[p] for p in names])

    def fit_report(self) -> pd.DataFrame:
        """One row per node: parents, mechanism, whether invertible, and its fit quality.

        ``metric`` is ``cv_r2`` (continuous, cross-validated R²), ``cv_log_loss``
        (categorical) or ``r2_in_sample`` / ``log_loss_in_sample`` for given or
        non-selected mechanisms; ``candidates`` lists each candidate's score.
        """
        self._check_fitted()
        rows = []
        for v in self.nodes_:
            m = self.mechanisms_[v]
            q = m.fit_quality
            metric = q.get("metric") or next(
                (k for k in ("r2_in_sample", "log_loss_in_sample") if k in q), None
            )
            score = q.get("cv_score", q.get(metric) if metric else math.nan)
            rows.append(
                {
                    "node": v,
                    "parents": ", ".join(self.parents_[v]),
                    "mechanism": m.description,
                    "invertible": m.invertible,
                    "metric": metric or "",
                    "score": float(score) if score is not None else math.nan,
                    "candidates": q.get("candidates", {}),
                }
            )
        return pd.DataFrame(rows)

    # -- the forward pass --------------------------------------------------------------------

    def _rng_for(self, random_state: int | None) -> np.random.Generator:
        return self._rng if random_state is None else np.random.default_rng(random_state)

    def _noise_arrays(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {v: self.mechanisms_[v].sample_noise(n, rng) for v in self.nodes_}

    def _intervention_values(self, node: str, value: Any, natural: np.ndarray) -> np.ndarray:
        n = natural.shape[0]
        if callable(value):
            out = np.asarray(value(natural.copy()), dtype=float)
        else:
            if node in self.categories_:
                labels = list(self.categories_[node])
                arr = np.atleast_1d(np.asarray(value, dtype=object))
                unknown = [x for x in arr if x not in labels]
                if unknown:
                    raise ParameterError(
                        f"intervention on {node!r}: {unknown[0]!r} is not one of its "
                        f"categories ({', '.join(map(str, labels))})."
                    )
                out = np.array([labels.index(x) for x in arr], dtype=float)
            else:
                out = np.asarray(value, dtype=float)
        out = np.broadcast_to(out, (n,)) if out.ndim == 0 or out.shape == (1,) else out
        if out.shape != (n,):
            raise ParameterError(
                f"intervention on {node!r} gives shape {out.shape}; expected a scalar or "
                f"{n} values (one per unit)."
            )
        return np.array(out, dtype=float)

    def _check_interventions(self, interventions: Mapping[str, Any] | None) -> dict[str, Any]:
        given = dict(interventions or {})
        self.graph.check_nodes(list(given), role="intervened node")
        return given

    def _forward(
        self, noise: Mapping[str, np.ndarray], interventions: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Every node's value from its noise, in topological order, under interventions.

        A constant or per-unit intervention replaces the node's equation; a callable
        is applied to the value the equation would give (its parents already
        intervened upon).
        """
        given = dict(interventions or {})
        values: dict[str, np.ndarray] = {}
        n = len(noise[self.nodes_[0]]) if self.nodes_ else 0
        for v in self.nodes_:
            mech = self.mechanisms_[v]
            value = given.get(v)
            if value is not None and not callable(value):
                values[v] = self._intervention_values(v, value, np.empty(n))
                continue
            natural = mech.evaluate(self._parent_matrix(values, v, n), noise[v])
            values[v] = natural if value is None else self._intervention_values(v, value, natural)
        return values

    def _decode(self, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for v in self.nodes_:
            if v in self.categories_:
                cats = self.categories_[v]
                cols[v] = cats[np.clip(np.rint(values[v]).astype(int), 0, cats.size - 1)]
            else:
                cols[v] = values[v]
        return pd.DataFrame(cols)

    def _noise_frame_arrays(self, noise: Any) -> dict[str, np.ndarray]:
        frame = to_pandas(noise)
        frame.columns = [str(c) for c in frame.columns]
        missing = [v for v in self.nodes_ if v not in frame.columns]
        if missing:
            raise DataError(
                f"noise has no column for node{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}; pass one column per node (as .abduct or "
                ".sample_noise return)."
            )
        return {v: frame[v].to_numpy(dtype=float) for v in self.nodes_}

    # -- public queries ----------------------------------------------------------------------

    def sample_noise(self, n: int, *, random_state: int | None = None) -> pd.DataFrame:
        """``n`` draws of every node's noise (one column per node, in ``nodes_`` order)."""
        self._check_fitted()
        n = _check_n(n)
        return pd.DataFrame(self._noise_arrays(n, self._rng_for(random_state)))

    def propagate(
        self, noise: Any, interventions: Mapping[str, Intervention] | None = None
    ) -> pd.DataFrame:
        """The nodes' values for given noise (one column per node), under interventions.

        Deterministic: the same noise gives the same values. This is the
        "prediction" step of a counterfactual and the core of attribution.
        """
        self._check_fitted()
        given = self._check_interventions(interventions)
        return self._decode(self._forward(self._noise_frame_arrays(noise), given))

    def sample(self, n: int, *, random_state: int | None = None) -> pd.DataFrame:
        """``n`` draws from the fitted observational distribution."""
        return self.do({}, n, random_state=random_state)

    def do(
        self,
        interventions: Mapping[str, Intervention],
        n: int = 10_000,
        *,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """``n`` draws from the interventional distribution ``P(V | do(...))``.

        ``interventions`` maps nodes to a constant (hard ``do(X = x)``), an array of
        ``n`` per-unit values, or a function of the node's natural value
        (a soft intervention such as ``lambda v: v + 1``).
        """
        self._check_fitted()
        n = _check_n(n)
        given = self._check_interventions(interventions)
        noise = self._noise_arrays(n, self._rng_for(random_state))
        return self._decode(self._forward(noise, given))

    def abduct(self, data: Any, *, random_state: int | None = None) -> pd.DataFrame:
        """The noise of each observed unit, node by node (abduction).

        Exact for invertible mechanisms. For classifier nodes the noise is drawn
        from the interval consistent with the observed class (see
        :class:`ClassifierMechanism`), so two calls differ there.
        """
        self._check_fitted()
        values = self._encode_like(data)
        rng = self._rng_for(random_state)
        n = len(values[self.nodes_[0]])
        noise = {
            v: self.mechanisms_[v].noise(self._parent_matrix(values, v, n), values[v], rng)
            for v in self.nodes_
        }
        return pd.DataFrame(noise, index=to_pandas(data).index)

    def _encode_like(self, data: Any) -> dict[str, np.ndarray]:
        """Data coded as at fit (categories as fitted), without refitting anything."""
        frame = to_pandas(data)
        frame.columns = [str(c) for c in frame.columns]
        missing = [v for v in self.nodes_ if v not in frame.columns]
        if missing:
            raise GraphError(
                f"node{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not "
                "among the data columns; counterfactuals need every node's observed value."
            )
        out = {}
        for v in self.nodes_:
            col = frame[v]
            if col.isna().any():
                raise DataError(f"column {v!r} has missing values; abduction needs every value.")
            if v in self.categories_:
                labels = list(self.categories_[v])
                unknown = sorted({x for x in col if x not in labels}, key=str)
                if unknown:
                    raise DataError(
                        f"column {v!r} has values {unknown[:3]} not seen in fitting "
                        f"({', '.join(map(str, labels))})."
                    )
                out[v] = np.array([labels.index(x) for x in col], dtype=float)
            else:
                out[v] = col.to_numpy(dtype=float)
        return out

    def counterfactual(
        self,
        units: Any,
        interventions: Mapping[str, Intervention],
        *,
        random_state: int | None = None,
    ) -> pd.DataFrame:
        """What each observed unit's values would have been under ``interventions``.

        Abduction (each unit's noise from its observed values), action (the
        interventions), prediction (propagate the same noise); Pearl (2009),
        *Causality*, Theorem 7.1.7. Exact when every mechanism the interventions
        reach is invertible; otherwise (classifiers) one draw of noise consistent
        with the observation is used and a ``ParibusWarning`` says so.
        """
        self._check_fitted()
        given = self._check_interventions(interventions)
        affected = self.graph.descendants(list(given)) if given else frozenset()
        inexact = sorted(v for v in affected - set(given) if not self.mechanisms_[v].invertible)
        if inexact:
            warnings.warn(
                f"node{'s' if len(inexact) > 1 else ''} {', '.join(inexact)} "
                f"{'have' if len(inexact) > 1 else 'has'} a non-invertible mechanism "
                "(classifier): each unit's noise there is one draw from the values "
                "consistent with its observation, so these counterfactuals are random, not "
                "exact. Average several calls for counterfactual probabilities.",
                ParibusWarning,
                stacklevel=2,
            )
        noise = self.abduct(units, random_state=random_state)
        out = self._decode(self._forward(self._noise_frame_arrays(noise), given))
        out.index = noise.index
        return out

    # -- effects -----------------------------------------------------------------------------

    def _numeric_node(self, node: str, role: str) -> None:
        self.graph.check_nodes(node, role=role)
        if node in self.categories_:
            raise ParameterError(
                f"{role} {node!r} has non-numeric categories; effects average it, so code it "
                "as numbers (e.g. 0/1) before fitting."
            )

    def _effect_differences(
        self,
        treatment: str,
        outcome: str,
        shift: float | None,
        values: tuple[Any, Any] | None,
        n: int,
        condition: Callable[[pd.DataFrame], Any] | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        noise = self._noise_arrays(n, rng)
        if values is None:
            step = float(shift if shift is not None else 1.0)
            base = self._forward(noise)
            moved = self._forward(noise, {treatment: lambda v: v + step})
        else:
            base = self._forward(noise, {treatment: values[0]})
            moved = self._forward(noise, {treatment: values[1]})
        diff = moved[outcome] - base[outcome]
        if condition is not None:
            mask = np.asarray(condition(self._decode(self._forward(noise))), dtype=bool)
            if mask.shape != (n,):
                raise ParameterError(
                    f"condition returned shape {mask.shape}; expected {n} booleans, one per "
                    "simulated unit (e.g. lambda df: df['age'] > 50)."
                )
            if not mask.any():
                raise ParameterError(
                    "condition holds for none of the simulated units; widen it or raise n."
                )
            diff = diff[mask]
        return diff

    def effect(
        self,
        treatment: str,
        outcome: str,
        *,
        shift: float = 1.0,
        values: tuple[Any, Any] | None = None,
        condition: Callable[[pd.DataFrame], Any] | None = None,
        n: int = 10_000,
        n_bootstrap: int = 0,
        level: float = 0.95,
        random_state: int | None = None,
    ) -> Effect:
        """The average causal effect of ``treatment`` on ``outcome`` in the fitted SCM.

        With ``values=None``: ``E[Y | do(T := T + shift)] - E[Y]`` (a shift
        intervention on each unit's natural treatment). With ``values=(a, b)``:
        ``E[Y | do(T = b)] - E[Y | do(T = a)]``. ``condition`` (a function of the
        simulated pre-intervention frame returning booleans) restricts the average
        to units satisfying it: a conditional average causal effect.

        Parameters
        ----------
        n : int, default 10_000
            Simulated units; both worlds share their noise.
        n_bootstrap : int, default 0
            Refits of every mechanism on resampled rows; the standard deviation
            of the recomputed effects is the standard error. With 0 (or 1) the
            interval is NaN and only the Monte Carlo error (diagnostics) is given.
        level : float, default 0.95
        random_state : int, optional
            Seeds the simulation and the bootstrap (default: the model's stream).

        Returns
        -------
        Effect
            ``estimand`` ``"ACE"`` or ``"conditional ACE"``; ``diagnostics`` hold the
            Monte Carlo standard error and, with a bootstrap, the percentile interval.
        """
        self._check_fitted()
        self.graph.check_nodes(treatment, role="treatment")
        if values is None:  # a shift needs numbers; a pair of labels does not
            self._numeric_node(treatment, "treatment")
        self._numeric_node(outcome, "outcome")
        level = check_level(level)
        n = _check_n(n)
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
            raise ParameterError(
                f"n_bootstrap={n_bootstrap!r} is invalid; expected a non-negative integer "
                "(e.g. 200 for an interval, 0 for none)."
            )
        if values is not None and (not isinstance(values, tuple | list) or len(values) != 2):
            raise ParameterError(
                f"values={values!r} is invalid; expected a pair (a, b) for "
                "E[Y | do(T=b)] - E[Y | do(T=a)]."
            )
        pair = None if values is None else (values[0], values[1])
        rng = self._rng_for(random_state)
        diff = self._effect_differences(treatment, outcome, shift, pair, n, condition, rng)
        stat = functools.partial(_shift_statistic, treatment, outcome, shift, pair, n, condition)
        reps = self.bootstrap(stat, n_bootstrap, rng) if n_bootstrap else None
        what = (
            f"E[{outcome} | do({treatment} := {treatment} + {shift:g})] - E[{outcome}]"
            if pair is None
            else f"E[{outcome} | do({treatment}={pair[1]})] - "
            f"E[{outcome} | do({treatment}={pair[0]})]"
        )
        return make_effect(
            estimand="ACE" if condition is None else "conditional ACE",
            estimate=float(diff.mean()),
            mc_se=float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else math.nan,
            replicates=None if reps is None else reps[:, 0],
            level=level,
            n_obs=self.n_obs_,
            n=n,
            diagnostics={"contrast": what, "n_units_averaged": int(diff.size)},
        )

    def bootstrap(
        self,
        statistic: Callable[[StructuralCausalModel, np.random.Generator], np.ndarray],
        n_bootstrap: int,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """``statistic`` recomputed on ``n_bootstrap`` refits: an array ``(n_bootstrap, k)``.

        Each replicate refits every mechanism (same kinds, no reselection) on rows
        drawn with replacement and calls ``statistic(model, rng)``.
        """
        self._check_fitted()
        root = np.random.SeedSequence(int((rng or self._rng).integers(2**63)))
        seeds = child_seeds(root, n_bootstrap)
        out = run_tasks(
            _refit, [(self, s, statistic) for s in seeds], n_jobs=self.n_jobs, desc="SCM bootstrap"
        )
        return np.vstack([np.atleast_1d(r) for r in out])

    def mediation(
        self,
        treatment: str,
        mediator: str | list[str],
        outcome: str,
        **kwargs: Any,
    ) -> EffectTable:
        """Natural direct and indirect effects: :func:`paribus.scm.mediation.natural_effects`."""
        from paribus.scm.mediation import natural_effects

        return natural_effects(self, treatment, mediator, outcome, **kwargs)

    # -- attribution and levers (paribus.scm.attribution / levers / fairness) -----------------

    def attribute_anomaly(self, anomaly: pd.DataFrame, target: str, **kwargs: Any) -> Any:
        """Root causes of an outlying ``target``: :func:`paribus.scm.attribute_anomaly`."""
        from paribus.scm.attribution import attribute_anomaly

        return attribute_anomaly(self, anomaly, target, **kwargs)

    def attribute_change(
        self, old: pd.DataFrame, new: pd.DataFrame, target: str, **kwargs: Any
    ) -> Any:
        """Mechanisms behind a change in ``target``: :func:`paribus.scm.attribute_change`."""
        from paribus.scm.attribution import attribute_change

        return attribute_change(self, old, new, target, **kwargs)

    def intrinsic_causal_influence(self, target: str, **kwargs: Any) -> pd.DataFrame:
        """Each node's own contribution to ``target``: see :mod:`paribus.scm.attribution`."""
        from paribus.scm.attribution import intrinsic_causal_influence

        return intrinsic_causal_influence(self, target, **kwargs)

    def rank_levers(self, target: str, candidates: Sequence[Any], **kwargs: Any) -> pd.DataFrame:
        """Candidate interventions ranked by effect on ``target``: :func:`rank_levers`."""
        from paribus.scm.levers import rank_levers

        return rank_levers(self, target, candidates, **kwargs)

    def fairness_audit(self, *, protected: str, decision: str, **kwargs: Any) -> Any:
        """Total, direct and indirect effects of ``protected`` on ``decision``."""
        from paribus.scm.fairness import fairness_audit

        return fairness_audit(self, protected=protected, decision=decision, **kwargs)

    # -- validation --------------------------------------------------------------------------

    def validate(
        self,
        data: Any = None,
        *,
        test: Any = "partial_correlation",
        alpha: float = 0.05,
        n_permutations: int = 100,
        random_state: int | None = None,
    ) -> ModelValidation:
        """Test the graph against the data and report each mechanism's fit.

        Runs :func:`paribus.graph.falsify.falsify` on ``data`` (the fitting data
        when None; categories as their codes) and returns it with
        :meth:`fit_report`. Rejected independences mean missing edges or latent
        confounding, under which the model's answers are biased.
        """
        from paribus.graph.falsify import falsify

        self._check_fitted()
        frame = pd.DataFrame(self._data if data is None else self._encode_like(data))
        report = falsify(
            self.graph,
            frame,
            test=test,
            alpha=alpha,
            n_permutations=n_permutations,
            random_state=random_state if random_state is not None else self.random_state,
            n_jobs=self.n_jobs,
        )
        return ModelValidation(falsification=report, fit=self.fit_report())

    def __repr__(self) -> str:
        state = "fitted" if hasattr(self, "mechanisms_") else "unfitted"
        return f"StructuralCausalModel({self.graph.to_string()!r}, {state})"


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ParameterError(f"n={n!r} is invalid; expected a positive integer of simulated units.")
    return int(n)
