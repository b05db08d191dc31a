"""A subscription business analysed end to end with a structural causal model.

The data come from :func:`paribus.scm.examples.subscription_business`, whose true
structural equations are known (see that module): price, usage, support tickets, billing
issues and a retention discount drive churn and lifetime value (``ltv``). The script

1. fits a ``StructuralCausalModel`` on the true graph and validates it (implied
   independences, fit of each mechanism);
2. estimates the effects of price and usage on churn and on LTV;
3. ranks levers (price cut, usage campaign, fixing billing, discounts) by their effect on
   LTV net of their cost per customer;
4. attributes the drop in mean LTV between two quarters to the mechanisms that changed
   (the later quarter has a billing fault and lower usage);
5. explains one customer with an unusually low LTV (root cause of an outlier);
6. audits the retention discount for fairness towards senior customers.

Usage::

    python examples/subscription_scm.py

It runs in well under a minute.
"""

from __future__ import annotations

import pandas as pd
from sklearn.linear_model import LinearRegression

from paribus.scm.attribution import attribute_anomaly, attribute_change
from paribus.scm.examples import subscription_business
from paribus.scm.fairness import fairness_audit
from paribus.scm.levers import Lever, rank_levers
from paribus.scm.mechanisms import AdditiveNoiseModel
from paribus.scm.model import StructuralCausalModel


def main(n: int = 3000, seed: int = 1) -> None:
    """Run the analysis on ``n`` simulated customers per quarter and print the tables."""
    pd.set_option("display.width", 120)
    before = subscription_business(n, seed, period=0)
    after = subscription_business(n, seed + 1, period=1)
    print("True structural equations:")
    for node, eq in before.equations.items():
        print(f"  {node:16s} {eq}")

    model = StructuralCausalModel(before.graph, random_state=seed).fit(before.data)
    print("\n1. Model check")
    print(model.validate(random_state=seed))

    print("\n2. Effects (per customer)")
    for treatment, outcome, shift in [
        ("price", "churn", 5.0),
        ("price", "ltv", 5.0),
        ("usage", "churn", 2.0),
        ("usage", "ltv", 2.0),
    ]:
        eff = model.effect(treatment, outcome, shift=shift, n=20_000, random_state=seed)
        print(f"  {treatment} + {shift:g} -> {outcome}: {eff.estimate:+.4f}")

    print("\n3. Levers on LTV, net of cost per customer")
    levers = [
        Lever("price", shift=-2.0, label="price cut of 2"),
        Lever("price", shift=+2.0, label="price rise of 2"),
        Lever("usage", shift=+1.0, cost=5.0, label="onboarding campaign (+1 h/week, cost 5)"),
        Lever("billing_issues", value=0.0, cost=3.0, label="fix billing (cost 3)"),
        Lever("discount", value=1.0, label="discount for everyone"),
    ]
    print(rank_levers(model, "ltv", levers, n_samples=20_000, random_state=seed).to_string())

    print("\n4. Why did mean LTV drop between the quarters?")
    linear = {"ltv": AdditiveNoiseModel(LinearRegression())}
    change_model = StructuralCausalModel(before.graph, linear, random_state=seed)
    print(
        attribute_change(
            change_model, before.data, after.data, "ltv", n_samples=20_000, random_state=seed
        )
    )

    print("\n5. Root cause of the lowest-LTV customer of the later quarter")
    worst = after.data.iloc[[int(after.data["ltv"].idxmin())]]
    print(worst.to_string(index=False))
    print(attribute_anomaly(model, worst, "ltv", n_samples=3000, random_state=seed))

    print("\n6. Fairness of the retention discount towards senior customers")
    print(
        fairness_audit(
            model, protected="senior", decision="discount", data=before.data, random_state=seed
        )
    )


if __name__ == "__main__":
    main()
