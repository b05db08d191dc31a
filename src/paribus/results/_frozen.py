"""Read-only, JSON-safe containers for result diagnostics."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np


class FrozenMapping(Mapping[str, Any]):
    """An immutable mapping whose values are JSON-safe (nested mappings frozen too)."""

    __slots__ = ("_data",)
    _data: dict[str, Any]

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(
            self, "_data", {str(k): to_json_safe(v) for k, v in (data or {}).items()}
        )

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenMapping is immutable")

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # rebuilt through __init__: pickling's default attribute restore would hit
        # __setattr__; results and fitted estimators travel to parallel workers
        return (FrozenMapping, (dict(self._data),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return to_plain(self) == to_plain(other)

    __hash__ = None  # type: ignore[assignment]


def to_json_safe(value: Any) -> Any:
    """Convert numpy scalars/arrays and nested containers to frozen JSON-safe values."""
    if isinstance(value, FrozenMapping):
        return value
    if isinstance(value, Mapping):
        return FrozenMapping(value)
    if isinstance(value, np.ndarray):
        return tuple(to_json_safe(v) for v in value.tolist())
    if isinstance(value, (list, tuple)):
        return tuple(to_json_safe(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"diagnostic value of type {type(value).__name__} is not JSON-safe")


def to_plain(value: Any) -> Any:
    """Turn frozen containers back into dicts and lists; NaN and inf become None."""
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
