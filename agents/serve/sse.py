"""Streaming a run as server-sent events: run events to ``chat.completion.chunk`` events, and a
streaming response that notices at once when its client goes away.

:class:`EventWriter` turns :class:`~agents.run_core.Event` objects into chunks: thinking into the
reasoning field, answer text and worked-solution values into ``content``, tool calls, tool results
and progress lines into the ``qwengraph`` extension field (``tool_activity="field"``), into
annotated lines of the content (``"text"``: ``> calculator({"expression": "17*23"}) → 391``), or
nowhere (``"none"``). The last chunk carries the finish reason (and, when asked, a usage chunk
follows); a failed run ends with an ``error`` event, as OpenAI's streams do.

:class:`StreamingSSE` always listens for the client's disconnect while it streams (Starlette's own
response does so only for older ASGI servers; newer ones report it at the next write, which may be
long in coming while a tool runs): the stream is cancelled the moment the client is gone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agents.run_core import Event
from agents.serve.wire import Completion, error_body, sse, usage_of
from agents.warm import RunRecord

RESULT_CHARS = 2_000  # tool results longer than this are cut in the stream (the trace has them)


class EventWriter:
    """Chunks for one streamed completion (see the module docstring)."""

    def __init__(self, completion: Completion, *, tool_activity: str = "field") -> None:
        self.completion = completion
        self.tool_activity = tool_activity

    def opening(self) -> bytes:
        """The first chunk: the assistant's role."""
        return sse(self.completion.chunk({"role": "assistant", "content": ""}))

    def event(self, event: Event) -> bytes:
        """The chunk for one run event (empty when nothing is shown for it)."""
        if event.kind == "thinking":
            return sse(self.completion.chunk(self.completion.reasoning(event.text)))
        if event.kind in ("text", "value"):
            return sse(self.completion.chunk({"content": event.text})) if event.text else b""
        activity = _activity(event)
        if activity is None or self.tool_activity == "none":
            return b""
        if self.tool_activity == "text":
            return sse(self.completion.chunk({"content": _annotation(activity)}))
        return sse(self.completion.chunk({"qwengraph": activity}))

    def closing(self, record: RunRecord, *, include_usage: bool) -> bytes:
        """The end of the stream: finish reason (or the error), usage if asked, ``[DONE]``."""
        summary = record.summary
        if record.status == "failed" or summary is None:
            kind = "server_error"
            failed = error_body(
                record.error or "the run failed", kind=kind, code=record.error_type or "error"
            )
            return sse(failed) + sse("[DONE]")
        delta: dict[str, Any] = {}
        if summary.stopped:
            delta = {"qwengraph": {"type": "stopped", "reason": summary.stopped, "text": summary.answer}}
        out = sse(self.completion.chunk(delta, finish="stop"))
        if include_usage:
            out += sse(self.completion.chunk(None, usage=usage_of(summary.usage)))
        return out + sse("[DONE]")


def _activity(event: Event) -> dict[str, Any] | None:
    if event.kind == "tool_call":
        return {"type": "tool_call", "name": event.name, "args": event.args or {}}
    if event.kind == "tool":
        text = event.text if len(event.text) <= RESULT_CHARS else event.text[:RESULT_CHARS] + "…"
        return {"type": "tool_result", "name": event.name, "args": event.args or {}, "content": text}
    if event.kind == "progress":
        return {"type": "progress", "text": event.text}
    return None


def _annotation(activity: dict[str, Any]) -> str:
    """Tool activity as a quoted Markdown line of the content."""
    if activity["type"] == "tool_call":
        return f"\n> {activity['name']}({json.dumps(activity['args'], ensure_ascii=False)})\n"
    if activity["type"] == "tool_result":
        first = activity["content"].strip().splitlines()[0] if activity["content"].strip() else ""
        return f"> → {first}\n\n"
    return f"> {activity['text']}\n"


class StreamingSSE(StreamingResponse):
    """An SSE response that stops streaming the moment its client disconnects."""

    def __init__(self, content: AsyncIterator[bytes]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                with contextlib.suppress(OSError):  # the client is gone: the listener ends the group
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            async def listen() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stream)
            group.start_soon(listen)
