"""Propensity score overlap of a fitted estimator, and where to trim.

:func:`overlap` gathers the diagnostics every propensity-based estimator computes
(:func:`~paribus._core.overlap.overlap_diagnostics`: propensity ranges by arm, shares
of extreme scores, Kish effective sample sizes of the balancing weights) into a
frozen :class:`OverlapReport`, with the mirrored-histogram plot and
:meth:`OverlapReport.suggest_trimming`.

Trimming follows Crump, Hotz, Imbens & Mitnik (2009, *Biometrika* 96(1)): keeping the
units with ``alpha <= e(X) <= 1 - alpha``, with ``alpha`` chosen to minimise the
asymptotic variance bound of the average effect on the kept population, is optimal
among such rules. Trimming changes the estimand: the effect is then the average over
the overlap population, not over the whole population.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from paribus._core.overlap import overlap_diagnostics, warn_if_poor_overlap
from paribus._core.propensity import balancing_weights, crump_threshold
from paribus.errors import DataError, OverlapWarning, ParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["OverlapReport", "TrimmingSuggestion", "overlap"]

_ESTIMANDS = ("ATE", "ATT", "ATC")


@dataclasses.dataclass(frozen=True)
class TrimmingSuggestion:
    """The Crump et al. (2009) trimming rule and what it costs.

    Attributes
    ----------
    alpha : float
        Keep units with ``alpha <= e(X) <= 1 - alpha`` (0: no trimming helps).
    n_dropped_treated, n_dropped_control : int
    share_dropped_treated, share_dropped_control, share_dropped : float
        Shares of each arm and of all units outside ``[alpha, 1 - alpha]``.
    estimand : str
        The estimand before trimming.
    statement : str
        The rule and the change of estimand in words.
    """

    alpha: float
    n_dropped_treated: int
    n_dropped_control: int
    share_dropped_treated: float
    share_dropped_control: float
    share_dropped: float
    estimand: str
    statement: str

    def __str__(self) -> str:
        return self.statement


@dataclasses.dataclass(frozen=True)
class OverlapReport:
    """Overlap of the propensity score between arms.

    Attributes
    ----------
    estimand : {"ATE", "ATT", "ATC"}
        Which overlap matters and which balancing weights the ESS uses.
    diagnostics : dict
        :func:`~paribus._core.overlap.overlap_diagnostics` (ranges, shares of
        extreme scores, ESS and size per arm).
    problems : tuple of str
        The poor-overlap warning the estimators issue, empty when overlap is adequate.
    propensity, treatment : ndarray
        The scores and the 0/1 treatment they describe.
    """

    estimand: str
    diagnostics: dict[str, Any]
    problems: tuple[str, ...]
    propensity: np.ndarray = dataclasses.field(repr=False, compare=False)
    treatment: np.ndarray = dataclasses.field(repr=False, compare=False)

    @property
    def adequate(self) -> bool:
        """True when no poor-overlap rule fires for the estimand."""
        return not self.problems

    @property
    def ess_treated(self) -> float:
        return float(self.diagnostics["ess_treated"])

    @property
    def ess_control(self) -> float:
        return float(self.diagnostics["ess_control"])

    def suggest_trimming(self) -> TrimmingSuggestion:
        """The Crump et al. (2009) optimal threshold, the units it drops, the new estimand."""
        e, t = self.propensity, self.treatment == 1
        alpha = crump_threshold(np.clip(e, 1e-12, 1 - 1e-12))
        drop = ((e < alpha) | (e > 1 - alpha)) if alpha > 0 else np.zeros(e.size, dtype=bool)
        n1, n0 = int((drop & t).sum()), int((drop & ~t).sum())
        s1, s0 = n1 / max(int(t.sum()), 1), n0 / max(int((~t).sum()), 1)
        est = self.estimand
        if alpha == 0:
            statement = (
                "Crump et al. (2009): no trimming lowers the variance bound (alpha = 0); keep "
                f"every unit, the estimand stays the {est}."
            )
        else:
            band = f"[{alpha:.3f}, {1 - alpha:.3f}]"
            statement = (
                f"Crump et al. (2009) optimal threshold alpha = {alpha:.3f}: keeping units with "
                f"propensity in {band} drops {n1} treated ({100 * s1:.1f}%) and {n0} control "
                f"({100 * s0:.1f}%) units. The effect is then the {est} on the overlap "
                f"population {band}, not the {est}"
                + (
                    " (the optimality result is for the ATE)"
                    if est != "ATE"
                    else "; IPW(trim='crump') estimates it"
                )
                + "."
            )
        return TrimmingSuggestion(
            alpha=float(alpha),
            n_dropped_treated=n1,
            n_dropped_control=n0,
            share_dropped_treated=float(s1),
            share_dropped_control=float(s0),
            share_dropped=float(drop.mean()),
            estimand=est,
            statement=statement,
        )

    def __str__(self) -> str:
        d = self.diagnostics
        lines = [
            f"Propensity score overlap (target: {self.estimand}; "
            f"{d['n_treated']} treated, {d['n_control']} control)",
            f"  treated propensity range [{d['propensity_min_treated']:.4f}, "
            f"{d['propensity_max_treated']:.4f}]",
            f"  control propensity range [{d['propensity_min_control']:.4f}, "
            f"{d['propensity_max_control']:.4f}]",
            f"  share outside [0.01, 0.99]: {100 * d['share_extreme']:.1f}%",
            f"  effective sample size: treated {d['ess_treated']:.1f}, "
            f"control {d['ess_control']:.1f}",
        ]
        lines += [f"  problem: {p}" for p in self.problems] or ["  no poor-overlap rule fires"]
        lines.append(f"  {self.suggest_trimming().statement}")
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, bins: int = 40, show_trimming: bool = True) -> Axes:
        """Mirrored propensity histograms by arm; the Crump band marked when it trims."""
        from paribus.report.plots import plot_overlap

        ax = plot_overlap(self.propensity, self.treatment, bins=bins, ax=ax)
        if show_trimming:
            alpha = self.suggest_trimming().alpha
            if alpha > 0:
                for x in (alpha, 1 - alpha):
                    ax.axvline(x, color="grey", ls="--", lw=0.8)
        ax.set_title(f"Propensity score overlap ({self.estimand})")
        return ax


def overlap(
    estimator_or_propensity: Any,
    data: Any = None,
    treatment: Any = None,
    estimand: str | None = None,
) -> OverlapReport:
    """Overlap diagnostics of a fitted estimator's propensity scores (or given scores).

    Parameters
    ----------
    estimator_or_propensity : fitted estimator or array of shape (n,)
        A fitted IPW, Matching (propensity or logit distance), AIPW or IRM, or
        propensity scores in [0, 1].
    data : table or CausalData, optional
        The data the scores belong to, rows as fitted; omit when ``treatment`` is an array.
    treatment : str or array of shape (n,)
        The treatment column of ``data``, or the 0/1 treatment itself.
    estimand : {"ATE", "ATT", "ATC"}, optional
        Default: the estimator's, else ``"ATE"``.

    Returns
    -------
    OverlapReport
    """
    obj = estimator_or_propensity
    if hasattr(obj, "get_params"):
        e = _estimator_propensity(obj)
        estimand = estimand or getattr(obj, "estimand", "ATE")
    else:
        e = np.asarray(obj, dtype=float)
    estimand = estimand or "ATE"
    if estimand not in _ESTIMANDS:
        raise ParameterError(f"estimand must be one of {_ESTIMANDS}; got {estimand!r}.")
    t = _treatment(data, treatment)
    if e.ndim != 1 or e.shape != t.shape:
        raise DataError(
            f"propensity has shape {e.shape} but the treatment has shape {t.shape}; pass the "
            "data exactly as fitted (after any dropna)."
        )
    if not np.isfinite(e).all() or (e < 0).any() or (e > 1).any():
        raise DataError("propensity scores must be finite and within [0, 1].")
    if not np.isin(t, (0, 1)).all() or np.unique(t).size != 2:
        raise DataError("the treatment must be binary 0/1 with both arms present.")
    ec = np.clip(e, 1e-12, 1 - 1e-12)
    diag = overlap_diagnostics(e, t, balancing_weights(ec, t, estimand))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OverlapWarning)
        warn_if_poor_overlap(diag, "overlap", estimand)
    problems = tuple(str(w.message) for w in caught if issubclass(w.category, OverlapWarning))
    return OverlapReport(estimand, diag, problems, e, t)


def _estimator_propensity(estimator: Any) -> np.ndarray:
    name = type(estimator).__name__
    estimator.result_  # noqa: B018  NotFittedError before fit
    nuisance = getattr(estimator, "nuisance_", None)
    e = nuisance.get("e") if isinstance(nuisance, dict) else None
    if e is None:
        e = getattr(estimator, "propensity_", None)
    if e is None:
        raise ParameterError(
            f"overlap: {name} has no propensity scores (propensity_ or nuisance_['e']); pass "
            "the scores as an array, or use IPW, propensity Matching, AIPW or IRM."
        )
    return np.asarray(e, dtype=float)


def _treatment(data: Any, treatment: Any) -> np.ndarray:
    from paribus.data.causal_data import CausalData

    if isinstance(data, CausalData):
        return np.asarray(data.t, dtype=float)
    if data is None:
        if treatment is None or isinstance(treatment, str):
            raise ParameterError(
                "overlap: pass data= with treatment= its column name, or treatment= as an "
                "array; estimators keep no data."
            )
        return np.asarray(treatment, dtype=float)
    if not isinstance(treatment, str):
        raise ParameterError("overlap: with data=, name its treatment= column.")
    from paribus.data.convert import to_pandas

    frame = to_pandas(data)
    if treatment not in frame.columns:
        raise DataError(f"overlap: column {treatment!r} not found in data.")
    return frame[treatment].to_numpy(dtype=float)
