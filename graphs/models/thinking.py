"""``think="auto"``: decide from the request whether Qwen should think.

The rule, in order, on the last user message (thinking when any holds):

1. **long**: more than :data:`LONG_REQUEST` characters;
2. **math**: an arithmetic expression (``17*23``, ``x^2 + 1``) or a math word (solve, derivative,
   integral, prove, equation, probability...);
3. **code**: a code fence or a programming word (code, function, bug, debug, implement, algorithm...);
4. **multi-step**: a cue such as "step by step", "explain why", "compare", "plan", "first ... then".

Anything else (greetings, look-ups, short factual questions, summaries) is answered without
thinking. Pass ``think_rule=`` to ``ChatQwen`` (field or per call) to use your own function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from langchain_core.messages import BaseMessage, HumanMessage

ThinkRule = Callable[[Sequence[BaseMessage]], bool]
LONG_REQUEST = 400

_MATH = re.compile(
    r"\d\s*[-+*/^=\u00d7\u00f7]\s*[\d(a-z]|[a-z]\s*\^\s*\d|\b(solve|derivative|differentiate|integral|integrate|"
    r"prove|proof|equation|probability|factori[sz]e|limit|matrix|theorem|critical points?)\b",
    re.IGNORECASE,
)
_CODE = re.compile(
    r"```|\b(code|function|bug|debug|implement|algorithm|refactor|compile|regex|python|sql|"
    r"stack ?trace|exception|unit tests?)\b",
    re.IGNORECASE,
)
_MULTI_STEP = re.compile(
    r"\b(step[- ]by[- ]step|explain why|why does|compare|trade-?offs?|plan|design|analy[sz]e|"
    r"pros and cons)\b|\bfirst\b.*\bthen\b",
    re.IGNORECASE | re.DOTALL,
)


def think_reason(text: str) -> str | None:
    """The rule that asks for thinking on ``text``: long, math, code, multi-step; else ``None``."""
    if len(text) > LONG_REQUEST:
        return "long"
    for name, pattern in (("math", _MATH), ("code", _CODE), ("multi-step", _MULTI_STEP)):
        if pattern.search(text):
            return name
    return None


def last_user_text(messages: Sequence[BaseMessage]) -> str:
    """The text of the last user message (empty when there is none)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def decide_think(messages: Sequence[BaseMessage]) -> bool:
    """Whether the request is hard enough to think about (see the module docstring for the rule)."""
    return think_reason(last_user_text(messages)) is not None
