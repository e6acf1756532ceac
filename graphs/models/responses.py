"""Neutral deltas to langchain-core messages, in LangChain's conventions.

- ``content`` is a plain string: the answer text (``""`` when the reply only called tools);
- thinking is ``additional_kwargs["reasoning_content"]`` (where ChatOllama and ChatDeepSeek put
  it), and langchain-core shows it as a ``reasoning`` block in ``content_blocks``; with
  ``output_version="v1"`` LangChain itself puts those standard blocks in ``content``;
- tool calls are ``tool_calls``; calls that could not be read are ``invalid_tool_calls`` (and
  ``response_metadata["bad_tool_calls"]``, which survives the merging of streamed chunks);
- ``usage_metadata`` has input, output and total tokens, and
  ``output_token_details["reasoning"]`` where the server counts thinking tokens;
- ``response_metadata`` has ``model_name``, ``finish_reason``, ``model_provider`` (``"qwen"``),
  and where they apply ``stop_sequence``, ``thinking_budget_hit`` and ``recovered``.

Streamed chunks merge (``chunk + chunk``) into the same message a whole response gives; the last
chunk has ``chunk_position="last"``.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, InvalidToolCall, ToolCall
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from graphs.models.messages import REASONING_KEY
from graphs.models.transports.base import Delta

PROVIDER = "qwen"


class Chunker:
    """Turns deltas into message chunks that merge into the same message :func:`result` builds."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.next_tool_index = 0
        self.seen: list[Delta] = []  # this attempt's deltas, for the no-answer check
        self.extra: dict[str, Any] = {}  # added to the final metadata (``recovered``)

    def chunk(self, delta: Delta, *, final: bool = True, last: bool = False) -> ChatGenerationChunk:
        """The chunk for ``delta``.

        ``final=False`` drops the closing metadata of an attempt that is retried; ``last`` marks the
        stream's last chunk (``chunk_position="last"``).
        """
        tool_chunks = []
        for call in delta.tool_calls:
            tool_chunks.append(
                tool_call_chunk(
                    name=call.name, args=json.dumps(call.args), id=call.id, index=self.next_tool_index
                )
            )
            self.next_tool_index += 1
        closing = final and is_final(delta)
        metadata = {**metadata_of(delta, self.model_name), **self.extra} if closing else {}
        message = AIMessageChunk(
            content=delta.text,
            additional_kwargs={REASONING_KEY: delta.thinking} if delta.thinking else {},
            tool_call_chunks=tool_chunks,
            response_metadata=metadata,
            usage_metadata=usage_of(delta) if final else None,
            chunk_position="last" if last else None,
        )
        return ChatGenerationChunk(message=message)


def is_final(delta: Delta) -> bool:
    """Whether ``delta`` closes a response (finish reason, usage or unreadable calls)."""
    return delta.finish_reason is not None or delta.usage is not None or bool(delta.bad_tool_calls)


def metadata_of(delta: Delta, model_name: str) -> dict[str, Any]:
    """``response_metadata`` for a closing delta."""
    meta: dict[str, Any] = {}
    if delta.finish_reason is not None or delta.usage is not None:
        meta.update(model_name=model_name, finish_reason=delta.finish_reason or "", model_provider=PROVIDER)
    if delta.thinking_budget_hit:
        meta["thinking_budget_hit"] = True
    if delta.stop_sequence:
        meta["stop_sequence"] = delta.stop_sequence
    if delta.think_ignored:
        meta["think_ignored"] = True
    if delta.bad_tool_calls:
        meta["bad_tool_calls"] = [
            {"name": b.name, "raw": b.raw, "error": b.error, "id": b.id} for b in delta.bad_tool_calls
        ]
    return meta


def usage_of(delta: Delta) -> Any:
    """``usage_metadata`` from a delta's token counts (``None`` when the server gave none)."""
    if delta.usage is None:
        return None
    u = delta.usage
    usage: dict[str, Any] = {
        "input_tokens": u.prompt_tokens,
        "output_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
    }
    if u.thinking_tokens is not None:
        usage["output_token_details"] = {"reasoning": u.thinking_tokens}
    return usage


def result(
    deltas: list[Delta], model_name: str, *, recovered: str | None = None, keep_space: bool = False
) -> ChatResult:
    """The whole message; ``keep_space`` keeps the text's outer whitespace (a continued prefill)."""
    thinking = "".join(d.thinking for d in deltas).strip()
    text = "".join(d.text for d in deltas)
    text = text if keep_space else text.strip()
    calls = [ToolCall(name=c.name, args=c.args, id=c.id) for d in deltas for c in d.tool_calls]
    bad = [b for d in deltas for b in d.bad_tool_calls]
    invalid = [
        InvalidToolCall(type="invalid_tool_call", name=b.name, args=b.raw, id=b.id, error=b.error)
        for b in bad
    ]
    final = next((d for d in reversed(deltas) if d.finish_reason is not None or d.usage is not None), Delta())
    closing = Delta(
        finish_reason=final.finish_reason or "",
        usage=final.usage,
        bad_tool_calls=bad,
        stop_sequence=final.stop_sequence,
        thinking_budget_hit=any(d.thinking_budget_hit for d in deltas),
    )
    meta = metadata_of(closing, model_name)
    if recovered:
        meta["recovered"] = recovered
    message = AIMessage(
        content=text,
        additional_kwargs={REASONING_KEY: thinking} if thinking else {},
        tool_calls=calls,
        invalid_tool_calls=invalid,
        response_metadata=meta,
        usage_metadata=usage_of(final),
    )
    return ChatResult(generations=[ChatGeneration(message=message)])
