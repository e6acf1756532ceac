"""Offline drawings of the graphs qwengraph builds: Graphviz DOT rendered by a local ``dot``, Mermaid text.

LangGraph's own ``draw_mermaid_png()`` sends the graph to a web service (mermaid.ink) and fails offline;
rendering Mermaid locally needs a headless browser (mermaid-cli downloads Chromium); ``draw_ascii``
needs grandalf. Graphviz's ``dot`` is a small native program that every Linux distribution, Homebrew
and conda package, lays out graphs with loops and parallel branches well, and turns a graph into SVG
or PNG in milliseconds with no network. So drawings are written here as DOT text (from
``graph.get_graph()``: nodes, plain edges solid, conditional edges dashed with their labels) and
rendered by ``dot`` when it is installed (``apt-get install graphviz``; an optional system
dependency, installed by ``make system-deps`` and CI). Without it, SVG/PNG is a clear
:class:`DrawError`, while DOT and Mermaid text still work, and in Jupyter a drawing falls back to
Mermaid text (``text/vnd.mermaid``), which JupyterLab 4.1+ renders itself, offline.

Example:
    >>> drawing = draw(build_react(model, [calculator]), title="react")  # doctest: +SKIP
    >>> drawing.save("react.svg")  # doctest: +SKIP
    >>> drawing  # in Jupyter: the SVG, inline  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from graphs.errors import DrawError

Format = Literal["svg", "png", "dot", "mermaid"]
FORMATS: dict[str, Format] = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid"}
"""File suffixes :meth:`GraphDrawing.save` understands, and the format each means."""

INSTALL_HINT = (
    "install Graphviz for SVG/PNG drawings (apt-get install graphviz, brew install graphviz, "
    "conda install graphviz), or write DOT (.dot) or Mermaid (.mmd) text instead"
)
_SPECIAL = {"__start__": "START", "__end__": "END"}


class Drawable(Protocol):
    """Anything with LangGraph's ``get_graph()``: a compiled ``StateGraph`` (any qwengraph graph)."""

    def get_graph(self, *args: Any, **kwargs: Any) -> Any:
        """The graph's nodes and edges (a ``langchain_core.runnables.graph.Graph``)."""
        ...


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` program is on ``PATH`` (SVG/PNG rendering needs it)."""
    return shutil.which("dot") is not None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: Any, *, title: str = "") -> str:
    """DOT text for a LangGraph ``Graph`` (from ``compiled.get_graph()``).

    START and END are ovals, nodes are rounded boxes, conditional edges are dashed and carry their
    branch label when LangGraph knows one (a workflow's ``body``/``done``, ``then``/``else``).
    """
    lines = [
        "digraph G {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, nodesep=0.35, ranksep=0.45'
        + (f", label={_quote(title)}, labelloc=t" if title else "")
        + "];",
        '  node [shape=box, style="rounded,filled", fillcolor="#f2f0ff", color="#7b6fd6", '
        'fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555", fontname="Helvetica", fontsize=9, arrowsize=0.7];',
    ]
    for node_id in graph.nodes:
        if node_id in _SPECIAL:
            fill = _quote("#ffffff" if node_id == "__start__" else "#bfb6fc")
            label = _quote(_SPECIAL[node_id])
            lines.append(f"  {_quote(node_id)} [label={label}, shape=oval, fillcolor={fill}];")
        else:
            lines.append(f"  {_quote(node_id)} [label={_quote(node_id)}];")
    for edge in graph.edges:
        attrs = []
        if edge.conditional:
            attrs.append("style=dashed")
        if edge.data is not None and str(edge.data) not in (edge.target, ""):
            attrs.append(f"label={_quote(str(edge.data))}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, fmt: Literal["svg", "png"] = "svg", *, timeout: float = 30.0) -> bytes:
    """Render DOT text with the local ``dot`` program (no network).

    Raises:
        DrawError: ``dot`` is not installed, failed, or took longer than ``timeout`` seconds.
    """
    program = shutil.which("dot")
    if program is None:
        raise DrawError(f"Graphviz's dot program is not installed: {INSTALL_HINT}")
    try:
        done = subprocess.run(  # noqa: S603 - a fixed program and arguments; the DOT text goes to stdin
            [program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise DrawError(f"Graphviz's dot did not finish within {timeout:g} s") from None
    except OSError as err:
        raise DrawError(f"Graphviz's dot could not run: {err}") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise DrawError(f"Graphviz's dot failed: {reason[-1] if reason else f'exit code {done.returncode}'}")
    return done.stdout


@dataclass(frozen=True)
class GraphDrawing:
    """A drawing of one graph: its DOT and Mermaid text, rendered to SVG/PNG on demand.

    In Jupyter it shows itself: an inline SVG when Graphviz is installed, else Mermaid text that
    JupyterLab renders; ``print(drawing)`` gives the Mermaid text.
    """

    dot: str
    mermaid: str
    title: str = ""

    def svg(self) -> str:
        """The drawing as SVG text (needs Graphviz; :class:`DrawError` otherwise)."""
        return render(self.dot, "svg").decode("utf-8")

    def png(self) -> bytes:
        """The drawing as PNG bytes (needs Graphviz; :class:`DrawError` otherwise)."""
        return render(self.dot, "png")

    def save(self, path: str | Path, fmt: Format | None = None) -> Path:
        """Write the drawing to ``path``; the format comes from ``fmt`` or the suffix (:data:`FORMATS`).

        Raises:
            DrawError: unknown suffix, no Graphviz for SVG/PNG, or the file cannot be written.
        """
        target = Path(path)
        chosen = fmt or FORMATS.get(target.suffix.lower())
        if chosen is None:
            known = ", ".join(FORMATS)
            raise DrawError(
                f"cannot tell the drawing format from {target.name!r}: use a suffix among {known}"
            )
        data: bytes
        if chosen == "dot":
            data = self.dot.encode()
        elif chosen == "mermaid":
            data = self.mermaid.encode()
        else:
            data = render(self.dot, chosen)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as err:
            raise DrawError(f"cannot write {target}: {err.strerror or err}") from None
        return target

    def __str__(self) -> str:
        return self.mermaid

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """What Jupyter shows: SVG when ``dot`` is there, Mermaid text for JupyterLab otherwise."""
        if dot_available():
            with contextlib.suppress(DrawError):  # a broken Graphviz: the Mermaid text still shows it
                return {"image/svg+xml": self.svg(), "text/plain": self.mermaid}
        return {"text/vnd.mermaid": self.mermaid, "text/plain": self.mermaid}


def draw(graph: Drawable, *, title: str = "") -> GraphDrawing:
    """Draw a compiled LangGraph graph (any graph qwengraph builds, or your own), offline.

    Args:
        graph: a compiled graph (``build_react(...)``, ``build_graph(...)``, ``compile_workflow(...)``).
        title: a caption drawn above the graph in SVG/PNG.
    """
    shape = graph.get_graph()
    return GraphDrawing(dot=to_dot(shape, title=title), mermaid=shape.draw_mermaid(), title=title)
