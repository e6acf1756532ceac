"""The ``qwengraph`` command line.

Every failure the user can cause or meet (bad flags, dead servers, unknown models, broken cassettes,
tool errors) ends as one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agents.agent_run import make_model, pick_model, plan_run, run_think
from agents.cli_common import Display, ProfileOpt, TerminalApprover, clean_errors, fail
from agents.cli_doctor import doctor_command
from agents.cli_engine import BatchOpt, CtxOpt, ExtraBuftsOpt, ThreadsOpt, engine_options
from agents.cli_export import register as register_export
from agents.cli_graph import register as register_graph
from agents.cli_models import models_app
from agents.cli_progress import Activity, StatusLine, warm_engine
from agents.cli_retrieval import DbOption, IndexOption
from agents.cli_retrieval import register as register_retrieval
from agents.cli_threads import MEMORY_HELP, maybe_checkpointer
from agents.cli_threads import register as register_threads
from agents.cli_trace import trace_app
from agents.cli_workflow import register as register_workflow
from agents.eval.cli import eval_app
from agents.runner import Event, check_images, run
from agents.toolbox import open_tools, parse_approve, parse_tool_names, search_budget
from graphs.errors import ConfigError
from graphs.models.cassette import record, replay
from tools.retrieval import resolve_index

app = typer.Typer(
    name="qwengraph",
    help="Tool-calling agents on Qwen: thinking, exact tools, replayable runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(
    models_app, name="models", help="Install and manage the embedded local models; show a model's profile."
)
register_retrieval(app)
register_threads(app)
register_workflow(app)
register_export(app)
app.command("doctor")(doctor_command)
register_graph(app)
app.add_typer(trace_app, name="trace", help="Inspect recorded runs: model and tool calls, tokens, timings.")
app.add_typer(eval_app, name="eval", help="Measure tool calling: BFCL and your own task sets.")


def cassette_context(record_to: Path | None, replay_from: Path | None) -> AbstractContextManager[Any]:
    """The record or replay context for ``--record`` / ``--replay`` (neither: a no-op)."""
    if record_to and replay_from:
        raise ConfigError("--record and --replay cannot be used together")
    if replay_from:
        if not replay_from.is_file():
            raise ConfigError(f"--replay: no cassette at {replay_from}")
        return replay(replay_from)
    if record_to:
        return record(record_to)
    return nullcontext()


@app.command("run")
def run_command(
    prompt: Annotated[str, typer.Argument(help="What to ask the agent.")],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model URI (ollama:…, openai:…, local:…, transformers:…)."),
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="Server URL (else QWENGRAPH_BASE_URL).")] = None,
    think: Annotated[
        bool | None, typer.Option("--think/--no-think", help="Thinking on or off (default: on).")
    ] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Ask the server for whole answers.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
    record_to: Annotated[
        Path | None, typer.Option("--record", help="Record the model exchanges here.")
    ] = None,
    replay_from: Annotated[
        Path | None, typer.Option("--replay", help="Replay a recorded run offline.")
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(min=1, max=100, help="Model turns allowed (default: 8, 30 for worked, or the agent's)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.01, help="Seconds to wait for the server per request.")
    ] = 300.0,
    tool_names: Annotated[
        str | None,
        typer.Option(
            "--tools",
            help="Comma-separated: calculator, symbolic, run_python, search, installed tool names, or "
            "your own as module:attribute (default: calculator).",
        ),
    ] = None,
    force_tool: Annotated[
        bool | None,
        typer.Option(
            "--force-tool/--no-force-tool", help="First model call must use a tool (default: local models)."
        ),
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Keep the conversation in this thread (resumable).")
    ] = None,
    approve: Annotated[
        str, typer.Option("--approve", help="Comma-separated tools that need your approval per call.")
    ] = "",
    memory: Annotated[str | None, typer.Option("--memory", help=MEMORY_HELP)] = None,
    trace: Annotated[bool, typer.Option("--trace/--no-trace", help="Record the run in traces.db.")] = True,
    trace_content: Annotated[
        bool, typer.Option("--trace-content", help="Store prompt, arguments and answer as text in the trace.")
    ] = False,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="An agent (math-tutor, coding-assistant, researcher, automation, planner) or 'auto'.",
        ),
    ] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="Agent mode: math-tutor answer (default) or hint.")
    ] = None,
    language: Annotated[str | None, typer.Option("--language", help="Answer in this language.")] = None,
    graph: Annotated[
        str | None,
        typer.Option(
            "--graph",
            help="Plain runs: react, worked or auto (default: worked for local models, else react).",
        ),
    ] = None,
    ctx: CtxOpt = None,
    threads: ThreadsOpt = None,
    batch: BatchOpt = None,
    extra_bufts: ExtraBuftsOpt = None,
    profile: ProfileOpt = None,
    images: Annotated[
        list[Path] | None,
        typer.Option("--image", help="An image file for the prompt (repeatable; vision models only)."),
    ] = None,
    db: DbOption = None,
    index_name: IndexOption = None,
) -> None:
    """Run an agent on PROMPT: plain ReAct with --tools, or a named --agent (its tools and prompt)."""
    if not prompt.strip():
        raise fail("the prompt is empty", 2)
    console = Console(highlight=False)
    activity = Activity()
    status = None if as_json else StatusLine(activity)
    on_event: Callable[[Event], None] | None = None if as_json else Display(console, status)
    with clean_errors():
        approve_names = parse_approve(approve)
        engine = engine_options(ctx, threads, batch, extra_bufts)
        index_file = resolve_index(db, index_name)
        plan = plan_run(
            prompt,
            agent=agent,
            tools=parse_tool_names(tool_names) if tool_names is not None else None,
            think=think,
            force_tool=force_tool,
            max_steps=max_steps,
            mode=mode,
            language=language,
            graph=graph,
            index=index_file,
        )
    if plan.reason and not as_json:
        note = f"agent: {plan.agent or 'plain'} ({plan.reason})"
        Console(stderr=True, highlight=False).print(note, style="dim", markup=False)
    with (
        clean_errors(),
        cassette_context(record_to, replay_from),
        open_tools(
            plan.tools,
            session_id=thread or "cli",
            index=index_file,
            search_tokens=search_budget(pick_model(model, plan.model)),
        ) as tools,
        maybe_checkpointer(thread is not None, memory) as saver,
        status or nullcontext(),
    ):
        chat_model = make_model(
            plan, model=model, base_url=base_url, timeout=timeout, engine=engine, profile=profile
        )
        if images:
            check_images(chat_model, images)  # before a local engine loads for nothing
        result = run(
            prompt,
            chat_model=chat_model,
            think=run_think(plan),
            stream=not no_stream,
            max_steps=plan.max_steps,
            force_tool=plan.force_tool,
            tools=tools,
            system_prompt=plan.prompt_for(tools),
            on_event=on_event,
            thread=thread,
            checkpointer=saver,
            approve=approve_names,
            approver=TerminalApprover(),
            trace=trace,
            trace_content=trace_content,
            spec=plan,
            language=plan.language,
            callbacks=[activity],
            warm=lambda llm: warm_engine(llm, activity),
            images=images or (),
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    else:
        console.print()
        if result.stopped:
            Console(stderr=True).print(f"[yellow]{result.answer}[/]")
    if result.stopped:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()
