"""Run an agent asynchronously: :func:`astream` (events as an async iterator) and :func:`arun`.

Built on the same pieces as :func:`agents.runner.run` (:mod:`agents.run_core`) and driven with
LangGraph's ``graph.astream``: on the ReAct graph the model is awaited (``ainvoke``: the server
transports are natively async, the in-process engine runs in a worker thread) and tools made from
``async def`` functions run on the event loop, sync tools in a thread; other graphs' nodes run in
LangGraph's executor threads. Many runs can share one event loop.

A thread needs an async-capable checkpointer (:func:`graphs.memory.aopen_checkpointer`, or
LangGraph's ``InMemorySaver``); the sync SQLite saver of :func:`graphs.memory.open_checkpointer`
refuses async use.

Example:
    >>> async def main():  # doctest: +SKIP
    ...     async for event in astream("What is 17*23?", model="ollama:qwen3:8b"):
    ...         if event.kind == "text":
    ...             print(event.text, end="")
    ...         elif event.kind == "summary":
    ...             print("\\n", event.summary.tool_calls)
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, StateSnapshot

from agents.run_core import (
    BuiltRun,
    Event,
    EventReader,
    build_run,
    check_same_graph,
    continues_unfinished,
    current_turn,
    rollback_target,
)
from agents.safety import DEFAULT_MAX_INPUT_CHARS
from graphs.build import STREAMED_ANSWER, GraphSpec
from graphs.errors import ConfigError
from graphs.memory.traces import recording_trace
from graphs.models.chat import ChatQwen
from graphs.summary import RunSummary, summarize

AsyncApprover = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]
"""Decides an approval request, like :data:`agents.runner.Approver`; may be ``async``."""
EventHandler = Callable[[Event], Any]


async def astream(
    prompt: str | None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    think: bool | None = None,
    stream: bool = True,
    max_steps: int | None = None,
    tools: Sequence[BaseTool | Callable[..., Any]] | None = None,
    force_tool: bool | None = None,
    chat_model: ChatQwen | None = None,
    thread: str | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    approve: Sequence[str] = (),
    approver: AsyncApprover | None = None,
    trace: bool = True,
    trace_content: bool = False,
    system_prompt: str | None = None,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    spec: GraphSpec | None = None,
    language: str | None = None,
    callbacks: Sequence[BaseCallbackHandler] = (),
) -> AsyncIterator[Event]:
    """Run like :func:`agents.runner.run`, yielding each :class:`~agents.run_core.Event` as it happens.

    Thinking and answer pieces, ``tool_call`` (the model asks for a tool), ``tool`` (its result),
    ``value`` and ``progress`` lines arrive while the run goes on; the last event is ``summary``,
    whose ``summary`` is the :class:`~graphs.summary.RunSummary`. Arguments are those of
    :func:`agents.runner.run`; ``approver`` may be an ``async`` function.
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
    )
    before = await _astart(built)
    final: dict[str, Any] = dict(before.values) if before is not None else {}
    meta = {"thread": thread, "resumed": built.inputs is None}
    tracer = recording_trace(store_content=trace_content, model=built.model, prompt=prompt, meta=meta)
    recorder = tracer.__enter__() if trace else None
    failure: BaseException | None = None
    try:
        handlers = [*callbacks, *([recorder] if recorder is not None else [])]
        if handlers:
            built.config["callbacks"] = handlers
        inputs = built.inputs
        while True:
            events: list[Event] = []
            reader = EventReader(built.spec, final, events.append)
            options: dict[str, Any] = {"durability": "sync"} if built.durable else {}
            async for mode, payload in built.graph.astream(
                inputs, built.config, stream_mode=["messages", "values"], **options
            ):
                reader.feed(mode, payload)
                for event in events:
                    yield event
                events.clear()
            final = reader.final
            if built.saver is None:
                break
            state = await built.graph.aget_state(built.config)
            final = cast(dict[str, Any], state.values)
            if not state.interrupts:
                break
            if approver is None:
                thread_id = built.config["configurable"]["thread_id"]
                raise ConfigError(f"thread {thread_id!r} is waiting for a tool approval")
            decisions = {
                i.id: await _decide(approver, cast(dict[str, Any], i.value)) for i in state.interrupts
            }
            inputs = Command(resume=decisions)
        summary = summarize(current_turn(final.get("messages", [])))
        if built.spec.graph not in STREAMED_ANSWER and summary.answer:
            yield Event(kind="text", text=summary.answer)
        if recorder is not None:
            recorder.set_answer(summary.answer)
        yield Event(kind="summary", text=summary.answer, summary=summary)
    except BaseException as err:
        failure = err
        await _aclean(built, before)
        raise
    finally:
        if recorder is not None:
            tracer.__exit__(
                type(failure) if failure else None, failure, failure.__traceback__ if failure else None
            )


async def arun(
    prompt: str | None,
    *,
    on_event: EventHandler | None = None,
    **options: Any,
) -> RunSummary:
    """Run asynchronously and return the summary; ``on_event`` (sync or ``async``) sees every event.

    Takes the arguments of :func:`astream`.
    """
    summary: RunSummary | None = None
    async for event in astream(prompt, **options):
        if on_event is not None:
            handled = on_event(event)
            if inspect.isawaitable(handled):
                await handled
        if event.kind == "summary":
            summary = event.summary
    assert summary is not None  # astream always ends with the summary event
    return summary


async def _decide(approver: AsyncApprover, request: dict[str, Any]) -> dict[str, Any]:
    decision = approver(request)
    if inspect.isawaitable(decision):
        return await decision
    return decision


async def _astart(built: BuiltRun) -> StateSnapshot | None:
    """Async twin of ``agents.runner._start``."""
    if built.saver is None or (built.prompt is None and built.thread is None):
        if built.prompt is None:
            raise ConfigError("resuming needs a thread and a checkpointer")
        return None
    thread_id = built.config["configurable"]["thread_id"]
    try:
        state: StateSnapshot = await built.graph.aget_state(built.config)
    except NotImplementedError:
        raise ConfigError(
            "this checkpointer cannot be used asynchronously: open it with graphs.memory.aopen_checkpointer"
        ) from None
    resuming = built.prompt is None or (
        built.thread is not None and continues_unfinished(state, built.prompt)
    )
    if built.prompt is None and not state.next:
        raise ConfigError(f"thread {thread_id!r} has no unfinished run to resume")
    if resuming:
        saved = await built.saver.aget_tuple({"configurable": {"thread_id": thread_id}})
        check_same_graph(saved.metadata if saved is not None else None, thread_id, built.spec.graph)
        built.inputs = None
    return state


async def _aclean(built: BuiltRun, before: StateSnapshot | None) -> None:
    """Undo a failed run that the model never answered (as the sync runner does)."""
    if built.saver is None or built.thread is None:
        return
    after = await built.graph.aget_state(built.config)
    action = rollback_target(before, after)
    thread_id = str(built.config["configurable"]["thread_id"])
    if action == "delete":
        await built.saver.adelete_thread(thread_id)
    elif action == "restore" and before is not None:
        await built.graph.aupdate_state(before.config, None, as_node="__copy__")


__all__ = ["AsyncApprover", "arun", "astream"]
