"""``qwengraph eval``: ``bfcl``, ``tasks``, ``list``, ``show``, ``compare``, ``resume``.

Runs print a progress bar with live accuracy (on stderr), then the per-category table (or, with
``--json``, one JSON object on stdout). Every case is stored in ``$QWENGRAPH_HOME/evals.db`` as it
finishes; Ctrl-C or a dead server leaves a resumable run (``qwengraph eval resume RUN``).
``--record DIR`` keeps the model exchanges as cassettes (with the run's settings in their
metadata); ``--replay DIR`` runs the recorded settings again offline and re-scores them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agents.cli_common import clean_errors, fail
from agents.cli_options import TimeoutOpt
from agents.eval.bfcl_data import BfclData, parse_categories
from agents.eval.bfcl_run import READINGS, BfclOptions, BfclRunner, make_model, pick_cases, run_cases
from agents.eval.cli_output import Progressor, print_run, print_runs
from agents.eval.recording import eval_cassette, recorded_settings
from agents.eval.report import build_report, changed_cases, compare_table
from agents.eval.store import EvalStore, RunRecord
from agents.eval.tasks_run import TasksOptions, run_tasks
from agents.settings import resolve_model
from graphs.errors import ConfigError, QwenGraphError

eval_app = typer.Typer(
    name="eval",
    help="Measure tool calling: BFCL and your own task sets, stored, compared, replayable.",
    no_args_is_help=True,
    add_completion=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Eval database (default: $QWENGRAPH_HOME/evals.db).", dir_okay=False),
]
RecordOpt = Annotated[
    Path | None, typer.Option("--record", help="Keep the model exchanges as cassettes in this folder.")
]
ReplayOpt = Annotated[
    Path | None,
    typer.Option(
        "--replay", help="Run a recorded eval again offline from its cassette folder (its settings)."
    ),
]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", "-c", min=1, max=256, help="Cases at once.")]
ThinkOpt = Annotated[bool | None, typer.Option("--think/--no-think", help="Thinking on or off.")]


@contextmanager
def _store(db: Path | None) -> Iterator[EvalStore]:
    store = EvalStore(db)
    try:
        yield store
    finally:
        store.close()


@eval_app.command("bfcl")
def bfcl_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model URI (ollama:…, openai:…, local:…).")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="Server URL (else QWENGRAPH_BASE_URL).")] = None,
    categories: Annotated[
        str | None, typer.Option("--categories", help="Comma-separated BFCL categories, or 'all'.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="The first N cases of each category.")] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, help="N random cases per category (see --seed).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for --sample and for sampling (default 0).")] = None,
    concurrency: ConcurrencyOpt = 1,
    think: ThinkOpt = None,
    profile: Annotated[str | None, typer.Option(help="Qwen generation profile (where supported).")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=16, help="Tokens per answer (default 512).")] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, help="Sampling temperature (BFCL: 0.001).")
    ] = None,
    harness: Annotated[
        bool, typer.Option("--harness/--no-harness", help="Also score the leaderboard harness's reading.")
    ] = True,
    tool_guide: Annotated[
        bool,
        typer.Option(
            "--tool-guide/--no-tool-guide",
            help="local: models: end the tools block with qwengraph's tool guide (an array of calls).",
        ),
    ] = False,
    data: Annotated[
        Path | None, typer.Option(help="BFCL data: the bfcl-eval wheel or a folder (default: fetched).")
    ] = None,
    timeout: TimeoutOpt = 300.0,
    record_to: RecordOpt = None,
    replay_from: ReplayOpt = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Score a model on BFCL: qwengraph's reading and the leaderboard harness's, per category."""
    with clean_errors():
        if replay_from is not None:
            given = {
                "--model": model, "--base-url": base_url, "--categories": categories, "--limit": limit,
                "--sample": sample, "--seed": seed, "--think/--no-think": think, "--profile": profile,
                "--max-tokens": max_tokens, "--temperature": temperature,
            }  # fmt: skip
            clash = [flag for flag, value in given.items() if value is not None]
            if clash:
                raise ConfigError(f"--replay runs the recorded settings; drop {', '.join(clash)}")
            kind, config = recorded_settings(replay_from)
            if kind != "bfcl":
                raise ConfigError(
                    f"{replay_from} holds a recorded {kind} eval: use `qwengraph eval {kind} --replay`"
                )
            options = BfclOptions.from_config(config)
            options.concurrency = concurrency
        else:
            options = BfclOptions(
                model=resolve_model(model),
                categories=parse_categories(categories),
                base_url=base_url,
                limit=limit,
                sample=sample,
                seed=seed or 0,
                think=think,
                profile=profile,
                concurrency=concurrency,
                max_tokens=max_tokens or 512,
                temperature=0.001 if temperature is None else temperature,
                harness=harness,
                tool_guide=tool_guide,
                data=str(data) if data else None,
                timeout=timeout,
            )
        if data is not None:
            options.data = str(data)
        source = BfclData(Path(options.data)) if options.data else BfclData.pinned()
        cases = pick_cases(options, source)
        make_model(options)  # a bad --profile or model URI fails here, before a run is stored
        readings = READINGS if options.harness else READINGS[:1]
        with _store(db) as store:
            run = store.create_run("bfcl", options.model, options.config(), len(cases) * len(readings))
            _execute(store, run, options, cases, record_to, replay_from, as_json)


@eval_app.command("tasks")
def tasks_command(
    file: Annotated[Path, typer.Argument(help="Task set: JSON lines with prompt and checks.")],
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="Agent to run (math-tutor, coding-assistant, …); default plain."),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model URI.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Server URL (else QWENGRAPH_BASE_URL).")] = None,
    graph: Annotated[str | None, typer.Option(help="Plain runs: react, worked or auto.")] = None,
    think: ThinkOpt = None,
    max_steps: Annotated[int | None, typer.Option(min=1, max=100, help="Model turns per task.")] = None,
    concurrency: ConcurrencyOpt = 1,
    timeout: TimeoutOpt = 300.0,
    record_to: RecordOpt = None,
    replay_from: ReplayOpt = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Run an agent on your own tasks (JSONL) and score each answer with its checks."""
    with clean_errors():
        if replay_from is not None:
            kind, config = recorded_settings(replay_from)
            if kind != "tasks":
                raise ConfigError(
                    f"{replay_from} holds a recorded {kind} eval: use `qwengraph eval {kind} --replay`"
                )
            options = TasksOptions.from_config(config)
            options.file, options.concurrency = str(file), concurrency
        else:
            options = TasksOptions(
                file=str(file),
                model=resolve_model(model),
                agent=agent,
                graph=graph,
                base_url=base_url,
                think=think,
                max_steps=max_steps,
                concurrency=concurrency,
                timeout=timeout,
            )
        tasks = options.tasks()
        with _store(db) as store:
            run = store.create_run("tasks", options.model or "", options.config(), len(tasks))
            _execute(store, run, options, tasks, record_to, replay_from, as_json)


@eval_app.command("resume")
def resume_command(
    run_id: Annotated[str, typer.Argument(help="The run to continue (an id prefix, or 'latest').")],
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, max=256)] = None,
    data: Annotated[Path | None, typer.Option(help="BFCL data, if not the fetched wheel.")] = None,
    record_to: RecordOpt = None,
    replay_from: ReplayOpt = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Finish an interrupted run: only the cases it lacks are run."""
    with clean_errors(), _store(db) as store:
        run = store.get_run(run_id)
        if run.status == "done":
            raise ConfigError(
                f"run {run.id} is complete: nothing to resume (see `qwengraph eval show {run.id}`)"
            )
        if run.kind == "bfcl":
            bfcl = BfclOptions.from_config(run.config)
            bfcl.concurrency = concurrency or bfcl.concurrency
            if data is not None:
                bfcl.data = str(data)
            source = BfclData(Path(bfcl.data)) if bfcl.data else BfclData.pinned()
            _execute(store, run, bfcl, pick_cases(bfcl, source), record_to, replay_from, as_json)
        else:
            tasks = TasksOptions.from_config(run.config)
            tasks.concurrency = concurrency or tasks.concurrency
            _execute(store, run, tasks, tasks.tasks(), record_to, replay_from, as_json)


def _execute(
    store: EvalStore,
    run: RunRecord,
    options: BfclOptions | TasksOptions,
    cases: list[Any],
    record_to: Path | None,
    replay_from: Path | None,
    as_json: bool,
) -> None:
    """Run (or resume) ``run``'s missing cases with progress; mark it done, interrupted or failed."""
    store.set_status(run.id, "running")
    err_console = Console(stderr=True, highlight=False)
    kind = "bfcl" if isinstance(options, BfclOptions) else "tasks"
    progress = Progressor(err_console, run, already=store.cases(run.id))
    try:
        with eval_cassette(record_to, replay_from, run.id, kind, options.config()), progress:
            if isinstance(options, BfclOptions):
                runner = BfclRunner(options)
                readings = READINGS if options.harness else READINGS[:1]
                asyncio.run(
                    run_cases(runner, cases, store, run.id, readings=readings, on_result=progress.add)
                )
            else:
                asyncio.run(run_tasks(options, cases, store, run.id, on_result=progress.add))
    except KeyboardInterrupt:
        store.set_status(run.id, "interrupted")
        stored = len(store.done_keys(run.id))
        hint = f"continue with `qwengraph eval resume {run.id}`"
        raise fail(f"interrupted: {stored} of {run.total} results stored; {hint}", 130) from None
    except QwenGraphError as err:
        store.set_status(run.id, "failed")
        raise fail(
            f"{err} (run {run.id} can continue: `qwengraph eval resume {run.id}`)", err.exit_code
        ) from None
    store.set_status(run.id, "done")
    print_run(store.get_run(run.id), store.cases(run.id), as_json=as_json)


@eval_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs to show.")] = 20,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The latest eval runs with their overall scores."""
    with clean_errors(), _store(db) as store:
        runs = store.list_runs(limit)
        print_runs(runs, {r.id: build_report(store.cases(r.id)) for r in runs}, as_json=as_json)


@eval_app.command("show")
def show_command(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough) or 'latest'.")],
    failures: Annotated[bool, typer.Option("--failures", help="Also list every failed case.")] = False,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """One run: its settings and the per-category table (``--json``: every case too)."""
    with clean_errors(), _store(db) as store:
        run = store.get_run(run_id)
        print_run(run, store.cases(run.id), as_json=as_json, failures=failures, cases_in_json=True)


@eval_app.command("compare")
def compare_command(
    run_a: Annotated[str, typer.Argument(help="The earlier run.")],
    run_b: Annotated[str, typer.Argument(help="The later run.")],
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Per-category differences between two runs, and the cases whose verdict changed."""
    with clean_errors(), _store(db) as store:
        a, b = store.get_run(run_a), store.get_run(run_b)
        cases_a, cases_b = store.cases(a.id), store.cases(b.id)
        report_a, report_b = build_report(cases_a), build_report(cases_b)
        changes = changed_cases(cases_a, cases_b)
        if as_json:
            payload = {
                "a": {"id": a.id, "model": a.model, **report_a.to_json()},
                "b": {"id": b.id, "model": b.model, **report_b.to_json()},
                "changed": [c.__dict__ for c in changes],
            }
            typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
            return
        console = Console(highlight=False)
        console.print(compare_table(a, report_a, b, report_b))
        better = [c for c in changes if c.after == "ok"]
        worse = [c for c in changes if c.before == "ok"]
        console.print(f"\n{len(better)} case(s) now pass, {len(worse)} now fail:")
        for change in changes:
            mark = "[green]+[/]" if change.after == "ok" else "[red]-[/]"
            console.print(f" {mark} {change.case_id} ({change.reading}): {change.before} → {change.after}")
