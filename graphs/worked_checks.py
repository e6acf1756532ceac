"""What the tools fill in while a model writes a worked solution (see :mod:`graphs.worked`).

A :class:`Check` names the stop strings it handles, turns the text written up to one of them into
the arguments of a tool call (or declines), and says what to write after the stop string once the
tool has answered. Two implementations:

- :class:`ArithmeticCheck` (the ``calculator``): at ``=``, ``≈`` or ``\\approx`` after plain
  arithmetic, the value is written after the sign (:mod:`graphs.worked_text`);
- :class:`CodeCheck` (``run_python``): when a ```python block closes, the block runs in the sandbox
  and its real output follows it in an ```output block, errors and failed asserts included, so the
  model reads them and fixes its code. Measured on Qwen2.5-Coder-1.5B: it writes a function and its
  asserts in one block but never runs them, and a failed assert it wrote itself went unnoticed. A
  block that repeats one already written (the model showing its final code) is not run again:
  otherwise the 1.5B repeated it until the step limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.tools import BaseTool

from graphs.errors import ConfigError
from graphs.worked_text import SIGNS, expression_before, value_text

FENCE = "\n```"
_PYTHON_OPENER = re.compile(r"```(?:python|py|python3)[ \t]*\n")
_BLOCK = re.compile(r"```(?:python|py|python3)[ \t]*\n(.*?)\n```", re.DOTALL)
_NO_OUTPUT = "(no output; print() what you want to see)"


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

    def arguments(self, text: str) -> dict[str, Any] | None:
        """The tool's arguments for ``text`` (written up to, not including, the sign); ``None``: nothing
        to check here, the model goes on."""
        ...

    def written(self, result: str, ok: bool) -> str:
        """What to write after the sign, from the tool's result (``ok``: it succeeded)."""
        ...


@dataclass(frozen=True)
class ArithmeticCheck:
    """The calculator's value after ``=``/``≈`` that follows plain arithmetic."""

    tool: BaseTool
    signs: tuple[str, ...] = SIGNS

    def arguments(self, text: str) -> dict[str, Any] | None:
        """``{"expression": ...}`` for arithmetic just before the sign."""
        expression = expression_before(text)
        return None if expression is None else {"expression": expression}

    def written(self, result: str, ok: bool) -> str:
        """The number (an error writes nothing: the model finishes the sign itself)."""
        return f" {value_text(result)}" if ok else ""


@dataclass(frozen=True)
class CodeCheck:
    """A closed ```python block runs; its output follows it."""

    tool: BaseTool
    signs: tuple[str, ...] = (FENCE,)

    def arguments(self, text: str) -> dict[str, Any] | None:
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

    def written(self, result: str, ok: bool) -> str:
        """The output as an ```output block (errors too: the model must read them)."""
        text = "(ran without errors; no output)" if result.strip() == _NO_OUTPUT else result.strip()
        return f"\n```output\n{text}\n```\n"


def checks_for(tools: Sequence[BaseTool]) -> list[Check]:
    """The checks the given tools make possible: ``calculator`` and ``run_python`` are used.

    Raises:
        ConfigError: neither tool is among ``tools``.
    """
    checks: list[Check] = []
    for tool in tools:
        if tool.name == "calculator":
            checks.append(ArithmeticCheck(tool))
        elif tool.name == "run_python":
            checks.append(CodeCheck(tool))
    if not checks:
        raise ConfigError("the worked-solution graph needs the calculator or the run_python tool")
    return checks
