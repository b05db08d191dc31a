"""The ``paribus`` command: a thin layer over the library.

    paribus estimate DATA --treatment T --outcome Y --covariates a,b,c --method aipw [--json]
    paribus identify --graph "Z -> X; X -> Y; Z -> Y" --treatment X --outcome Y
    paribus datasets
    paribus demo [--out DIR]

DATA is a CSV or Parquet path or the name of a bundled dataset. Bad input exits
with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from paribus import datasets
from paribus.effects.api import METHODS, estimate
from paribus.errors import ParibusError

__all__ = ["main"]


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, no usage dump
        raise _ArgumentError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="paribus", description="Causal inference from question to decision.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    est = sub.add_parser("estimate", help="estimate an average treatment effect")
    est.add_argument("data", help="CSV/Parquet path, or a bundled dataset name (paribus datasets)")
    est.add_argument("--treatment", required=True)
    est.add_argument("--outcome", required=True)
    est.add_argument("--covariates", default="", help="comma-separated column names")
    est.add_argument("--method", required=True, choices=list(METHODS))
    est.add_argument(
        "--estimand",
        default=None,
        choices=["ATE", "ATT", "ATC", "LATE"],
        help="default: the method's own (ATE; LATE for dml-iivm)",
    )
    est.add_argument("--instrument", default=None, help="comma-separated, for dml-pliv/iivm")
    est.add_argument("--level", type=float, default=0.95)
    est.add_argument("--random-state", type=int, default=None)
    est.add_argument("--cluster", default=None)
    est.add_argument("--dropna", action="store_true", help="drop rows with missing values")
    est.add_argument("--json", action="store_true", help="print the result as JSON")

    ident = sub.add_parser("identify", help="identify an effect in a causal graph")
    ident.add_argument(
        "--graph",
        required=True,
        help="edge string ('Z -> X; X -> Y; U <-> Y'), DOT text, or a file",
    )
    ident.add_argument("--treatment", required=True, help="comma-separated for several")
    ident.add_argument("--outcome", required=True, help="comma-separated for several")
    ident.add_argument("--estimand", default="ATE", choices=["ATE", "ATT", "ATC"])
    ident.add_argument("--json", action="store_true", help="print the estimand as JSON")

    sub.add_parser("datasets", help="list the bundled datasets")

    demo = sub.add_parser("demo", help="run the end-to-end Lalonde analysis")
    demo.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    demo.add_argument("--no-plots", action="store_true")
    return parser


def _load(source: str) -> Any:
    if source in datasets.names() and not Path(source).exists():
        return datasets.load(source)
    return source


def _instruments(text: str | None) -> str | list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    return names[0] if len(names) == 1 else names


def _estimate(args: argparse.Namespace) -> int:
    covariates = [c.strip() for c in args.covariates.split(",") if c.strip()]
    settings: dict[str, Any] = {"level": args.level}
    if args.random_state is not None:
        settings["random_state"] = args.random_state
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        effect = estimate(
            _load(args.data),
            treatment=args.treatment,
            outcome=args.outcome,
            covariates=covariates,
            method=args.method,
            estimand=args.estimand,
            instrument=_instruments(args.instrument),
            cluster=args.cluster,
            dropna=args.dropna,
            **_only_known(args.method, settings),
        )
    for w in caught:
        print(f"paribus: warning: {w.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(effect.to_dict(include_scores=False), indent=2))
    else:
        print(effect)
    return 0


def _identify(args: argparse.Namespace) -> int:
    from paribus.graph.identify import identify

    spec = args.graph
    if Path(spec).is_file():
        spec = Path(spec).read_text()
    split = (
        [v.strip() for v in args.treatment.split(",")],
        [v.strip() for v in args.outcome.split(",")],
    )
    estimand = identify(spec, split[0], split[1], args.estimand)
    print(json.dumps(estimand.to_dict(), indent=2) if args.json else estimand)
    return 0


def _only_known(method: str, settings: dict[str, Any]) -> dict[str, Any]:
    names = set(METHODS[method]._get_param_names())
    return {k: v for k, v in settings.items() if k in names}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "estimate":
            return _estimate(args)
        if args.command == "identify":
            return _identify(args)
        if args.command == "datasets":
            for name in datasets.names():
                print(datasets.describe(name))
            return 0
        from paribus.demo import run_demo

        run_demo(args.out, plots=not args.no_plots)
        return 0
    except _ArgumentError as exc:
        print(f"paribus: error: {exc} (see paribus --help)", file=sys.stderr)
    except (ParibusError, OSError) as exc:
        print(f"paribus: error: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
