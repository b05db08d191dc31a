"""Goodman-Bacon decomposition of the two-way fixed effects DiD coefficient.

With staggered, absorbing treatment on a balanced panel, the TWFE coefficient is a
weighted average of every 2x2 DiD between two timing groups (Goodman-Bacon 2021,
*J. Econometrics* 225(2), Theorem 1). For groups ``k`` (first treated at ``a``) and
``l`` (at ``b > a``, possibly never), with unit shares ``n_k, n_l``, shares of
periods treated ``D_k > D_l``, and ``n_kl = n_k / (n_k + n_l)``:

* ``k`` treated, ``l`` not yet treated (periods before ``b``), weight (eq. 10b)
  ``((n_k + n_l)(1 - D_l))^2 n_kl (1 - n_kl) (D_k - D_l)/(1 - D_l) (1 - D_k)/(1 - D_l)``;
  against the never treated (``D_l = 0``) this is eq. 10a;
* ``l`` treated, ``k`` already treated as control (periods from ``a``), weight (eq. 10c)
  ``((n_k + n_l) D_k)^2 n_kl (1 - n_kl) (D_l / D_k) (D_k - D_l)/D_k``.

The weights are divided by their sum, the variance of the two-way demeaned treatment,
so they sum to one and ``sum(weight * estimate)`` is the TWFE coefficient. The second
kind ("later vs earlier treated") and comparisons with units treated throughout the
panel ("treated vs always treated") use treated units as controls: they are the
*forbidden* comparisons, biased when effects change over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paribus.designs.did._panel import panel_from_frame
from paribus.errors import DataError

__all__ = ["BaconDecomposition", "bacon_decomposition"]

FORBIDDEN = ("later vs earlier treated", "treated vs always treated")
TYPES = ("earlier vs later treated", "treated vs never treated", *FORBIDDEN)


@dataclass(frozen=True)
class BaconDecomposition:
    """The 2x2 comparisons behind a TWFE coefficient.

    Attributes
    ----------
    table : DataFrame
        One row per comparison: ``type``, ``treated`` and ``control`` (first treated
        period; ``inf`` never, the first period for always treated), ``estimate``,
        ``weight``.
    twfe : float
        ``sum(weight * estimate)``, the TWFE coefficient.
    forbidden_weight : float
        Total weight on comparisons that use already-treated units as controls.
    """

    table: pd.DataFrame
    twfe: float
    forbidden_weight: float

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def __len__(self) -> int:
        return len(self.table)

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted mean estimate of each comparison type."""
        t = self.table.assign(product=self.table["weight"] * self.table["estimate"])
        out = t.groupby("type", sort=False)[["weight", "product"]].sum()
        out["estimate"] = out["product"] / out["weight"]
        return out[["weight", "estimate"]]

    def summary(self) -> str:
        """Text: TWFE coefficient, weights by type and the forbidden share."""
        lines = [f"Goodman-Bacon decomposition of the TWFE coefficient {self.twfe:.4g}"]
        for kind, row in self.by_type().iterrows():
            lines.append(f"  {kind:<26} weight {row['weight']:.3f}  mean 2x2 {row['estimate']:.4g}")
        lines.append(
            f"{self.forbidden_weight:.1%} of the weight sits on forbidden comparisons "
            "(already-treated units as controls); with effects that change over time "
            "these bias TWFE, so prefer a heterogeneity-robust estimator."
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, ax: Any = None) -> Any:
        """Scatter of 2x2 estimate against weight, coloured by type; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        markers = dict(zip(TYPES, ("o", "s", "^", "v"), strict=True))
        for kind in TYPES:
            part = self.table[self.table["type"] == kind]
            if len(part):
                ax.scatter(part["weight"], part["estimate"], marker=markers[kind], label=kind)
        ax.axhline(self.twfe, color="black", linewidth=1, linestyle="--", label="TWFE")
        ax.set_xlabel("weight")
        ax.set_ylabel("2x2 DiD estimate")
        ax.legend(frameon=False, fontsize="small")
        return ax


def _cell_means(y: np.ndarray, group: np.ndarray, time: np.ndarray, n_g: int, n_t: int):
    sums = np.zeros((n_g, n_t))
    counts = np.zeros((n_g, n_t))
    np.add.at(sums, (group, time), y)
    np.add.at(counts, (group, time), 1.0)
    return sums / counts


def _two_by_two(
    means: np.ndarray, treat: int, ctrl: int, pre: np.ndarray, post: np.ndarray
) -> float:
    diff = means[treat] - means[ctrl]
    return float(diff[post].mean() - diff[pre].mean())


def bacon_decomposition(
    data: Any, *, outcome: str, treatment: str, unit: str, time: str
) -> BaconDecomposition:
    """Decompose the TWFE DiD coefficient into its 2x2 comparisons (Goodman-Bacon 2021).

    Parameters
    ----------
    data : DataFrame-like
        A balanced long panel.
    outcome, treatment, unit, time : str
        Columns; ``treatment`` is 0/1 and absorbing (never switches off).

    Returns
    -------
    BaconDecomposition
        ``table`` of comparisons, ``twfe`` (equal to ``TWFE().fit(...)``'s
        coefficient), ``forbidden_weight``, ``plot()`` and ``summary()``.

    Raises
    ------
    paribus.errors.DataError
        Unbalanced panel, treatment that switches off, or a single timing group.
    """
    panel = panel_from_frame(data, outcome=outcome, unit=unit, time=time, treatment=treatment)
    if not panel.balanced:
        raise DataError(
            "bacon_decomposition needs a balanced panel (every unit in every period); "
            f"found {panel.n_obs} rows for {panel.n_units} units x {panel.n_times} periods. "
            "Keep the units observed throughout."
        )
    if not panel.absorbing:
        raise DataError(
            f"treatment column {treatment!r} switches off within some units; the "
            "decomposition needs staggered adoption (absorbing treatment)."
        )
    T = panel.n_times
    # cohort index = first treated period code; T = never treated within the panel
    first_code = np.searchsorted(panel.times, panel.unit_cohort)
    cohorts, group_of_unit = np.unique(first_code, return_inverse=True)
    if cohorts.size < 2:
        raise DataError(
            "every unit has the same treatment timing, so the TWFE coefficient is not "
            "identified; the decomposition needs at least two timing groups."
        )
    n_share = np.bincount(group_of_unit) / panel.n_units
    d_bar = (T - cohorts) / T
    means = _cell_means(panel.y, group_of_unit[panel.unit_codes], panel.time_codes, cohorts.size, T)
    periods = np.arange(T)
    rows = []
    for k in range(cohorts.size):  # earlier (or always) treated group
        for m in range(k + 1, cohorts.size):  # later (or never) treated group
            a, b = cohorts[k], cohorts[m]
            nk, nl, dk, dl = n_share[k], n_share[m], d_bar[k], d_bar[m]
            nkl = nk / (nk + nl)
            if a > 0:  # k has periods before treatment: k treated, l not yet
                w = (
                    ((nk + nl) * (1 - dl)) ** 2
                    * nkl
                    * (1 - nkl)
                    * (dk - dl)
                    * (1 - dk)
                    / (1 - dl) ** 2
                )
                est = _two_by_two(means, k, m, periods < a, (periods >= a) & (periods < b))
                kind = "treated vs never treated" if b == T else "earlier vs later treated"
                rows.append((kind, k, m, est, w))
            if b < T:  # l treated within the panel, k already treated as control
                w = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * dl * (dk - dl) / dk**2
                est = _two_by_two(means, m, k, (periods >= a) & (periods < b), periods >= b)
                kind = "later vs earlier treated" if a > 0 else "treated vs always treated"
                rows.append((kind, m, k, est, w))
    return _assemble(rows, cohorts, panel.times)


def _assemble(rows: list[tuple], cohorts: np.ndarray, times: np.ndarray) -> BaconDecomposition:
    T = times.size

    def label(g: int) -> float:
        return float("inf") if cohorts[g] == T else float(times[cohorts[g]])

    table = pd.DataFrame(
        [
            {"type": kind, "treated": label(t), "control": label(c), "estimate": est, "weight": w}
            for kind, t, c, est, w in rows
        ]
    )
    table["weight"] = table["weight"] / table["weight"].sum()
    twfe = float(np.sum(table["weight"] * table["estimate"]))
    forbidden = float(table.loc[table["type"].isin(FORBIDDEN), "weight"].sum())
    return BaconDecomposition(table=table, twfe=twfe, forbidden_weight=forbidden)
