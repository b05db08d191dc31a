"""Targeting policies from predicted uplift, profit curves, and off-policy evaluation.

Policies
    :func:`treat_if_positive` (``pi(x) = 1{tau(x) > 0}``), :func:`budget_policy` (the
    ``k`` highest predicted uplifts), :func:`cost_aware_policy` (treat when the expected
    incremental value pays the treatment cost: ``v tau(x) > c``). Each returns a 0/1
    array.

Off-policy evaluation (:func:`policy_value`)
    The value of a policy ``pi`` (treatment probability ``pi_i in [0, 1]`` per unit) is
    ``V(pi) = E[pi(X) Y(1) + (1 - pi(X)) Y(0)]``, estimated by the mean of per-unit
    scores ``psi_i = pi_i Gamma_i(1) + (1 - pi_i) Gamma_i(0)`` with

    * ``method="ipw"``: ``Gamma(1) = T Y / e``, ``Gamma(0) = (1 - T) Y / (1 - e)``
      (inverse propensity weighting, Horvitz & Thompson 1952);
    * ``method="dr"``: ``Gamma(a) = mu_a + 1{T = a} (Y - mu_a) / P(T = a | X)``, the
      doubly robust estimator of Dudík, Langford & Li (2011, "Doubly robust policy
      evaluation and learning", ICML), consistent if either the propensity or the
      outcome model is right (with cross-fitted nuisances the estimator is
      asymptotically linear, Athey & Wager 2021 Sec. 2.2).

    The standard error is ``sd(psi) / sqrt(n)`` (propensities and outcome models taken
    as given, e.g. known in a randomised experiment or cross-fitted). Without
    ``propensity`` the design is taken as randomised with ``e`` the treated share.
    :func:`policy_difference` compares two policies with the paired scores.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from paribus._core.params import check_level
from paribus.errors import DataError, ParameterError
from paribus.results import Effect
from paribus.uplift.evaluation import (
    check_uplift_inputs,
    descending_order,
    outcome_predictions,
    propensity_array,
)
from paribus.uplift.metrics import uplift_curve

__all__ = [
    "budget_policy",
    "cost_aware_policy",
    "dr_rewards",
    "policy_difference",
    "policy_value",
    "profit_curve",
    "treat_if_positive",
]


def _cate(cate: Any, where: str) -> np.ndarray:
    tau = np.asarray(cate, dtype=float)
    if tau.ndim != 1 or tau.size == 0:
        raise DataError(f"{where}: cate must be a non-empty 1-d array; found shape {tau.shape}.")
    if not np.all(np.isfinite(tau)):
        raise DataError(f"{where}: cate has missing or infinite values.")
    return tau


def treat_if_positive(cate: Any) -> np.ndarray:
    """``1{tau_i > 0}``: treat every unit with a positive predicted uplift."""
    return (_cate(cate, "treat_if_positive") > 0).astype(int)


def budget_policy(cate: Any, budget: float | int, *, only_positive: bool = True) -> np.ndarray:
    """Treat the ``budget`` units with the highest predicted uplift.

    ``budget``: a share in (0, 1] (``floor(share * n)`` units) or a count. With
    ``only_positive`` units with ``tau <= 0`` are never treated, even within budget.
    Ties at the cut are broken as in the curves (later row first).
    """
    where = "budget_policy"
    tau = _cate(cate, where)
    n = tau.size
    if isinstance(budget, (bool, np.bool_)):
        raise ParameterError(f"{where}: budget={budget!r}; expected a share or a count.")
    if isinstance(budget, (int, np.integer)) and 0 <= budget <= n:
        k = int(budget)
    elif isinstance(budget, (float, np.floating)) and 0 < budget <= 1:
        k = int(np.floor(budget * n))
    else:
        raise ParameterError(
            f"{where}: budget={budget!r}; expected a share in (0, 1] or a count in [0, {n}]."
        )
    out = np.zeros(n, dtype=int)
    out[descending_order(tau)[:k]] = 1
    if only_positive:
        out[tau <= 0] = 0
    return out


def cost_aware_policy(
    cate: Any, value_per_conversion: float, cost_per_treatment: float
) -> np.ndarray:
    """Treat when ``value_per_conversion * tau_i > cost_per_treatment`` (positive profit)."""
    tau = _cate(cate, "cost_aware_policy")
    if not np.isfinite(value_per_conversion) or value_per_conversion <= 0:
        raise ParameterError(
            f"cost_aware_policy: value_per_conversion={value_per_conversion!r}; expected a "
            "positive number."
        )
    if not np.isfinite(cost_per_treatment) or cost_per_treatment < 0:
        raise ParameterError(
            f"cost_aware_policy: cost_per_treatment={cost_per_treatment!r}; expected a number >= 0."
        )
    return (value_per_conversion * tau > cost_per_treatment).astype(int)


def profit_curve(
    y: Any,
    treatment: Any,
    score: Any,
    *,
    value: float,
    cost: float,
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
) -> pd.DataFrame:
    """Estimated profit of treating the top ``k`` units: ``value * G(k) - cost * k``.

    ``G`` is the uplift curve (:func:`~paribus.uplift.metrics.uplift_curve`, doubly
    robust with ``propensity=``), the incremental outcomes of treating the first ``k``.
    Returns a table with ``n_targeted``, ``incremental`` (``G``) and ``profit``; its
    arg-max is the profit-maximising number to treat.
    """
    for name, v in (("value", value), ("cost", cost)):
        if not np.isfinite(v):
            raise ParameterError(f"profit_curve: {name}={v!r}; expected a finite number.")
    x, g = uplift_curve(y, treatment, score, propensity=propensity, mu0=mu0, mu1=mu1)
    return pd.DataFrame({"n_targeted": x, "incremental": g, "profit": value * g - cost * x})


def dr_rewards(
    y: Any,
    treatment: Any,
    *,
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
) -> np.ndarray:
    """Per-unit scores ``[Gamma(0), Gamma(1)]``, shape (n, 2) (module docstring).

    Doubly robust with ``mu0``, ``mu1``; IPW without. The reward matrix for
    :class:`~paribus.uplift.policy_tree.PolicyTree`.
    """
    where = "dr_rewards"
    yy, t, _ = check_uplift_inputs(y, treatment, None, where)
    e = propensity_array(t.mean() if propensity is None else propensity, t.size, where)
    m0, m1 = outcome_predictions(mu0, mu1, t.size, where)
    g1 = m1 + t * (yy - m1) / e
    g0 = m0 + (1 - t) * (yy - m0) / (1 - e)
    return np.column_stack([g0, g1])


def _policy_array(policy: Any, n: int, where: str) -> np.ndarray:
    pi = np.asarray(policy, dtype=float)
    if pi.ndim == 0:
        pi = np.full(n, float(pi))
    if pi.shape != (n,):
        raise DataError(f"{where}: policy has shape {pi.shape}; expected ({n},).")
    if not np.all((pi >= 0) & (pi <= 1)):
        raise DataError(
            f"{where}: policy must hold treatment probabilities in [0, 1] (0/1 for a "
            f"deterministic policy); found values in [{pi.min():g}, {pi.max():g}]."
        )
    return pi


def _scores(
    policy: Any,
    y: Any,
    treatment: Any,
    propensity: Any,
    mu0: Any,
    mu1: Any,
    method: Any,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    if method not in ("ipw", "dr"):
        raise ParameterError(f"{where}: method={method!r}; expected 'ipw' or 'dr'.")
    if method == "dr" and (mu0 is None or mu1 is None):
        raise ParameterError(
            f"{where}: method='dr' needs outcome predictions mu0 and mu1 (cross-fitted "
            "E[Y | X, T = 0] and E[Y | X, T = 1]); pass them, or use method='ipw'."
        )
    if method == "ipw" and (mu0 is not None or mu1 is not None):
        raise ParameterError(f"{where}: mu0/mu1 are used by method='dr' only.")
    rewards = dr_rewards(y, treatment, propensity=propensity, mu0=mu0, mu1=mu1)
    pi = _policy_array(policy, rewards.shape[0], where)
    return pi, rewards


def _value_effect(
    psi: np.ndarray, estimand: str, method: str, level: float, diagnostics: dict[str, Any]
) -> Effect:
    est = float(psi.mean())
    return Effect.from_normal(
        estimand=estimand,
        estimate=est,
        std_error=float(psi.std(ddof=1) / np.sqrt(psi.size)),
        level=level,
        n_obs=int(psi.size),
        method=f"policy-{method}",
        inference="influence-function",
        diagnostics=diagnostics,
        scores=psi - est,
    )


def policy_value(
    policy: Any,
    y: Any,
    treatment: Any,
    *,
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
    method: Literal["ipw", "dr"] = "ipw",
    level: float = 0.95,
) -> Effect:
    """Off-policy estimate of ``V(pi) = E[Y(pi(X))]`` with its interval (module docstring).

    Parameters
    ----------
    policy : array of shape (n,)
        0/1 actions or treatment probabilities of the policy being evaluated.
    y, treatment : array of shape (n,)
        Logged outcomes and 0/1 treatments.
    propensity : float or array, optional
        The logging propensity ``P(T = 1 | X)``; default the treated share.
    mu0, mu1 : array, optional
        Cross-fitted outcome predictions (needed by ``method="dr"``).
    method : {"ipw", "dr"}, default "ipw"
    level : float, default 0.95

    Returns
    -------
    Effect
        ``estimand="policy value"``; per-unit centred scores in ``scores``.
    """
    level = check_level(level)
    pi, r = _scores(policy, y, treatment, propensity, mu0, mu1, method, "policy_value")
    psi = pi * r[:, 1] + (1 - pi) * r[:, 0]
    return _value_effect(psi, "policy value", method, level, {"share_treated": float(pi.mean())})


def policy_difference(
    policy: Any,
    y: Any,
    treatment: Any,
    *,
    baseline: Literal["treat_all", "treat_none"] | Any = "treat_all",
    propensity: Any = None,
    mu0: Any = None,
    mu1: Any = None,
    method: Literal["ipw", "dr"] = "ipw",
    level: float = 0.95,
) -> Effect:
    """``V(pi) - V(baseline)`` with a paired interval (same units, differenced scores).

    ``baseline``: ``"treat_all"``, ``"treat_none"`` or another policy array. Against
    treat-none this is the average effect among the units the policy treats, times
    its treated share.
    """
    where = "policy_difference"
    level = check_level(level)
    pi, r = _scores(policy, y, treatment, propensity, mu0, mu1, method, where)
    if isinstance(baseline, str):
        if baseline not in ("treat_all", "treat_none"):
            raise ParameterError(
                f"{where}: baseline={baseline!r}; expected 'treat_all', 'treat_none' or a "
                "policy array."
            )
        label = baseline
        base = np.full(pi.size, 1.0 if baseline == "treat_all" else 0.0)
    else:
        label = "policy"
        base = _policy_array(baseline, pi.size, where)
    psi = (pi - base) * (r[:, 1] - r[:, 0])
    return _value_effect(
        psi,
        f"policy value difference vs {label}",
        method,
        level,
        {"share_treated": float(pi.mean()), "baseline_share_treated": float(base.mean())},
    )
