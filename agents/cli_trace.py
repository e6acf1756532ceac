"""``qwengraph trace …``: read the run traces (``$QWENGRAPH_HOME/traces.db``).

``list`` shows the latest runs, ``show RUN_ID`` one run as a tree (model calls and tool calls in
order), ``stats`` figures over all runs, ``browse`` serves the database in Datasette. Every
command takes ``--db`` for another traces file, and all but ``browse`` take ``--json`` for scripts.
Errors from the qwengraph tree become one line on stderr and the error's exit code, never a
traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from agents.cli_common import clean_errors
from graphs.memory.trace_query import RunTrace, TraceStats, get_run, list_runs, stats

trace_app = typer.Typer(
    name="trace",
    help="Inspect recorded runs: model calls, tool calls, timings and tokens.",
    no_args_is_help=True,
    add_completion=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table or tree.")]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Traces database (default: $QWENGRAPH_HOME/traces.db).", dir_okay=False),
]


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = 200  # pipes and logs: do not fold ids at 80 columns
    return console


def _dump(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value:,}{unit}"


@trace_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 20,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """List the latest runs, newest first."""
    with clean_errors():
        runs = list_runs(db, limit=limit)
        if as_json:
            _dump(runs)
            return
        if not runs:
            typer.echo("no runs recorded yet")
            return
        table = Table(title="qwengraph runs")
        for column in ("run", "started", "model", "outcome", "ms", "model calls", "tool calls", "tokens"):
            table.add_column(column, overflow="fold")
        for run in runs:
            table.add_row(
                run["run_id"],
                run["started_at"],
                run["model"] or "-",
                run["outcome"] + (f" ({run['error']})" if run["error"] else ""),
                _num(run["duration_ms"]),
                str(run["model_calls"]),
                str(run["tool_calls"]),
                _num(run["tokens"]),
            )
        _console().print(table)


def _call_label(call: dict[str, Any]) -> str:
    if call["kind"] == "model":
        tokens = (
            f"{_num(call['prompt_tokens'])} in / {_num(call['completion_tokens'])} out"
            f" / {_num(call['thinking_tokens'])} thinking"
        )
        speed = _num(call["tokens_per_s"], " tok/s")
        state = f"[red]error {call['error']}[/red]" if call["error"] else f"finish={call['finish_reason']}"
        latency = _num(call["latency_ms"], " ms")
        return f"[bold]model[/bold] {escape(call['model'] or '')} {latency}  {tokens}  {speed}  {state}"
    outcome = "[green]ok[/green]" if call["outcome"] == "ok" else f"[red]error {call['error'] or ''}[/red]"
    args = escape(call["args"]) if call["args"] is not None else f"sha256:{(call['args_sha256'] or '')[:12]}…"
    return (
        f"[bold]tool[/bold] {escape(call['name'])}({args}) {_num(call['duration_ms'], ' ms')}  {outcome}"
        f"  result {_num(call['result_chars'])} chars"
    )


def _tree(trace: RunTrace) -> Tree:
    run = trace.run
    head = f"[bold]run {run['run_id']}[/bold]  {run['started_at']}  {run['model'] or '-'}  {run['outcome']}"
    if run["error"]:
        head += f" ({run['error']})"
    tree = Tree(head + f"  {_num(run['duration_ms'], ' ms')}")
    prompt = (
        escape(run["prompt"]) if run["prompt"] is not None else f"sha256:{(run['prompt_sha256'] or '')[:12]}…"
    )
    tree.add(f"prompt: {prompt} ({_num(run['prompt_chars'])} chars)")
    for call in trace.calls:
        tree.add(_call_label(call))
    if run["answer_chars"] is not None:
        answer = (
            escape(run["answer"])
            if run["answer"] is not None
            else f"sha256:{(run['answer_sha256'] or '')[:12]}…"
        )
        tree.add(f"answer: {answer} ({_num(run['answer_chars'])} chars)")
    return tree


@trace_app.command("show")
def show_command(
    run_id: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Show one run as a tree: its model calls and tool calls in order."""
    with clean_errors():
        trace = get_run(run_id, db)
        if as_json:
            _dump(trace.to_json())
            return
        _console().print(_tree(trace))


@trace_app.command("stats")
def stats_command(as_json: JsonOpt = False, db: DbOpt = None) -> None:
    """Figures over all runs: counts, tokens, model latency (mean/p50/p95), tokens/s, tool error rate."""
    with clean_errors():
        figures = stats(db)
        if as_json:
            _dump(figures.to_json())
            return
        table = Table(title="qwengraph trace stats", show_header=False)
        table.add_column("figure")
        table.add_column("value", justify="right")
        rate = figures.tool_error_rate
        rows = [
            ("runs (ok / error)", f"{figures.runs} ({figures.runs_ok} / {figures.runs_error})"),
            ("model calls (errors)", f"{figures.model_calls} ({figures.model_errors})"),
            ("prompt tokens", _num(figures.prompt_tokens)),
            ("completion tokens", _num(figures.completion_tokens)),
            ("thinking tokens", _num(figures.thinking_tokens)),
            ("latency mean / p50 / p95", " / ".join(_num(v, " ms") for v in _latencies(figures))),
            ("tokens/s", _num(figures.tokens_per_s)),
            ("tool calls (errors)", f"{figures.tool_calls} ({figures.tool_errors})"),
            ("tool error rate", "-" if rate is None else f"{rate:.1%}"),
        ]
        for name, value in rows:
            table.add_row(name, value)
        _console().print(table)


def _latencies(figures: TraceStats) -> tuple[float | None, float | None, float | None]:
    return figures.latency_mean_ms, figures.latency_p50_ms, figures.latency_p95_ms


@trace_app.command("browse")
def browse_command(
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8001,
) -> None:
    """Browse, filter and chart the traces in Datasette (read-only), with canned queries."""
    from agents.trace_browse import make_app, serve  # noqa: PLC0415
    from graphs.memory.trace_store import default_db_path  # noqa: PLC0415

    path = db or default_db_path()
    with clean_errors():
        make_app(path)  # a missing file or Datasette fails here, before the banner
        typer.echo(f"browsing {path} at http://{host}:{port}/ (read-only; Ctrl-C stops)", err=True)
        serve(path, host=host, port=port)
