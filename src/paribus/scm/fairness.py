"""A fairness audit of a decision in a structural causal model.

For a protected attribute ``A`` with two levels ``a0, a1`` and a decision ``D`` (a node of
the model: a score, an approval, a price), the audit reports

* the **total effect** ``TE = E[D | do(A = a1)] - E[D | do(A = a0)]``;
* the **natural direct effect** along the edge ``A -> D`` alone,
  ``NDE = E[D(a1, PA_D(a0))] - E[D(a0)]``: the decision's own equation sees ``A = a1``
  while its other parents keep the values they take when ``A = a0`` (the edge-specific
  effect of Avin, Shpitser & Pearl 2005, *IJCAI*, 357-363; the natural direct effect of
  Pearl 2001 when every other parent is a mediator); zero when ``A`` is not a parent of
  ``D``;
* the **natural indirect effect** ``NIE = TE - NDE`` through the mediators;
* **counterfactual fairness** of individual decisions (Kusner, Loftus, Russell & Silva
  2017, "Counterfactual fairness", *NeurIPS*): for each unit, abduction of its noise,
  action ``A := the other level``, prediction of ``D``; a decision is counterfactually fair
  when it does not change. The audit gives the share of units whose decision changes
  (beyond ``tolerance`` for a numeric decision) and the mean change ``D(a1) - D(a0)``.

Population effects use the same noise draws in every world, so their Monte Carlo errors
are those of paired differences. For a classifier decision the abducted noise of each unit
is one draw consistent with its observation, so per-unit changes are random; the share is
averaged over ``n_abductions`` draws.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from paribus.errors import DataError, ParameterError
from paribus.scm.attribution import check_fitted, check_node, forward, sample_noise, upstream

__all__ = ["FairnessAudit", "fairness_audit"]


@dataclasses.dataclass(frozen=True)
class FairnessAudit:
    """The audit's figures.

    Attributes
    ----------
    protected, decision : str
    levels : tuple of float
        ``(a0, a1)`` on the model's (coded) scale.
    effects : DataFrame
        Rows ``total``, ``natural_direct``, ``natural_indirect``; columns ``estimate``,
        ``mc_std_error``.
    share_changed : float
        Share of units whose decision changes when ``A`` is flipped (Kusner et al. 2017).
    mean_change : float
        Mean of ``D(a1) - D(a0)`` over the units.
    n_units : int
    """

    protected: str
    decision: str
    levels: tuple[float, float]
    effects: pd.DataFrame
    share_changed: float
    mean_change: float
    n_units: int

    @property
    def counterfactually_fair(self) -> bool:
        """True when no unit's decision changes under the flip."""
        return self.share_changed == 0.0

    def __str__(self) -> str:
        a0, a1 = self.levels
        lines = [
            f"Fairness audit of {self.decision} with respect to {self.protected} "
            f"({a0:g} -> {a1:g})",
            self.effects.to_string(),
            f"counterfactual fairness: {100 * self.share_changed:.1f}% of {self.n_units} units "
            f"change their decision when {self.protected} is flipped "
            f"(mean change {self.mean_change:+.4g})",
        ]
        return "\n".join(lines)


def _levels(scm: Any, protected: str, levels: Any) -> tuple[float, float]:
    if levels is None:
        mech = scm.mechanisms_[protected]
        observed = getattr(mech, "values_", None)
        if observed is None:
            observed = getattr(mech, "classes_", None)
        distinct: np.ndarray = (
            np.unique(np.asarray(observed, dtype=float)) if observed is not None else np.empty(0)
        )
        if len(distinct) != 2:
            raise ParameterError(
                f"protected={protected!r} does not have exactly two observed levels; pass "
                "levels=(a0, a1), the two values to compare (coded as in the model)."
            )
        return float(distinct[0]), float(distinct[1])
    if len(levels) != 2 or levels[0] == levels[1]:
        raise ParameterError(f"levels must be two different values (a0, a1); got {levels!r}.")
    return float(levels[0]), float(levels[1])


def _mean_se(diff: np.ndarray) -> tuple[float, float]:
    return float(np.mean(diff)), float(np.std(diff, ddof=1) / math.sqrt(diff.size))


def fairness_audit(
    scm: Any,
    *,
    protected: str,
    decision: str,
    data: pd.DataFrame | None = None,
    levels: tuple[float, float] | None = None,
    tolerance: float = 1e-9,
    n_samples: int = 20_000,
    n_abductions: int = 5,
    random_state: int | None = None,
) -> FairnessAudit:
    """Total, direct and indirect effects of ``protected`` on ``decision``, and the share
    of individual decisions that a counterfactual flip of ``protected`` would change.

    Parameters
    ----------
    scm : StructuralCausalModel
        A fitted model.
    protected, decision : str
        Nodes of the model; ``decision`` must be a descendant of nothing it causes.
    data : DataFrame, optional
        The units whose decisions are audited (every node as a column); default
        ``n_samples`` units drawn from the model.
    levels : (a0, a1), optional
        The two values of ``protected``; default its two observed values (a binary
        protected attribute).
    tolerance : float
        A numeric decision "changes" when it moves by more than this.
    n_samples : int
        Draws for the population effects.
    n_abductions : int
        Abduction draws averaged when a mechanism is not invertible.
    random_state : int, optional

    Returns
    -------
    FairnessAudit
    """
    check_fitted(scm, "fairness_audit")
    protected = check_node(scm, protected, "protected")
    decision = check_node(scm, decision, "decision")
    if protected == decision:
        raise ParameterError("protected and decision are the same node; pick two nodes.")
    a0, a1 = _levels(scm, protected, levels)
    rng = np.random.default_rng(random_state)
    nodes = upstream(scm, decision)
    if protected not in nodes:
        nodes = [v for v in scm.nodes_ if v in set(nodes) | {protected}]
    noise = sample_noise(scm.mechanisms_, nodes, n_samples, rng)
    world0 = forward(scm, noise, nodes, interventions={protected: a0})
    world1 = forward(scm, noise, nodes, interventions={protected: a1})
    parents = scm.parents_[decision]
    mixed = np.column_stack(
        [np.full(n_samples, a1) if p == protected else world0[p] for p in parents]
    )
    direct = np.asarray(scm.mechanisms_[decision].evaluate(mixed, noise[decision]), dtype=float)
    total = _mean_se(world1[decision] - world0[decision])
    nde = _mean_se(direct - world0[decision])
    nie = _mean_se(world1[decision] - direct)
    effects = pd.DataFrame(
        [total, nde, nie],
        index=["total", "natural_direct", "natural_indirect"],
        columns=["estimate", "mc_std_error"],
    )

    units = data if data is not None else scm.sample(n_samples, random_state=random_state)
    if not isinstance(units, pd.DataFrame) or len(units) == 0:
        raise DataError("data must be a non-empty DataFrame holding every node of the model.")
    invertible = all(scm.mechanisms_[v].invertible for v in nodes)
    draws = 1 if invertible else max(1, int(n_abductions))
    changed, change = 0.0, 0.0
    for _ in range(draws):
        abducted = scm.abduct(units, random_state=int(rng.integers(2**31)))
        unit_noise = {v: abducted[v].to_numpy(dtype=float) for v in nodes}
        d0 = forward(scm, unit_noise, nodes, interventions={protected: a0})[decision]
        d1 = forward(scm, unit_noise, nodes, interventions={protected: a1})[decision]
        changed += float(np.mean(np.abs(d1 - d0) > tolerance)) / draws
        change += float(np.mean(d1 - d0)) / draws
    return FairnessAudit(protected, decision, (a0, a1), effects, changed, change, len(units))
