"""Several effects from one analysis: :class:`EffectTable`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

import pandas as pd

from paribus.results.effect import Effect
from paribus.results.summary import Summary

__all__ = ["EffectTable"]


class EffectTable(Sequence[Effect]):
    """An immutable, labelled sequence of :class:`Effect` (event studies, segments, methods).

    Index by position (``table[0]``) or by label (``table["aipw"]``).
    """

    __slots__ = ("_effects", "_labels", "_title")
    _effects: tuple[Effect, ...]
    _labels: tuple[str, ...]
    _title: str | None

    def __init__(
        self, effects: Sequence[Effect], labels: Sequence[str], title: str | None = None
    ) -> None:
        effects, labels = tuple(effects), tuple(str(lbl) for lbl in labels)
        if len(effects) != len(labels):
            raise ValueError(f"{len(effects)} effects but {len(labels)} labels")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be unique, got {list(labels)}")
        if not all(isinstance(e, Effect) for e in effects):
            raise TypeError("EffectTable holds Effect objects only")
        object.__setattr__(self, "_effects", effects)
        object.__setattr__(self, "_labels", labels)
        object.__setattr__(self, "_title", title)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("EffectTable is immutable")

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def title(self) -> str | None:
        return self._title

    @overload
    def __getitem__(self, key: int | str) -> Effect: ...
    @overload
    def __getitem__(self, key: slice) -> EffectTable: ...

    def __getitem__(self, key: int | str | slice) -> Effect | EffectTable:
        if isinstance(key, str):
            try:
                return self._effects[self._labels.index(key)]
            except ValueError:
                raise KeyError(
                    f"no effect labelled {key!r}; labels are {list(self._labels)}"
                ) from None
        if isinstance(key, slice):
            return EffectTable(self._effects[key], self._labels[key], self._title)
        return self._effects[key]

    def __len__(self) -> int:
        return len(self._effects)

    def __iter__(self) -> Iterator[Effect]:
        return iter(self._effects)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EffectTable):
            return NotImplemented
        return self._labels == other._labels and self._effects == other._effects

    __hash__ = None  # type: ignore[assignment]

    def summary(self) -> Summary:
        return Summary(self._effects, self._labels, self._title)

    def to_frame(self) -> pd.DataFrame:
        return self.summary().to_frame()

    def __str__(self) -> str:
        return str(self.summary())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.summary().to_html()

    def to_dict(self, *, include_scores: bool = True) -> dict[str, Any]:
        return {
            "title": self._title,
            "labels": list(self._labels),
            "effects": [e.to_dict(include_scores=include_scores) for e in self._effects],
        }

    def to_json(self, *, include_scores: bool = True, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(include_scores=include_scores), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EffectTable:
        return cls(
            [Effect.from_dict(e) for e in data["effects"]], data["labels"], data.get("title")
        )
