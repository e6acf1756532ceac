"""Graph nodes written once and run both ways: ``graph.invoke`` and ``graph.ainvoke``.

A node's body is a generator that *yields* the slow things it needs done, a model call
(:class:`ModelCall`) or a tool call (:class:`ToolJob`), receives each result, and returns the node's
update. :class:`Node` drives the body synchronously (``invoke``: the model's ``invoke``, sync tools
in the shared tool pool) or asynchronously (``ainvoke``: the model's ``ainvoke``, async tools awaited
on the event loop, sync tools in the shared pool). So under ``graph.ainvoke`` / ``astream`` no node
goes to an executor thread, and the logic of a node exists once.

A :class:`Node` is called directly by LangGraph, without a traced run of its own (a
``RunnableLambda`` adds one per node call: measured here +0.5 ms CPU per step at load 20, +60%).

Example:
    >>> def body(state, config):
    ...     reply = yield ModelCall(model, state["messages"], config)
    ...     return {"messages": [reply]}
    >>> graph.add_node("call_model", Node("call_model", body))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.tools import BaseTool, StructuredTool

from graphs.tool_pool import acall_with_timeout, call_with_timeout

R = TypeVar("R")


class Job(Protocol):
    """Something slow a node body asks for: done one way or the other."""

    def run(self) -> Any:
        """Do it here (sync graphs)."""
        ...

    async def arun(self) -> Any:
        """Do it on the event loop (async graphs)."""
        ...


Body = Generator[Job, Any, R]


@dataclass
class ModelCall:
    """``runnable.invoke(messages, config, **kwargs)`` or its ``ainvoke``."""

    runnable: Any
    messages: Any
    config: RunnableConfig | None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def run(self) -> Any:
        return self.runnable.invoke(self.messages, self.config, **self.kwargs)

    async def arun(self) -> Any:
        return await self.runnable.ainvoke(self.messages, self.config, **self.kwargs)


@dataclass
class ToolJob:
    """``call()`` (a sync tool call) with a timeout; async tools are awaited under ``arun``.

    ``call`` runs the tool and never raises for the tool's own failures; ``acall`` is the native
    async form, used when the tool has one (:func:`native_async`). On timeout both give ``timed_out``.
    """

    call: Callable[[], Any]
    timeout: float
    timed_out: Any
    acall: Callable[[], Any] | None = None

    def run(self) -> Any:
        try:
            return call_with_timeout(self.call, self.timeout)
        except TimeoutError:
            return self.timed_out

    async def arun(self) -> Any:
        try:
            if self.acall is not None:
                return await asyncio.wait_for(self.acall(), self.timeout)
            return await acall_with_timeout(self.call, self.timeout)
        except TimeoutError:
            return self.timed_out


def native_async(tool: BaseTool) -> bool:
    """Whether ``tool`` has an async implementation of its own (else ``ainvoke`` would only run
    its sync function in asyncio's default executor)."""
    if isinstance(tool, StructuredTool):
        return tool.coroutine is not None
    return type(tool)._arun is not BaseTool._arun


def drive(body: Body[R]) -> R:
    """Run a node body synchronously."""
    try:
        job = next(body)
        while True:
            job = body.send(job.run())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def adrive(body: Body[R]) -> R:
    """Run a node body on the event loop."""
    try:
        job = next(body)
        while True:
            job = body.send(await job.arun())
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class Node(Runnable[Any, Any]):
    """A graph node from a body ``(state, config) -> generator`` (see the module docstring), or from
    a plain function ``(state, config) -> update`` with ``plain=True`` (quick, no waiting: called
    directly both ways)."""

    def __init__(self, name: str, body: Callable[[Any, RunnableConfig], Any], *, plain: bool = False) -> None:
        self.name = name
        self.body = body
        self.plain = plain

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """The node's update, the slow parts done in this thread."""
        result = self.body(input, ensure_config(config))
        return result if self.plain else drive(result)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """The node's update, the slow parts awaited."""
        result = self.body(input, ensure_config(config))
        return result if self.plain else await adrive(result)
