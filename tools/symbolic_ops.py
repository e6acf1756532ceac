"""Inside a symbolic worker: the operations of the ``symbolic`` tool and the text the model reads.

Results are plain ASCII math with ``^`` for powers (``3*x^2 + 4*x - 5``). Numbers that are not
integers get a decimal after ``≈`` (or ``=`` when the short decimal is exact), six significant
digits: ``x = -2/3 + sqrt(19)/3 ≈ 0.7863``. Solutions come one per line, real ones sorted.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeAlias, cast

import mpmath  # type: ignore[import-untyped]  # comes with sympy
import sympy as sp  # type: ignore[import-untyped]  # sympy ships no type information

from tools.errors import ToolInputError, ToolLimitError
from tools.safe_math import Limits
from tools.symbolic_build import Builder, check_size, text
from tools.symbolic_parse import Problem, SymbolicSettings, prepare

__all__ = ["compute", "run", "with_decimal"]

Expr: TypeAlias = Any
"""A sympy expression (typed as ``Any``: sympy has no type information)."""


def compute(request: dict[str, Any]) -> str:
    """Validate a request again (it crossed a process boundary), run it and format the result.

    Raises:
        ToolInputError: the request is not allowed, or the math has no answer sympy can give.
        ToolLimitError: a bound is exceeded, including the length of the result.
    """
    limits = Limits(**request["limits"])
    settings = SymbolicSettings(**request["settings"])
    problem = prepare(
        str(request["operation"]),
        str(request["expression"]),
        variable=str(request["variable"]),
        point=str(request["point"]),
        bounds=str(request["bounds"]),
        order=int(request["order"]),
        limits=limits,
        settings=settings,
    )
    result = run(problem, Builder(limits, settings), settings)
    if len(result) > settings.max_output:
        raise ToolLimitError(
            f"the result is {len(result)} characters long (the limit is {settings.max_output}); "
            "ask for something smaller"
        )
    return result


def run(problem: Problem, build: Builder, settings: SymbolicSettings) -> str:
    """Run ``problem``'s operation on sympy objects built by ``build``."""
    symbols = [sp.Symbol(name) for name in problem.variables]
    equations = [
        build(left) if right is None else build(left) - build(right) for left, right in problem.equations
    ]
    op = problem.operation
    if op in ("solve", "critical_points", "factor", "expand", "simplify"):
        for expr in equations:
            check_size(expr, op, settings)
    if op == "solve":
        return _solve(equations, symbols)
    expr = equations[0]
    if op in _REWRITES:
        return text(_REWRITES[op](expr))
    if op == "differentiate":
        return _differentiate(expr, symbols, problem, build)
    if op == "integrate":
        return _integrate(expr, symbols[0], problem, build)
    if op == "critical_points":
        return _critical_points(expr, symbols[0])
    if op == "limit":
        return _limit(expr, symbols[0], build(problem.point[0][1]), problem.direction)
    return _evaluate(expr, problem, build)


_REWRITES: dict[str, Callable[[Expr], Expr]] = {
    "simplify": sp.simplify,
    "factor": sp.factor,
    "expand": sp.expand,
}


def _differentiate(expr: Expr, symbols: list[sp.Symbol], problem: Problem, build: Builder) -> str:
    if len(symbols) > 1 and problem.order != 1:
        raise ToolInputError("order is for one variable; for mixed partial derivatives give variable='x, y'")
    spec = [(symbols[0], problem.order)] if len(symbols) == 1 else symbols
    derivative = sp.diff(expr, *spec)
    if not problem.point:
        return text(derivative)
    value = _substitute(derivative, problem, build)
    where = ", ".join(f"{name} = {text(build(node))}" for name, node in problem.point)
    return f"{text(derivative)}\nat {where}: {with_decimal(value)}"


def _integrate(expr: Expr, symbol: sp.Symbol, problem: Problem, build: Builder) -> str:
    if problem.bounds is None:
        antiderivative = sp.integrate(expr, symbol)
        if antiderivative.has(sp.Integral):
            raise ToolInputError(f"no closed-form antiderivative found for {text(expr)}")
        return f"{text(antiderivative)} + C"
    lower, upper = (build(bound) for bound in problem.bounds)
    value = sp.integrate(expr, (symbol, lower, upper), conds="none")
    if value.has(sp.Integral):
        number = value.evalf(15)
        if number.has(sp.Integral):  # sympy's evalf gives up on some integrands (x^x at 0)
            number = _quadrature(expr, symbol, lower, upper)
        if number is not None and number.is_number and not number.has(sp.Integral):
            return f"no closed form found; numerically ≈ {_decimal(number)}"
        raise ToolInputError(f"no closed form found for the integral of {text(expr)}")
    return with_decimal(value)


def _quadrature(expr: Expr, symbol: sp.Symbol, lower: Expr, upper: Expr) -> Expr | None:
    """Numeric integration with mpmath, sampling ``expr`` through ``evalf`` (no code generation)."""
    if expr.free_symbols - {symbol} or not (lower.is_number and upper.is_number):
        return None

    def sample(point: Any) -> complex:
        return complex(expr.evalf(20, subs={symbol: sp.Float(point, 20)}))

    try:
        low, high = (
            mpmath.inf if b == sp.oo else -mpmath.inf if b == -sp.oo else mpmath.mpf(complex(b).real)
            for b in (lower, upper)
        )
        result = complex(mpmath.quad(sample, [low, high]))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return sp.Float(result.real, 15) + sp.I * sp.Float(result.imag, 15)


def _solve(equations: list[Expr], symbols: list[sp.Symbol]) -> str:
    if len(equations) == 1:
        single = equations[0]
        if single == 0:
            return (
                f"every value of {', '.join(map(str, symbols))} is a solution (the equation is an identity)"
            )
        if not single.free_symbols & set(symbols):
            return f"no solution: the equation reduces to {text(single)} = 0"
    system = equations[0] if len(equations) == 1 else equations  # a one-item list misses CRootOf roots
    solutions = cast(list[dict[sp.Symbol, Expr]], sp.solve(system, symbols, dict=True))
    if not solutions:
        return "no solution"
    if len(symbols) == 1:
        solutions = _sorted(solutions, symbols[0])
    lines = [
        ", ".join(f"{symbol} = {with_decimal(value)}" for symbol, value in found.items())
        for found in solutions
    ]
    return "\n".join(lines)


def _critical_points(expr: Expr, symbol: sp.Symbol) -> str:
    derivative = sp.diff(expr, symbol)
    lines = [f"derivative: {text(derivative)}"]
    if derivative == 0:
        return f"{lines[0]}\nthe derivative is 0 everywhere: every {symbol} is a critical point"
    points = _sorted([{symbol: root} for root in cast(list[Expr], sp.solve(derivative, symbol))], symbol)
    if not points:
        return f"{lines[0]}\nno critical points: the derivative is never 0"
    second = sp.diff(derivative, symbol)
    lines.append("critical points (derivative = 0):")
    for found in points:
        root = found[symbol]
        if not _is_real(root):
            lines.append(f"{symbol} = {with_decimal(root)}: not real")
            continue
        curvature = _numeric(second.subs(symbol, root))
        kind = "test inconclusive (second derivative 0)"
        if curvature is not None and curvature > 0:
            kind = "local minimum"
        elif curvature is not None and curvature < 0:
            kind = "local maximum"
        value = sp.expand(expr.subs(symbol, root))
        lines.append(f"{symbol} = {with_decimal(root)}: {kind}, value {with_decimal(value)}")
    return "\n".join(lines)


def _limit(expr: Expr, symbol: sp.Symbol, point: Expr, direction: str) -> str:
    if point.is_infinite:
        value = sp.limit(expr, symbol, point)
    else:
        value = sp.limit(expr, symbol, point, dir=direction)
    if value is sp.zoo and direction == "+-":
        left = sp.limit(expr, symbol, point, dir="-")
        right = sp.limit(expr, symbol, point, dir="+")
        return f"the limit does not exist: from the left {text(left)}, from the right {text(right)}"
    if isinstance(value, sp.AccumBounds):
        low, high = value.args
        return f"the limit does not exist: the values keep oscillating between {text(low)} and {text(high)}"
    if value.has(sp.AccumBounds):
        return "the limit does not exist: the values keep oscillating"
    if value.has(sp.Limit) or value is sp.nan:
        raise ToolInputError(f"could not determine the limit of {text(expr)}")
    return with_decimal(value)


def _evaluate(expr: Expr, problem: Problem, build: Builder) -> str:
    if not problem.point and expr.free_symbols:
        names = sorted(map(str, expr.free_symbols))
        raise ToolInputError(
            f"evaluate needs point: values for {', '.join(names)}, like point='{names[0]}=2'"
        )
    return with_decimal(_substitute(expr, problem, build))


def _substitute(expr: Expr, problem: Problem, build: Builder) -> Expr:
    values = {sp.Symbol(name): build(node) for name, node in problem.point}
    value = expr.subs(values)
    if value.has(sp.zoo, sp.nan):
        raise ToolInputError("the expression is undefined at that point (a division by zero or similar)")
    return (sp.simplify(value)) if value.is_number else value


# --- numbers ----------------------------------------------------------------------------------------


def with_decimal(value: Expr) -> str:
    """``value`` as text, plus ``≈ decimal`` for a number that is not an integer."""
    shown = text(value)
    if not value.is_number or value.is_Integer or value.is_infinite:
        return shown
    real, imag = value.as_real_imag()
    if real.is_Rational and imag.is_Rational and imag != 0:  # 2 - 3*I: exact and short already
        return shown
    number = value.evalf(15, chop=True)
    if not number.is_number or number.has(sp.Integral, sp.Limit):
        return shown
    decimal = _decimal(number)
    if value.is_Rational and Fraction(decimal) == Fraction(int(value.p), int(value.q)):
        return shown if decimal == shown else f"{shown} = {decimal}"
    return f"{shown} ≈ {decimal}"


def _decimal(number: Expr) -> str:
    """Six significant digits; ``a + b*I`` for complex values."""
    real, imag = ((part) for part in number.as_real_imag())
    if abs(_numeric(imag) or 0.0) < 1e-12 * max(1.0, abs(_numeric(real) or 0.0)):
        return _float_text(real)
    sign = "-" if (_numeric(imag) or 0.0) < 0 else "+"
    magnitude = _float_text(abs(imag))
    if abs(_numeric(real) or 0.0) < 1e-12 * abs(_numeric(imag) or 1.0):
        return f"{'-' if sign == '-' else ''}{magnitude}*I"
    return f"{_float_text(real)} {sign} {magnitude}*I"


def _float_text(number: Expr) -> str:
    as_float = _numeric(number)
    if as_float is not None and abs(as_float) < 1e300:
        return f"{as_float + 0.0:.6g}"
    return str(sp.Float(number, 6))


def _numeric(value: Expr) -> float | None:
    """A real float for a real number, else None."""
    try:
        number = value.evalf(15, chop=True)
        return float(number) if number.is_real else None
    except (TypeError, ValueError, OverflowError):
        return None


def _is_real(value: Expr) -> bool:
    number = value.evalf(15, chop=True)
    return bool(number.is_real) or abs(_numeric(sp.im(number)) or 0.0) < 1e-12


def _sorted(solutions: list[dict[sp.Symbol, Expr]], symbol: sp.Symbol) -> list[dict[sp.Symbol, Expr]]:
    """Real solutions in increasing order (when all are numbers), else sympy's order."""
    keys = [_numeric(found[symbol]) if symbol in found else None for found in solutions]
    if any(key is None for key in keys):
        return solutions
    return [
        found for _key, found in sorted(zip(keys, solutions, strict=True), key=lambda pair: pair[0] or 0.0)
    ]
