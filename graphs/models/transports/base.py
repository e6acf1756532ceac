"""The transport seam: one protocol every model server implements.

A transport turns a neutral :class:`ChatRequest` into its server's wire format and the server's
answer back into neutral :class:`Delta` objects, using the dialect functions in
``graphs.models.qwen``. ``ChatQwen`` only ever sees deltas, so adding a server means adding one
module here and nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from graphs.models.qwen import BadToolCall, ToolCall

ToolChoice = Literal["auto", "required", "none"]


@dataclass
class ChatRequest:
    """A chat request in neutral form.

    ``messages`` are dicts with ``role`` (system/user/assistant/tool) and ``content`` (str); assistant
    messages may carry ``tool_calls`` as ``[{"id", "name", "args": dict}]``; tool messages carry
    ``tool_call_id`` and ``name`` (the tool's name). Assistant messages whose thinking goes back to
    the model carry it as ``reasoning_content`` (the current turn's; see
    :mod:`graphs.models.convert`); user messages may carry ``images`` (``{"url"}`` or
    ``{"mime", "data"}``, see :mod:`graphs.models.images`).
    ``tools`` are OpenAI-style function schemas (``{"type": "function", "function": {...}}``).
    ``think`` is ``None`` when the caller leaves it to the server. ``sampling`` holds
    ``temperature``, ``top_p``, ``top_k``, ``max_tokens``, ``stop``, ``seed`` where set, and
    ``include_stop_str_in_output`` (vLLM's flag: the matched stop string ends the text).
    ``thinking_budget`` caps reasoning tokens (see ``graphs.models.budget`` for who enforces it).
    ``prefill`` is assistant text the reply continues (the reply holds only what comes after it,
    blanks at its edges included; ``""`` continues an empty answer); transports that cannot continue
    a partial answer raise :class:`~graphs.errors.ConfigError`.
    ``template_kwargs`` are extra chat-template switches (``preserve_thinking``) for servers that
    take them. ``opens_thinking``: the model's template pre-inserts ``<think>`` (used where the
    prompt is rendered here). ``thinking_forced``: ``think=False`` was asked of a thinking-only
    model, which thinks anyway; the closing delta is marked ``think_ignored``.
    ``tool_choice`` (``"auto"``, ``"required"``, ``"none"``; see :mod:`graphs.models.choice`) with
    ``tool_name`` set means that one tool must be called. ``response_format`` constrains the answer
    (not the thinking) to JSON, in OpenAI's shape: ``{"type": "json_object"}`` or
    ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``.
    """

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    think: bool | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    tool_choice: ToolChoice | None = None
    thinking_budget: int | None = None
    prefill: str | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    opens_thinking: bool = False
    thinking_forced: bool = False
    tool_name: str | None = None
    response_format: dict[str, Any] | None = None


@dataclass
class Usage:
    """Token counts of one model call; ``thinking_tokens`` is ``None`` when the server does not say."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    thinking_tokens: int | None = None


@dataclass
class Delta:
    """One piece of a response. Tool calls are always complete when they appear in a delta.

    ``thinking_budget_hit`` is set on the closing delta when a client-side budget cut the thinking;
    ``stop_sequence`` names the stop string that ended the reply, when the transport knows it;
    ``think_ignored`` is set on the closing delta when ``think=False`` was asked and the model
    thought anyway (its thinking is kept apart from the answer). On the closing delta, ``raw_text``
    is the answer content exactly as the model or server wrote it (think tags and text-form tool
    calls included) and ``calls_from_text`` says the tool calls were read from that text by our
    dialect layer rather than parsed by the server.
    """

    thinking: str = ""
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    bad_tool_calls: list[BadToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    thinking_budget_hit: bool = False
    stop_sequence: str | None = None
    think_ignored: bool = False
    raw_text: str = ""
    calls_from_text: bool = False


class Transport(Protocol):
    """What a model server must offer. Non-streaming requests yield exactly one delta."""

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """Send ``request`` and yield its deltas (one when ``request.stream`` is false)."""
        ...

    def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Async twin of :meth:`chat`."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
