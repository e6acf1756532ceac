"""Pick the agent, model and thinking mode for a request (``qwengraph run --agent auto``).

Follows the Qwen model-selection guidance: coder models for code, thinking for hard reasoning,
small non-thinking models for short simple requests. The rules are a visible, ordered list; the
first whose predicate matches decides, and its name is in the decision's ``reason``. Pass your own
list to :func:`route_request` to change them.

Example:
    >>> route_request("Write a Python function that reverses a list", has_index=False).agent
    'coding-assistant'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from agents.spec import ThinkPolicy

CODER_MODEL = "local:qwen2.5-coder-1.5b"
SMALL_MODEL = "local:qwen2.5-coder-0.5b"
SHORT_REQUEST = 80
LONG_REQUEST = 400


@dataclass(frozen=True)
class Choice:
    """What a rule decides: the agent (``None``: the plain ReAct agent), a model hint, thinking."""

    agent: str | None
    model_hint: str | None
    think: ThinkPolicy
    why: str


@dataclass(frozen=True)
class RouteDecision:
    """The router's answer; ``reason`` names the rule that fired and why."""

    agent: str | None
    model_hint: str | None
    think: ThinkPolicy
    reason: str


class Request(NamedTuple):
    """What a predicate sees."""

    text: str
    has_index: bool


class Rule(NamedTuple):
    """One routing rule: its name, when it applies, and what it decides."""

    name: str
    predicate: Callable[[Request], bool]
    decision: Choice


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")", re.IGNORECASE)


_DOCS = _words(
    r"documents?", r"docs\b", r"according to", r"cite", r"citations?", r"sources?\b", r"ingested",
    r"in (?:the|my|our) (?:files|notes|manual|handbook|policy)", r"policy", r"policies",
)  # fmt: skip
_CODE = _words(
    r"code\b", r"python", r"javascript", r"typescript", r"rust\b", r"golang", r"java\b", r"sql\b",
    r"bash\b", r"(?:write|implement|python) (?:a )?function", r"class\b", r"method\b", r"script",
    r"program", r"implement", r"refactor",
    r"debug", r"bug\b", r"traceback", r"exception", r"compile", r"unit tests?", r"regex", r"api\b",
    r"def\s", r"import\s",
)  # fmt: skip
_MATH = _words(
    r"derivative", r"differentiat", r"integra", r"equation", r"solve", r"critical points?",
    r"limit of", r"matri(?:x|ces)", r"probabilit", r"prove", r"proof", r"theorem", r"factori[sz]e",
    r"polynomial", r"roots? of", r"eigen",
)  # fmt: skip
_REASONING = _words(
    r"step by step", r"explain why", r"why does", r"reason(?:ing)?\b", r"analy[sz]e", r"compare", r"plan\b",
    r"trade-?offs?", r"puzzle", r"riddle", r"how many ways",
)  # fmt: skip


def _is_docs(req: Request) -> bool:
    return req.has_index and bool(_DOCS.search(req.text))


def _is_code(req: Request) -> bool:
    return "```" in req.text or bool(_CODE.search(req.text))


def _is_math(req: Request) -> bool:
    return bool(_MATH.search(req.text))


def _is_hard(req: Request) -> bool:
    return len(req.text) > LONG_REQUEST or bool(_REASONING.search(req.text))


def _is_short(req: Request) -> bool:
    text = req.text.strip()
    return len(text) <= SHORT_REQUEST and "\n" not in text


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "documents",
        _is_docs,
        Choice("researcher", None, True, "a question about the ingested documents"),
    ),
    Rule(
        "code",
        _is_code,
        Choice("coding-assistant", CODER_MODEL, False, "a coding request: coder model, no thinking"),
    ),
    Rule(
        "hard-math",
        _is_math,
        Choice("math-tutor", None, True, "math that needs planning: thinking on"),
    ),
    Rule(
        "hard-reasoning",
        _is_hard,
        Choice(None, None, True, "a long or multi-step request: thinking on"),
    ),
    Rule(
        "simple",
        _is_short,
        Choice(None, SMALL_MODEL, False, "a short simple request: small model, no thinking"),
    ),
    Rule("default", lambda _req: True, Choice(None, None, "auto", "no rule matched: thinking by difficulty")),
)
"""The rules, first match wins: documents, code, hard-math, hard-reasoning, simple, default."""

FALLBACK = Choice(None, None, "auto", "no rule matched")


def route_request(
    text: str, *, has_index: bool, rules: Sequence[Rule] = DEFAULT_RULES, fallback: Choice = FALLBACK
) -> RouteDecision:
    """Decide how to serve ``text``: the first rule in ``rules`` whose predicate is true wins.

    Args:
        text: the user's request.
        has_index: whether a document index exists (the researcher needs one).
        rules: ordered rules; :data:`DEFAULT_RULES` unless you pass your own.
        fallback: the decision when no rule matches (a custom list may have no catch-all).
    """
    request = Request(text, has_index)
    for rule in rules:
        if rule.predicate(request):
            choice = rule.decision
            return RouteDecision(choice.agent, choice.model_hint, choice.think, f"{rule.name}: {choice.why}")
    return RouteDecision(fallback.agent, fallback.model_hint, fallback.think, f"fallback: {fallback.why}")


def describe_rules(rules: Sequence[Rule] = DEFAULT_RULES) -> list[str]:
    """One line per rule, in order: ``name -> agent (model, think): why``."""
    lines = []
    for rule in rules:
        choice = rule.decision
        model = choice.model_hint or "default model"
        lines.append(
            f"{rule.name} -> {choice.agent or 'plain'} ({model}, think={choice.think}): {choice.why}"
        )
    return lines
