"""Example datasets bundled with paribus (only data whose licence allows it).

``load(name)`` returns a fresh pandas DataFrame; ``names()`` lists what is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from paribus.errors import DataError

__all__ = ["default_roles", "describe", "load", "names"]


@dataclass(frozen=True)
class _Dataset:
    description: str
    treatment: str
    outcome: str
    covariates: tuple[str, ...]


_LALONDE_COVARIATES = ("age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75")

_DATASETS = {
    "lalonde": _Dataset(
        "NSW experiment (Dehejia-Wahba subset, sample='nsw', 185 treated + 260 controls) and the "
        "CPS-1 comparison group (sample='cps1', 15,992 non-experimental controls). Outcome re78: "
        "1978 earnings (US$). Experimental ATT: $1,794 (SE 633).",
        "treat",
        "re78",
        _LALONDE_COVARIATES,
    ),
    "lalonde_nsw": _Dataset(
        "The randomised NSW experiment alone (445 rows): difference in means is the benchmark "
        "$1,794.",
        "treat",
        "re78",
        _LALONDE_COVARIATES,
    ),
    "lalonde_cps": _Dataset(
        "Observational sample: the 185 NSW treated men against the 15,992 CPS-1 controls "
        "(Dehejia & Wahba 1999). The naive gap is -$8,498; the experimental ATT is $1,794.",
        "treat",
        "re78",
        _LALONDE_COVARIATES,
    ),
}


@cache
def _lalonde() -> pd.DataFrame:
    path = resources.files("paribus.datasets").joinpath("_files/lalonde.csv.gz")
    with resources.as_file(path) as file:
        return pd.read_csv(file, compression="gzip")


def names() -> list[str]:
    """The bundled dataset names."""
    return list(_DATASETS)


def describe(name: str) -> str:
    """A one-paragraph description with the default treatment, outcome and covariates."""
    ds = _get(name)
    return (
        f"{name}: {ds.description}\n  treatment={ds.treatment!r} outcome={ds.outcome!r} "
        f"covariates={list(ds.covariates)}"
    )


def default_roles(name: str) -> dict[str, object]:
    """The treatment, outcome and covariates a dataset is usually analysed with."""
    ds = _get(name)
    return {"treatment": ds.treatment, "outcome": ds.outcome, "covariates": list(ds.covariates)}


def _get(name: str) -> _Dataset:
    if name not in _DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(_DATASETS)}.")
    return _DATASETS[name]


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a new pandas DataFrame."""
    _get(name)
    full = _lalonde()
    if name == "lalonde":
        frame = full
    elif name == "lalonde_nsw":
        frame = full[full["sample"] == "nsw"]
    else:
        frame = full[
            (full["sample"] == "cps1") | ((full["sample"] == "nsw") & (full["treat"] == 1))
        ]
    return frame.reset_index(drop=True).copy()
