"""The ``symbolic`` tool: exact algebra and calculus (sympy) for a model, from short strings.

The work is split by where it runs:

* :mod:`tools.symbolic_parse` (here, in the caller; no sympy): the grammar and the validation of
  every argument, so malformed or hostile input fails in milliseconds;
* :mod:`tools.symbolic_worker`: warm worker processes that run the sympy work under a wall-clock
  deadline and are killed when they overrun it;
* :mod:`tools.symbolic_build` and :mod:`tools.symbolic_ops` (inside a worker): sympy objects built
  from the parsed tree (never ``sympify`` on a string), size guards, the operations and the text
  the model reads.

Errors follow the calculator: :func:`symbolic_math` raises :class:`~tools.errors.ToolError`
subclasses; the LangChain tool turns them into ``"Error: <message>"`` tool results.
"""

from __future__ import annotations

import dataclasses

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from tools.model_tool import model_facing_tool
from tools.safe_math import DEFAULT_LIMITS, Limits
from tools.symbolic_parse import DEFAULT_SETTINGS, SYMBOLIC, SymbolicSettings, prepare

__all__ = ["DESCRIPTION", "SYMBOLIC", "SymbolicSettings", "make_symbolic", "symbolic", "symbolic_math"]

DESCRIPTION = """Exact algebra and calculus (sympy). Use it for derivatives, integrals, equations, limits, \
simplifying, factoring and expanding; use the calculator for plain arithmetic.

operation, one of:
- differentiate: the derivative; order=2 for the second; point="x=2" also gives its value there.
- integrate: the antiderivative; bounds="0, 1" for a definite integral (oo is infinity).
- solve: an equation "x^2 - 4 = 0" or an expression (= 0); a system with ';': "x + y = 3; x - y = 1".
- critical_points: where the derivative is 0, each a local minimum or maximum.
- limit: point="0", "oo", or "0+" / "0-" for one side.
- evaluate: the value at point="x=2" (several: "x=1, y=2").
- simplify, factor, expand.

Write math like 3x^2 + 2x - 5, x^3/3, sqrt(x), e^x or exp(x), log(x) (natural), sin(x), \
(x+1)(x-1). Any letters are variables. variable: which one (default: x, or the only one); \
"x, y" for a system.

Result: plain text math with ^ for powers, e.g. 3*x^2 + 4*x - 5; solutions one per line with \
decimals for irrational values: x = -2/3 + sqrt(19)/3 ≈ 0.7863. I is the imaginary unit. \
On a problem the result starts with "Error:" and says what to change."""


class SymbolicInput(BaseModel):
    """The symbolic tool's arguments."""

    operation: str = Field(
        description="differentiate, integrate, solve, critical_points, limit, evaluate, simplify, "
        "factor or expand"
    )
    expression: str = Field(description="The math, like x^3 + 2x^2 - 5x + 3, or an equation for solve.")
    variable: str = Field(default="", description="The variable, like x (default: x or the only one).")
    point: str = Field(default="", description="For limit ('0', 'oo', '0+') and evaluate ('x=2').")
    bounds: str = Field(default="", description="For a definite integral: 'lower, upper', like '0, 1'.")
    order: int = Field(default=1, description="Derivative order for differentiate (2 = second derivative).")


def symbolic_math(
    operation: str,
    expression: str,
    *,
    variable: str = "",
    point: str = "",
    bounds: str = "",
    order: int = 1,
    limits: Limits = DEFAULT_LIMITS,
    settings: SymbolicSettings = DEFAULT_SETTINGS,
) -> str:
    """Run one symbolic operation (the tool without LangChain): validate here, compute in a worker.

    Raises:
        ToolInputError: an argument is not allowed, or sympy cannot do the operation.
        ToolLimitError: a bound of ``limits``/``settings`` is exceeded, including the timeout.
    """
    prepare(
        operation,
        expression,
        variable=variable,
        point=point,
        bounds=bounds,
        order=order,
        limits=limits,
        settings=settings,
    )
    from tools.symbolic_worker import run_in_worker  # noqa: PLC0415  (keeps subprocess setup lazy)

    request = {
        "operation": operation,
        "expression": expression,
        "variable": variable,
        "point": point,
        "bounds": bounds,
        "order": order,
        "limits": dataclasses.asdict(limits),
        "settings": dataclasses.asdict(settings),
    }
    return run_in_worker(request, settings)


def make_symbolic(limits: Limits = DEFAULT_LIMITS, settings: SymbolicSettings = DEFAULT_SETTINGS) -> BaseTool:
    """Build the ``symbolic`` tool with the given parser limits and sympy-side settings."""

    def run(
        operation: str,
        expression: str,
        *,
        variable: str = "",
        point: str = "",
        bounds: str = "",
        order: int = 1,
    ) -> str:
        return symbolic_math(
            operation,
            expression,
            variable=variable,
            point=point,
            bounds=bounds,
            order=order,
            limits=limits,
            settings=settings,
        )

    return model_facing_tool(
        run,
        name="symbolic",
        description=DESCRIPTION,
        args_schema=SymbolicInput,
        usage=(
            'symbolic takes "operation" (like "differentiate") and "expression" (like "x^2 + 1"), '
            'optionally "variable", "point", "bounds" (strings) and "order" (an integer).'
        ),
    )


symbolic = make_symbolic()
"""The ``symbolic`` tool with default limits and settings."""
