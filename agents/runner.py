"""Run an agent: the Python API behind ``qwengraph run``.

Example:
    >>> from agents.runner import run
    >>> result = run("What is 17*23? Use the calculator.", model="ollama:qwen3:8b")  # doctest: +SKIP
    >>> print(result.answer)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

from agents.settings import resolve_model
from graphs.models.chat import ChatQwen
from graphs.react import ReactState, build_react
from graphs.summary import RunSummary, summarize
from tools import calculator


@dataclass(frozen=True)
class Event:
    """Something to show while a run goes on: a thinking or answer piece, or a tool result."""

    kind: Literal["thinking", "text", "tool"]
    text: str
    name: str = ""
    args: dict[str, Any] | None = None


def default_tools() -> list[BaseTool]:
    """The tools a plain ``qwengraph run`` gets."""
    return [calculator]


def run(
    prompt: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    think: bool | None = None,
    stream: bool = True,
    max_steps: int = 8,
    tools: Sequence[BaseTool] | None = None,
    force_tool: bool | None = None,
    on_event: Callable[[Event], None] | None = None,
    chat_model: ChatQwen | None = None,
) -> RunSummary:
    """Run the ReAct agent on ``prompt`` and return its summary.

    Args:
        prompt: the user's request.
        model: model URI; defaults as in :func:`agents.settings.resolve_model`.
        base_url: server URL for ``ollama:``/``openai:`` models.
        think: thinking on/off for the model calls (``None``: on for planning).
        stream: stream from the server (thinking and answer arrive piece by piece).
        max_steps: model calls allowed before the run stops with a clear message.
        tools: tools to offer; the calculator by default.
        force_tool: make the first model call a tool call; ``None``: yes for ``local:`` models
            (small models otherwise compute in their head), no for servers.
        on_event: called with each :class:`Event` as it happens (the CLI's display).
        chat_model: a ready model, instead of building one from ``model``.
    """
    llm = chat_model or ChatQwen(model=resolve_model(model), base_url=base_url)
    if not stream:
        llm = llm.model_copy(update={"disable_streaming": True})
    if force_tool is None:
        force_tool = llm.model.startswith("local:")
    graph = build_react(
        llm,
        list(tools) if tools is not None else default_tools(),
        max_steps=max_steps,
        think=think,
        force_tool=force_tool,
    )
    inputs: ReactState = {"messages": [HumanMessage(content=prompt)], "steps": 0}
    final: dict[str, Any] = {}
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for mode, payload in graph.stream(inputs, stream_mode=["messages", "values"]):
        if mode == "values":
            final = cast(dict[str, Any], payload)
            continue
        message = payload[0]
        if on_event is None:
            continue
        if isinstance(message, AIMessage | AIMessageChunk):
            for call in message.tool_calls:
                calls[call.get("id") or ""] = (call["name"], dict(call["args"]))
            _emit_content(message, on_event)
        elif isinstance(message, ToolMessage):
            name, args = calls.get(message.tool_call_id, (message.name or "", {}))
            on_event(Event(kind="tool", text=message.text, name=name, args=args))
    return summarize(final.get("messages", [])[1:])


def _emit_content(message: AIMessage | AIMessageChunk, on_event: Callable[[Event], None]) -> None:
    if isinstance(message.content, str):
        if message.content:
            on_event(Event(kind="text", text=message.content))
        return
    for block in message.content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "reasoning" and block.get("reasoning"):
            on_event(Event(kind="thinking", text=str(block["reasoning"])))
        elif block.get("type") == "text" and block.get("text"):
            on_event(Event(kind="text", text=str(block["text"])))
