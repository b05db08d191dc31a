"""Overlap diagnostics shared by every propensity-based estimator."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from paribus.errors import OverlapWarning

__all__ = ["effective_sample_size", "overlap_diagnostics", "warn_if_poor_overlap"]

#: a propensity outside [EXTREME, 1 - EXTREME] counts as extreme
EXTREME = 0.01
#: warn when more than this share of units has an extreme propensity
EXTREME_SHARE = 0.01
#: ... or when an arm's weighted effective sample size is below this share of its size
#: (or of the target population's size, when that is smaller)
MIN_ESS_SHARE = 0.1


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=float)
    s2 = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def overlap_diagnostics(
    propensity: np.ndarray,
    treatment: np.ndarray,
    weights: np.ndarray | None = None,
    share_trimmed: float = 0.0,
    share_clipped: float = 0.0,
) -> dict[str, Any]:
    """Propensity range by arm, extreme shares and effective sample sizes.

    ``weights`` are the estimator's balancing weights (e.g. inverse propensity
    weights); without them the ESS uses ATE inverse-propensity weights.
    """
    e = np.asarray(propensity, dtype=float)
    t = np.asarray(treatment) == 1
    if weights is None:
        weights = np.where(t, 1 / np.clip(e, 1e-12, None), 1 / np.clip(1 - e, 1e-12, None))
    extreme = (e < EXTREME) | (e > 1 - EXTREME)
    return {
        "share_extreme_treated": float(np.mean(e[t] > 1 - EXTREME)),
        "share_extreme_control": float(np.mean(e[~t] < EXTREME)),
        "propensity_min_treated": float(e[t].min()),
        "propensity_max_treated": float(e[t].max()),
        "propensity_min_control": float(e[~t].min()),
        "propensity_max_control": float(e[~t].max()),
        "share_extreme": float(extreme.mean()),
        "ess_treated": effective_sample_size(weights[t]),
        "ess_control": effective_sample_size(weights[~t]),
        "n_treated": int(t.sum()),
        "n_control": int((~t).sum()),
        "share_trimmed": float(share_trimmed),
        "share_clipped": float(share_clipped),
    }


def warn_if_poor_overlap(diagnostics: dict[str, Any], method: str, estimand: str = "ATE") -> None:
    """Emit an OverlapWarning quoting the diagnostic and the remedy when overlap is poor.

    What counts depends on the estimand: the ATT needs comparable controls for the
    treated (no treated unit with e near 1; the controls' effective sample size),
    the ATC the reverse, the ATE both.
    """
    problems = []
    extreme = {
        "ATE": ("share_extreme", f"units have a propensity outside [{EXTREME}, {1 - EXTREME}]"),
        "ATT": ("share_extreme_treated", f"treated units have a propensity above {1 - EXTREME}"),
        "ATC": ("share_extreme_control", f"control units have a propensity below {EXTREME}"),
    }[estimand]
    if diagnostics[extreme[0]] > EXTREME_SHARE:
        problems.append(f"{100 * diagnostics[extreme[0]]:.1f}% of {extreme[1]}")
    n_target = {
        "ATE": diagnostics["n_treated"] + diagnostics["n_control"],
        "ATT": diagnostics["n_treated"],
        "ATC": diagnostics["n_control"],
    }[estimand]
    ess_arms = {"ATE": ("treated", "control"), "ATT": ("control",), "ATC": ("treated",)}[estimand]
    for arm in ess_arms:
        ess, n = diagnostics[f"ess_{arm}"], diagnostics[f"n_{arm}"]
        if n > 0 and ess < MIN_ESS_SHARE * min(n, n_target):
            problems.append(f"the {arm} arm's effective sample size is {ess:.0f} of {n}")
    if problems:
        remedy = "restrict the sample to common support (trimming, or a caliper when matching)"
        if estimand == "ATE":
            remedy += ", or estimate the ATT or ATC, which need overlap on one side only"
        warnings.warn(
            f"{method}: poor overlap: {'; '.join(problems)}. The estimate rests on few, heavily "
            f"weighted units. Consider: {remedy}.",
            OverlapWarning,
            stacklevel=4,
        )
