"""Run an agent asynchronously: :func:`astream` (events as an async iterator) and :func:`arun`.

Built on the same pieces as :func:`agents.runner.run` (:mod:`agents.run_core`) and driven with
LangGraph's ``graph.astream``: every graph's nodes await the model (``ainvoke``: the server
transports are natively async on aiohttp, the in-process engine runs in a worker thread), tools made
from ``async def`` functions run on the event loop and sync tools in the shared tool pool
(:mod:`graphs.node`). Many runs can share one event loop.

A thread needs an async-capable checkpointer: what :func:`graphs.memory.open_checkpointer` or
:func:`graphs.memory.aopen_checkpointer` opens, or LangGraph's ``InMemorySaver``; LangGraph's own
sync ``SqliteSaver`` refuses async use (a clear :class:`~graphs.errors.ConfigError`).

Example:
    >>> async def main():  # doctest: +SKIP
    ...     async for event in astream("What is 17*23?", model="ollama:qwen3:8b"):
    ...         if event.kind == "text":
    ...             print(event.text, end="")
    ...         elif event.kind == "summary":
    ...             print("\\n", event.summary.tool_calls)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, cast

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, StateSnapshot

from agents.run_core import (
    BuiltRun,
    Event,
    build_run,
    check_same_graph,
    continues_unfinished,
    current_turn,
    rollback_target,
)
from agents.run_events import EventReader
from agents.safety import DEFAULT_MAX_INPUT_CHARS
from graphs.build import STREAMED_ANSWER, GraphSpec
from graphs.errors import ConfigError
from graphs.memory.locks import Holder, athread_lock
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
    wait: bool = True,
    on_wait: Callable[[Holder], None] | None = None,
) -> AsyncIterator[Event]:
    """Run like :func:`agents.runner.run`, yielding each :class:`~agents.run_core.Event` as it happens.

    Thinking and answer pieces, ``tool_call`` (the model asks for a tool), ``tool`` (its result),
    ``value`` and ``progress`` lines arrive while the run goes on; the last event is ``summary``,
    whose ``summary`` is the :class:`~graphs.summary.RunSummary`. Arguments are those of
    :func:`agents.runner.run`; ``approver`` may be an ``async`` function. A saved ``thread`` takes
    one run at a time, sync and async runs alike (:func:`graphs.memory.locks.athread_lock`): the
    lock is held until the iterator ends, so iterate it to the end (or close it).
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
    locked: AbstractAsyncContextManager[None] = nullcontext()
    if checkpointer is not None and thread is not None:  # a saved thread: one run at a time
        locked = athread_lock(checkpointer, thread, wait=wait, on_wait=on_wait)
    async with locked:
        before = await _astart(built)
        final: dict[str, Any] = dict(before.values) if before is not None else {}
        meta = {"thread": thread, "resumed": built.inputs is None}
        tracer = recording_trace(store_content=trace_content, model=built.model, prompt=prompt, meta=meta)
        recorder = tracer.__enter__() if trace else None
        failure: BaseException | None = None
        try:
            handlers = [*callbacks, *([recorder] if recorder is not None else [])]
            inputs = built.inputs
            while True:
                leg = _Leg(built, final)
                built.config["callbacks"] = [*handlers, leg.reader.handler]
                async for event in leg.events(inputs):
                    yield event
                reader = leg.reader
                final = reader.final
                if built.saver is None or not reader.interrupted:
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


class _Leg:
    """One leg of an async run (until its end or an interrupt): the graph is driven in a task of its
    own while the events it produces are yielded as they come (model pieces arrive through the
    reader's callback handler, between two items of the graph's stream)."""

    def __init__(self, built: BuiltRun, before: dict[str, Any]) -> None:
        self.built = built
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.owner = threading.get_ident()
        self.reader = EventReader(built.spec, before, self._put)

    def _put(self, event: Event | None) -> None:
        if threading.get_ident() == self.owner:
            self.queue.put_nowait(event)
        else:  # a model called from a tool's worker thread
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def _drive(self, inputs: Any) -> None:
        options: dict[str, Any] = {"durability": "sync"} if self.built.durable else {}
        modes = list(EventReader.STREAM_MODE)
        try:
            async for mode, payload in self.built.graph.astream(
                inputs, self.built.config, stream_mode=modes, **options
            ):
                self.reader.feed(mode, payload)
        finally:
            self._put(None)

    async def events(self, inputs: Any) -> AsyncIterator[Event]:
        """The leg's events as they happen; the graph's error, if any, at the end."""
        task = asyncio.create_task(self._drive(inputs))
        try:
            while (event := await self.queue.get()) is not None:
                yield event
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


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
