"""Difference in means between two arms, the building block of every A/B comparison.

Three variance choices for ``mean(y_t) - mean(y_c)``:

- ``"welch"``: ``s_t^2/n_t + s_c^2/n_c`` with Welch–Satterthwaite degrees of freedom
  (Welch 1947), the default, equal to ``scipy.stats.ttest_ind(equal_var=False)``;
- ``"neyman"``: the same conservative variance (Neyman 1923) with normal inference,
  the randomisation-based choice for large experiments;
- ``"pooled"``: Student's pooled variance with ``n_t + n_c - 2`` degrees of freedom.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from scipy import stats

from paribus.errors import DataError, ParameterError
from paribus.results import Effect

__all__ = ["MeanContrast", "mean_contrast", "t_effect"]

Variance = Literal["welch", "neyman", "pooled"]


@dataclasses.dataclass(frozen=True)
class MeanContrast:
    """Means of two arms, their difference, its standard error and degrees of freedom.

    ``df`` is ``inf`` for normal (Neyman) inference.
    """

    mean_treated: float
    mean_control: float
    var_treated: float
    var_control: float
    n_treated: int
    n_control: int
    estimate: float
    std_error: float
    df: float

    def effect(
        self,
        *,
        level: float = 0.95,
        method: str = "difference-in-means",
        estimand: str = "ATE",
        diagnostics: Mapping[str, Any] | None = None,
    ) -> Effect:
        """This contrast as an :class:`~paribus.results.Effect` (t or normal interval)."""
        diag = {
            "mean_treated": self.mean_treated,
            "mean_control": self.mean_control,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "df": self.df,
        }
        diag.update(diagnostics or {})
        return t_effect(
            estimate=self.estimate,
            std_error=self.std_error,
            df=self.df,
            level=level,
            n_obs=self.n_treated + self.n_control,
            method=method,
            estimand=estimand,
            diagnostics=diag,
        )


def t_effect(
    *,
    estimate: float,
    std_error: float,
    df: float,
    level: float,
    n_obs: int,
    method: str,
    estimand: str = "ATE",
    inference: str | None = None,
    diagnostics: Mapping[str, Any] | None = None,
) -> Effect:
    """An Effect with a Student-t interval and p-value (normal when ``df`` is infinite)."""
    dist = stats.norm if not math.isfinite(df) else stats.t(df)
    if math.isfinite(std_error) and std_error > 0:
        q = float(dist.ppf(0.5 + level / 2))
        lo, hi = estimate - q * std_error, estimate + q * std_error
        p = float(2 * dist.sf(abs(estimate / std_error)))
    else:
        lo = hi = p = math.nan
    return Effect(
        estimand=estimand,
        estimate=estimate,
        std_error=std_error,
        ci_lower=lo,
        ci_upper=hi,
        level=level,
        p_value=p,
        n_obs=n_obs,
        method=method,
        inference=inference or ("normal" if not math.isfinite(df) else "t"),
        diagnostics=dict(diagnostics or {}),
    )


def mean_contrast(
    y_treated: np.ndarray, y_control: np.ndarray, *, variance: Variance = "welch"
) -> MeanContrast:
    """``mean(y_treated) - mean(y_control)`` with the chosen variance (module docstring)."""
    yt = np.asarray(y_treated, dtype=float)
    yc = np.asarray(y_control, dtype=float)
    if variance not in ("welch", "neyman", "pooled"):
        raise ParameterError(f"variance must be 'welch', 'neyman' or 'pooled', got {variance!r}")
    nt, nc = yt.size, yc.size
    if nt < 2 or nc < 2:
        raise DataError(
            f"each arm needs at least 2 units to estimate a variance; got {nt} treated and "
            f"{nc} control. Collect more data or merge arms."
        )
    if not (np.isfinite(yt).all() and np.isfinite(yc).all()):
        raise DataError("the outcome has missing or infinite values; drop or impute them first")
    mt, mc = float(yt.mean()), float(yc.mean())
    vt, vc = float(yt.var(ddof=1)), float(yc.var(ddof=1))
    at, ac = vt / nt, vc / nc
    if variance == "pooled":
        sp = ((nt - 1) * vt + (nc - 1) * vc) / (nt + nc - 2)
        se2 = sp * (1 / nt + 1 / nc)
        df = float(nt + nc - 2)
    else:
        se2 = at + ac
        if variance == "neyman":
            df = math.inf
        else:
            denom = at**2 / (nt - 1) + ac**2 / (nc - 1)
            df = se2**2 / denom if denom > 0 else math.inf
    return MeanContrast(
        mean_treated=mt,
        mean_control=mc,
        var_treated=vt,
        var_control=vc,
        n_treated=nt,
        n_control=nc,
        estimate=mt - mc,
        std_error=math.sqrt(se2),
        df=df,
    )
