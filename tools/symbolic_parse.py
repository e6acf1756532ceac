"""Arguments of the ``symbolic`` tool -> a validated :class:`Problem` (no sympy: runs in the caller).

Every string goes through :func:`tools.safe_math.parse` with the :data:`SYMBOLIC` grammar, so
malformed or hostile input fails in milliseconds, before any worker or sympy work. Equations (``=``)
and systems (``;``) are split here first: the calculator's lexer still refuses both characters, so
each side is parsed on its own by the same safe parser. The worker parses the same arguments again
(:func:`tools.symbolic_ops.compute`) rather than trusting an object sent across the process boundary.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from dataclasses import dataclass
from typing import Literal, get_args

from tools.errors import ToolInputError, ToolLimitError
from tools.math_rewrite import ALLOWED
from tools.safe_math import ARITHMETIC, DEFAULT_LIMITS, BinOp, Call, Limits, Name, Node, Unary, parse

__all__ = [
    "DEFAULT_SETTINGS",
    "OPERATIONS",
    "SYMBOLIC",
    "Operation",
    "Problem",
    "SymbolicSettings",
    "prepare",
]

SYMBOLIC = dataclasses.replace(
    ARITHMETIC,
    constants=frozenset({"pi", "e", "oo"}),
    functions={
        **dict.fromkeys(
            ("sqrt", "cbrt", "exp", "log10", "log2", "abs", "sign", "floor", "ceil", "factorial"), (1, 1)
        ),
        **dict.fromkeys(("sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan"), (1, 1)),
        **dict.fromkeys(("sinh", "cosh", "tanh", "asinh", "acosh", "atanh"), (1, 1)),
        "log": (1, 2),
        "root": (2, 2),
        "atan2": (2, 2),
        "comb": (2, 2),
        "min": (1, None),
        "max": (1, None),
    },
    aliases={
        **ARITHMETIC.aliases,
        "inf": "oo",
        "infinity": "oo",
        "binomial": "comb",
        "arcsinh": "asinh",
        "arccosh": "acosh",
        "arctanh": "atanh",
    },
    allow_variables=True,
    implicit_multiplication=True,
)
"""The calculator's grammar plus variables, ``oo`` (infinity), more functions and ``2x`` products."""

Operation = Literal[
    "differentiate",
    "integrate",
    "solve",
    "critical_points",
    "limit",
    "evaluate",
    "simplify",
    "factor",
    "expand",
]
OPERATIONS: dict[str, Operation] = {
    **{name: name for name in get_args(Operation)},
    **dict.fromkeys(("derivative", "diff", "derive", "d/dx"), "differentiate"),
    **dict.fromkeys(("integral", "antiderivative", "integration"), "integrate"),
    **dict.fromkeys(("roots", "zeros", "solve_equation", "solve_system"), "solve"),
    **dict.fromkeys(("critical", "extrema", "stationary_points", "critical_point"), "critical_points"),
    **dict.fromkeys(("lim",), "limit"),
    **dict.fromkeys(("eval", "value", "substitute", "subs", "evaluate_at"), "evaluate"),
    **dict.fromkeys(("simplification",), "simplify"),
    **dict.fromkeys(("factorize", "factorise"), "factor"),
}
"""Accepted operation names (canonical names and the spellings small models use) -> operation."""


@dataclass(frozen=True)
class SymbolicSettings:
    """Bounds of the sympy side, on top of the parser's :class:`~tools.safe_math.Limits`."""

    timeout: float = 10.0
    """Wall-clock seconds per operation; the worker process is killed when it overruns."""
    max_exponent: int = 1_000
    """Largest ``abs(n)`` in ``x^n`` for a non-rational base (``x^(10^6)`` is refused)."""
    max_degree: int = 100
    """Largest polynomial degree (estimated) for solve, factor, expand, simplify, critical_points."""
    max_terms: int = 1_000
    """Largest number of terms (estimated) that expanding may produce."""
    max_equations: int = 6
    """Equations in a system, and variables solved for."""
    max_order: int = 20
    """Highest derivative order."""
    max_output: int = 4_000
    """Characters of the result text."""
    memory_mb: int = 1_024
    """Address space a worker may add after start-up (``RLIMIT_AS``)."""
    max_workers: int = 2
    """Worker processes run at once; further calls wait for one (the first call's value is kept)."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value <= 0:
                raise ValueError(f"SymbolicSettings.{name} must be positive, got {value}")


DEFAULT_SETTINGS = SymbolicSettings()


@dataclass(frozen=True)
class Problem:
    """A validated request: every string parsed into :mod:`tools.safe_math` trees."""

    operation: Operation
    equations: tuple[tuple[Node, Node | None], ...]
    """``(left, right)`` per equation; ``right`` is None for a plain expression (``= 0`` in solve)."""
    variables: tuple[str, ...]
    point: tuple[tuple[str, Node], ...] = ()
    """Substitutions for evaluate and differentiate; the one approach point for limit."""
    direction: Literal["+-", "+", "-"] = "+-"
    bounds: tuple[Node, Node] | None = None
    order: int = 1


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FUNCTION_HEAD = re.compile(r"\s*[A-Za-z]\w*\s*(\(\s*[A-Za-z]\w*(\s*,\s*[A-Za-z]\w*)*\s*\))?\s*")
_EXTRA = str.maketrans({"\u221e": " oo ", "\u2192": "->"})  # infinity sign, rightwards arrow


def prepare(
    operation: str,
    expression: str,
    *,
    variable: str = "",
    point: str = "",
    bounds: str = "",
    order: int = 1,
    limits: Limits = DEFAULT_LIMITS,
    settings: SymbolicSettings = DEFAULT_SETTINGS,
) -> Problem:
    """Validate and parse the tool's arguments (fast, no sympy).

    Raises:
        ToolInputError: an argument is malformed or not allowed.
        ToolLimitError: an argument exceeds ``limits`` or ``settings``.
    """
    op = OPERATIONS.get(re.sub(r"[\s-]+", "_", operation.strip().lower()))
    if op is None:
        raise ToolInputError(
            f"unknown operation '{operation[:40]}': use one of {', '.join(get_args(Operation))}"
        )
    for argument in (expression, variable, point, bounds):
        if len(argument) > limits.max_length:
            raise ToolLimitError(
                f"an argument is {len(argument)} characters long; the limit is {limits.max_length}"
            )
    pieces = [piece for piece in re.split(r"[;\n]", expression.translate(_EXTRA)) if piece.strip()]
    if not pieces:
        raise ToolInputError("the expression is empty: write one, like x^2 - 4")
    if len(pieces) > 1 and op != "solve":
        raise ToolInputError("several expressions (';') are only allowed for solve: send one expression")
    if len(pieces) > settings.max_equations:
        raise ToolLimitError(
            f"more than {settings.max_equations} equations; the limit is {settings.max_equations}"
        )
    equations = tuple(_equation(piece, op, limits) for piece in pieces)
    names = _names_in(equations)
    chosen = _variables(variable) if variable.strip() else ()
    if len(chosen) > settings.max_equations:
        raise ToolLimitError(
            f"more than {settings.max_equations} variables; the limit is {settings.max_equations}"
        )
    if not 1 <= order <= settings.max_order:
        raise ToolLimitError(f"order must be between 1 and {settings.max_order}, got {order}")
    if order != 1 and op != "differentiate":
        raise ToolInputError("order is only used by differentiate")
    if bounds.strip() and op != "integrate":
        raise ToolInputError("bounds are only used by integrate (for a definite integral)")
    if point.strip() and op not in ("limit", "evaluate", "differentiate"):
        raise ToolInputError("point is only used by limit, evaluate and differentiate")

    problem = Problem(op, equations, chosen, order=order)
    if op == "limit":
        return _limit_problem(problem, names, point, limits)
    if op == "evaluate" or (op == "differentiate" and point.strip()):
        pairs = _assignments(point, chosen or _pick(names, op), limits) if point.strip() else ()
        variables = chosen or ((pairs[0][0],) if op == "differentiate" else ())
        return dataclasses.replace(problem, variables=variables, point=pairs)
    if op in ("simplify", "factor", "expand"):
        return problem
    if op == "solve" and len(equations) > 1 and not chosen:
        if not names:
            raise ToolInputError("the equations have no variable to solve for")
        if len(names) > settings.max_equations:
            raise ToolLimitError(
                f"more than {settings.max_equations} variables; the limit is {settings.max_equations}"
            )
        return dataclasses.replace(problem, variables=names)
    problem = dataclasses.replace(problem, variables=chosen or _pick(names, op))
    if bounds.strip():
        parts = _split_top(bounds.strip().removeprefix("[").removesuffix("]"))
        if len(parts) == 1 and " to " in parts[0]:
            parts = parts[0].split(" to ")
        if len(parts) != 2:
            raise ToolInputError("bounds must be two values, lower and upper: like '0, 1' or '0, oo'")
        lower, upper = (_parse(part.translate(_EXTRA), limits) for part in parts)
        return dataclasses.replace(problem, bounds=(lower, upper))
    return problem


_ALLOWED = (
    "use numbers, variables (x, y, t...), + - * / ^, parentheses, pi, e, oo and functions such as "
    "sqrt(x), exp(x), log(x), sin(x)"
)


def _parse(text: str, limits: Limits) -> Node:
    """:func:`tools.safe_math.parse` with the symbolic grammar and this tool's hint in refusals."""
    try:
        return parse(text, SYMBOLIC, limits)
    except ToolInputError as error:
        raise ToolInputError(str(error).replace(ALLOWED, _ALLOWED)) from None


def _equation(piece: str, op: Operation, limits: Limits) -> tuple[Node, Node | None]:
    if "!=" in piece or "<" in piece or ">" in piece.replace("->", ""):
        raise ToolInputError("inequalities (<, >, !=) are not supported: write an equation with =")
    sides = re.split(r"==?", piece)
    if len(sides) > 2:
        raise ToolInputError("an equation has one '=': separate several equations with ';'")
    if len(sides) == 1:
        return _parse(piece, limits), None
    left, right = sides
    if op == "solve":
        return _parse(left, limits), _parse(right, limits)
    if _FUNCTION_HEAD.fullmatch(left):  # "f(x) = x^2" or "y = x^2": the right side is the expression
        expression = _parse(right, limits)
        used = _names_in(((expression, None),))
        if "(" in left or (used and left.strip() not in used):  # but "x = 2" is not a definition
            return expression, None
    raise ToolInputError(f"'=' is only allowed in solve; for {op} send just the expression")


def _names_in(equations: tuple[tuple[Node, Node | None], ...]) -> tuple[str, ...]:
    """Variable names in order of first appearance (iterative: no recursion over model input)."""
    found: dict[str, None] = {}
    stack: list[Node] = [side for left, right in reversed(equations) for side in (right, left) if side]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            if node.id not in SYMBOLIC.constants:
                found[node.id] = None
        elif isinstance(node, Unary):
            stack.append(node.operand)
        elif isinstance(node, BinOp):
            stack += (node.right, node.left)
        elif isinstance(node, Call):
            stack += reversed(node.args)
    return tuple(found)


def _variables(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    for name in names:
        if not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
            raise ToolInputError(
                f"variable must be a name like x or t (or 'x, y' for a system), got '{name[:40]}'"
            )
        if SYMBOLIC.resolve(name) is not None:
            raise ToolInputError(f"'{name}' is a constant or function name, not a variable")
    return names


def _pick(names: tuple[str, ...], op: Operation) -> tuple[str, ...]:
    """The variable when the model gave none: x if present, else the only one (x for constants)."""
    if not names or "x" in names:
        return ("x",)
    if len(names) == 1:
        return names
    raise ToolInputError(
        f"the expression has several variables ({', '.join(names)}): say which one for {op}, "
        f"like variable='{names[0]}'"
    )


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses (``x=log(8, 2), y=1`` has two parts)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _assignments(text: str, default: tuple[str, ...], limits: Limits) -> tuple[tuple[str, Node], ...]:
    """``"x=2, y=3"`` (or just ``"2"`` for the one variable) -> ((name, value), ...)."""
    pairs: list[tuple[str, Node]] = []
    for part in _split_top(text.translate(_EXTRA)):
        name, sep, value = part.partition("=")
        if not sep:
            if len(default) != 1:
                raise ToolInputError("point must name the variables, like 'x=1, y=2'")
            name, value = default[0], part
        (name,) = _variables(name)
        pairs.append((name, _parse(value, limits)))
    return tuple(pairs)


def _limit_problem(problem: Problem, names: tuple[str, ...], point: str, limits: Limits) -> Problem:
    """``point`` is ``0``, ``oo``, ``-oo``, ``x->0``, ``x=0``; a trailing ``+``/``-`` takes one side."""
    match = re.fullmatch(r"\s*(?:([A-Za-z]\w*)\s*(?:->|=)\s*)?(.*?)\s*", point.translate(_EXTRA))
    if not point.strip() or match is None or not match.group(2):
        raise ToolInputError(
            "limit needs point: the value x approaches, like '0', 'oo' or '0+' (from the right)"
        )
    value = match.group(2)
    direction: Literal["+-", "+", "-"] = "+-"
    if len(value) > 1 and value[-1] in "+-":
        direction = "+" if value[-1] == "+" else "-"
        value = value[:-1].removesuffix("^")
    variables = problem.variables or ((match.group(1),) if match.group(1) else _pick(names, "limit"))
    if match.group(1):
        _variables(match.group(1))
    at = _parse(value, limits)
    return dataclasses.replace(problem, variables=variables, point=((variables[0], at),), direction=direction)
