"""The OpenAI chat-completions wire format, as ``qwengraph serve`` speaks it.

Requests: ``model`` names an agent; ``messages`` is the conversation, its last message the user's
request (text, or text parts); ``stream`` and ``stream_options.include_usage`` as in OpenAI's
API; ``user`` names the end user (for the log, hashed). A conversation id (``conversation_id``
in the body or in ``metadata``, or the ``X-Conversation-Id`` / ``X-OpenWebUI-Chat-Id`` header)
keeps the conversation in a thread on the server. Sampling options (``temperature``...), ``tools``
and ``tool_choice`` are the agent's own business and are ignored; system messages too (the
agent's prompt applies).

Responses: ``chat.completion`` / ``chat.completion.chunk`` objects; the model's thinking in the
``reasoning`` field of the message or delta (vLLM's name; ``reasoning_content`` too with
``--reasoning-field both``); tool activity in a ``qwengraph`` extension field of the delta (or as
annotated text, ``--tool-activity text``) so that clients never mistake it for tool calls they
must make. Errors are ``{"error": {"message", "type", "code", "param"}}`` with the HTTP status
OpenAI uses (a failure after a stream started arrives as one such event before ``[DONE]``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from agents.serve.guard import Limits

CONVERSATION_HEADERS = ("x-conversation-id", "x-openwebui-chat-id")
USER_HEADERS = ("x-openwebui-user-id",)


class WireError(Exception):
    """A request the server refuses: HTTP status, OpenAI error type and code, message."""

    def __init__(self, status: int, message: str, *, kind: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return error_body(str(self), kind=self.kind, code=self.code, param=self.param)


def error_body(message: str, *, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def too_large(limit: int) -> WireError:
    """A 413: the body is over ``limit`` bytes."""
    return WireError(
        413, f"request body over {limit:,} bytes", kind="invalid_request_error", code="request_too_large"
    )


async def read_body(stream: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, refused as soon as it grows past ``limit`` (a chunked upload declares no length)."""
    body = bytearray()
    async for piece in stream:
        body += piece
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_request") -> WireError:
    """A 400 ``invalid_request_error``."""
    return WireError(400, message, kind="invalid_request_error", code=code, param=param)


@dataclass
class ChatRequest:
    """A checked chat-completions request."""

    agent: str
    prompt: str
    history: list[AnyMessage] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    conversation: str | None = None
    chars: int = 0


def text_of(content: Any, where: str) -> str:
    """A message's text: a string, or OpenAI content parts of type ``text`` (others refused)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise bad_request(f"{where}: only text content parts are supported", param=where)
            pieces.append(part["text"])
        return "".join(pieces)
    raise bad_request(f"{where}: content must be a string or a list of text parts", param=where)


def parse_request(raw: bytes, headers: Mapping[str, str], limits: Limits) -> ChatRequest:
    """Check a request body against the format and the limits (:class:`WireError` otherwise)."""
    if len(raw) > limits.max_body_bytes:
        raise too_large(limits.max_body_bytes)
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise bad_request(f"the body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    agent = body.get("model")
    if not isinstance(agent, str) or not agent:
        raise bad_request("model: name one of the agents listed at /v1/models", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages: a non-empty list of messages is required", param="messages")
    if len(messages) > limits.max_messages:
        raise bad_request(
            f"messages: {len(messages)} messages, the limit is {limits.max_messages}",
            param="messages",
            code="too_many_messages",
        )
    if body.get("n") not in (None, 1):
        raise bad_request("n: one choice per request", param="n")
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
        ):
            raise bad_request(
                f"{where}: a message needs a role: system, user, assistant or tool", param=where
            )
        turns.append((str(message["role"]), text_of(message.get("content"), where)))
    if turns[-1][0] != "user" or not turns[-1][1].strip():
        raise bad_request("the last message must be the user's request, with text", param="messages")
    chars = sum(len(text) for _, text in turns)
    if chars > limits.max_input_chars:
        raise bad_request(
            f"the messages hold {chars:,} characters, the limit is {limits.max_input_chars:,}",
            param="messages",
            code="input_too_long",
        )
    history: list[AnyMessage] = []
    for role, text in turns[:-1]:
        if role == "user":
            history.append(HumanMessage(content=text))
        elif role == "assistant" and text:
            history.append(AIMessage(content=text))
    options = body.get("stream_options") or {}
    lowered = {k.lower(): v for k, v in headers.items()}
    metadata: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    conversation = body.get("conversation_id") or metadata.get("conversation_id")
    conversation = conversation or next((lowered[h] for h in CONVERSATION_HEADERS if lowered.get(h)), None)
    user = body.get("user") or next((lowered[h] for h in USER_HEADERS if lowered.get(h)), None)
    return ChatRequest(
        agent=agent,
        prompt=turns[-1][1],
        history=history,
        stream=bool(body.get("stream")),
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
        user=str(user) if user else None,
        conversation=str(conversation) if conversation else None,
        chars=chars,
    )


class Completion:
    """Builds the response objects of one completion (same id and timestamp throughout)."""

    def __init__(self, agent: str, *, reasoning_fields: tuple[str, ...] = ("reasoning",)) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.agent = agent
        self.reasoning_fields = reasoning_fields

    def chunk(
        self, delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None
    ) -> dict[str, Any]:
        """One ``chat.completion.chunk`` (``delta=None``: the usage-only chunk, no choices)."""
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.agent,
            "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            data["usage"] = usage
        return data

    def reasoning(self, text: str) -> dict[str, Any]:
        """A delta (or message fields) carrying thinking."""
        return dict.fromkeys(self.reasoning_fields, text)

    def whole(
        self, answer: str, thinking: str, usage: dict[str, int], extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The ``chat.completion`` object of a non-streamed request."""
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        if thinking:
            message.update(self.reasoning(thinking))
        if extra:
            message["qwengraph"] = extra
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.agent,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
        }


def usage_of(summary_usage: Mapping[str, int] | None) -> dict[str, Any]:
    """OpenAI's usage object from a run summary's token counts."""
    usage = summary_usage or {}
    prompt, completion = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    data: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.get("reasoning_tokens"):
        data["completion_tokens_details"] = {"reasoning_tokens": int(usage["reasoning_tokens"])}
    return data


def sse(data: Any) -> bytes:
    """One server-sent event: ``data: <json>`` (or ``data: [DONE]``)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()
