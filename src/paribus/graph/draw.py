"""Drawing a CausalGraph with matplotlib."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

if TYPE_CHECKING:
    from paribus.graph.causal_graph import CausalGraph

__all__ = ["draw_graph"]


def _layout(graph: CausalGraph) -> dict[str, Any]:
    dag = nx.DiGraph(graph.directed_edges)
    dag.add_nodes_from(graph.nodes)
    try:  # graphviz's 'dot' layout reads best, when pygraphviz is installed
        return dict(nx.nx_agraph.graphviz_layout(dag, prog="dot"))
    except (ImportError, OSError):
        pass
    for layer, nodes in enumerate(nx.topological_generations(dag)):
        for node in nodes:
            dag.nodes[node]["layer"] = layer
    pos = nx.multipartite_layout(dag, subset_key="layer", align="horizontal")
    return {v: (x, -y) for v, (x, y) in pos.items()}


def draw_graph(graph: CausalGraph, ax: Any = None, highlight: frozenset[str] = frozenset()) -> Any:
    """Nodes in causal order top to bottom; bidirected edges as dashed arcs."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    pos = _layout(graph)
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes)
    colours = ["#f4a261" if v in highlight else "#e9f1f7" for v in graph.nodes]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, edgecolors="#264653", node_size=1100)
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=9)
    nx.draw_networkx_edges(
        g,
        pos,
        edgelist=list(graph.directed_edges),
        ax=ax,
        arrows=True,
        arrowsize=15,
        node_size=1100,
    )
    nx.draw_networkx_edges(
        g,
        pos,
        edgelist=list(graph.bidirected_edges),
        ax=ax,
        arrows=True,
        arrowstyle="<|-|>",
        style="dashed",
        edge_color="#9b2226",
        connectionstyle="arc3,rad=0.3",
        node_size=1100,
    )
    ax.set_axis_off()
    return ax
