"""Run an agent: the Python API behind ``qwengraph run``.

Example:
    >>> from agents.runner import run
    >>> result = run("What is 17*23? Use the calculator.", model="ollama:qwen3:8b")  # doctest: +SKIP
    >>> print(result.answer)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, StateSnapshot

from agents.run_core import (
    AGENT_KEY,
    ANSWER_ROOM,
    GRAPH_KEY,
    SERVER_CONTEXT_TOKENS,
    THINK_IGNORED_NOTE,
    BuiltRun,
    Event,
    EventReader,
    build_run,
    check_images,
    check_same_graph,
    choose_graph,
    context_budget,
    continues_unfinished,
    current_turn,
    default_tools,
    origin_of,
    request_message,
    rollback_target,
)
from agents.safety import DEFAULT_MAX_INPUT_CHARS
from graphs.build import STREAMED_ANSWER, GraphSpec
from graphs.errors import ConfigError
from graphs.memory.traces import recording_trace
from graphs.models.chat import ChatQwen
from graphs.summary import RunSummary, summarize

__all__ = [
    "AGENT_KEY",
    "ANSWER_ROOM",
    "GRAPH_KEY",
    "SERVER_CONTEXT_TOKENS",
    "THINK_IGNORED_NOTE",
    "Approver",
    "Event",
    "check_images",
    "choose_graph",
    "context_budget",
    "current_turn",
    "default_tools",
    "request_message",
    "run",
    "thread_origin",
]

Approver = Callable[[dict[str, Any]], dict[str, Any]]
"""Decides an approval request (``{"name", "args", "id"}``).

Returns ``{"action": "approve"}``, ``{"action": "reject", "reason": ...}`` or
``{"action": "edit", "args": {...}}``.
"""


def run(
    prompt: str | None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    think: bool | None = None,
    stream: bool = True,
    max_steps: int | None = None,
    tools: Sequence[BaseTool | Callable[..., Any]] | None = None,
    force_tool: bool | None = None,
    on_event: Callable[[Event], None] | None = None,
    chat_model: ChatQwen | None = None,
    thread: str | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    approve: Sequence[str] = (),
    approver: Approver | None = None,
    trace: bool = True,
    trace_content: bool = False,
    system_prompt: str | None = None,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    spec: GraphSpec | None = None,
    language: str | None = None,
    callbacks: Sequence[BaseCallbackHandler] = (),
    warm: Callable[[ChatQwen], None] | None = None,
    images: Sequence[str | Path] = (),
    profile: str | None = None,
    display: bool | None = None,
) -> RunSummary:
    """Run an agent's graph on ``prompt`` (``None``: resume ``thread``) and return its summary.

    The graph is the one ``spec`` names, or the one :func:`choose_graph` picks, compiled by
    :func:`graphs.build.build_graph`; every option below works for each graph unless it says
    otherwise. A plan_execute run streams thinking, tool results and progress lines (plan, step
    results), and its answer once the verifier has accepted it. :func:`agents.arunner.arun` and
    :func:`agents.arunner.astream` are the async twins.

    Args:
        prompt: the user's request; ``None`` continues the thread from its last saved step
            (LangGraph's resume: no new input, an interrupted node reruns from its start, tool
            calls that had finished are not run again).
        model: model URI; defaults as in :func:`agents.settings.resolve_model`.
        base_url: server URL for ``ollama:``/``openai:`` models.
        think: thinking on/off for the model calls (``None``: on for planning).
        stream: stream from the server (thinking and answer arrive piece by piece).
        max_steps: model turns allowed before the run stops with a clear message (``None``: the
            graph's default, :data:`graphs.build.DEFAULT_STEPS`).
        tools: tools to offer (LangChain tools, or typed functions with a docstring, which are made
            tools; async tools run too); the calculator by default.
        force_tool: make the first model call a tool call; ``None``: yes for in-process models
            (small models otherwise compute in their head), no for servers. ReAct only.
        on_event: called with each :class:`Event` as it happens (the CLI's display), the
            ``summary`` event last.
        chat_model: a ready model, instead of building one from ``model``.
        thread: conversation id; with ``checkpointer`` the conversation persists. A run that fails
            before the model answered leaves the thread as it was; one that fails later can be
            continued by running the same request again (or with ``prompt=None``).
        checkpointer: where threads are saved (see :func:`graphs.memory.open_checkpointer`).
        approve: tool names that need a human decision before each call.
        approver: makes those decisions; without one, a run that needs a decision raises
            :class:`ConfigError` (its state is saved: resume it after deciding).
        trace: record every model and tool call in ``$QWENGRAPH_HOME/traces.db``.
        trace_content: store prompts, arguments and answers in the trace as text (default: a
            SHA-256 digest and the length only).
        system_prompt: replaces the default ReAct prompt (e.g. with recalled facts added); for
            plan_execute, the agent's instructions to its executor and verifier.
        max_input_chars: longer prompts are refused with :class:`InputTooLong`.
        callbacks: LangChain callback handlers for every model and tool call (the CLI's live
            status line counts tokens with one).
        warm: called with the chat model once the graph is built and the input checked, before
            the first model call (the CLI probes and loads a local engine there, showing it).
        images: image files sent with the prompt (models whose profile can see images; servers only).
        profile: the model's Qwen profile name when ``chat_model`` is not given (``None``: detected).
        spec: names the graph: an :class:`~agents.spec.AgentSpec`, a
            :class:`~agents.agent_run.RunPlan`, or :class:`graphs.build.NamedGraph`; ``None`` or a
            graph named ``"auto"``: see :func:`choose_graph` (when that picks the worked graph,
            ``system_prompt`` gives way to the graph's own). Resume a thread with the graph that
            started it.
        language: answer in this language (added to the graph's default prompt).
        display: show the run live when no ``on_event`` is given: ``None`` (default) does so in a
            Jupyter kernel only (one output updated in place, see :mod:`agents.display`), ``True``
            also in a terminal (the CLI's display), ``False`` never.
    """
    built = build_run(
        prompt,
        model=model,
        base_url=base_url,
        stream=stream,
        max_steps=max_steps,
        tools=tools,
        force_tool=force_tool,
        chat_model=chat_model,
        thread=thread,
        checkpointer=checkpointer,
        approve=approve,
        system_prompt=system_prompt,
        max_input_chars=max_input_chars,
        spec=spec,
        language=language,
        think=think,
        images=images,
        profile=profile,
        warm=warm,
    )
    before = _start(built)
    final: dict[str, Any] = dict(before.values) if before is not None else {}
    meta = {"thread": thread, "resumed": built.inputs is None}
    tracer = recording_trace(store_content=trace_content, model=built.model, prompt=prompt, meta=meta)
    with (
        tracer if trace else nullcontext() as recorder,
        _clean_on_failure(built, before),
        _auto_display(display, on_event, prompt, result=lambda: summary) as show,  # summary: at the end
    ):
        handlers = [*callbacks, *([recorder] if recorder is not None else [])]
        if handlers:
            built.config["callbacks"] = handlers
        inputs = built.inputs
        while True:
            reader = EventReader(built.spec, final, show)
            options: dict[str, Any] = {"durability": "sync"} if built.durable else {}
            stream_mode = ["messages", "values"]
            for mode, payload in built.graph.stream(inputs, built.config, stream_mode=stream_mode, **options):
                reader.feed(mode, payload)
            final = reader.final
            if built.saver is None:
                break
            state = built.graph.get_state(built.config)
            final = cast(dict[str, Any], state.values)
            if not state.interrupts:
                break
            if approver is None:
                raise ConfigError(f"thread {_thread_id(built)!r} is waiting for a tool approval")
            inputs = Command(resume={i.id: approver(cast(dict[str, Any], i.value)) for i in state.interrupts})
        summary = summarize(current_turn(final.get("messages", [])))
        if show is not None:
            if built.spec.graph not in STREAMED_ANSWER and summary.answer:
                show(Event(kind="text", text=summary.answer))
            show(Event(kind="summary", text=summary.answer, summary=summary))
        if recorder is not None:
            recorder.set_answer(summary.answer)
    return summary


def _auto_display(
    display: bool | None,
    on_event: Callable[[Event], None] | None,
    prompt: str | None,
    *,
    result: Callable[[], RunSummary],
) -> AbstractContextManager[Callable[[Event], None] | None]:
    """The live display ``run`` shows by itself (see its ``display`` argument), as a context whose
    value is the ``on_event`` to use; the display finishes with ``result()`` when the run ends."""
    if on_event is not None or display is False:
        return nullcontext(on_event)
    from agents.display.live import in_notebook, live_display  # noqa: PLC0415 - the display imports us

    if display is None and not in_notebook():
        return nullcontext(on_event)
    shown = live_display(title=prompt or "")
    shown.result = result
    return shown


def _thread_id(built: BuiltRun) -> str:
    return str(built.config["configurable"]["thread_id"])


def _start(built: BuiltRun) -> StateSnapshot | None:
    """Check a thread before the run; return its state (``None`` without a checkpointer).

    A rerun of the request an unfinished run on the thread was answering continues that run.
    """
    if built.saver is None:
        if built.prompt is None:
            raise ConfigError("resuming needs a thread and a checkpointer")
        return None
    if built.prompt is None and built.thread is None:
        raise ConfigError("resuming needs a thread and a checkpointer")
    state: StateSnapshot = built.graph.get_state(built.config)
    if built.prompt is None:
        _check_same_graph(built.saver, _thread_id(built), built.spec.graph)
        if not state.next:
            raise ConfigError(f"thread {_thread_id(built)!r} has no unfinished run to resume")
    elif built.thread is not None and continues_unfinished(state, built.prompt):
        _check_same_graph(built.saver, _thread_id(built), built.spec.graph)
        built.inputs = None
    return state


@contextmanager
def _clean_on_failure(built: BuiltRun, before: StateSnapshot | None) -> Iterator[None]:
    """Undo a failed run that the model never answered (see :func:`agents.run_core.rollback_target`)."""
    try:
        yield
    except BaseException:
        if built.saver is not None and built.thread is not None:
            after = built.graph.get_state(built.config)
            action = rollback_target(before, after)
            if action == "delete":
                built.saver.delete_thread(_thread_id(built))
            elif action == "restore" and before is not None:
                built.graph.update_state(before.config, None, as_node="__copy__")
        raise


def thread_origin(saver: BaseCheckpointSaver[Any], thread: str) -> tuple[str | None, str | None]:
    """The graph and agent the last run on ``thread`` used, from its checkpoint (``None`` if unknown)."""
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    return origin_of(saved.metadata if saved is not None else None)


def _check_same_graph(saver: BaseCheckpointSaver[Any], thread: str, graph: str) -> None:
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    check_same_graph(saved.metadata if saved is not None else None, thread, graph)
