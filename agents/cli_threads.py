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
from typing import Annotated, Any

import typer
from langchain_core.messages import AnyMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore
from rich.console import Console

import prompts
from agents.agent_run import make_model, plan_run, run_think
from agents.cli_common import Display, ProfileOpt, TerminalApprover, clean_errors
from agents.cli_engine import BatchOpt, CtxOpt, ExtraBuftsOpt, ThreadsOpt, engine_options
from agents.cli_progress import Activity, StatusLine, warm_engine
from agents.cli_retrieval import DbOption, IndexOption
from agents.runner import run, thread_origin
from agents.settings import resolve_model
from agents.toolbox import open_tools, parse_approve, parse_tool_names, search_budget
from graphs.errors import ConfigError
from graphs.memory import make_memory_tools, open_checkpointer, open_store, recall_context
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text
from graphs.models.profiles import get_profile
from tools.retrieval import resolve_index

MEMORY_HELP = "Thread storage: sqlite:///PATH, postgres://..., memory:// (else QWENGRAPH_MEMORY)."
ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model URI (ollama:…, openai:…, local:…).")
]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="Server URL (else QWENGRAPH_BASE_URL).")]
MemoryOpt = Annotated[str | None, typer.Option("--memory", help=MEMORY_HELP)]
ToolsOpt = Annotated[
    str,
    typer.Option(
        "--tools",
        help="Comma-separated: calculator, symbolic, run_python, search, installed names, module:attribute.",
    ),
]
ApproveOpt = Annotated[
    str, typer.Option("--approve", help="Comma-separated tools that need your approval per call.")
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
    with open_checkpointer(memory_uri(uri)) as saver:
        yield saver


@contextmanager
def user_store(user: str | None, memory: str | None) -> Iterator[BaseStore | None]:
    """The long-term store when a user is named: the same server as ``--memory`` for Postgres and
    ``memory://``, else ``$QWENGRAPH_HOME/memory.db``."""
    if not user:
        yield None
        return
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
    thread: Annotated[str, typer.Option("--thread", help="Conversation to continue or start.")] = "default",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    memory: MemoryOpt = None,
    tool_names: ToolsOpt = "calculator",
    approve: ApproveOpt = "",
    user: Annotated[
        str | None, typer.Option("--user", help="Long-term memory for this user: remember/recall tools.")
    ] = None,
    ctx: CtxOpt = None,
    threads: ThreadsOpt = None,
    batch: BatchOpt = None,
    extra_bufts: ExtraBuftsOpt = None,
    profile: ProfileOpt = None,
    db: DbOption = None,
    index_name: IndexOption = None,
) -> None:
    """Chat in a thread that survives restarts; /exit (or end of input) quits."""
    console = Console(highlight=False)
    approve_names = parse_approve(approve)
    with clean_errors():
        engine = engine_options(ctx, threads, batch, extra_bufts)
        if profile is not None:
            get_profile(profile)  # an unknown name fails here, not at the first message
    with (
        clean_errors(),
        open_checkpointer(memory_uri(memory)) as saver,
        open_tools(
            parse_tool_names(tool_names),
            session_id=thread,
            index=resolve_index(db, index_name),
            search_tokens=search_budget(resolve_model(model)),
        ) as base_tools,
        user_store(user, memory) as store,
    ):
        tools = base_tools + (make_memory_tools(store, user) if store is not None and user else [])
        llm = ChatQwen(model=resolve_model(model), base_url=base_url, engine=engine, qwen_profile=profile)
        activity = Activity()
        known = len(thread_messages_or_empty(saver, thread))
        console.print(f"[dim]thread {thread!r} ({known} messages); /exit quits[/]")
        while True:
            console.print("[bold]you>[/] ", end="")
            line = sys.stdin.readline()
            if not line or line.strip() in {"/exit", "/quit"}:
                break
            if not line.strip():
                continue
            system = None
            if store is not None and user:
                facts = recall_context(store, user, line.strip())
                system = prompts.render("react", tool_names=sorted(t.name for t in tools))
                system = f"{system}\n\n{facts}" if facts else system
            with StatusLine(activity) as status:
                run(
                    line.strip(),
                    chat_model=llm,
                    thread=thread,
                    checkpointer=saver,
                    tools=tools,
                    on_event=Display(console, status),
                    approve=approve_names,
                    approver=TerminalApprover(),
                    system_prompt=system,
                    callbacks=[activity],
                    warm=lambda model: warm_engine(model, activity),
                )
            console.print()


def resume_command(
    thread: Annotated[str, typer.Option("--thread", help="The thread whose run to continue.")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    memory: MemoryOpt = None,
    tool_names: Annotated[
        str | None,
        typer.Option("--tools", help="Comma-separated tools (default: the agent's, else calculator)."),
    ] = None,
    approve: ApproveOpt = "",
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="The agent the run was started with (default: as the thread records)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with the result.")] = False,
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
    console = Console(highlight=False)
    with clean_errors(), open_checkpointer(memory_uri(memory)) as saver:
        approve_names = parse_approve(approve)
        engine = engine_options(ctx, threads, batch, extra_bufts)
        name = agent or thread_origin(saver, thread)[1]
        tools = parse_tool_names(tool_names) if tool_names is not None else None
        index_file = resolve_index(db, index_name)
        plan = plan_run("", agent=name, tools=tools, index=index_file)
        llm = make_model(plan, model=model, base_url=base_url, engine=engine, profile=profile)
        with open_tools(
            plan.tools, session_id=thread, index=index_file, search_tokens=search_budget(llm.model)
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
def threads_list(memory: MemoryOpt = None) -> None:
    """Saved threads, newest first."""
    with clean_errors(), open_checkpointer(memory_uri(memory)) as saver:
        for thread, stamp in thread_ids(saver).items():
            sys.stdout.write(f"{thread}\t{stamp}\t{len(thread_messages(saver, thread))} messages\n")


@threads_app.command("show")
def threads_show(name: Annotated[str, typer.Argument(help="Thread name.")], memory: MemoryOpt = None) -> None:
    """Print a thread's conversation (thinking dimmed, tool results indented)."""
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
    name: Annotated[str, typer.Argument(help="Thread name.")], memory: MemoryOpt = None
) -> None:
    """Delete a thread and all its checkpoints."""
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
