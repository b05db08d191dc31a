"""A minimal progress bar: shown on an interactive terminal, silent otherwise."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["progress", "show_progress"]


def show_progress(requested: bool | None = None) -> bool:
    """Decide whether to draw: ``requested`` wins; ``None`` means only on a TTY outside CI."""
    if requested is not None:
        return bool(requested)
    if os.environ.get("CI") or os.environ.get("PARIBUS_NO_PROGRESS"):
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(items: Iterable[T], total: int, desc: str, enabled: bool | None = None) -> Iterator[T]:
    """Yield ``items`` while drawing ``desc [#####.....] k/total`` on stderr when enabled."""
    if not show_progress(enabled) or total <= 0:
        yield from items
        return
    start, width, last = time.monotonic(), 30, 0.0
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last > 0.1 or done == total:
            last = now
            filled = int(width * done / total)
            eta = (now - start) / done * (total - done)
            sys.stderr.write(
                f"\r{desc} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} eta {eta:4.0f}s"
            )
            sys.stderr.flush()
    sys.stderr.write("\n")
    sys.stderr.flush()
