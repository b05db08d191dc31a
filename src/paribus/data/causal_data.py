"""CausalData: a table plus the role each column plays, validated once at the boundary."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paribus.data.convert import to_pandas
from paribus.errors import DataError, DataWarning

__all__ = ["CausalData"]

_NUMERIC_ROLES = ("treatment", "outcome", "covariates", "instruments", "weights")
_LABEL_ROLES = ("unit", "time", "cluster")
_ROLES = ("treatment", "outcome", "covariates", "instruments", "unit", "time", "weights", "cluster")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _preview(rows: np.ndarray) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (", ..." if len(rows) > 5 else "")


class CausalData:
    """A validated table with declared roles: treatment, outcome, covariates, and more.

    Parameters
    ----------
    data : table or path
        A pandas, polars or pyarrow table, a 2-D numpy array (name its columns with
        ``columns``), a dict of columns, or a path to a CSV or Parquet file.
    treatment, outcome : str, optional
        Column names.
    covariates, instruments : str or list of str, optional
        Columns to adjust for / excluded instruments.
    unit, time, cluster : str, optional
        Panel unit, time period and cluster labels (any type; encoded as integers).
    weights : str, optional
        Non-negative sampling weights.
    binary_treatment : bool, default True
        Require a 0/1 treatment (booleans are accepted and cast).
    dropna : bool, default False
        Drop rows with a missing value in any role instead of refusing them
        (a :class:`~paribus.errors.DataWarning` says how many).
    allow_missing_covariates : bool, default False
        Keep NaN in covariates, for models that handle them natively
        (e.g. scikit-learn's HistGradientBoosting). Estimators set this for you.
    columns : list of str, optional
        Column names when ``data`` is a numpy array.

    Raises
    ------
    paribus.errors.DataError
        For a missing column (with close matches), a column given two roles, a
        non-numeric column, missing or infinite values, a constant or non-binary
        treatment, negative weights, or an empty table.
    """

    def __init__(
        self,
        data: Any,
        *,
        treatment: str | None = None,
        outcome: str | None = None,
        covariates: str | Sequence[str] | None = None,
        instruments: str | Sequence[str] | None = None,
        unit: str | None = None,
        time: str | None = None,
        weights: str | None = None,
        cluster: str | None = None,
        binary_treatment: bool = True,
        dropna: bool = False,
        allow_missing_covariates: bool = False,
        columns: Sequence[str] | None = None,
    ) -> None:
        if isinstance(data, CausalData):
            data = data.frame
        frame = to_pandas(data, columns)
        roles: dict[str, list[str]] = {
            "treatment": _as_list(treatment),
            "outcome": _as_list(outcome),
            "covariates": _as_list(covariates),
            "instruments": _as_list(instruments),
            "unit": _as_list(unit),
            "time": _as_list(time),
            "weights": _as_list(weights),
            "cluster": _as_list(cluster),
        }
        for role in ("treatment", "outcome", "unit", "time", "weights", "cluster"):
            if len(roles[role]) > 1:
                raise DataError(f"{role} must name one column, got {roles[role]}.")
        self._roles = roles
        self._binary = binary_treatment
        self._frame = self._validate(frame, dropna, allow_missing_covariates)

    @classmethod
    def from_arrays(
        cls,
        *,
        treatment: Any = None,
        outcome: Any = None,
        covariates: Any = None,
        covariate_names: Sequence[str] | None = None,
        **options: Any,
    ) -> CausalData:
        """Build from separate arrays (``covariates`` 2-D); lengths must agree."""
        parts: dict[str, np.ndarray] = {}
        if treatment is not None:
            parts["treatment"] = np.asarray(treatment)
        if outcome is not None:
            parts["outcome"] = np.asarray(outcome)
        names: list[str] = []
        if covariates is not None:
            cov = np.asarray(covariates)
            if cov.ndim == 1:
                cov = cov[:, None]
            names = (
                list(covariate_names)
                if covariate_names is not None
                else [f"x{j}" for j in range(cov.shape[1])]
            )
            if len(names) != cov.shape[1]:
                raise DataError(
                    f"covariate_names has {len(names)} names for {cov.shape[1]} columns."
                )
        lengths = {k: len(v) for k, v in parts.items()}
        if covariates is not None:
            lengths["covariates"] = cov.shape[0]
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k} has {n} rows" for k, n in lengths.items())
            raise DataError(f"arrays have mismatched lengths: {detail}; pass one row per unit.")
        frame = pd.DataFrame(parts)
        if covariates is not None:
            frame = pd.concat([frame, pd.DataFrame(cov, columns=names)], axis=1)
        return cls(
            frame,
            treatment="treatment" if treatment is not None else None,
            outcome="outcome" if outcome is not None else None,
            covariates=names or None,
            **options,
        )

    # -- validation -------------------------------------------------------------------------

    def _validate(self, frame: pd.DataFrame, dropna: bool, allow_missing_cov: bool) -> pd.DataFrame:
        if frame.shape[0] == 0:
            raise DataError("data has no rows.")
        self._check_names(frame)
        used = [c for role in _ROLES for c in self._roles[role]]
        out = frame.loc[:, used].copy()
        out.columns = pd.Index(used)
        for role in _NUMERIC_ROLES:
            for col in self._roles[role]:
                out[col] = self._numeric(out[col], role)
        out = self._handle_missing(out, dropna, allow_missing_cov)
        for role in _NUMERIC_ROLES:
            for col in self._roles[role]:
                values = out[col].to_numpy()
                bad = np.isinf(values)
                if bad.any():
                    raise DataError(
                        f"{role} column {col!r} has {int(bad.sum())} infinite values "
                        f"(rows {_preview(np.flatnonzero(bad))}); replace or drop them."
                    )
        for role in _LABEL_ROLES:
            for col in self._roles[role]:
                if role == "time" and pd.api.types.is_numeric_dtype(out[col]):
                    continue
                out[col] = pd.factorize(out[col])[0]
        if self._roles["treatment"]:
            out[self.treatment] = self._check_treatment(out[self.treatment])
        if self._roles["weights"]:
            w = out[self._roles["weights"][0]].to_numpy()
            if (w < 0).any() or w.sum() <= 0:
                raise DataError(
                    f"weights column {self._roles['weights'][0]!r} must be "
                    "non-negative with a positive sum."
                )
        return out.reset_index(drop=True)

    def _check_names(self, frame: pd.DataFrame) -> None:
        available = [str(c) for c in frame.columns]
        seen: dict[str, str] = {}
        for role in _ROLES:
            for col in self._roles[role]:
                if col not in frame.columns:
                    close = difflib.get_close_matches(col, available, n=3)
                    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                    listed = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
                    raise DataError(
                        f"{role} column {col!r} is not in the data.{hint} "
                        f"Available columns: {listed}."
                    )
                if col in seen:
                    where = (
                        f"twice in {role}"
                        if seen[col] == role
                        else f"as both {seen[col]} and {role}"
                    )
                    raise DataError(f"column {col!r} is given {where}; each column plays one role.")
                seen[col] = role

    @staticmethod
    def _numeric(series: pd.Series, role: str) -> pd.Series:
        if pd.api.types.is_bool_dtype(series):
            return series.astype(float)
        if pd.api.types.is_numeric_dtype(series) and not isinstance(
            series.dtype, pd.CategoricalDtype
        ):
            return series.astype(float)
        raise DataError(
            f"{role} column {series.name!r} is not numeric (dtype {series.dtype}); "
            "encode it first, "
            f"e.g. pd.get_dummies(df, columns=[{series.name!r}], drop_first=True, dtype=float)."
        )

    def _handle_missing(
        self, out: pd.DataFrame, dropna: bool, allow_missing_cov: bool
    ) -> pd.DataFrame:
        covs = set(self._roles["covariates"])
        strict = [c for c in out.columns if c not in covs or not allow_missing_cov]
        missing = out[strict].isna()
        if not missing.to_numpy().any():
            return out
        if not dropna:
            col = missing.any().idxmax()
            rows = np.flatnonzero(missing[col].to_numpy())
            role = next(r for r in _ROLES if col in self._roles[r])
            remedy = "drop or impute them, or pass dropna=True to drop these rows"
            if role == "covariates":
                remedy += (
                    ", or use models that handle missing values natively "
                    "(e.g. HistGradientBoostingRegressor/Classifier)"
                )
            raise DataError(
                f"{role} column {col!r} has {len(rows)} missing values "
                f"(rows {_preview(rows)}); {remedy}."
            )
        keep = ~missing.any(axis=1).to_numpy()
        warnings.warn(
            f"dropped {int((~keep).sum())} of {len(keep)} rows with missing values (dropna=True).",
            DataWarning,
            stacklevel=4,
        )
        if not keep.any():
            raise DataError("every row has a missing value; nothing is left to analyse.")
        return out.loc[keep]

    def _check_treatment(self, t: pd.Series) -> pd.Series:
        values = np.unique(t.to_numpy())
        name = t.name
        if len(values) < 2:
            raise DataError(
                f"treatment column {name!r} is constant ({values[0]:g}); an effect needs "
                "both treated and untreated units."
            )
        if not self._binary:
            return t
        if len(values) == 2 and set(values) <= {0.0, 1.0}:
            return t
        if len(values) == 2:
            raise DataError(
                f"treatment column {name!r} takes values {values.tolist()}, not 0/1; "
                f"recode it, e.g. (df[{name!r}] == {values[1]:g}).astype(int)."
            )
        raise DataError(
            f"treatment column {name!r} has {len(values)} distinct values but this "
            "method needs a binary 0/1 treatment; dichotomise it or use a method for "
            "continuous treatments."
        )

    # -- accessors --------------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        """The validated role columns (a copy)."""
        return self._frame.copy()

    @property
    def roles(self) -> dict[str, list[str]]:
        """Column names by role."""
        return {k: list(v) for k, v in self._roles.items()}

    @property
    def n_obs(self) -> int:
        return int(self._frame.shape[0])

    def _one(self, role: str) -> str:
        if not self._roles[role]:
            raise DataError(f"no {role} column was declared; pass {role}='column name'.")
        return self._roles[role][0]

    @property
    def treatment(self) -> str:
        return self._one("treatment")

    @property
    def outcome(self) -> str:
        return self._one("outcome")

    @property
    def covariates(self) -> list[str]:
        return list(self._roles["covariates"])

    def column(self, role: str) -> np.ndarray | None:
        """The float (or integer-coded) array of a one-column role, or None if undeclared."""
        cols = self._roles[role]
        return self._frame[cols[0]].to_numpy() if cols else None

    @property
    def t(self) -> np.ndarray:
        """Treatment as float64 (0/1 when binary)."""
        return self._frame[self.treatment].to_numpy(dtype=float)

    @property
    def y(self) -> np.ndarray:
        """Outcome as float64."""
        return self._frame[self.outcome].to_numpy(dtype=float)

    @property
    def X(self) -> np.ndarray:
        """Covariates as a float64 array of shape (n, p); (n, 0) when there are none."""
        cols = self._roles["covariates"]
        if not cols:
            return np.empty((self.n_obs, 0))
        return self._frame[cols].to_numpy(dtype=float)

    @property
    def Z(self) -> np.ndarray:
        """Instruments as a float64 array of shape (n, k)."""
        return self._frame[self._roles["instruments"]].to_numpy(dtype=float).reshape(self.n_obs, -1)

    def require(self, *roles: str) -> None:
        """Raise DataError unless every named role was declared."""
        for role in roles:
            if not self._roles[role]:
                raise DataError(f"this analysis needs a {role} column; pass {role}=...")

    def require_arms(self, minimum: int, why: str) -> None:
        """Raise DataError unless each arm of a binary treatment has ``minimum`` units."""
        t = self.t
        n1 = int((t == 1).sum())
        n0 = t.size - n1
        if min(n1, n0) < minimum:
            raise DataError(
                f"{why} needs at least {minimum} treated and {minimum} control units; "
                f"found {n1} treated and {n0} control."
            )

    def __repr__(self) -> str:
        roles = ", ".join(f"{k}={v if len(v) > 1 else v[0]!r}" for k, v in self._roles.items() if v)
        return f"CausalData(n_obs={self.n_obs}, {roles})"
