"""``qwengraph graph draw``: the graph an agent, a plain run or a workflow runs on, drawn offline.

SVG and PNG are rendered by Graphviz's local ``dot`` program; DOT and Mermaid text need nothing.
Without ``-o`` the Mermaid text is printed (``--format dot`` prints DOT).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agents.cli_common import clean_errors, fail
from agents.drawing import agent_drawing, workflow_drawing
from graphs.draw import FORMATS, Format
from graphs.errors import ConfigError
from graphs.workflow import WorkflowError

graph_app = typer.Typer(
    name="graph",
    help="Draw the graphs agents and workflows run on (offline: SVG/PNG via Graphviz, DOT, Mermaid).",
    no_args_is_help=True,
    add_completion=False,
)
_FORMAT_NAMES: tuple[Format, ...] = ("svg", "png", "dot", "mermaid")


@graph_app.command("draw")
def draw_command(
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", help="An agent: math-tutor, coding-assistant, researcher, automation, planner."
        ),
    ] = None,
    graph: Annotated[
        str | None,
        typer.Option("--graph", help="Plain runs: auto (default), react, worked or plan_execute."),
    ] = None,
    workflow: Annotated[
        Path | None, typer.Option("--workflow", help="Draw the graph this workflow YAML file compiles to.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model URI: decides 'auto' graphs (worked for local: models)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here: .svg, .png, .dot/.gv or .mmd (else Mermaid to stdout)."
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="svg, png, dot or mermaid (default: from the -o suffix).")
    ] = None,
) -> None:
    """Draw the graph of --agent NAME, of a plain run (--graph), or of a --workflow FILE."""
    if fmt is not None and fmt not in _FORMAT_NAMES:
        raise fail(f"--format must be one of {', '.join(_FORMAT_NAMES)}, not {fmt!r}", 2)
    chosen: Format | None = next((f for f in _FORMAT_NAMES if f == fmt), None)
    if output is None and chosen in ("svg", "png"):
        raise fail(f"--format {chosen} writes a file: give -o FILE", 2)
    if output is not None and chosen is None and output.suffix.lower() not in FORMATS:
        raise fail(
            f"cannot tell the format from {output.name!r}: use .svg, .png, .dot, .gv or .mmd, or --format", 2
        )
    with clean_errors():
        if workflow is not None:
            if agent is not None or graph is not None:
                raise ConfigError("--workflow draws a workflow: leave out --agent and --graph")
            try:
                drawing = workflow_drawing(workflow)
            except WorkflowError as err:
                for problem in err.problems[:-1]:
                    fail(problem, err.exit_code)
                raise fail(err.problems[-1] if err.problems else str(err), err.exit_code) from None
        else:
            drawing = agent_drawing(agent, graph=graph, model=model)
        if output is None:
            typer.echo(drawing.dot if chosen == "dot" else drawing.mermaid, nl=False)
            return
        written = drawing.save(output, chosen)
    Console(stderr=True, highlight=False).print(
        f"wrote {written} ({drawing.title})", markup=False, soft_wrap=True
    )


def register(app: typer.Typer) -> None:
    """Add ``graph draw`` to the main app."""
    app.add_typer(graph_app, name="graph")
