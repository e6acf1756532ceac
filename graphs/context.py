"""Fit a conversation into the model's context window.

:func:`fit_messages` trims a history to a token budget. It keeps the leading system message(s) and
the latest user message, never splits a tool call from its results (an ``AIMessage`` with
``tool_calls`` goes or stays together with the ``ToolMessage`` answers that follow it), drops the
oldest turns first and says so in one short ``SystemMessage`` note (or, with a ``summarize`` hook,
puts a summary of the dropped messages in that note). It is pure: the input is not changed and the
kept messages are the same objects.

Token counts are estimates: :func:`approx_tokens` needs no tokenizer and errs on the high side for
English and code (Qwen's tokenizer averages about 4 characters per token there).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

MESSAGE_OVERHEAD = 4
"""Tokens per message for the chat template's framing (``<|im_start|>role\\n`` … ``<|im_end|>\\n``)."""

TOOL_CALL_OVERHEAD = 8
"""Tokens per tool call for its ``<tool_call>{"name": …, "arguments": …}</tool_call>`` framing."""

CHARS_PER_TOKEN = 3.5

Counter = Callable[[BaseMessage], int]
Summarizer = Callable[[list[BaseMessage]], str]


def approx_tokens(message: BaseMessage) -> int:
    """Estimate the tokens ``message`` takes in the prompt, without a tokenizer.

    Characters of the text (thinking blocks excluded: past thinking is not sent back) and of each
    tool call's name and JSON arguments, divided by 3.5 and rounded up, plus
    :data:`MESSAGE_OVERHEAD` per message and :data:`TOOL_CALL_OVERHEAD` per tool call.
    """
    chars = len(message.text)
    tokens = MESSAGE_OVERHEAD
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            chars += len(call["name"]) + len(json.dumps(call["args"], ensure_ascii=False, default=str))
            tokens += TOOL_CALL_OVERHEAD
    return tokens + math.ceil(chars / CHARS_PER_TOKEN)


def omitted_note(count: int, summary: str | None = None) -> SystemMessage:
    """The note that replaces ``count`` dropped messages."""
    plural = "message was" if count == 1 else "messages were"
    text = f"[{count} earlier {plural} omitted to fit the context window.]"
    if summary:
        text += f" Summary of the omitted part: {summary.strip()}"
    return SystemMessage(content=text, additional_kwargs={"qwengraph": "context_note"})


def fit_messages(
    messages: Sequence[BaseMessage],
    max_tokens: int,
    count_tokens: Counter = approx_tokens,
    *,
    summarize: Summarizer | None = None,
) -> list[BaseMessage]:
    """Return ``messages`` trimmed to fit ``max_tokens``; unchanged (a new list) when they fit.

    Drops, oldest first, whole earlier turns (a user message and everything up to the next one),
    then the oldest steps of the current turn after the latest user message (a step is one message,
    or an ``AIMessage`` with ``tool_calls`` together with its ``ToolMessage`` results). Kept always:
    the leading system message(s) and the latest user message. When even those do not fit, the
    smallest such history is returned; rejecting over-long input is the caller's job (see
    ``agents.safety.check_input``).

    Args:
        messages: the history, oldest first.
        max_tokens: the budget for the returned messages, the note included.
        count_tokens: the token counter, :func:`approx_tokens` by default (pass a real tokenizer's).
        summarize: called with the dropped messages once the plain note fits; its text goes into
            the note. If the summary makes the history overflow, older blocks go too and it is
            called again with the longer list; when no summary fits, the plain note is used.
    """
    history = list(messages)
    if _total(history, count_tokens) <= max_tokens:
        return history
    head = 0
    while head < len(history) and isinstance(history[head], SystemMessage):
        head += 1
    blocks = _blocks(history[head:])
    protected = _latest_user_block(blocks)
    order = [i for i in range(len(blocks)) if i != protected]  # drop candidates, oldest first
    best: list[BaseMessage] = history
    first_fit: list[BaseMessage] | None = None
    for count in range(1, len(order) + 1):
        gone = set(order[:count])
        dropped = [m for i in sorted(gone) for m in blocks[i]]
        kept = [m for i, block in enumerate(blocks) if i not in gone for m in block]
        best = [*history[:head], omitted_note(len(dropped)), *kept]
        if _total(best, count_tokens) > max_tokens:
            continue
        if summarize is None:
            return best
        first_fit = first_fit or best
        summarized = [*history[:head], omitted_note(len(dropped), summarize(dropped)), *kept]
        if _total(summarized, count_tokens) <= max_tokens:
            return summarized
    return first_fit or best  # no summary fitted: the plain note; nothing fitted: the minimum


def _total(messages: Sequence[BaseMessage], count_tokens: Counter) -> int:
    return sum(count_tokens(m) for m in messages)


def _blocks(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    """Split into blocks that are dropped whole: earlier turns, then steps of the current turn."""
    steps: list[list[BaseMessage]] = []
    owner: dict[str, int] = {}  # tool call id -> index of the step holding the call
    for message in messages:
        if isinstance(message, ToolMessage) and message.tool_call_id in owner:
            start = owner[message.tool_call_id]
            if start < len(steps) - 1:  # result not right after its call: keep all in between together
                merged = [m for step in steps[start:] for m in step]
                del steps[start:]
                steps.append(merged)
                owner = {k: min(v, start) for k, v in owner.items()}
            steps[-1].append(message)
            continue
        steps.append([message])
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                owner[call.get("id") or ""] = len(steps) - 1
    last_user = _latest_user_block(steps)
    if last_user is None:
        return steps
    turns: list[list[BaseMessage]] = []
    for step in steps[:last_user]:
        if isinstance(step[0], HumanMessage) or not turns:
            turns.append(list(step))
        else:
            turns[-1].extend(step)
    return [*turns, *steps[last_user:]]


def _latest_user_block(blocks: list[list[BaseMessage]]) -> int | None:
    """The index of the block holding the latest user message (it may sit inside a merged block)."""
    return max((i for i, b in enumerate(blocks) if any(isinstance(m, HumanMessage) for m in b)), default=None)
