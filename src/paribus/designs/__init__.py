"""Quasi-experimental designs: instrumental variables and regression discontinuity."""

__all__: list[str] = []
