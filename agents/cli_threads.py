"""Conversations that last: ``qwengraph chat``, ``resume`` and ``threads list|show|delete``.

Threads live in a LangGraph checkpointer chosen by URI (``--memory`` or ``QWENGRAPH_MEMORY``;
default ``sqlite:///$QWENGRAPH_HOME/threads.db``), so a conversation survives restarts and a run
killed mid-way continues with ``qwengraph resume --thread NAME``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agents.cli_common import ProfileOpt, clean_errors
from agents.cli_engine import BatchOpt, CtxOpt, ExtraBuftsOpt, ThreadsOpt, engine_options
from agents.cli_mcp import McpOpt, load_servers
from agents.cli_options import (
    MEMORY_HELP,
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
    UserOpt,
    check_sandbox,
    think_policy,
)
from graphs.errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.messages import AnyMessage
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.store.base import BaseStore

__all__ = ["MEMORY_HELP", "maybe_checkpointer", "memory_uri", "thread_ids", "thread_messages", "user_store"]

ToolsOpt = Annotated[
    str,
    typer.Option(
        "--tools",
        help="Comma-separated: calculator, symbolic, run_python, search, mcp:SERVER or mcp:SERVER/TOOL.",
        metavar="TOOLS",
    ),
]


def memory_uri(flag: str | None) -> str | None:
    """``--memory``, else ``QWENGRAPH_MEMORY``, else ``None`` (the default SQLite file)."""
    return flag or os.environ.get("QWENGRAPH_MEMORY") or None


@contextmanager
def maybe_checkpointer(enabled: bool, uri: str | None) -> Iterator[BaseCheckpointSaver[Any] | None]:
    """The thread checkpointer when threads are in use, else ``None``."""
    if not enabled:
        with nullcontext():
            yield None
        return
    from graphs.memory import open_checkpointer  # noqa: PLC0415 - LangGraph loads when a command runs

    with open_checkpointer(memory_uri(uri)) as saver:
        yield saver


@contextmanager
def user_store(user: str | None, memory: str | None) -> Iterator[BaseStore | None]:
    """The long-term store when a user is named: the same server as ``--memory`` for Postgres and
    ``memory://``, else ``$QWENGRAPH_HOME/memory.db``."""
    if not user:
        yield None
        return
    from graphs.memory import open_store  # noqa: PLC0415

    uri = memory_uri(memory)
    with open_store(uri if uri and not uri.startswith("sqlite") else None) as store:
        yield store


def thread_ids(saver: BaseCheckpointSaver[Any]) -> dict[str, str]:
    """Every thread with the time of its latest checkpoint (newest first)."""
    latest: dict[str, str] = {}
    for item in saver.list(None):
        thread = str(item.config["configurable"]["thread_id"])
        stamp = str(item.checkpoint.get("ts", ""))
        latest[thread] = max(latest.get(thread, ""), stamp)
    return dict(sorted(latest.items(), key=lambda kv: kv[1], reverse=True))


def thread_messages(saver: BaseCheckpointSaver[Any], thread: str) -> list[AnyMessage]:
    """The conversation saved in ``thread``; :class:`ConfigError` when there is no such thread."""
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    if saved is None:
        raise ConfigError(f"no thread named {thread!r} (see `qwengraph threads list`)")
    return list(saved.checkpoint.get("channel_values", {}).get("messages", []))


threads_app = typer.Typer(help="List, show and delete saved conversations.", no_args_is_help=True)


def chat_command(
    thread: Annotated[
        str, typer.Option("--thread", help="Conversation to continue or start.", metavar="NAME")
    ] = "default",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="Chat with an agent (its tools and prompt): math-tutor, researcher...",
            metavar="NAME",
        ),
    ] = None,
    memory: MemoryOpt = None,
    tool_names: Annotated[
        str | None,
        typer.Option(
            "--tools",
            help="Comma-separated: calculator, symbolic, run_python, search, installed names, "
            "module:attribute, mcp:SERVER, mcp:SERVER/TOOL (default: the agent's, else calculator).",
            metavar="TOOLS",
        ),
    ] = None,
    approve: ApproveOpt = "",
    user: UserOpt = None,
    think: ThinkOpt = None,
    no_think: NoThinkOpt = False,
    thinking_budget: BudgetOpt = None,
    soft_switch: SoftSwitchOpt = False,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    max_tokens: MaxTokensOpt = None,
    sandbox: SandboxOpt = "auto",
    mcp: McpOpt = None,
    ctx: CtxOpt = None,
    threads: ThreadsOpt = None,
    batch: BatchOpt = None,
    extra_bufts: ExtraBuftsOpt = None,
    profile: ProfileOpt = None,
    db: DbOption = None,
    index_name: IndexOption = None,
) -> None:
    """Chat in a thread that survives restarts; /exit (or end of input) quits."""
    from rich.console import Console  # noqa: PLC0415 - LangChain and LangGraph load when a command runs

    import prompts  # noqa: PLC0415
    from agents.agent_run import make_model, pick_model, plan_run, run_think  # noqa: PLC0415
    from agents.cli_common import Display, TerminalApprover  # noqa: PLC0415
    from agents.cli_progress import Activity, StatusLine, warm_engine  # noqa: PLC0415
    from agents.runner import run  # noqa: PLC0415
    from agents.toolbox import (  # noqa: PLC0415
        open_tools,
        parse_approve,
        parse_tool_names,
        search_budget,
        with_mcp_servers,
    )
    from graphs.memory import make_memory_tools, open_checkpointer, recall_context  # noqa: PLC0415
    from tools.retrieval import resolve_index  # noqa: PLC0415

    console = Console(highlight=False)
    with clean_errors():
        approve_names = parse_approve(approve)
        engine = engine_options(ctx, threads, batch, extra_bufts)
        servers = load_servers(mcp)
        tools = parse_tool_names(tool_names) if tool_names is not None else None
        index_file = resolve_index(db, index_name)
        plan = plan_run(
            "",
            agent=agent,
            tools=tools,
            think=think_policy(think, no_think),
            graph=None if agent else "react",
            index=index_file,
        )
        names = with_mcp_servers(plan.tools, servers or {})
        sampling = Sampling(temperature, seed, max_tokens, thinking_budget, soft_switch).fields()
    with (
        clean_errors(),
        open_checkpointer(memory_uri(memory)) as saver,
        open_tools(
            names,
            session_id=thread,
            mcp_servers=plan.servers(servers),
            sandbox=check_sandbox(sandbox),  # type: ignore[arg-type]
            index=index_file,
            search_tokens=search_budget(pick_model(model, plan.model)),
        ) as base_tools,
        user_store(user, memory) as store,
    ):
        tools_now = base_tools + (make_memory_tools(store, user) if store is not None and user else [])
        llm = make_model(
            plan, model=model, base_url=base_url, engine=engine, profile=profile, sampling=sampling
        )
        activity = Activity()
        known = len(thread_messages_or_empty(saver, thread))
        who = f" with {plan.agent}" if plan.agent else ""
        console.print(f"[dim]thread {thread!r}{who} ({known} messages); /exit quits[/]")
        while True:
            console.print("[bold]you>[/] ", end="")
            line = sys.stdin.readline()
            if not line or line.strip() in {"/exit", "/quit"}:
                break
            if not line.strip():
                continue
            system = plan.prompt_for(tools_now)
            if store is not None and user:
                facts = recall_context(store, user, line.strip())
                system = system or prompts.render("react", tool_names=sorted(t.name for t in tools_now))
                system = f"{system}\n\n{facts}" if facts else system
            with StatusLine(activity) as status:
                run(
                    line.strip(),
                    chat_model=llm,
                    thread=thread,
                    checkpointer=saver,
                    tools=tools_now,
                    think=run_think(plan),
                    max_steps=plan.max_steps,
                    spec=plan,
                    language=plan.language,
                    on_event=Display(console, status),
                    approve=approve_names,
                    approver=TerminalApprover(),
                    system_prompt=system,
                    callbacks=[activity],
                    warm=lambda model: warm_engine(model, activity),
                )
            console.print()


def resume_command(
    thread: Annotated[
        str, typer.Option("--thread", help="The thread whose run to continue.", metavar="NAME")
    ],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    memory: MemoryOpt = None,
    tool_names: Annotated[
        str | None,
        typer.Option(
            "--tools", help="Comma-separated tools (default: the agent's, else calculator).", metavar="TOOLS"
        ),
    ] = None,
    approve: ApproveOpt = "",
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="The agent the run was started with (default: as the thread records).",
            metavar="NAME",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
    thinking_budget: BudgetOpt = None,
    soft_switch: SoftSwitchOpt = False,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    max_tokens: MaxTokensOpt = None,
    sandbox: SandboxOpt = "auto",
    mcp: McpOpt = None,
    ctx: CtxOpt = None,
    threads: ThreadsOpt = None,
    batch: BatchOpt = None,
    extra_bufts: ExtraBuftsOpt = None,
    profile: ProfileOpt = None,
    db: DbOption = None,
    index_name: IndexOption = None,
) -> None:
    """Continue a run that was interrupted (killed, or waiting for approval) from its last step.

    The thread records the agent and graph its run was started with; the same agent is rebuilt, so
    an agent's run resumes on its own graph, prompt and tools.
    """
    from rich.console import Console  # noqa: PLC0415

    from agents.agent_run import make_model, plan_run, run_think  # noqa: PLC0415
    from agents.cli_common import Display, TerminalApprover  # noqa: PLC0415
    from agents.runner import run, thread_origin  # noqa: PLC0415
    from agents.toolbox import (  # noqa: PLC0415
        open_tools,
        parse_approve,
        parse_tool_names,
        search_budget,
        with_mcp_servers,
    )
    from graphs.memory import open_checkpointer  # noqa: PLC0415
    from tools.retrieval import resolve_index  # noqa: PLC0415

    console = Console(highlight=False)
    with clean_errors(), open_checkpointer(memory_uri(memory)) as saver:
        approve_names = parse_approve(approve)
        engine = engine_options(ctx, threads, batch, extra_bufts)
        name = agent or thread_origin(saver, thread)[1]
        tools = parse_tool_names(tool_names) if tool_names is not None else None
        index_file = resolve_index(db, index_name)
        plan = plan_run("", agent=name, tools=tools, index=index_file)
        servers = load_servers(mcp)
        names = with_mcp_servers(plan.tools, servers or {})
        sampling = Sampling(temperature, seed, max_tokens, thinking_budget, soft_switch).fields()
        llm = make_model(
            plan, model=model, base_url=base_url, engine=engine, profile=profile, sampling=sampling
        )
        with open_tools(
            names,
            session_id=thread,
            mcp_servers=plan.servers(servers),
            sandbox=check_sandbox(sandbox),  # type: ignore[arg-type]
            index=index_file,
            search_tokens=search_budget(llm.model),
        ) as opened:
            result = run(
                None,
                chat_model=llm,
                thread=thread,
                checkpointer=saver,
                tools=opened,
                think=run_think(plan),
                max_steps=plan.max_steps,
                force_tool=plan.force_tool,
                system_prompt=plan.prompt_for(opened),
                language=plan.language,
                spec=plan,
                on_event=None if as_json else Display(console),
                approve=approve_names,
                approver=TerminalApprover(),
            )
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    else:
        console.print()


@threads_app.command("list")
def threads_list(
    memory: MemoryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Saved threads, newest first: name, last activity, messages."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from graphs.memory import open_checkpointer  # noqa: PLC0415

    with clean_errors(), open_checkpointer(memory_uri(memory)) as saver:
        found = [(t, stamp, len(thread_messages(saver, t))) for t, stamp in thread_ids(saver).items()]
    if as_json:
        rows = [{"thread": t, "updated": stamp, "messages": n} for t, stamp, n in found]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    if not found:
        typer.echo("no saved threads yet (start one with: qwengraph chat --thread NAME)")
        return
    table = Table(title="qwengraph threads")
    for column, justify in (("thread", "left"), ("last activity (UTC)", "left"), ("messages", "right")):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for name, stamp, count in found:
        table.add_row(name, stamp.replace("T", " ")[:19], str(count))
    console = Console()
    if not console.is_terminal:
        console.width = 200  # pipes and logs: keep each thread on one line
    console.print(table)


@threads_app.command("show")
def threads_show(
    name: Annotated[str, typer.Argument(help="Thread name.", metavar="NAME")], memory: MemoryOpt = None
) -> None:
    """Print a thread's conversation (thinking dimmed, tool results indented)."""
    from langchain_core.messages import ToolMessage  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415

    from graphs.memory import open_checkpointer  # noqa: PLC0415
    from graphs.models.messages import reasoning_text  # noqa: PLC0415

    console = Console(highlight=False)
    with clean_errors(), open_checkpointer(memory_uri(memory)) as saver:
        for message in thread_messages(saver, name):
            thought = reasoning_text(message)
            if thought:
                console.print(thought, style="dim", markup=False)
            label = "tool" if isinstance(message, ToolMessage) else message.type
            console.print(f"[bold]{label}>[/] ", end="")
            console.print(message.text or json.dumps(getattr(message, "tool_calls", [])), markup=False)


@threads_app.command("delete")
def threads_delete(
    name: Annotated[str, typer.Argument(help="Thread name.", metavar="NAME")], memory: MemoryOpt = None
) -> None:
    """Delete a thread and all its checkpoints."""
    from graphs.memory import open_checkpointer  # noqa: PLC0415

    with clean_errors(), open_checkpointer(memory_uri(memory)) as saver:
        thread_messages(saver, name)
        saver.delete_thread(name)
    sys.stdout.write(f"deleted thread {name}\n")


def register(app: typer.Typer) -> None:
    """Add ``chat``, ``resume`` and ``threads`` to the main app."""
    app.command("chat")(chat_command)
    app.command("resume")(resume_command)
    app.add_typer(threads_app, name="threads")


def thread_messages_or_empty(saver: BaseCheckpointSaver[Any], thread: str) -> list[AnyMessage]:
    """The thread's messages, or none for a new thread."""
    try:
        return thread_messages(saver, thread)
    except ConfigError:
        return []
