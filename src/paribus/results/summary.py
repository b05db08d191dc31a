"""Readable tables of results: plain text, HTML and DataFrame."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from paribus.results.effect import Effect

__all__ = ["Summary"]

_COLUMNS = (
    "estimand",
    "method",
    "estimate",
    "std_error",
    "ci_lower",
    "ci_upper",
    "p_value",
    "n_obs",
)


def _decimals(std_error: float) -> int:
    """Enough decimals to show the standard error to about three significant digits."""
    if not math.isfinite(std_error) or std_error <= 0:
        return 4
    return int(min(6, max(0, 2 - math.floor(math.log10(std_error)))))


def _fmt(x: float, decimals: int) -> str:
    if math.isnan(x):
        return "nan"
    if x != 0 and (abs(x) >= 1e9 or abs(x) < 10.0**-decimals / 2):
        return f"{x:.3g}"
    return f"{x:,.{decimals}f}"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "nan"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


class Summary:
    """A table of one or more effects, rendered as text (``str``), HTML or a DataFrame.

    Parameters
    ----------
    effects : sequence of Effect
    labels : sequence of str, optional
        Row labels (e.g. segment or method names); defaults to the methods.
    title : str, optional
    """

    def __init__(
        self,
        effects: Sequence[Effect],
        labels: Sequence[str] | None = None,
        title: str | None = None,
    ) -> None:
        self.effects = tuple(effects)
        self.labels = tuple(labels) if labels is not None else None
        self.title = title

    def to_frame(self) -> pd.DataFrame:
        """One row per effect, the columns of :class:`Effect` less scores and diagnostics."""
        rows = [
            {c: getattr(e, c) for c in _COLUMNS} | {"level": e.level, "inference": e.inference}
            for e in self.effects
        ]
        frame = pd.DataFrame(rows)
        if self.labels is not None:
            frame.index = pd.Index(self.labels, name="label")
        return frame

    def _rows(self) -> list[list[str]]:
        rows = []
        for i, e in enumerate(self.effects):
            label = self.labels[i] if self.labels is not None else e.method
            pct = f"{100 * e.level:g}%"
            d = _decimals(e.std_error)
            rows.append(
                [
                    label,
                    e.estimand,
                    _fmt(e.estimate, d),
                    _fmt(e.std_error, d),
                    f"[{_fmt(e.ci_lower, d)}, {_fmt(e.ci_upper, d)}] {pct}",
                    _fmt_p(e.p_value),
                    f"{e.n_obs:,}",
                    e.inference,
                ]
            )
        return rows

    _HEADER = ("", "estimand", "estimate", "std.err", "interval", "p", "n", "inference")

    def __str__(self) -> str:
        rows = [list(self._HEADER), *self._rows()]
        widths = [max(len(r[j]) for r in rows) for j in range(len(self._HEADER))]
        lines = []
        for k, r in enumerate(rows):
            cells = [r[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
            if k == 0:
                lines.append("-" * len(lines[0]))
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(lines)

    __repr__ = __str__

    def to_html(self) -> str:
        """An HTML table (used by notebooks and the report)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
            for r in self._rows()
        )
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (
            f'<table class="paribus-summary">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()
