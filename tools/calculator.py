"""The ``calculator`` tool: exact arithmetic for a model, from one expression string.

Errors: the work is done by :func:`calculate`, which raises :class:`~tools.errors.ToolError`
subclasses (usable on its own, outside LangChain). The LangChain tool converts those into
``ToolException`` and sets ``handle_tool_error``, so the model receives a ``ToolMessage`` with
``status="error"`` and content ``"Error: <message>"`` instead of the graph crashing; the message says
what was wrong and what is allowed, so the model can retry. Malformed tool arguments (a missing or
non-string ``expression``) are answered the same way through ``handle_validation_error``.
Any other exception is a bug and propagates.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from tools.exact import evaluate, format_value
from tools.model_tool import model_facing_tool
from tools.safe_math import ARITHMETIC, DEFAULT_LIMITS, Limits, parse

__all__ = ["DESCRIPTION", "calculate", "calculator", "make_calculator"]

DESCRIPTION = """\
Evaluate one arithmetic expression exactly. Use it for every calculation instead of doing math \
in your head.

Examples: 17*23, (1.15^5)*2, 2,480 + $2,500, 200*15%, 1/3, sqrt(2), round(2/3, 3), 5!

- Operators: + - * / // (floor division) % (remainder) ** or ^ (power), parentheses.
- 15% means 15/100 when no number follows the %; 17 % 5 (a number follows) is the remainder.
- 2,480 is two thousand four hundred eighty; inside a function call commas separate arguments, \
so write max(2480, 100).
- Functions: sqrt, exp, log(x) (natural), log(x, base), log10, log2, sin, cos, tan, asin, acos, \
atan (radians), abs, round(x, digits), floor, ceil, min, max, sum, mean (also avg), factorial, \
comb(n, k), perm(n, k). \
Constants: pi, e.
- No variables, units, equations or text: put the numbers in.

Result: an integer in full (391); otherwise the decimal first, then the exact fraction: \
0.3 (exactly 3/10), ≈ 0.333333333333 (exactly 1/3); an irrational result: ≈ 1.41421356237. \
On a problem the result starts with "Error:" and says what to change."""


class CalculatorInput(BaseModel):
    """The calculator's single argument."""

    expression: str = Field(description="One arithmetic expression, like 17*23 or 2,480 + $2,500.")


def calculate(expression: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Parse, evaluate exactly and format one expression (the tool without LangChain).

    Raises:
        ToolInputError: the expression is not allowed or mathematically undefined (division by zero).
        ToolLimitError: the expression or its result exceeds ``limits``.
    """
    return format_value(evaluate(parse(expression, ARITHMETIC, limits), limits))


def make_calculator(limits: Limits = DEFAULT_LIMITS) -> BaseTool:
    """Build the ``calculator`` tool with the given resource limits."""

    def run(expression: str) -> str:
        return calculate(expression, limits)

    return model_facing_tool(
        run,
        name="calculator",
        description=DESCRIPTION,
        args_schema=CalculatorInput,
        usage='the calculator takes one argument, "expression": a string such as "17*23".',
    )


calculator = make_calculator()
"""The ``calculator`` tool with :data:`~tools.safe_math.DEFAULT_LIMITS`."""
