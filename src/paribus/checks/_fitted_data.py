"""The outcome and treatment columns a fitted estimator was fitted on (estimators keep no data)."""

from __future__ import annotations

from typing import Any

import numpy as np

from paribus.data.causal_data import CausalData
from paribus.errors import DataError, ParameterError

__all__ = ["outcome_and_treatment"]


def outcome_and_treatment(
    data: Any, treatment: str | None, outcome: str | None, n: int, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(y, t)`` as float arrays from the data the estimator was fitted on, rows as fitted."""
    if data is None:
        raise ParameterError(
            f"{caller}: the estimator keeps no data; pass data= (the table it was fitted on, "
            "without rows dropped) with treatment= and outcome= column names, or the CausalData."
        )
    if isinstance(data, CausalData):
        y, t = data.y, data.t
    else:
        if treatment is None or outcome is None:
            raise ParameterError(
                f"{caller}: with a table as data=, name its treatment= and outcome= columns."
            )
        from paribus.data.convert import to_pandas

        frame = to_pandas(data)
        missing = [c for c in (treatment, outcome) if c not in frame.columns]
        if missing:
            raise DataError(f"{caller}: column(s) {missing} not found in data.")
        y = frame[outcome].to_numpy(dtype=float)
        t = frame[treatment].to_numpy(dtype=float)
    if y.shape[0] != n:
        raise DataError(
            f"{caller}: data has {y.shape[0]} rows but the estimator was fitted on {n}; pass "
            "the data exactly as fitted (after any dropna)."
        )
    return y, t
