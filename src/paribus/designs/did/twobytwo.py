"""The canonical two-group, two-period difference in differences.

Without covariates the ATT is the difference of four means,
``(ybar_{1,post} - ybar_{1,pre}) - (ybar_{0,post} - ybar_{0,pre})``, computed as the
interaction coefficient of ``y ~ 1 + D + P + D*P`` so that its standard error is the
regression's (HC1, or CR1 cluster-robust by ``clusters`` or, for panels, by ``unit``).
With covariates, the ATT under conditional parallel trends is estimated by outcome
regression, normalised IPW (Abadie 2005) or the doubly robust estimator of Sant'Anna
& Zhao (2020), for panel data (``unit=`` given: the outcome change of each unit) or
repeated cross-sections (see :mod:`paribus.designs.did.drdid`); ``estimator="twfe"``
adds the covariates linearly to the regression above.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from paribus._core.inference import if_std_error
from paribus._core.ols import ols
from paribus._core.params import Interval, Options, validate_params
from paribus.data.convert import to_pandas
from paribus.designs.did._panel import as_column_list
from paribus.designs.did.drdid import DRDiDFit, drdid_panel, drdid_rc
from paribus.errors import DataError, NotFittedError, ParameterError
from paribus.results import Effect

__all__ = ["DiD"]


def _binary(frame: pd.DataFrame, column: str, role: str) -> np.ndarray:
    series = frame[column]
    values = series.to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(series) else None
    if values is None or not np.all((values == 0) | (values == 1)):
        found = pd.unique(series)[:5].tolist()
        raise DataError(
            f"{role} column {column!r} must be 0/1; found values {found}. Recode it, e.g. "
            f"(df[{column!r}] == <treated value>).astype(int)."
        )
    if np.all(values == values[0]):
        raise DataError(
            f"{role} column {column!r} is constant ({values[0]:g}); a 2x2 DiD needs both "
            "groups and both periods."
        )
    return values


def _period(frame: pd.DataFrame, post: str | None, time: str | None) -> np.ndarray:
    if (post is None) == (time is None):
        raise ParameterError(
            "DiD.fit: pass exactly one of post= (a 0/1 after-period column) or time= (a "
            f"column with two periods); got post={post!r}, time={time!r}."
        )
    if post is not None:
        return _binary(frame, post, "post")
    assert time is not None
    values = np.unique(frame[time].to_numpy())
    if values.size != 2:
        raise DataError(
            f"time column {time!r} must hold exactly two periods for a 2x2 DiD; found "
            f"{values.size} ({values[:5].tolist()}). Use TWFE or a staggered estimator."
        )
    return (frame[time].to_numpy() == values[1]).astype(float)


class DiD(BaseEstimator):
    """Two-group, two-period difference in differences for the ATT.

    Parameters
    ----------
    estimator : {"dr", "ipw", "or", "twfe"}, default "dr"
        With covariates: Sant'Anna & Zhao (2020) doubly robust, normalised IPW
        (Abadie 2005), outcome regression, or the regression with covariates added
        linearly. Without covariates all give the difference of four means.
    level : float, default 0.95

    Attributes
    ----------
    result_ : Effect
        The ATT; ``diagnostics`` holds the four cell means (without covariates), group
        sizes and whether the data were used as a panel. ``scores`` are influence
        values per row (repeated cross-sections) or per unit (panel).

    References
    ----------
    Card, D. & Krueger, A. (1994). Minimum wages and employment. *AER* 84(4).
    Abadie, A. (2005). Semiparametric difference-in-differences estimators. *REStud* 72(1).
    Sant'Anna, P. & Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. *J. Econometrics* 219(1), 101-122.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "estimator": [Options(("dr", "ipw", "or", "twfe"))],
        "level": [Interval(0, 1, closed="neither")],
    }

    def __init__(self, estimator: str = "dr", *, level: float = 0.95) -> None:
        self.estimator = estimator
        self.level = level

    def fit(
        self,
        data: Any,
        *,
        outcome: str,
        treatment: str,
        post: str | None = None,
        time: str | None = None,
        unit: str | None = None,
        covariates: str | Sequence[str] | None = None,
        clusters: str | None = None,
    ) -> DiD:
        """Estimate the ATT; ``treatment`` is the 0/1 group (treated in the post period).

        Give the period as ``post`` (0/1) or ``time`` (two values, the later is post).
        ``unit`` marks panel data (each unit observed in both periods). Returns ``self``.
        """
        validate_params(
            type(self).__name__, self.get_params(deep=False), self._parameter_constraints
        )
        frame = to_pandas(data)
        covs = as_column_list(covariates)
        used = [outcome, treatment, post, time, unit, clusters, *covs]
        used = [c for c in used if c is not None]
        missing = [c for c in used if c not in frame.columns]
        if missing:
            raise DataError(
                f"column(s) {missing} not found in the data; check the names passed to fit()."
            )
        nulls = {
            c: int(frame[c].isna().sum()) for c in dict.fromkeys(used) if frame[c].isna().any()
        }
        if nulls:
            raise DataError(
                f"missing values in {nulls} (column: rows); drop or impute those rows first."
            )
        y = frame[outcome].to_numpy(dtype=float)
        d = _binary(frame, treatment, "treatment")
        p = _period(frame, post, time)
        X = frame[covs].to_numpy(dtype=float) if covs else None
        if not covs or self.estimator == "twfe":
            self.result_ = self._regression(frame, y, d, p, X, unit, clusters)
        elif unit is not None:
            self.result_ = self._panel(frame, y, d, p, X, unit, clusters)
        else:
            cl = None if clusters is None else frame[clusters].to_numpy()
            fit = drdid_rc(y, d, p, X, estimator=self.estimator)
            self.result_ = self._effect(fit, cl, {"panel": False}, len(y))
        return self

    def _regression(
        self,
        frame: pd.DataFrame,
        y: np.ndarray,
        d: np.ndarray,
        p: np.ndarray,
        X: np.ndarray | None,
        unit: str | None,
        clusters: str | None,
    ) -> Effect:
        cols = [np.ones_like(y), d, p, d * p]
        names = ["const", "treated", "post", "treated:post"]
        if X is not None:
            cols += list(X.T)
            names += [f"x{j}" for j in range(X.shape[1])]
        cl_col = clusters if clusters is not None else unit
        cl = None if cl_col is None else frame[cl_col].to_numpy()
        fit = ols(
            np.column_stack(cols), y, cov_type="HC1" if cl is None else "cluster", names=names
        )
        phi = fit.influence[:, 3]
        means = {
            f"mean_{g}_{t}": float(y[(d == gv) & (p == tv)].mean())
            for g, gv in (("treated", 1), ("control", 0))
            for t, tv in (("pre", 0), ("post", 1))
        }
        diagnostics: dict[str, Any] = {
            "panel": unit is not None,
            "n_treated": int(np.sum(d)),
            "n_control": int(np.sum(1 - d)),
            "vcov": "HC1" if cl is None else "CR1",
        }
        if X is None:
            diagnostics.update(means)
        return Effect.from_normal(
            estimand="ATT",
            estimate=float(fit.coef[3]),
            std_error=if_std_error(phi, cl),
            level=float(self.level),
            n_obs=y.size,
            method="did-2x2" if X is None else "did-twfe",
            inference="cluster-robust" if cl is not None else "heteroskedasticity-robust",
            diagnostics=diagnostics,
            scores=phi,
        )

    def _panel(
        self,
        frame: pd.DataFrame,
        y: np.ndarray,
        d: np.ndarray,
        p: np.ndarray,
        X: np.ndarray | None,
        unit: str,
        clusters: str | None,
    ) -> Effect:
        codes = np.unique(frame[unit].to_numpy(), return_inverse=True)[1]
        n_units = int(codes.max()) + 1
        counts = np.zeros((n_units, 2))
        np.add.at(counts, (codes, p.astype(int)), 1.0)
        if not np.all(counts == 1):
            bad = int(np.sum(np.any(counts != 1, axis=1)))
            raise DataError(
                f"panel DiD needs each {unit!r} observed exactly once in each period; {bad} "
                "units are not. Drop them, or omit unit= to treat the data as repeated "
                "cross-sections."
            )
        pre, postrow = np.empty(n_units, int), np.empty(n_units, int)
        pre[codes[p == 0]] = np.flatnonzero(p == 0)
        postrow[codes[p == 1]] = np.flatnonzero(p == 1)
        if not np.array_equal(d[pre], d[postrow]):
            raise DataError(
                f"the treatment group changes within a unit; {unit!r} must belong to one group."
            )
        cl = None
        if clusters is not None:
            cl = frame[clusters].to_numpy()[pre]
        assert X is not None
        fit = drdid_panel(y[postrow] - y[pre], d[pre], X[pre], estimator=self.estimator)
        return self._effect(fit, cl, {"panel": True}, n_units)

    def _effect(
        self, fit: DRDiDFit, cl: np.ndarray | None, diagnostics: dict[str, Any], n: int
    ) -> Effect:
        return Effect.from_normal(
            estimand="ATT",
            estimate=fit.att,
            std_error=if_std_error(fit.influence, cl),
            level=float(self.level),
            n_obs=n,
            method=f"did-{self.estimator}",
            inference="influence-function",
            diagnostics={**diagnostics, **fit.diagnostics},
            scores=fit.influence,
        )

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(...) before using {name}."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def summary(self) -> Any:
        """Summary of ``result_``."""
        return self.result_.summary()
