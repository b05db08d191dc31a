"""Turn any supported table into a pandas DataFrame (pandas, polars, pyarrow, numpy, files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paribus.errors import DataError

__all__ = ["SUPPORTED_INPUTS", "to_pandas"]

SUPPORTED_INPUTS = (
    "a pandas, polars or pyarrow table, a 2-D numpy array (with columns=...), "
    "a dict of equal-length columns, or a path to a .csv/.csv.gz/.parquet file"
)


def to_pandas(data: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Convert ``data`` to a pandas DataFrame without copying where the source allows."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        return _read_path(Path(data))
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        if hasattr(data, "collect"):  # LazyFrame
            data = data.collect()
        return pd.DataFrame({c: data.get_column(c).to_numpy() for c in data.columns})
    if module == "pyarrow":
        return data.to_pandas()
    if isinstance(data, np.ndarray):
        return _from_array(data, columns)
    if isinstance(data, Mapping):
        return _from_mapping(data)
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    raise DataError(
        f"data of type {type(data).__name__} is not supported; pass {SUPPORTED_INPUTS}."
    )


def _from_array(array: np.ndarray, columns: Sequence[str] | None) -> pd.DataFrame:
    if array.ndim != 2:
        raise DataError(
            f"a numpy array passed as data must be 2-D (rows x columns), got shape {array.shape}; "
            "use CausalData.from_arrays(treatment=..., outcome=..., covariates=...) "
            "for separate arrays."
        )
    if columns is None:
        columns = [f"x{j}" for j in range(array.shape[1])]
    if len(columns) != array.shape[1]:
        raise DataError(
            f"columns has {len(columns)} names but the array has {array.shape[1]} columns."
        )
    return pd.DataFrame(array, columns=list(columns))


def _from_mapping(mapping: Mapping[str, Any]) -> pd.DataFrame:
    lengths = {str(k): len(np.asarray(v)) if np.ndim(v) > 0 else 1 for k, v in mapping.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise DataError(
            f"columns have mismatched lengths ({detail}); every column needs one value per unit."
        )
    frame: dict[str, Any] = {}
    for key, value in mapping.items():
        arr = np.asarray(value)
        if arr.ndim == 2 and arr.shape[1] >= 1:
            for j in range(arr.shape[1]):
                frame[f"{key}{j}"] = arr[:, j]
        elif arr.ndim == 1:
            frame[str(key)] = arr
        else:
            raise DataError(
                f"column {key!r} must be 1-D (or 2-D for a block), got shape {arr.shape}."
            )
    return pd.DataFrame(frame)


def _read_path(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist.")
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".txt")):
        return pd.read_csv(path)
    if name.endswith((".parquet", ".pq")):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(f"reading {str(path)!r} needs pyarrow: pip install pyarrow") from exc
    raise DataError(f"cannot read {str(path)!r}: expected a .csv, .csv.gz or .parquet file.")
