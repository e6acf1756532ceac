"""LangGraph's own streaming, read as run events: what ``graph.stream(...)`` yields, as :class:`Event`\\ s.

Accepted items, as LangGraph yields them:

- ``stream_mode="messages"``: ``(message_chunk, metadata)`` pairs;
- ``stream_mode="updates"``: ``{node: {"messages": [...], ...}}``;
- ``stream_mode="values"``: the whole state ``{"messages": [...], ...}``;
- several modes (``stream_mode=["messages", "values"]``): ``(mode, payload)`` pairs;
- with ``subgraphs=True``: ``(namespace, ...)`` around any of these;
- the runner's own :class:`~agents.runner.Event` objects pass through unchanged.

When ``messages`` are streamed, states and updates only track the messages (for the summary);
otherwise each new whole message becomes events. Thinking is read from both message shapes (reasoning
content blocks, ``additional_kwargs["reasoning_content"]``) without trimming, so streamed pieces keep
their spaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage

from agents.runner import Event, current_turn
from graphs.models.messages import REASONING_KEY
from graphs.summary import RunSummary, summarize

_MODES = ("messages", "values", "updates", "custom", "debug", "tasks", "checkpoints")


def _pieces(message: AIMessage) -> Iterator[tuple[str, str]]:
    """``("thinking" | "text", piece)`` of one message or chunk, in order, untrimmed."""
    extra = message.additional_kwargs.get(REASONING_KEY)
    if isinstance(extra, str) and extra:
        yield "thinking", extra
    if isinstance(message.content, str):
        if message.content:
            yield "text", message.content
        return
    for block in message.content:
        if isinstance(block, str):
            yield "text", block
        elif block.get("type") == "reasoning" and block.get("reasoning") and not extra:
            yield "thinking", str(block["reasoning"])
        elif block.get("type") == "text" and block.get("text"):
            yield "text", str(block["text"])


class StreamReader:
    """Turns LangGraph stream items into events, and keeps the messages for a final summary."""

    def __init__(self) -> None:
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}
        self._messages: list[BaseMessage] = []
        self._ids: dict[str, int] = {}
        self._streamed = False  # "messages" mode seen: whole messages no longer make events

    def events(self, item: Any) -> list[Event]:
        """The events one stream item stands for (maybe none)."""
        if isinstance(item, Event):
            return [item]
        if isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], tuple):  # (namespace, mode, x)
            return self._mode(item[1], item[2]) if item[1] in _MODES else []
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping | tuple | list):
            head, payload = item
            if isinstance(head, tuple):  # subgraphs=True: (namespace, item)
                return self.events(payload)
            if isinstance(head, str) and head in _MODES:
                return self._mode(head, payload)
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], BaseMessage):
            return self._mode("messages", item)
        if isinstance(item, Mapping):
            if "messages" in item:
                return self._mode("values", item)
            return self._mode("updates", item)
        return []

    def _mode(self, mode: str, payload: Any) -> list[Event]:
        if mode == "messages":
            self._streamed = True
            message = payload[0]
            self._keep(message)
            return self._message_events(message)
        if mode == "values" and isinstance(payload, Mapping):
            messages = list(payload.get("messages") or [])
            new = messages[len(self._messages) :] if len(messages) >= len(self._messages) else messages
            self._messages, self._ids = messages, {}
            return [] if self._streamed else [e for m in new for e in self._message_events(m)]
        if mode == "updates" and isinstance(payload, Mapping):
            events: list[Event] = []
            for update in payload.values():
                messages = update.get("messages", []) if isinstance(update, Mapping) else []
                for message in messages if isinstance(messages, Sequence) else [messages]:
                    if isinstance(message, BaseMessage):
                        self._keep(message)
                        if not self._streamed:
                            events.extend(self._message_events(message))
            return events
        return []

    def _keep(self, message: BaseMessage) -> None:
        """Track whole messages; chunks of one streamed message are merged by id."""
        key = message.id or ""
        if key and key in self._ids:
            index = self._ids[key]
            previous = self._messages[index]
            if isinstance(previous, AIMessageChunk) and isinstance(message, AIMessageChunk):
                self._messages[index] = previous + message
            else:
                self._messages[index] = message
            return
        if key:
            self._ids[key] = len(self._messages)
        self._messages.append(message)

    def _message_events(self, message: BaseMessage) -> list[Event]:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                if call.get("id"):
                    self._calls[str(call["id"])] = (call["name"], dict(call["args"]))
            return [Event(kind=kind, text=text) for kind, text in _pieces(message)]  # type: ignore[arg-type]
        if isinstance(message, ToolMessage):
            name, args = self._calls.get(message.tool_call_id, (message.name or "", {}))
            artifact = message.artifact
            if isinstance(artifact, dict) and "written" in artifact:  # a worked solution's value
                return [Event(kind="value", text=str(artifact["written"]), name=name, args=args)]
            return [Event(kind="tool", text=message.text, name=name, args=args)]
        return []

    def summary(self) -> RunSummary | None:
        """What the streamed run produced (its last turn), or ``None`` if no message was seen."""
        if not self._messages:
            return None
        return summarize(current_turn(self._messages))  # type: ignore[arg-type]
