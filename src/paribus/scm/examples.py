"""A simulated subscription business with known structural equations.

:func:`subscription_business` draws customers of a subscription product from the
structural causal model below (``sigma(t) = 1 / (1 + exp(-t))``; all noises independent)::

    senior          ~ Bernoulli(0.25)                                  protected attribute
    price           = 20 + 5 N_price,                   N_price ~ N(0, 1)    monthly price
    billing_issues  ~ Bernoulli(0.05 + 0.20 period)                    a payment failed
    usage           = 10 - period - 3 senior - 0.15 (price - 20) + 2 N_usage   hours/week
    support_tickets = 0.5 + 0.15 max(10 - usage, 0) + 1.5 billing_issues + 0.5 N_tickets
    discount        ~ Bernoulli(sigma(-2 + 0.8 support_tickets + 0.8 senior))  retention offer
    churn           ~ Bernoulli(sigma(-1.5 + 0.08 (price - 20) - 0.2 (usage - 10)
                                      + 0.5 support_tickets + 1.5 billing_issues - discount))
    ltv             = 12 price (1 - 0.6 churn) - 30 discount + 4 usage + 10 N_ltv

``period=1`` is a later quarter in which a billing-system fault makes payment failures five
times as frequent and a competitor's launch cuts usage by an hour a week: lifetime value
drops, through the mechanisms of ``billing_issues`` and ``usage``. The
retention ``discount`` depends on ``senior`` directly (an unfair direct path) as well as
through usage and tickets.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from paribus.errors import ParameterError

__all__ = ["SUBSCRIPTION_GRAPH", "SubscriptionData", "subscription_business"]

SUBSCRIPTION_GRAPH = (
    "senior -> usage; price -> usage; usage -> support_tickets; "
    "billing_issues -> support_tickets; support_tickets -> discount; senior -> discount; "
    "price -> churn; usage -> churn; support_tickets -> churn; billing_issues -> churn; "
    "discount -> churn; price -> ltv; churn -> ltv; usage -> ltv; discount -> ltv"
)

_EQUATIONS = {
    "senior": "Bernoulli(0.25)",
    "price": "20 + 5 N, N ~ N(0, 1)",
    "billing_issues": "Bernoulli(0.05 + 0.20 period)",
    "usage": "10 - period - 3 senior - 0.15 (price - 20) + 2 N",
    "support_tickets": "0.5 + 0.15 max(10 - usage, 0) + 1.5 billing_issues + 0.5 N",
    "discount": "Bernoulli(sigma(-2 + 0.8 support_tickets + 0.8 senior))",
    "churn": (
        "Bernoulli(sigma(-1.5 + 0.08 (price - 20) - 0.2 (usage - 10) + 0.5 support_tickets "
        "+ 1.5 billing_issues - discount))"
    ),
    "ltv": "12 price (1 - 0.6 churn) - 30 discount + 4 usage + 10 N",
}


class SubscriptionData(NamedTuple):
    """Simulated customers, the true graph and the true structural equations."""

    data: pd.DataFrame
    graph: str
    equations: dict[str, str]


def _sigma(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


def subscription_business(
    n: int = 5000, seed: int | None = 0, *, period: int = 0
) -> SubscriptionData:
    """Draw ``n`` customers of the subscription business (see the module docstring).

    Parameters
    ----------
    n : int
        Number of customers.
    seed : int, optional
    period : {0, 1}
        0: the reference quarter; 1: the later quarter with a billing fault and lower
        usage.

    Returns
    -------
    SubscriptionData
        ``(data, graph, equations)``: a DataFrame with columns ``senior``, ``price``,
        ``billing_issues``, ``usage``, ``support_tickets``, ``discount``, ``churn`` (0/1
        integers for the binary ones), ``ltv``; the graph as an edge string; the
        equations as text per node.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"n must be a positive integer, got {n!r}.")
    if period not in (0, 1):
        raise ParameterError(f"period must be 0 or 1, got {period!r}.")
    rng = np.random.default_rng(seed)
    senior = (rng.random(n) < 0.25).astype(int)
    price = 20 + 5 * rng.normal(size=n)
    billing = (rng.random(n) < 0.05 + 0.20 * period).astype(int)
    usage = 10 - period - 3 * senior - 0.15 * (price - 20) + 2 * rng.normal(size=n)
    tickets = 0.5 + 0.15 * np.maximum(10 - usage, 0) + 1.5 * billing + 0.5 * rng.normal(size=n)
    discount = (rng.random(n) < _sigma(-2 + 0.8 * tickets + 0.8 * senior)).astype(int)
    logit = (
        -1.5 + 0.08 * (price - 20) - 0.2 * (usage - 10) + 0.5 * tickets + 1.5 * billing - discount
    )
    churn = (rng.random(n) < _sigma(logit)).astype(int)
    ltv = 12 * price * (1 - 0.6 * churn) - 30 * discount + 4 * usage + 10 * rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "senior": senior,
            "price": price,
            "billing_issues": billing,
            "usage": usage,
            "support_tickets": tickets,
            "discount": discount,
            "churn": churn,
            "ltv": ltv,
        }
    )
    return SubscriptionData(frame, SUBSCRIPTION_GRAPH, dict(_EQUATIONS))
