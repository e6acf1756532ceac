"""``qwengraph batch TASKS.jsonl``: run an agent (or a workflow) over a file of tasks.

Resumable: results go to a database (one row per task, as it ends) and a JSONL file; running the
same command again skips the tasks already recorded (``--retry-failed`` runs failed ones again).
Exit code 0 when every task of the batch has an answer, 1 when some failed or stopped (their rows
say why), 2 for bad input (a flag, a bad line in the tasks file), 130 on Ctrl-C (what was recorded
stays recorded: rerun the command to continue).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agents.cli_common import ProfileOpt, clean_errors, fail
from agents.cli_options import TimeoutOpt
from agents.cli_threads import MEMORY_HELP, memory_uri
from agents.toolbox import parse_tool_names

TasksArg = Annotated[Path, typer.Argument(help='Tasks file: one JSON object a line ({"prompt": ...}).')]


def batch_command(
    tasks: TasksArg,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Agent for every task (math-tutor, ..., or 'auto').")
    ] = None,
    tool_names: Annotated[
        str | None, typer.Option("--tools", help="Plain runs: comma-separated tools (default: calculator).")
    ] = None,
    graph: Annotated[str | None, typer.Option("--graph", help="Plain runs: react, worked or auto.")] = None,
    workflow: Annotated[
        Path | None,
        typer.Option("--workflow", help="Run this workflow file per task (its variables are the inputs)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model URI (else QWENGRAPH_MODEL).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Server URL (else QWENGRAPH_BASE_URL).")
    ] = None,
    think: Annotated[bool | None, typer.Option("--think/--no-think", help="Thinking on or off.")] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, max=100, help="Model turns allowed per task.")
    ] = None,
    timeout: TimeoutOpt = 300.0,
    profile: ProfileOpt = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", min=1, max=10_000, help="Tasks running at once.")
    ] = 4,
    results: Annotated[
        str | None,
        typer.Option(
            "--results", help="Results database: sqlite:///PATH or postgres://… (default: batches.db)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="JSONL results file (default: TASKS.results.jsonl).")
    ] = None,
    batch_name: Annotated[
        str | None,
        typer.Option("--batch", help="The batch's name in the results database (default: TASKS path)."),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run failed and stopped tasks again.")
    ] = False,
    memory: Annotated[str | None, typer.Option("--memory", help=MEMORY_HELP)] = None,
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="Record each task's run in traces.db.")
    ] = True,
    trace_content: Annotated[
        bool, typer.Option("--trace-content", help="Store prompts, arguments and answers as text in traces.")
    ] = False,
    executor: Annotated[str, typer.Option("--executor", help="Where tasks run: local or ray.")] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster address (else RAY_ADDRESS, else a local one)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Ray actors (default: one per cluster CPU).")
    ] = None,
    export: Annotated[
        str | None, typer.Option("--export", help="Also write successful trajectories: chatml-jsonl.")
    ] = None,
    export_out: Annotated[
        Path | None, typer.Option("--export-out", help="Where --export writes (default: TASKS.chatml.jsonl).")
    ] = None,
    export_thinking: Annotated[
        bool, typer.Option("--export-thinking", help="Keep thinking as <think>…</think> in exported turns.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the batch report as one JSON object.")
    ] = False,
) -> None:
    """Run an agent over TASKS (JSON lines): concurrent, resumable, with a results database."""
    from agents.batch import BatchConfig, load_tasks  # noqa: PLC0415 - keeps `--help` light
    from agents.batch.api import arun_batch_file, check_config  # noqa: PLC0415
    from agents.batch.progress import BarProgress  # noqa: PLC0415
    from agents.warm import AgentChoice  # noqa: PLC0415

    err_console = Console(stderr=True, highlight=False)
    with clean_errors():
        choice = AgentChoice(
            agent=agent,
            tools=tuple(parse_tool_names(tool_names)) if tool_names is not None else None,
            graph=graph,
            model=model,
            base_url=base_url,
            think=think,
            max_steps=max_steps,
            timeout=timeout,
            profile=profile,
        )
        config = BatchConfig(
            tasks=tasks,
            choice=choice,
            workflow=str(workflow) if workflow else None,
            concurrency=concurrency,
            results=results,
            out=out,
            batch=batch_name,
            retry_failed=retry_failed,
            memory=memory_uri(memory),
            trace=trace,
            trace_content=trace_content,
            executor=executor,
            ray_address=address,
            ray_workers=workers,
            export=export,
            export_out=export_out,
            export_thinking=export_thinking,
        )
        check_config(config)
        task_list = load_tasks(tasks, workflow=workflow is not None)
        import asyncio  # noqa: PLC0415

        try:
            report, exported = asyncio.run(arun_batch_file(config, BarProgress(err_console), tasks=task_list))
        except KeyboardInterrupt:
            raise fail(
                f"interrupted: finished tasks are recorded in {config.out_path()}; "
                "run the same command again to continue",
                130,
            ) from None
    if as_json:
        data = {
            "batch": report.batch,
            "total": report.total,
            "skipped": report.skipped,
            "ran": report.ran,
            "counts": report.counts,
            "batch_counts": report.batch_counts,
            "seconds": round(report.seconds, 3),
            "results": report.results,
            "out": str(report.out) if report.out else None,
            "exported": exported.written if exported else None,
            "trace_errors": report.trace_errors,
        }
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        err_console.print(report.line(), markup=False, soft_wrap=True)
        err_console.print(
            f"results: {report.out} and {report.results}", style="dim", markup=False, soft_wrap=True
        )
        if exported is not None:
            left = (
                f" ({exported.left_out} successful run(s) left out: no usable conversation)"
                if exported.left_out
                else ""
            )
            err_console.print(
                f"exported {exported.written} trajectories to {exported.path}{left}", markup=False
            )
        if report.trace_errors:
            err_console.print(f"warning: {report.trace_errors} trace(s) could not be written", style="yellow")
    unfinished = sum(n for status, n in report.batch_counts.items() if status != "ok")
    if unfinished:
        if not as_json:
            err_console.print(
                f"{unfinished} task(s) of the batch failed or stopped: see their rows; "
                "--retry-failed runs them again",
                style="yellow",
                markup=False,
                soft_wrap=True,
            )
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``batch`` to the main app."""
    app.command("batch")(batch_command)
