"""Covariate balance of a fitted estimator: SMDs and variance ratios before and after.

The numbers are :func:`~paribus.checks.balance.balance_table`'s (standardized mean
differences over the *unweighted* pooled standard deviation, Austin & Stuart 2015);
this module finds the weights that an estimator balances the arms with and wraps the
table in a frozen :class:`BalanceReport` with a love plot.

Weights by estimator: ``weights_`` when it has them (IPW's balancing weights, zero
for trimmed units; Matching's matched-sample weights, ``1`` for each kept target unit
plus the number of times a unit is used as a match, shared over ties), otherwise the
estimand's inverse-propensity balancing weights from its propensity scores
(``nuisance_["e"]`` for AIPW and IRM, ``propensity_`` otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from paribus._core.overlap import effective_sample_size
from paribus._core.propensity import balancing_weights
from paribus.checks.standardized_differences import balance_table
from paribus.data.causal_data import CausalData
from paribus.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["BalanceReport", "balance"]


@dataclasses.dataclass(frozen=True)
class BalanceReport:
    """Balance of each covariate before and after weighting or matching.

    Attributes
    ----------
    covariates : tuple of str
    smd_before, smd_after : tuple of float
        Standardized mean differences (treated minus control) without and with weights.
    variance_ratio_before, variance_ratio_after : tuple of float
        Treated over control variance without and with weights.
    threshold : float
        ``|SMD|`` above which a covariate counts as imbalanced (0.1 by convention).
    source : str
        Where the weights came from (e.g. ``"IPW weights_"``).
    ess_treated, ess_control : float
        Kish effective sample sizes of the weights in each arm.
    """

    covariates: tuple[str, ...]
    smd_before: tuple[float, ...]
    smd_after: tuple[float, ...]
    variance_ratio_before: tuple[float, ...]
    variance_ratio_after: tuple[float, ...]
    threshold: float
    source: str
    ess_treated: float
    ess_control: float

    @property
    def n_imbalanced_before(self) -> int:
        """Covariates with ``|SMD| > threshold`` before weighting."""
        return int(np.sum(np.abs(self.smd_before) > self.threshold))

    @property
    def n_imbalanced_after(self) -> int:
        """Covariates with ``|SMD| > threshold`` after weighting."""
        return int(np.sum(np.abs(self.smd_after) > self.threshold))

    @property
    def balanced(self) -> bool:
        """Whether every covariate has ``|SMD| <= threshold`` after weighting."""
        return self.n_imbalanced_after == 0

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate: SMDs and variance ratios before and after."""
        import pandas as pd

        return pd.DataFrame(
            {
                "smd_before": self.smd_before,
                "smd_after": self.smd_after,
                "variance_ratio_before": self.variance_ratio_before,
                "variance_ratio_after": self.variance_ratio_after,
            },
            index=pd.Index(self.covariates, name="covariate"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the fields (NaN stays NaN)."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def __str__(self) -> str:
        width = max(9, *(len(c) for c in self.covariates))
        lines = [
            f"Covariate balance ({self.source}; ESS treated {self.ess_treated:.1f}, "
            f"control {self.ess_control:.1f})",
            f"{'covariate':<{width}} {'SMD before':>10} {'SMD after':>10} "
            f"{'VR before':>10} {'VR after':>10}",
        ]
        for row in zip(
            self.covariates,
            self.smd_before,
            self.smd_after,
            self.variance_ratio_before,
            self.variance_ratio_after,
            strict=True,
        ):
            lines.append(f"{row[0]:<{width}} " + " ".join(f"{v:>10.3f}" for v in row[1:]))
        lines.append(
            f"|SMD| > {self.threshold:g}: {self.n_imbalanced_before} of {len(self.covariates)} "
            f"covariates before, {self.n_imbalanced_after} after"
        )
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Love plot: absolute SMD before and after per covariate, threshold line marked."""
        import matplotlib.pyplot as plt

        order = np.argsort(np.abs(np.asarray(self.smd_before)))
        names = [self.covariates[i] for i in order]
        before = np.abs(np.asarray(self.smd_before))[order]
        after = np.abs(np.asarray(self.smd_after))[order]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.5))
        ys = np.arange(len(names))
        ax.hlines(ys, np.minimum(before, after), np.maximum(before, after), color="lightgrey")
        ax.scatter(before, ys, marker="o", facecolors="none", edgecolors="C3", label="before")
        ax.scatter(after, ys, marker="o", color="C0", label="after")
        ax.axvline(self.threshold, color="grey", ls="--", lw=0.8, label=f"{self.threshold:g}")
        ax.set_yticks(ys, names)
        ax.set_xlabel("absolute standardized mean difference")
        ax.set_title(f"Covariate balance ({self.source})")
        ax.legend(frameon=False, loc="lower right")
        return ax


def balance(
    estimator_or_weights: Any,
    data: Any,
    treatment: str | None = None,
    covariates: Sequence[str] | None = None,
    *,
    threshold: float = 0.1,
) -> BalanceReport:
    """Covariate balance before and after a fitted estimator's weights (or given weights).

    Parameters
    ----------
    estimator_or_weights : fitted estimator or array of shape (n,)
        A fitted IPW, Matching, AIPW, IRM (any estimator with ``weights_``, a
        ``nuisance_["e"]`` or a ``propensity_``), or non-negative weights, one per row.
    data : table or CausalData
        The data the estimator was fitted on, rows as fitted.
    treatment : str, optional
        Binary treatment column (taken from a CausalData when omitted).
    covariates : list of str, optional
        Default: the CausalData's, else the estimator's ``feature_names_in_``.
    threshold : float, default 0.1
        ``|SMD|`` above which a covariate counts as imbalanced.

    Returns
    -------
    BalanceReport
    """
    if not (np.isfinite(threshold) and threshold > 0):
        raise ParameterError(f"threshold must be a positive number; got {threshold!r}.")
    if isinstance(data, CausalData):
        treatment = treatment or data.treatment
        covariates = covariates if covariates is not None else data.covariates
        frame: Any = data.frame
    else:
        frame = data
    is_estimator = hasattr(estimator_or_weights, "get_params")
    if covariates is None and is_estimator:
        estimator_or_weights.result_  # noqa: B018  NotFittedError before fit
        covariates = [str(c) for c in estimator_or_weights.feature_names_in_]
    if treatment is None:
        raise ParameterError("balance: name the treatment= column (or pass a CausalData).")
    if not covariates:
        raise ParameterError("balance: name the covariates=[...] to check.")
    cd = CausalData(frame, treatment=treatment, covariates=list(covariates))
    if is_estimator:
        weights, source = _estimator_weights(estimator_or_weights, cd.t)
    elif isinstance(estimator_or_weights, (np.ndarray, list, tuple)) or hasattr(
        estimator_or_weights, "to_numpy"
    ):
        weights, source = np.asarray(estimator_or_weights, dtype=float), "given weights"
    else:
        raise ParameterError(
            "balance: estimator_or_weights must be a fitted estimator or an array of weights; "
            f"got {type(estimator_or_weights).__name__}."
        )
    table = balance_table(
        frame,
        treatment=treatment,
        covariates=list(covariates),
        weights=weights,
        threshold=threshold,
    )
    t = cd.t == 1
    return BalanceReport(
        covariates=tuple(str(c) for c in table.index),
        smd_before=_floats(table["smd"]),
        smd_after=_floats(table["smd_weighted"]),
        variance_ratio_before=_floats(table["variance_ratio"]),
        variance_ratio_after=_floats(table["variance_ratio_weighted"]),
        threshold=float(threshold),
        source=source,
        ess_treated=effective_sample_size(weights[t]),
        ess_control=effective_sample_size(weights[~t]),
    )


def _floats(column: pd.Series) -> tuple[float, ...]:
    return tuple(float(v) for v in column.to_numpy(dtype=float))


def _estimator_weights(estimator: Any, t: np.ndarray) -> tuple[np.ndarray, str]:
    """The weights a fitted estimator balances the arms with, and where they came from."""
    name = type(estimator).__name__
    effect = estimator.result_  # NotFittedError before fit
    n = getattr(effect, "n_obs", None)
    if n is not None and n != t.size:
        raise ParameterError(
            f"balance: data has {t.size} rows but {name} was fitted on {n}; pass the data "
            "exactly as fitted (after any dropna)."
        )
    weights = getattr(estimator, "weights_", None)
    if weights is not None:
        return np.asarray(weights, dtype=float), f"{name} weights_"
    nuisance = getattr(estimator, "nuisance_", None)
    e = nuisance.get("e") if isinstance(nuisance, dict) else None
    source = "nuisance_['e']"
    if e is None:
        e, source = getattr(estimator, "propensity_", None), "propensity_"
    if e is None:
        raise ParameterError(
            f"balance: {name} has no weights_ or propensity scores; pass its balancing "
            "weights as an array, or use IPW, Matching, AIPW or IRM."
        )
    estimand = getattr(estimator, "estimand", "ATE")
    ec = np.clip(np.asarray(e, dtype=float), 1e-12, 1 - 1e-12)
    return balancing_weights(ec, t, estimand), f"{name} {estimand} weights from {source}"
