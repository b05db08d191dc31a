"""Simulated unobserved confounder: how strong must it be to move the estimate to zero?

A confounder ``U`` is simulated with a given imbalance between the arms and a given
effect on the outcome: ``U = delta (t - mean t) + N(0, 1)`` (``delta`` is the difference
in means of ``U`` between treated and controls, in units of its noise SD) and the
outcome becomes ``y + gamma U``. Then ``E[y + gamma U | t, x] = E[y | t, x] +
gamma delta (t - mean t)``: omitting ``U`` shifts any consistent estimator by the product
``gamma delta`` (the classical omitted-variable bias, Cochran 1938; Rosenbaum & Rubin
1983), and adjusting for ``U`` removes the shift. The sweep re-estimates both ways on a
grid of ``(delta, gamma)`` and shows where the estimate that omits ``U`` crosses zero:
with ``tau`` the original estimate, on ``gamma delta = -tau`` for an estimator whose
adjustment is right. By symmetry a confounder of the opposite sign and the same
strengths would have produced the estimate from a zero effect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paribus._core.parallel import run_tasks
from paribus._core.random import child_seeds, seed_sequence
from paribus.checks.refuters_more import refit_effect
from paribus.errors import DataError, ParameterError

__all__ = ["ConfounderSweep", "confounder_sweep"]

_U = "_simulated_confounder"


@dataclasses.dataclass(frozen=True)
class ConfounderSweep:
    """Estimates with the simulated confounder omitted and included, over the grid.

    ``omitted[i, j]`` and ``included[i, j]`` are for ``treatment_strengths[i]`` (delta) and
    ``outcome_strengths[j]`` (gamma).
    """

    original: float
    treatment_strengths: tuple[float, ...]
    outcome_strengths: tuple[float, ...]
    omitted: np.ndarray
    included: np.ndarray

    def __post_init__(self) -> None:
        for name in ("omitted", "included"):
            arr = np.array(getattr(self, name), dtype=float, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def zero_crossings(self) -> np.ndarray:
        """For each delta, the gamma at which the omitted-``U`` estimate crosses zero.

        Linear interpolation between grid points; NaN where it does not cross.
        """
        g = np.asarray(self.outcome_strengths)
        out = np.full(len(self.treatment_strengths), np.nan)
        for i, row in enumerate(self.omitted):
            sign = np.sign(row)
            idx = np.flatnonzero(sign[:-1] * sign[1:] < 0)
            if idx.size:
                k = idx[0]
                out[i] = g[k] - row[k] * (g[k + 1] - g[k]) / (row[k + 1] - row[k])
        return out

    def to_frame(self) -> pd.DataFrame:
        d, g = np.meshgrid(self.treatment_strengths, self.outcome_strengths, indexing="ij")
        return pd.DataFrame(
            {
                "treatment_strength": d.ravel(),
                "outcome_strength": g.ravel(),
                "omitted": self.omitted.ravel(),
                "included": self.included.ravel(),
            }
        )

    def plot(self, ax: Any = None) -> Any:
        """Heat map of the omitted-``U`` estimate, its zero contour and ``gamma delta = -tau``."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4.5))
        d, g = np.asarray(self.treatment_strengths), np.asarray(self.outcome_strengths)
        lim = float(np.nanmax(np.abs(self.omitted))) or 1.0
        mesh = ax.pcolormesh(g, d, self.omitted, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
        ax.figure.colorbar(mesh, ax=ax, label="estimate omitting U")
        if np.nanmin(self.omitted) < 0 < np.nanmax(self.omitted):
            ax.contour(g, d, self.omitted, levels=[0.0], colors="k", linewidths=1.5)
        dd = d[d != 0]
        theory = -self.original / dd
        keep = (theory >= g.min()) & (theory <= g.max())
        ax.plot(theory[keep], dd[keep], "k--", lw=1, label=r"theory: $\gamma\delta = -\hat\tau$")
        ax.set_xlabel(r"effect of U on the outcome ($\gamma$)")
        ax.set_ylabel(r"imbalance of U between arms ($\delta$)")
        ax.set_title(f"Simulated confounder (original estimate {self.original:,.3g})")
        ax.legend(loc="upper right", fontsize="small")
        return ax


def _task(
    estimator: Any,
    frame: pd.DataFrame,
    treatment: str,
    outcome: str,
    covs: list[str],
    delta: float,
    gamma: float,
    seed: int,
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    t = frame[treatment].to_numpy(dtype=float)
    u = delta * (t - t.mean()) + rng.standard_normal(t.size)
    sim = frame.assign(**{_U: u, outcome: frame[outcome].to_numpy(dtype=float) + gamma * u})
    omitted = refit_effect(estimator, sim, treatment, outcome, covs, seed).estimate
    included = refit_effect(estimator, sim, treatment, outcome, [*covs, _U], seed).estimate
    return omitted, included


def confounder_sweep(
    estimator: Any,
    data: Any,
    treatment: str,
    outcome: str,
    covariates: Sequence[str] | None = None,
    *,
    treatment_strengths: Sequence[float] | None = None,
    outcome_strengths: Sequence[float] | None = None,
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> ConfounderSweep:
    """Re-estimate with a simulated confounder of each strength omitted and included.

    Parameters
    ----------
    estimator : fitted estimator
        Cloned and refitted twice per grid cell; never modified.
    treatment_strengths : floats, optional
        ``delta``, the confounder's mean difference between arms. Default 0 to 1 in 6 steps.
    outcome_strengths : floats, optional
        ``gamma``, the outcome's change per unit of the confounder. Default
        ``-3|tau|`` to ``3|tau|`` in 13 steps (``tau`` the original estimate).
    """
    from paribus.data.convert import to_pandas

    frame = to_pandas(data)
    covs = (
        list(covariates)
        if covariates is not None
        else [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    )
    missing = [c for c in (treatment, outcome, *covs) if c not in frame.columns]
    if missing:
        raise DataError(f"confounder_sweep: column(s) {missing} not found in data.")
    tau = float(estimator.result_.estimate)
    deltas = tuple(
        float(v)
        for v in (np.linspace(0, 1, 6) if treatment_strengths is None else treatment_strengths)
    )
    scale = 3 * abs(tau) or 1.0
    gammas = tuple(
        float(v)
        for v in (
            np.linspace(-scale, scale, 13) if outcome_strengths is None else outcome_strengths
        )
    )
    if len(deltas) < 1 or len(gammas) < 2:
        raise ParameterError("confounder_sweep needs >= 1 treatment and >= 2 outcome strengths.")
    cells = [(d, g) for d in deltas for g in gammas]
    seeds = child_seeds(seed_sequence(random_state), len(cells))
    tasks = [
        (estimator, frame, treatment, outcome, covs, d, g, s)
        for (d, g), s in zip(cells, seeds, strict=True)
    ]
    out = np.asarray(run_tasks(_task, tasks, n_jobs=n_jobs, desc="confounder sweep"), dtype=float)
    shape = (len(deltas), len(gammas))
    return ConfounderSweep(tau, deltas, gammas, out[:, 0].reshape(shape), out[:, 1].reshape(shape))
