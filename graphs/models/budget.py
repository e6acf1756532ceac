"""Thinking budget and "all thinking, no answer" detection: pure pieces, no I/O.

Where a budget lives, per server:

- vLLM (OpenAI-compatible): the server's own ``thinking_token_budget`` request field (the server
  must run with a reasoning config); nothing happens client-side.
- local (raw completion): :class:`ThinkingMeter` counts engine pieces (one per token) while the
  completion is inside ``<think>``; at the budget the transport stops and continues with a second
  raw completion prefilled with the partial thinking and Qwen's early-stop sentence
  (:func:`continuation_prompt`).
- Ollama and other chat servers without a budget field: no client-side cut (their chat endpoints
  cannot continue a prefilled thinking); the no-answer recovery below is the safety net.

:func:`lacks_answer` spots a response that spent itself thinking; ``ChatQwen`` then retries once
without thinking (or with a doubled budget) and records ``response_metadata["recovered"]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from graphs.models.transports.base import Delta

# Qwen's stop-thinking instruction, word for word from the Qwen3 Technical Report (section 4.3,
# "Thinking Budget") and the Qwen3 docs' getting_started/thinking_budget.md example.
EARLY_STOP_SENTENCE = (
    "Considering the limited time by the user, I have to give the solution based on the thinking "
    "directly now."
)
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
EARLY_STOP = f"\n\n{EARLY_STOP_SENTENCE}\n{THINK_CLOSE}\n\n"
"""What follows the partial thinking in the continuation prompt."""

NoAnswerPolicy = Literal["no_think", "bigger_budget", "off"]
RECOVERED = {"no_think": "no_think_retry", "bigger_budget": "bigger_budget_retry"}
"""``response_metadata["recovered"]`` value per policy."""


class ThinkingMeter:
    """Counts raw completion pieces spent inside ``<think>``; says when the budget is reached.

    ``start_inside`` is for prompts that already end with ``<think>``.
    """

    def __init__(self, budget: int, *, start_inside: bool = False) -> None:
        self.budget = budget
        self.raw = THINK_OPEN if start_inside else ""
        self.spent = 0
        self.hit = False

    @property
    def inside(self) -> bool:
        """Whether the text so far opened a thinking block that is still open."""
        head = self.raw.lstrip()
        return head.startswith(THINK_OPEN) and THINK_CLOSE not in head

    @property
    def thinking(self) -> str:
        """The partial thinking so far (without the opening tag)."""
        head = self.raw.lstrip()
        return head[len(THINK_OPEN) :] if head.startswith(THINK_OPEN) else ""

    def feed(self, text: str) -> bool:
        """Add one piece; ``True`` once the budget is spent while still thinking."""
        self.raw += text
        if self.inside:
            self.spent += 1
            if self.spent >= self.budget:
                self.hit = True
        return self.hit


def continuation_prompt(prompt: str, partial_thinking: str) -> str:
    """The raw prompt that resumes after a cut: thinking so far, the early-stop sentence, ``</think>``."""
    return f"{prompt}{THINK_OPEN}\n{partial_thinking.strip()}{EARLY_STOP}"


def lacks_answer(deltas: Iterable[Delta], *, tools_offered: bool = False) -> bool:
    """True when a response thought but gave no answer text and no tool call (e.g. a length stop).

    With ``tools_offered``, a reply that ended on its own (``stop``) is not one: the model finished
    thinking and made no call, which the agent graph answers with a re-prompt about the call it
    planned (:mod:`graphs.react_guard`) rather than a retry without thinking.
    """
    thinking = text = False
    finish: str | None = None
    for delta in deltas:
        thinking = thinking or bool(delta.thinking.strip())
        text = text or bool(delta.text.strip())
        finish = delta.finish_reason or finish
        if delta.tool_calls or delta.bad_tool_calls:
            return False
    if tools_offered and finish == "stop":
        return False
    return thinking and not text


def retry_settings(
    policy: NoAnswerPolicy, budget: int | None, max_tokens: int | None
) -> tuple[dict[str, object], str] | None:
    """Request overrides for the one recovery attempt and its label, or ``None`` when disabled.

    ``bigger_budget`` doubles the thinking budget (and ``max_tokens`` when set); without a budget to
    double it falls back to the no-think retry.
    """
    if policy == "off":
        return None
    if policy == "bigger_budget" and budget is not None:
        overrides: dict[str, object] = {"thinking_budget": budget * 2}
        if max_tokens is not None:
            overrides["max_tokens"] = max_tokens * 2
        return overrides, RECOVERED["bigger_budget"]
    return {"think": False, "thinking_budget": None}, RECOVERED["no_think"]
