"""Event-study plot: coefficients and confidence intervals by relative time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paribus.errors import DataError
from paribus.results import EffectTable

__all__ = ["event_study_plot"]

_COLUMNS = ("rel_time", "estimate", "ci_lower", "ci_upper")


def _as_frame(table: EffectTable | pd.DataFrame) -> pd.DataFrame:
    if isinstance(table, EffectTable):
        try:
            # "-2", or prefixed as the staggered estimators label them: "e=-2", "h=3"
            rel = [float(label.rsplit("=", 1)[-1]) for label in table.labels]
        except ValueError:
            raise DataError(
                "event_study_plot needs an EffectTable labelled by relative time "
                f"(e.g. '-2', 'e=0', 'h=3'); found labels {list(table.labels)[:5]}."
            ) from None
        return pd.DataFrame(
            {
                "rel_time": rel,
                "estimate": [e.estimate for e in table],
                "ci_lower": [e.ci_lower for e in table],
                "ci_upper": [e.ci_upper for e in table],
            }
        )
    if isinstance(table, pd.DataFrame):
        missing = [c for c in _COLUMNS if c not in table.columns]
        if missing:
            raise DataError(
                f"event_study_plot: the DataFrame lacks columns {missing}; it needs "
                f"{list(_COLUMNS)}."
            )
        return table.loc[:, list(_COLUMNS)].astype(float)
    raise DataError(
        "event_study_plot takes an EffectTable labelled by relative time or a DataFrame "
        f"with columns {list(_COLUMNS)}; got {type(table).__name__}."
    )


def event_study_plot(
    table: EffectTable | pd.DataFrame, ax: Any = None, *, reference: float | None = -1
) -> Any:
    """Plot event-study coefficients with their intervals against relative time.

    Parameters
    ----------
    table : EffectTable or DataFrame
        E.g. ``TWFE(event_study=True).fit(...).event_study_`` or a dynamic
        aggregation of a staggered estimator; a DataFrame needs the columns
        ``rel_time, estimate, ci_lower, ci_upper``.
    ax : matplotlib Axes, optional
    reference : float or None, default -1
        Omitted reference period, drawn as a hollow point at zero when absent from
        ``table`` (``None`` draws none).

    Returns
    -------
    matplotlib Axes
        With a horizontal line at zero and a vertical line at -0.5 (treatment onset).
    """
    import matplotlib.pyplot as plt

    frame = _as_frame(table).sort_values("rel_time")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    rel = frame["rel_time"].to_numpy()
    est = frame["estimate"].to_numpy()
    err = np.vstack([est - frame["ci_lower"].to_numpy(), frame["ci_upper"].to_numpy() - est])
    pre = rel < 0
    ax.errorbar(rel[pre], est[pre], yerr=err[:, pre], fmt="o", color="C0", capsize=3, label="pre")
    ax.errorbar(
        rel[~pre], est[~pre], yerr=err[:, ~pre], fmt="o", color="C1", capsize=3, label="post"
    )
    if reference is not None and reference not in set(rel.tolist()):
        ax.plot([reference], [0.0], marker="o", mfc="white", color="C0", linestyle="none")
    ax.axhline(0.0, color="black", linewidth=1)
    ax.axvline(-0.5, color="grey", linewidth=1, linestyle="--")
    ax.set_xlabel("periods relative to treatment")
    ax.set_ylabel("estimate")
    ax.legend(frameon=False, fontsize="small")
    return ax
