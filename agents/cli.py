"""The ``qwengraph`` command line.

Every failure the user can cause or meet (bad flags, dead servers, unknown models, broken cassettes,
tool errors) ends as one line on stderr and a non-zero exit code, never a traceback.

Startup is kept light: this module imports typer and the option definitions only; each command
imports what it needs when it runs (:mod:`agents.cli_lazy` loads the other commands' modules on
demand), so ``qwengraph --help`` and ``qwengraph run --help`` do not import LangChain or LangGraph.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from agents.cli_common import DEBUG_ENV, NO_WAIT_HELP, ProfileOpt, fail, internal_message
from agents.cli_engine import BatchOpt, CtxOpt, ExtraBuftsOpt, ThreadsOpt, engine_options
from agents.cli_lazy import AGENTS, LazyGroup
from agents.cli_mcp import McpOpt, load_servers
from agents.cli_options import (
    ApproveOpt,
    BaseUrlOpt,
    BudgetOpt,
    DbOption,
    IndexOption,
    MaxTokensOpt,
    MemoryOpt,
    ModelOpt,
    NoThinkOpt,
    Sampling,
    SandboxOpt,
    SeedOpt,
    SoftSwitchOpt,
    TemperatureOpt,
    ThinkOpt,
    TimeoutOpt,
    UserOpt,
    check_sandbox,
    think_policy,
)
from graphs.errors import ConfigError
from graphs.exit_codes import ExitCode

if TYPE_CHECKING:
    from agents.runner import Event


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            typer.echo(f"qwengraph {version('qwengraph')}")
        except PackageNotFoundError:
            typer.echo("qwengraph (not installed as a package)")
        raise typer.Exit


app = typer.Typer(
    name="qwengraph",
    cls=LazyGroup,
    help="Tool-calling agents on Qwen: thinking, exact tools, replayable runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Tool-calling agents on Qwen: thinking, exact tools, replayable runs.

    Start with: qwengraph run "What is 17*23?" (see qwengraph run --help).
    """


def cassette_context(record_to: Path | None, replay_from: Path | None) -> AbstractContextManager[Any]:
    """The record or replay context for ``--record`` / ``--replay`` (neither: a no-op)."""
    from graphs.models.cassette import record, replay  # noqa: PLC0415

    if record_to and replay_from:
        raise ConfigError("--record and --replay cannot be used together")
    if replay_from:
        if not replay_from.is_file():
            raise ConfigError(f"--replay: no cassette at {replay_from}")
        return replay(replay_from)
    if record_to:
        return record(record_to)
    return nullcontext()


@app.command("run", rich_help_panel=AGENTS)
def run_command(
    prompt: Annotated[
        str, typer.Argument(help="What to ask the agent.", metavar="PROMPT", show_default=False)
    ],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="An agent (math-tutor, coding-assistant, researcher, automation, planner) or 'auto'.",
            metavar="NAME",
        ),
    ] = None,
    tool_names: Annotated[
        str | None,
        typer.Option(
            "--tools",
            help="Comma-separated: calculator, symbolic, run_python, search, installed tool names, your "
            "own as module:attribute, mcp:SERVER, mcp:SERVER/TOOL (default: calculator).",
            metavar="TOOLS",
        ),
    ] = None,
    think: ThinkOpt = None,
    no_think: NoThinkOpt = False,
    thinking_budget: BudgetOpt = None,
    soft_switch: SoftSwitchOpt = False,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    max_tokens: MaxTokensOpt = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Ask the server for whole answers.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
    record_to: Annotated[
        Path | None, typer.Option("--record", help="Record the model exchanges here.", metavar="FILE")
    ] = None,
    replay_from: Annotated[
        Path | None, typer.Option("--replay", help="Replay a recorded run offline.", metavar="FILE")
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=100,
            help="Model turns allowed (default: 8, 30 for worked, or the agent's).",
            metavar="N",
        ),
    ] = None,
    timeout: TimeoutOpt = 300.0,
    force_tool: Annotated[
        bool | None,
        typer.Option(
            "--force-tool/--no-force-tool", help="First model call must use a tool (default: local models)."
        ),
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Keep the conversation in this thread (resumable).", metavar="NAME"),
    ] = None,
    approve: ApproveOpt = "",
    memory: MemoryOpt = None,
    user: UserOpt = None,
    sandbox: SandboxOpt = "auto",
    mcp: McpOpt = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help=NO_WAIT_HELP)] = False,
    trace: Annotated[bool, typer.Option("--trace/--no-trace", help="Record the run in traces.db.")] = True,
    trace_content: Annotated[
        bool, typer.Option("--trace-content", help="Store prompt, arguments and answer as text in the trace.")
    ] = False,
    otel: Annotated[
        bool, typer.Option("--otel", help="Also send the run as OpenTelemetry spans (OTEL_EXPORTER_OTLP_*).")
    ] = False,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="Agent mode: math-tutor answer (default) or hint.", metavar="MODE"),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Answer in this language.", metavar="LANGUAGE")
    ] = None,
    graph: Annotated[
        str | None,
        typer.Option(
            "--graph",
            help="Plain runs: react, worked or auto (default: worked for local models, else react).",
            metavar="NAME",
        ),
    ] = None,
    ctx: CtxOpt = None,
    threads: ThreadsOpt = None,
    batch: BatchOpt = None,
    extra_bufts: ExtraBuftsOpt = None,
    profile: ProfileOpt = None,
    images: Annotated[
        list[Path] | None,
        typer.Option(
            "--image", help="An image file for the prompt (repeatable; vision models only).", metavar="FILE"
        ),
    ] = None,
    db: DbOption = None,
    index_name: IndexOption = None,
) -> None:
    """Run an agent on PROMPT: plain ReAct with --tools, or a named --agent (its tools and prompt)."""
    from rich.console import Console  # noqa: PLC0415 - what follows loads LangChain and LangGraph

    from agents import cli_input  # noqa: PLC0415
    from agents.agent_run import make_model, pick_model, plan_run, run_think  # noqa: PLC0415
    from agents.cli_common import Display, TerminalApprover, clean_errors, waiting_note  # noqa: PLC0415
    from agents.cli_progress import Activity, StatusLine, warm_engine  # noqa: PLC0415
    from agents.cli_threads import maybe_checkpointer, user_store  # noqa: PLC0415
    from agents.runner import check_images, run  # noqa: PLC0415
    from agents.toolbox import (  # noqa: PLC0415
        open_tools,
        parse_approve,
        parse_tool_names,
        search_budget,
        with_mcp_servers,
    )
    from tools.retrieval import resolve_index  # noqa: PLC0415

    console = Console(highlight=False)
    activity = Activity()
    status = None if as_json else StatusLine(activity)
    on_event: Callable[[Event], None] | None = None if as_json else Display(console, status)
    with clean_errors():
        cli_input.prompt(prompt)
        cli_input.base_url(base_url)
        cli_input.memory_uri(memory)
        cli_input.name(thread, "--thread")
        cli_input.name(user, "--user")
        approve_names = parse_approve(approve)
        engine = engine_options(ctx, threads, batch, extra_bufts)
        servers = load_servers(mcp)
        sampling = Sampling(temperature, seed, max_tokens, thinking_budget, soft_switch).fields()
        index_file = resolve_index(db, index_name)
        plan = plan_run(
            prompt,
            agent=agent,
            tools=parse_tool_names(tool_names) if tool_names is not None else None,
            think=think_policy(think, no_think),
            force_tool=force_tool,
            max_steps=max_steps,
            mode=mode,
            language=language,
            graph=graph,
            index=index_file,
        )
        exporter = otel_exporter(otel, plan.agent, thread)
    if plan.reason and not as_json:
        note = f"agent: {plan.agent or 'plain'} ({plan.reason})"
        Console(stderr=True, highlight=False).print(note, style="dim", markup=False)
    with (
        clean_errors(),
        cassette_context(record_to, replay_from),
        open_tools(
            with_mcp_servers(plan.tools, servers or {}),
            session_id=thread or "cli",
            mcp_servers=plan.servers(servers),
            sandbox=check_sandbox(sandbox),  # type: ignore[arg-type]
            index=index_file,
            search_tokens=search_budget(pick_model(model, plan.model)),
        ) as tools,
        user_store(user, memory) as store,
        maybe_checkpointer(thread is not None, memory) as saver,
        status or nullcontext(),
        flushing(exporter),
    ):
        chat_model = make_model(
            plan,
            model=model,
            base_url=base_url,
            timeout=timeout,
            engine=engine,
            profile=profile,
            sampling=sampling,
        )
        if images:
            check_images(chat_model, images)  # before a local engine loads for nothing
        system_prompt = plan.prompt_for(tools)
        offered = list(tools)
        if store is not None and user:
            offered, system_prompt = with_memory(offered, system_prompt, store, user, prompt)
        result = run(
            prompt,
            chat_model=chat_model,
            think=run_think(plan),
            stream=not no_stream,
            max_steps=plan.max_steps,
            force_tool=plan.force_tool,
            tools=offered,
            system_prompt=system_prompt,
            on_event=on_event,
            thread=thread,
            checkpointer=saver,
            approve=approve_names,
            approver=TerminalApprover(),
            trace=trace,
            trace_content=trace_content,
            spec=plan,
            language=plan.language,
            callbacks=[activity, *([exporter[1]] if exporter else [])],
            warm=lambda llm: warm_engine(llm, activity),
            images=images or (),
            wait=not no_wait,
            on_wait=waiting_note(thread) if thread else None,
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        if result.stopped:  # the JSON holds the whole note; stderr says why in one line
            reason = result.answer.strip().splitlines()[-1] if result.answer.strip() else result.stopped
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"stopped: {reason}", style="yellow", markup=False
            )
    else:
        console.print()
        if result.stopped:
            Console(stderr=True, highlight=False).print(result.answer, style="yellow", markup=False)
    if result.stopped:
        raise typer.Exit(ExitCode.STOPPED)


def with_memory(
    tools: list[Any], system_prompt: str | None, store: Any, user: str, prompt: str
) -> tuple[list[Any], str]:
    """``--user``: add remember/recall and put the facts recalled for ``prompt`` in the system prompt."""
    import prompts  # noqa: PLC0415
    from graphs.memory import make_memory_tools, recall_context  # noqa: PLC0415

    tools = [*tools, *make_memory_tools(store, user)]
    base = system_prompt or prompts.render("react", tool_names=sorted(t.name for t in tools))
    facts = recall_context(store, user, prompt)
    return tools, f"{base}\n\n{facts}" if facts else base


@contextmanager
def flushing(exporter: tuple[Any, Any] | None) -> Iterator[None]:
    """Flush and stop the ``--otel`` exporter when the run ends, also when it failed."""
    try:
        yield
    finally:
        if exporter is not None:
            exporter[0].shutdown()


def otel_exporter(enabled: bool, agent: str | None, thread: str | None) -> tuple[Any, Any] | None:
    """``--otel``: an OTLP tracer provider and the recorder feeding it (``None`` without the flag)."""
    if not enabled:
        return None
    from graphs.memory.otel import OtelRecorder, otlp_provider  # noqa: PLC0415

    provider = otlp_provider()
    return provider, OtelRecorder(provider, agent=agent, conversation=thread)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: every error is one ``error:`` line and a code from the table.

    Flags and arguments click refuses (an unknown option, a missing argument, a value of the wrong
    type) are bad input like any other: one line naming the command's ``--help``, exit code 2
    (click's own output is a framed box). Anything no command caught is one line and exit code 70.
    """
    try:
        outcome = app(args=argv, prog_name="qwengraph", standalone_mode=False)
    except typer.TyperException as err:  # click's errors (typer vendors click)
        if type(err).__name__ == "NoArgsIsHelpError":  # a command group named alone: its help
            from typer.rich_utils import rich_format_error  # noqa: PLC0415

            rich_format_error(cast(Any, err))
            sys.exit(ExitCode.USAGE)
        fail(usage_message(err), ExitCode.USAGE)
        sys.exit(ExitCode.USAGE)
    except typer.Abort:  # end of input inside a click prompt
        fail("interrupted", ExitCode.INTERRUPTED)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as err:  # the last resort behind every command's clean_errors
        if os.environ.get(DEBUG_ENV):
            raise
        fail(internal_message(err), ExitCode.INTERNAL)
        sys.exit(ExitCode.INTERNAL)
    sys.exit(outcome if isinstance(outcome, int) else ExitCode.OK)


def usage_message(err: typer.TyperException) -> str:
    """Click's message on one line, with the command whose ``--help`` explains the flags."""
    message = " ".join(line.strip() for line in err.format_message().splitlines() if line.strip())
    message = message.removesuffix(".")
    ctx = getattr(err, "ctx", None)
    return f"{message} (see `{ctx.command_path} --help`)" if ctx is not None else message
