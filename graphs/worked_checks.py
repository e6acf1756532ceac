"""What the tools fill in while a model writes a worked solution (see :mod:`graphs.worked`).

A :class:`Check` names the stop strings it handles, turns the text written up to one of them into
the arguments of a tool call (or declines), and says what to write after the stop string once the
tool has answered. Three implementations:

- :class:`ArithmeticCheck` (the ``calculator``): at ``=``, ``≈`` or ``\\approx`` after plain
  arithmetic, the value is written after the sign (:mod:`graphs.worked_text`);
- :class:`CodeCheck` (``run_python``): when a ```python block closes, the block runs in the sandbox
  and its real output follows it in an ```output block, errors and failed asserts included, so the
  model reads them and fixes its code. Measured on Qwen2.5-Coder-1.5B: it writes a function and its
  asserts in one block but never runs them, and a failed assert it wrote itself went unnoticed. A
  block that repeats one already written (the model showing its final code) is not run again:
  otherwise the 1.5B repeated it until the step limit;
- :class:`SymbolicCheck` (``symbolic``): the first ``f'(x) =`` gets the derivative of the ``f``
  defined in the request or the text, and a finished line holding a polynomial equation of degree
  2 or more gets its solutions on the next line. Measured on the 1.5B: it differentiated right in
  its head, then "factored" 3x^2 + 4x - 5 into wrong roots; given the solutions, it used them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.tools import BaseTool

from graphs.errors import ConfigError
from graphs.worked_text import SIGNS, expression_before, in_code, part_of_operator, to_calculator, value_text
from tools.run_python import NO_OUTPUT

FENCE = "\n```"
_OPENER = r"```(?:python|py|python3)[ \t]*\n"
_PYTHON_OPENER = re.compile(_OPENER)
_BLOCK = re.compile(_OPENER + r"(.*?)\n```", re.DOTALL)
_DERIVATIVE = re.compile(r"\b([a-zA-Z])('+)\(([a-z])\)\s*$")
_EQUATION_CHARS = re.compile(r"[0-9a-zA-Z\s+\-*/^().=]+")
_SOLVED = "Solved with the symbolic tool:"


class Check(Protocol):
    """One kind of result a tool fills into the text."""

    @property
    def tool(self) -> BaseTool:
        """The tool that computes the result."""
        ...

    @property
    def signs(self) -> tuple[str, ...]:
        """Stop strings after which this check may act."""
        ...

    def arguments(self, text: str, sign: str, request: str) -> dict[str, Any] | None:
        """The tool's arguments for ``text``, written up to (not including) ``sign``, one of
        :attr:`signs`; ``request`` is the user's. ``None``: nothing to check, the model goes on."""
        ...

    def written(self, args: dict[str, Any], result: str, ok: bool) -> str:
        """What to write after the sign, from the call's ``args`` and the tool's result (``ok``: it
        succeeded)."""
        ...


@dataclass(frozen=True)
class ArithmeticCheck:
    """The calculator's value after ``=``/``≈`` that follows plain arithmetic."""

    tool: BaseTool
    signs: tuple[str, ...] = SIGNS

    def arguments(self, text: str, sign: str, request: str) -> dict[str, Any] | None:
        """``{"expression": ...}`` for arithmetic just before the sign; nothing inside code or for an
        ``=`` that is part of an operator (``==``, ``<=``, ``+=``)."""
        if in_code(text) or (sign == "=" and part_of_operator(text)):
            return None
        expression = expression_before(text)
        return None if expression is None else {"expression": expression}

    def written(self, args: dict[str, Any], result: str, ok: bool) -> str:
        """The number (an error writes nothing: the model finishes the sign itself)."""
        return f" {value_text(result)}" if ok else ""


@dataclass(frozen=True)
class CodeCheck:
    """A closed ```python block runs; its output follows it."""

    tool: BaseTool
    signs: tuple[str, ...] = (FENCE,)

    def arguments(self, text: str, sign: str, request: str) -> dict[str, Any] | None:
        """``{"code": ...}`` when the fence closes a Python block (not when it opens one)."""
        if text.count("```") % 2 == 0:  # an even count before the fence: this one opens a block
            return None
        openers = list(_PYTHON_OPENER.finditer(text))
        if not openers or text.rfind("```") != openers[-1].start():
            return None  # the open block is not Python (```bash, ```output...)
        code = text[openers[-1].end() :]
        earlier = {block.strip() for block in _BLOCK.findall(text[: openers[-1].start()])}
        if not code.strip() or code.strip() in earlier:  # empty, or a block shown again (the final code)
            return None
        return {"code": code}

    def written(self, args: dict[str, Any], result: str, ok: bool) -> str:
        """The output as an ```output block (errors too: the model must read them)."""
        text = "(ran without errors; no output)" if result.strip() == NO_OUTPUT else result.strip()
        return f"\n```output\n{text}\n```\n"


@dataclass(frozen=True)
class SymbolicCheck:
    """Derivatives after ``f'(x) =`` and the solutions of polynomial equations, from ``symbolic``."""

    tool: BaseTool
    signs: tuple[str, ...] = ("=", "\n")

    def arguments(self, text: str, sign: str, request: str) -> dict[str, Any] | None:
        """``differentiate`` at the first ``f'(x) =``; ``solve`` after a line with an equation; nothing
        inside code."""
        if in_code(text):
            return None
        if sign == "\n":
            return self._equation(text)
        line = text.rsplit("\n", 1)[-1]
        found = _DERIVATIVE.search(line)
        before = text[: len(text) - len(line) + found.start()] if found else ""
        if found is None or re.search(re.escape(found.group(0).strip()) + r"\s*=", before):
            return None  # not f'(x) =, or not the first one (later ones are the model's own use)
        name, primes, variable = found.group(1), found.group(2), found.group(3)
        body = _definition(name, variable, f"{request}\n{text}")
        if body is None:
            return None
        args: dict[str, Any] = {"operation": "differentiate", "expression": body, "variable": variable}
        if len(primes) > 1:
            args["order"] = len(primes)
        return args

    @staticmethod
    def _equation(text: str) -> dict[str, Any] | None:
        line = to_calculator(text.rsplit("\n", 1)[-1]).strip(" .")
        if line.count("=") != 1 or _SOLVED in line:
            return None
        letters = set(re.findall(r"[a-zA-Z]+", line))
        if len(letters) != 1 or len(next(iter(letters))) != 1 or not _EQUATION_CHARS.fullmatch(line):
            return None
        variable = next(iter(letters))
        left = line.split("=")[0].strip()
        if left == variable or not re.search(rf"{variable}\s*(?:\^|\*\*)\s*\(?\s*[2-9]", line):
            return None  # a result (x = 5), or below degree 2 (small models solve those right)
        if f"{_SOLVED} {line}" in text:
            return None
        return {"operation": "solve", "expression": line, "variable": variable}

    def written(self, args: dict[str, Any], result: str, ok: bool) -> str:
        """The derivative after the sign; the solutions as a line of their own."""
        if not ok:
            return ""
        if args.get("operation") != "solve":
            return f" {result.strip()}"
        solutions = " or ".join(r.strip() for r in result.strip().splitlines() if r.strip())
        return f"{_SOLVED} {args['expression']}: {solutions}\n"


_CHECKS: dict[str, type[ArithmeticCheck] | type[CodeCheck] | type[SymbolicCheck]] = {
    "calculator": ArithmeticCheck,
    "run_python": CodeCheck,
    "symbolic": SymbolicCheck,
}
CHECKED_TOOLS = frozenset(_CHECKS)
"""Names of the tools whose results a worked solution fills in."""


def checks_for(tools: Sequence[BaseTool]) -> list[Check]:
    """The checks the given tools make possible (tools named in :data:`CHECKED_TOOLS`).

    Raises:
        ConfigError: none of them is among ``tools``.
    """
    checks: list[Check] = [_CHECKS[t.name](t) for t in tools if t.name in _CHECKS]
    if not checks:
        raise ConfigError("the worked-solution graph needs the calculator, run_python or symbolic tool")
    return checks


def _definition(name: str, variable: str, text: str) -> str | None:
    """The right side of the first ``name(variable) = ...`` in ``text``, up to the first word."""
    found = re.search(rf"\b{name}\({variable}\)\s*=\s*([^\n]+)", text)
    if found is None:
        return None
    body = re.split(r"\s[a-zA-Z]{2,}\b|[,;?]|\.\s", found.group(1))[0]
    body = to_calculator(body).strip(" .")
    return body or None
