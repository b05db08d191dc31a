"""Reading causal graphs: edge strings, DOT text, networkx graphs and edge lists.

Edge strings list edges separated by ``;``, ``,`` or new lines. Each item is a
chain of node names joined by ``->``, ``<-`` or ``<->`` (bidirected: a latent
common cause), e.g. ``"Z -> X -> Y; U <-> Y"``. A name is a run of letters,
digits, ``_`` and ``.``, or any text in double quotes. A lone name declares an
isolated node.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from paribus.errors import GraphError

__all__ = ["Edges", "parse_dot", "parse_edge_list", "parse_edge_string", "parse_networkx"]

#: (nodes in order of appearance, directed edges, bidirected edges)
Edges = tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]

_NAME = r'(?:"[^"]+"|[A-Za-z0-9_.]+)'
_ARROW = r"(?:<->|->|<-|--)"
_TOKEN = re.compile(rf"\s*({_NAME}|{_ARROW})\s*")


def _clean(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name


def _tokens(item: str, position: int) -> list[str]:
    tokens, pos = [], 0
    while pos < len(item):
        match = _TOKEN.match(item, pos)
        if not match or match.end() == pos:
            raise GraphError(
                f"cannot parse graph item {position} {item.strip()!r} near "
                f"{item[pos:].strip()!r}: expected names joined by '->', '<-' or '<->', "
                "e.g. 'Z -> X; X -> Y; U <-> Y'."
            )
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _add_chain(tokens: list[str], item: str, position: int, out: Edges) -> None:
    nodes, directed, bidirected = out
    names, arrows = tokens[0::2], tokens[1::2]
    valid = (
        len(tokens) % 2 == 1
        and all(re.fullmatch(_NAME, n) for n in names)
        and all(re.fullmatch(_ARROW, a) for a in arrows)
    )
    if not valid:
        raise GraphError(
            f"cannot parse graph item {position} {item.strip()!r}: expected names joined "
            "by '->', '<-' or '<->', e.g. 'Z -> X -> Y'."
        )
    names = [_clean(n) for n in names]
    for name in names:
        if name not in nodes:
            nodes.append(name)
    for (a, b), arrow in zip(itertools.pairwise(names), arrows, strict=True):
        if arrow == "--":
            raise GraphError(
                f"undirected edge '{a} -- {b}' in item {position}: a causal graph needs a "
                f"direction ('{a} -> {b}' or '{a} <- {b}'), or '{a} <-> {b}' for a latent "
                "common cause."
            )
        if arrow == "->":
            directed.append((a, b))
        elif arrow == "<-":
            directed.append((b, a))
        else:
            bidirected.append((a, b))


def parse_edge_string(text: str) -> Edges:
    """Parse ``"Z -> X; X -> Y; U <-> Y"``."""
    out: Edges = ([], [], [])
    items = [s for s in re.split(r"[;,\n]", text)]
    for position, item in enumerate(items, start=1):
        if not item.strip():
            continue
        _add_chain(_tokens(item, position), item, position, out)
    return out


_DOT_HEADER = re.compile(r"^\s*(?:strict\s+)?(di)?graph\s*(?:\w+|\"[^\"]*\")?\s*\{(.*)\}\s*$", re.S)
_DOT_ATTRS = re.compile(r"\[([^\]]*)\]")


def parse_dot(text: str) -> Edges:
    """Parse a DOT digraph; ``a -> b [dir=both]`` or ``a <-> b`` is bidirected.

    Graph, node and edge attribute statements (``rankdir=LR``, ``node [...]``) are
    ignored; only edges and node declarations matter.
    """
    match = _DOT_HEADER.match(text)
    if not match:
        raise GraphError("DOT text must look like 'digraph { a -> b; b -> c }'.")
    if match.group(1) is None:
        raise GraphError("DOT 'graph' is undirected; use 'digraph' with '->' edges.")
    body = re.sub(r"//[^\n]*|#[^\n]*|/\*.*?\*/", "", match.group(2), flags=re.S)
    out: Edges = ([], [], [])
    for position, raw in enumerate(re.split(r"[;\n]", body), start=1):
        stmt = raw.strip()
        if not stmt:
            continue
        attrs = " ".join(_DOT_ATTRS.findall(stmt))
        stmt = _DOT_ATTRS.sub("", stmt).strip()
        if (
            not stmt
            or stmt.split()[0] in ("graph", "node", "edge")
            or re.fullmatch(r"\w+\s*=\s*\S+", stmt)
        ):
            continue
        both = re.search(r"\bdir\s*=\s*\"?both", attrs) is not None
        if both:
            stmt = stmt.replace("->", "<->")
        _add_chain(_tokens(stmt, position), stmt, position, out)
    return out


def parse_networkx(graph: Any) -> Edges:
    """Read a networkx ``DiGraph``; an edge with ``bidirected=True`` is bidirected."""
    import networkx as nx

    if not isinstance(graph, nx.DiGraph):
        raise GraphError(f"a networkx {type(graph).__name__} is undirected; pass a DiGraph.")
    nodes = [str(n) for n in graph.nodes]
    directed: list[tuple[str, str]] = []
    bidirected: list[tuple[str, str]] = []
    for a, b, data in graph.edges(data=True):
        (bidirected if data.get("bidirected") else directed).append((str(a), str(b)))
    return nodes, directed, bidirected


def parse_edge_list(edges: Iterable[Any]) -> Edges:
    """Read ``[("Z", "X"), ("X", "Y"), ("U", "Y", "<->")]``: pairs are directed."""
    nodes: list[str] = []
    directed: list[tuple[str, str]] = []
    bidirected: list[tuple[str, str]] = []
    for position, edge in enumerate(edges, start=1):
        edge = tuple(edge)
        kind = edge[2] if len(edge) == 3 else "->"
        if len(edge) not in (2, 3) or kind not in ("->", "<->"):
            raise GraphError(
                f"edge {position} {edge!r}: expected (cause, effect) or (a, b, '<->')."
            )
        a, b = str(edge[0]), str(edge[1])
        for name in (a, b):
            if name not in nodes:
                nodes.append(name)
        (directed if kind == "->" else bidirected).append((a, b))
    return nodes, directed, bidirected
