"""Attributing an outlier, a distribution change and a variable's uncertainty to nodes.

Three Shapley attributions over the nodes upstream of a ``target`` in a fitted
structural causal model (:mod:`paribus.scm.shapley` computes the values):

* :func:`attribute_anomaly` -- Budhathoki, Minorics, Bloebaum & Janzing (2022), "Causal
  structure-based root cause analysis of outliers", *ICML*, PMLR 162, 2357-2369. The
  information-theoretic outlier score of the target value ``y`` is
  ``IT(y) = -log P(tau(Y) >= tau(y))`` for a feature map ``tau`` (here the median/MAD
  score ``|y - median| / MAD`` or the z-score ``|y - mean| / sd``). The noise of every
  upstream node is recovered from the outlying unit (abduction) and the set function

      v(S) = log P(tau(Y) >= tau(y) | N_S = n_S)   (the other noises drawn afresh)

  runs from ``v({}) = -IT(y)`` to ``v(all) = 0``, so the Shapley contributions of the
  nodes' noises sum to the outlier score; the largest names the root cause.
* :func:`attribute_change` -- Budhathoki, Janzing, Bloebaum & Ng (2021), "Why did the
  distribution change?", *AISTATS*, PMLR 130, 1666-1674. Mechanisms are fitted on the old
  and on the new data; ``v(S)`` is a measure (mean, variance or any functional) of the
  target's distribution when the nodes in ``S`` take their new mechanism and the others
  keep the old one, so the contributions sum to ``v(all) - v({})``, the change.
* :func:`intrinsic_causal_influence` -- Janzing, Bloebaum, Mastakouri, Faller, Minorics &
  Budhathoki (2024), "Quantifying intrinsic causal contributions via structure preserving
  interventions", *AISTATS*, PMLR 238. The uncertainty of the target is attributed to each
  node's noise with ``v(S) = U(Y) - E[U(Y | N_S)]``. For ``U`` the variance,
  ``v(S) = Var(E[Y | N_S])`` (the closed Sobol index) and the values are Owen's (2014,
  *SIAM/ASA J. Uncertainty Quantification* 2, 245-251) Shapley effects; it is estimated by
  pick-freeze (Janon, Klein, Lagnoux, Nodet & Prieur 2014, *ESAIM: P&S* 18, 342-364).

All three draw the noises once and reuse them for every coalition (common random
numbers), so differences between coalitions carry little Monte Carlo noise. In
:func:`attribute_change` the draws from a node's old and new noise distributions are
paired by rank (the comonotone coupling): each coalition still sees the right marginal
distributions, and an unchanged mechanism contributes almost nothing.

The model is any fitted ``StructuralCausalModel``: these functions use its ``graph``,
``nodes_`` (topological order), ``parents_``, ``mechanisms_`` (``sample_noise`` and
``evaluate``), ``abduct`` and ``fit``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from paribus._core.params import check_level
from paribus._core.progress import progress
from paribus._core.random import child_seeds, seed_sequence
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.scm.shapley import ShapleyResult, shapley_values

__all__ = [
    "AnomalyAttribution",
    "ChangeAttribution",
    "attribute_anomaly",
    "attribute_change",
    "intrinsic_causal_influence",
]

Measure = Literal["mean", "variance"] | Callable[[np.ndarray], float]
Score = Literal["mad", "z"]


# -- shared machinery (also used by levers and fairness) ---------------------------------------


def check_fitted(scm: Any, caller: str) -> None:
    """Refuse a model that has not been fitted."""
    if getattr(scm, "mechanisms_", None) is None or getattr(scm, "nodes_", None) is None:
        raise NotFittedError(
            f"{caller} needs a fitted StructuralCausalModel; call .fit(data) first."
        )


def check_node(scm: Any, node: Any, argument: str) -> str:
    """Refuse a node name the model does not have."""
    if not isinstance(node, str) or node not in scm.nodes_:
        raise ParameterError(
            f"{argument}={node!r} is not a node of the model; expected one of {list(scm.nodes_)}."
        )
    return node


def upstream(scm: Any, target: str) -> list[str]:
    """The target and its ancestors, in the model's topological order."""
    keep = scm.graph.ancestors({target}, include_self=True)
    return [v for v in scm.nodes_ if v in keep]


def sample_noise(
    mechanisms: Mapping[str, Any], nodes: Sequence[str], n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``n`` draws of each node's noise from its mechanism."""
    return {v: np.asarray(mechanisms[v].sample_noise(n, rng), dtype=float) for v in nodes}


def forward(
    scm: Any,
    noise: Mapping[str, np.ndarray],
    nodes: Sequence[str],
    *,
    mechanisms: Mapping[str, Any] | None = None,
    interventions: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Structural equations applied in order to given noise (``nodes`` closed upstream).

    ``interventions`` maps a node to a value (hard) or to a function of its natural value
    (soft); ``mechanisms`` overrides the model's per node.
    """
    mechs = scm.mechanisms_ if mechanisms is None else mechanisms
    interventions = interventions or {}
    values: dict[str, np.ndarray] = {}
    n = len(next(iter(noise.values())))
    for v in nodes:
        action = interventions.get(v)
        if action is not None and not callable(action):
            values[v] = np.full(n, float(action))
            continue
        parents = scm.parents_[v]
        pa = np.column_stack([values[p] for p in parents]) if parents else np.empty((n, 0))
        out = np.asarray(mechs[v].evaluate(pa, noise[v]), dtype=float)
        values[v] = np.asarray(action(out), dtype=float) if action is not None else out
    return values


class CoalitionForward:
    """Forward passes for many coalitions, sharing node values between them.

    A node's values depend only on which of its upstream nodes (itself included) are in
    the coalition, so they are cached under that intersection (up to ``budget_bytes``).
    ``pick(node, in_coalition)`` gives the node's mechanism and noise.
    """

    def __init__(
        self,
        scm: Any,
        nodes: Sequence[str],
        pick: Callable[[str, bool], tuple[Any, np.ndarray]],
        budget_bytes: float = 2e8,
    ) -> None:
        self.scm, self.nodes, self.pick = scm, list(nodes), pick
        index = {v: i for i, v in enumerate(self.nodes)}
        self.relevant = {
            v: frozenset(index[u] for u in scm.graph.ancestors({v}) if u in index)
            for v in self.nodes
        }
        self.cache: dict[str, dict[frozenset[int], np.ndarray]] = {v: {} for v in self.nodes}
        self.budget, self.used = budget_bytes, 0

    def __call__(self, subset: frozenset[int]) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}
        for i, v in enumerate(self.nodes):
            key = subset & self.relevant[v]
            out = self.cache[v].get(key)
            if out is None:
                mech, noise = self.pick(v, i in subset)
                parents = self.scm.parents_[v]
                n = len(noise)
                pa = np.column_stack([values[p] for p in parents]) if parents else np.empty((n, 0))
                out = np.asarray(mech.evaluate(pa, noise), dtype=float)
                if self.used + out.nbytes <= self.budget:
                    self.cache[v][key] = out
                    self.used += out.nbytes
            values[v] = out
        return values


def _measure(measure: Measure) -> tuple[str, Callable[[np.ndarray], float]]:
    if callable(measure):
        return getattr(measure, "__name__", "custom"), measure
    if measure == "mean":
        return "mean", lambda y: float(np.mean(y))
    if measure == "variance":
        return "variance", lambda y: float(np.var(y, ddof=1))
    raise ParameterError(
        f"measure={measure!r} is not known; expected 'mean', 'variance' or a function "
        "of the target's sample returning a float."
    )


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _table(nodes: Sequence[str], result: ShapleyResult, column: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"node": list(nodes), column: result.values, "mc_std_error": result.std_errors}
    )
    order = np.argsort(-frame[column].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)


# -- anomaly -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AnomalyAttribution:
    """Root causes of one outlying value of ``target``.

    Attributes
    ----------
    target : str
    value : float
        The outlying value.
    outlier_score : float
        ``IT(y) = -log P(tau(Y) >= tau(y))`` under the model (natural log).
    contributions : DataFrame
        ``node``, ``contribution`` (Shapley value of the node's noise; they sum to
        ``outlier_score``), ``mc_std_error``, ``noise`` (the abducted noise), sorted by
        contribution, largest first.
    """

    target: str
    value: float
    outlier_score: float
    contributions: pd.DataFrame

    @property
    def root_cause(self) -> str:
        """The node whose noise contributes most to the outlier score."""
        return str(self.contributions["node"].iloc[0])

    def __str__(self) -> str:
        head = (
            f"Root causes of {self.target} = {self.value:.4g} "
            f"(outlier score {self.outlier_score:.3f} nats)"
        )
        return head + "\n" + self.contributions.to_string(index=False)


def _scorer(reference: np.ndarray, score: Score) -> Callable[[np.ndarray], np.ndarray]:
    if score == "mad":
        center = float(np.median(reference))
        scale = float(np.median(np.abs(reference - center))) * 1.4826
    elif score == "z":
        center, scale = float(np.mean(reference)), float(np.std(reference))
    else:
        raise ParameterError(f"score={score!r} is not known; expected 'mad' or 'z'.")
    if not scale > 0:
        scale = float(np.std(reference)) or 1.0
    return lambda y: np.abs(y - center) / scale


def attribute_anomaly(
    scm: Any,
    anomaly: pd.DataFrame,
    target: str,
    *,
    score: Score = "mad",
    n_samples: int = 5000,
    exact: bool | None = None,
    target_se: float = 0.02,
    max_permutations: int = 400,
    random_state: int | None = None,
) -> AnomalyAttribution:
    """Shapley attribution of an outlier's score to the noise of each upstream node.

    Parameters
    ----------
    scm : StructuralCausalModel
        A fitted model.
    anomaly : DataFrame
        One row holding every node of the model.
    target : str
        The node whose value is anomalous.
    score : {"mad", "z"}
        Feature map ``tau``: ``|y - median| / (1.4826 MAD)`` (robust, the default) or
        ``|y - mean| / sd``, both fitted on ``n_samples`` draws from the model.
    n_samples : int
        Monte Carlo draws behind each tail probability; the outlier score can resolve
        up to ``log(n_samples + 1)`` nats (probabilities are ``(k + 1) / (n + 1)``).
    exact : bool, optional
        Force exact enumeration (True) or permutation sampling (False) of the Shapley
        values; default exact for up to 10 upstream nodes.
    target_se, max_permutations
        Permutation sampling stops when every contribution's Monte Carlo standard error
        is below ``target_se`` times the outlier score, or after ``max_permutations``.
    random_state : int, optional

    Returns
    -------
    AnomalyAttribution

    Notes
    -----
    Abduction is exact for invertible mechanisms (additive or post-nonlinear noise,
    roots); for a categorical node the noise is drawn consistent with the observed class,
    so its contribution is one draw among those the observation allows.
    """
    check_fitted(scm, "attribute_anomaly")
    target = check_node(scm, target, "target")
    n_samples = _check_positive_int(n_samples, "n_samples", 100)
    if not isinstance(anomaly, pd.DataFrame) or len(anomaly) != 1:
        found = f"{len(anomaly)} rows" if isinstance(anomaly, pd.DataFrame) else type(anomaly)
        raise DataError(
            f"anomaly must be a one-row DataFrame holding every node; got {found}. "
            "Select the unit with df.iloc[[i]]."
        )
    missing = [v for v in scm.nodes_ if v not in anomaly.columns]
    if missing:
        raise DataError(f"anomaly lacks the node columns {missing}; pass the unit's full row.")
    rng = np.random.default_rng(random_state)
    nodes = upstream(scm, target)
    observed = scm.abduct(anomaly)
    fixed = {v: float(np.asarray(observed[v])[0]) for v in nodes}
    base = sample_noise(scm.mechanisms_, nodes, n_samples, rng)
    tau = _scorer(forward(scm, base, nodes)[target], score)
    y = float(anomaly[target].iloc[0])
    tau_y = float(tau(np.array([y]))[0])

    pinned = {v: np.full(n_samples, fixed[v]) for v in nodes}
    run = CoalitionForward(
        scm, nodes, lambda v, fix: (scm.mechanisms_[v], pinned[v] if fix else base[v])
    )

    def log_tail(subset: frozenset[int]) -> float:
        scores = tau(run(subset)[target])
        return math.log((np.count_nonzero(scores >= tau_y) + 1) / (n_samples + 1))

    score_all = -log_tail(frozenset())
    result = shapley_values(
        log_tail,
        len(nodes),
        exact=exact,
        target_se=target_se * max(score_all, 1.0),
        max_permutations=max_permutations,
        random_state=rng,
    )
    table = _table(nodes, result, "contribution")
    table["noise"] = [fixed[v] for v in table["node"]]
    return AnomalyAttribution(target, y, score_all, table)


# -- distribution change -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChangeAttribution:
    """Why the ``measure`` of ``target`` changed between two data sets.

    Attributes
    ----------
    target, measure : str
    old_value, new_value : float
        The measure on the old and on the new data (observed).
    change : float
        The modelled change ``v(all new) - v(all old)``; the contributions sum to it.
    contributions : DataFrame
        ``node``, ``contribution``, ``mc_std_error`` and, with a bootstrap, ``std_error``,
        ``ci_lower``, ``ci_upper``; sorted by absolute contribution, largest first.
    level : float
    n_bootstrap : int
    """

    target: str
    measure: str
    old_value: float
    new_value: float
    change: float
    contributions: pd.DataFrame
    level: float
    n_bootstrap: int

    def __str__(self) -> str:
        head = (
            f"Change in the {self.measure} of {self.target}: {self.old_value:.4g} -> "
            f"{self.new_value:.4g} (modelled change {self.change:.4g})"
        )
        return head + "\n" + self.contributions.to_string(index=False)


def _fitted_pair(model: Any, old: pd.DataFrame, new: pd.DataFrame, seed: int) -> tuple[Any, Any]:
    """The model fitted on old and on new data (copies; the given model is not touched)."""
    if hasattr(model, "mechanisms_") or hasattr(model, "fit"):
        return copy.deepcopy(model).fit(old), copy.deepcopy(model).fit(new)
    from paribus.scm.model import StructuralCausalModel

    return (
        StructuralCausalModel(model, random_state=seed).fit(old),
        StructuralCausalModel(model, random_state=seed).fit(new),
    )


def _change_shapley(
    old_scm: Any,
    new_scm: Any,
    target: str,
    func: Callable[[np.ndarray], float],
    n_samples: int,
    exact: bool | None,
    target_se: float,
    rng: np.random.Generator,
) -> tuple[list[str], ShapleyResult]:
    nodes = upstream(old_scm, target)
    noise_old = sample_noise(old_scm.mechanisms_, nodes, n_samples, rng)
    noise_new = sample_noise(new_scm.mechanisms_, nodes, n_samples, rng)
    for v in nodes:  # comonotone coupling: the k-th smallest new noise goes with the old one's
        ranks = np.argsort(np.argsort(noise_old[v], kind="stable"), kind="stable")
        noise_new[v] = np.sort(noise_new[v])[ranks]

    run = CoalitionForward(
        old_scm,
        nodes,
        lambda v, new: (
            (new_scm if new else old_scm).mechanisms_[v],
            (noise_new if new else noise_old)[v],
        ),
    )

    def value(subset: frozenset[int]) -> float:
        return func(run(subset)[target])

    scale = abs(value(frozenset(range(len(nodes)))) - value(frozenset()))
    se = target_se * (scale if scale > 0 else 1.0)
    return nodes, shapley_values(value, len(nodes), exact=exact, target_se=se, random_state=rng)


def _resample(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = rng.integers(0, len(frame), len(frame))
    return frame.iloc[rows].reset_index(drop=True)


def attribute_change(
    scm_or_graph: Any,
    old: pd.DataFrame,
    new: pd.DataFrame,
    target: str,
    *,
    measure: Measure = "mean",
    n_samples: int = 10_000,
    n_bootstrap: int = 0,
    level: float = 0.95,
    exact: bool | None = None,
    target_se: float = 0.01,
    random_state: int | None = None,
) -> ChangeAttribution:
    """Shapley attribution of a change in the target's distribution to each mechanism.

    Parameters
    ----------
    scm_or_graph : StructuralCausalModel, CausalGraph or str
        A model (fitted or not; copies of it are fitted on ``old`` and on ``new``, so
        given mechanisms are kept) or a graph (mechanisms chosen automatically).
    old, new : DataFrame
        The two data sets, each holding every node.
    target : str
    measure : {"mean", "variance"} or callable
        The functional of the target's distribution whose change is attributed.
    n_samples : int
        Draws from each mixed model.
    n_bootstrap : int
        Bootstrap replicates (both data sets resampled, both models refitted) for
        standard errors and percentile intervals of the contributions; 0 for none.
    level : float
    exact, target_se
        Shapley computation (see :func:`paribus.scm.shapley.shapley_values`);
        ``target_se`` is relative to the size of the modelled change.
    random_state : int, optional

    Returns
    -------
    ChangeAttribution
    """
    level = check_level(level)
    n_samples = _check_positive_int(n_samples, "n_samples", 100)
    n_bootstrap = _check_positive_int(n_bootstrap, "n_bootstrap", 0)
    name, func = _measure(measure)
    for label, frame in (("old", old), ("new", new)):
        if not isinstance(frame, pd.DataFrame) or len(frame) < 2:
            raise DataError(f"{label} must be a DataFrame with at least 2 rows; got {frame!r:.80}.")
    root = seed_sequence(random_state)
    seeds = child_seeds(root, n_bootstrap + 2)
    old_scm, new_scm = _fitted_pair(scm_or_graph, old, new, seeds[0])
    target = check_node(old_scm, target, "target")
    rng = np.random.default_rng(seeds[1])
    nodes, result = _change_shapley(
        old_scm, new_scm, target, func, n_samples, exact, target_se, rng
    )
    table = pd.DataFrame(
        {"node": nodes, "contribution": result.values, "mc_std_error": result.std_errors}
    )
    if n_bootstrap:
        draws = np.empty((n_bootstrap, len(nodes)))
        for b in progress(range(n_bootstrap), n_bootstrap, "attribute_change bootstrap"):
            brng = np.random.default_rng(seeds[b + 2])
            pair = _fitted_pair(scm_or_graph, _resample(old, brng), _resample(new, brng), seeds[0])
            _, res = _change_shapley(*pair, target, func, n_samples, exact, target_se, brng)
            draws[b] = res.values
        alpha = (1 - level) / 2
        table["std_error"] = draws.std(axis=0, ddof=1) if n_bootstrap > 1 else np.nan
        table["ci_lower"] = np.quantile(draws, alpha, axis=0)
        table["ci_upper"] = np.quantile(draws, 1 - alpha, axis=0)
    order = np.argsort(-np.abs(table["contribution"].to_numpy()), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    return ChangeAttribution(
        target,
        name,
        func(old[target].to_numpy(dtype=float)),
        func(new[target].to_numpy(dtype=float)),
        result.total,
        table,
        level,
        n_bootstrap,
    )


# -- intrinsic causal influence ----------------------------------------------------------------


def intrinsic_causal_influence(
    scm: Any,
    target: str,
    *,
    measure: Literal["variance"] | Callable[[np.ndarray], float] = "variance",
    n_samples: int = 20_000,
    n_inner: int = 100,
    exact: bool | None = None,
    target_se: float = 0.005,
    random_state: int | None = None,
) -> pd.DataFrame:
    """Intrinsic causal contribution of each upstream node's noise to the target.

    Parameters
    ----------
    scm : StructuralCausalModel
        A fitted model.
    target : str
    measure : "variance" or callable
        The uncertainty measure ``U``. ``"variance"`` uses pick-freeze estimates of
        ``Var(E[Y | N_S])`` on ``n_samples`` paired draws; a callable ``U(sample) -> float``
        uses nested Monte Carlo, ``n_samples // n_inner`` outer draws of ``N_S`` with
        ``n_inner`` inner draws of the other noises each.
    n_samples, n_inner : int
    exact, target_se
        Shapley computation; ``target_se`` is relative to ``U(Y)``.
    random_state : int, optional

    Returns
    -------
    DataFrame
        ``node``, ``contribution`` (they sum to ``U(Y)``), ``share`` (of the sum),
        ``mc_std_error``; sorted by contribution, largest first.
    """
    check_fitted(scm, "intrinsic_causal_influence")
    target = check_node(scm, target, "target")
    n_samples = _check_positive_int(n_samples, "n_samples", 100)
    n_inner = _check_positive_int(n_inner, "n_inner", 2)
    rng = np.random.default_rng(random_state)
    nodes = upstream(scm, target)
    p = len(nodes)
    if measure == "variance":
        a = sample_noise(scm.mechanisms_, nodes, n_samples, rng)
        b = sample_noise(scm.mechanisms_, nodes, n_samples, rng)
        y_a = forward(scm, a, nodes)[target]
        total = float(np.var(y_a, ddof=1))

        def value(subset: frozenset[int]) -> float:
            if not subset:
                return 0.0
            if len(subset) == p:
                return total
            mixed = {v: a[v] if j in subset else b[v] for j, v in enumerate(nodes)}
            y_s = forward(scm, mixed, nodes)[target]
            centre = 0.5 * (np.mean(y_a) + np.mean(y_s))
            return float(np.mean(y_a * y_s) - centre**2)  # Janon et al. (2014)

    elif callable(measure):
        func = measure
        outer = max(2, n_samples // n_inner)
        a = sample_noise(scm.mechanisms_, nodes, outer, rng)
        b = sample_noise(scm.mechanisms_, nodes, outer * n_inner, rng)
        total = float(func(forward(scm, b, nodes)[target]))

        def value(subset: frozenset[int]) -> float:
            if not subset:
                return 0.0
            mixed = {
                v: np.repeat(a[v], n_inner) if j in subset else b[v] for j, v in enumerate(nodes)
            }
            y = forward(scm, mixed, nodes)[target].reshape(outer, n_inner)
            return total - float(np.mean([func(row) for row in y]))

    else:
        raise ParameterError(
            f"measure={measure!r} is not known; expected 'variance' or a function of a "
            "sample returning its uncertainty (e.g. an entropy estimate)."
        )
    result = shapley_values(
        value, p, exact=exact, target_se=target_se * max(abs(total), 1e-12), random_state=rng
    )
    table = _table(nodes, result, "contribution")
    denominator = float(np.sum(result.values))
    table["share"] = table["contribution"] / denominator if denominator else np.nan
    return table[["node", "contribution", "share", "mc_std_error"]]
