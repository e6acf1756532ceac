"""Inside a symbolic worker: sympy objects from the parsed tree, size guards, operations, output text.

Sympy evaluates eagerly (``Integer(10)**10**9`` computes a billion-digit number, ``factorial(10**6)``
too), so every node is checked as it is built: numbers stay within
:attr:`~tools.safe_math.Limits.max_result_digits`, powers of non-rational bases within
:attr:`~tools.symbolic_parse.SymbolicSettings.max_exponent`, factorials within ``max_factorial``. Before an
operation whose cost grows with the polynomial (solve, factor, expand...) its degree and the number
of terms it may expand into are estimated from the tree and refused beyond the settings. The
wall-clock deadline of :mod:`tools.symbolic_worker` covers everything else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeAlias

import sympy as sp  # type: ignore[import-untyped]  # sympy ships no type information

from tools.errors import ToolInputError, ToolLimitError
from tools.safe_math import BinOp, Call, Limits, Name, Node, Num, Unary
from tools.symbolic_parse import SymbolicSettings

__all__ = ["Builder", "check_size", "degree_bound", "term_bound", "text"]

Expr: TypeAlias = Any
"""A sympy expression (typed as ``Any``: sympy has no type information)."""
_LOG10_2 = math.log10(2)
_CONSTANTS: dict[str, Expr] = {"pi": sp.pi, "e": sp.E, "oo": sp.oo}


def text(expr: Expr) -> str:
    """Plain ASCII math with ``^`` for powers: ``3*x^2 + 4*x - 5``."""
    return str(sp.sstr(expr)).replace("**", "^")


def _digits(number: int) -> int:
    return int(abs(number).bit_length() * _LOG10_2) + 1


class Builder:
    """Builds sympy expressions from :mod:`tools.safe_math` trees, checking sizes at every node."""

    def __init__(self, limits: Limits, settings: SymbolicSettings) -> None:
        self.limits = limits
        self.settings = settings
        self.functions: dict[str, Callable[[list[Expr]], Expr]] = {
            "sqrt": lambda a: sp.sqrt(a[0]),
            "cbrt": lambda a: sp.cbrt(a[0]),
            "root": self._root,
            "exp": lambda a: sp.exp(a[0]),
            "log": lambda a: sp.log(a[0]) if len(a) == 1 else sp.log(a[0], a[1]),
            "log10": lambda a: sp.log(a[0], 10),
            "log2": lambda a: sp.log(a[0], 2),
            "abs": lambda a: sp.Abs(a[0]),
            "sign": lambda a: sp.sign(a[0]),
            "floor": lambda a: sp.floor(a[0]),
            "ceil": lambda a: sp.ceiling(a[0]),
            "factorial": lambda a: sp.factorial(self._small_integer(a[0], "factorial")),
            "comb": lambda a: sp.binomial(self._small_integer(a[0], "comb"), a[1]),
            "min": lambda a: sp.Min(*a),
            "max": lambda a: sp.Max(*a),
            "atan2": lambda a: sp.atan2(a[0], a[1]),
        }
        for name in ("sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan"):
            self.functions[name] = _unary(getattr(sp, name))
        for name in ("sinh", "cosh", "tanh", "asinh", "acosh", "atanh"):
            self.functions[name] = _unary(getattr(sp, name))

    def __call__(self, node: Node) -> Expr:
        """The sympy expression of ``node``.

        Raises:
            ToolInputError: division by zero or an unknown function.
            ToolLimitError: a number, power or factorial beyond the bounds.
        """
        return self._check(self._build(node))

    def _build(self, node: Node) -> Expr:
        if isinstance(node, Num):
            return sp.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, Name):
            return _CONSTANTS.get(node.id) or sp.Symbol(node.id)
        if isinstance(node, Unary):
            operand = self(node.operand)
            return -operand if node.op == "-" else operand
        if isinstance(node, BinOp):
            return self._binary(node.op, self(node.left), self(node.right))
        if isinstance(node, Call):
            function = self.functions.get(node.func)
            if function is None:
                raise ToolInputError(f"symbolic math has no function '{node.func}'")
            return function([self(arg) for arg in node.args])
        raise ToolInputError(f"unsupported expression part {type(node).__name__}")

    def _binary(self, op: str, left: Expr, right: Expr) -> Expr:
        if op in ("/", "//", "%") and right == 0:
            raise ToolInputError(f"division by zero in {text(left)} {op} 0")
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            return left / right
        if op == "//":
            return sp.floor(left / right)
        if op == "%":
            return sp.Mod(left, right)
        if left == 0 and right.is_number and right.is_negative:
            raise ToolInputError(f"division by zero in 0^{text(right)}")
        return sp.Pow(left, self._checked_exponent(right, left))

    def _checked_exponent(self, exponent: Expr, base: Expr) -> Expr:
        """Refuse powers whose evaluation or later expansion would be huge."""
        if not exponent.is_Rational:
            return exponent
        rational = exponent
        if base.is_Rational and base not in (0, 1, -1):
            number = base
            digits = abs(float(rational)) * max(_digits(int(number.p)), _digits(int(number.q)))
            if digits > self.limits.max_result_digits:
                raise ToolLimitError(
                    f"{text(base)}^{text(exponent)} would have about {digits:.0f} digits; "
                    f"the limit is {self.limits.max_result_digits}"
                )
            return exponent
        cap = self.settings.max_exponent
        if abs(int(rational.p)) > cap or int(rational.q) > cap:
            raise ToolLimitError(
                f"the exponent {_short(rational)} is too large: symbolic powers are limited to ±{cap}"
            )
        return exponent

    def _root(self, args: list[Expr]) -> Expr:
        self._checked_exponent((1 / args[1]), args[0])
        return sp.root(args[0], args[1])

    def _small_integer(self, value: Expr, func: str) -> Expr:
        if value.is_Integer and abs(int(value)) > self.limits.max_factorial:
            raise ToolLimitError(
                f"{func}() of {_short(value)} is too large; the limit is {self.limits.max_factorial}"
            )
        return value

    def _check(self, expr: Expr) -> Expr:
        if expr.is_Rational:
            number = expr
            digits = max(_digits(int(number.p)), _digits(int(number.q)))
            if digits > self.limits.max_result_digits:
                raise ToolLimitError(
                    f"a number would have about {digits} digits; the limit is {self.limits.max_result_digits}"
                )
        return expr


def _unary(function: Callable[[Expr], Expr]) -> Callable[[list[Expr]], Expr]:
    return lambda args: function(args[0])


def _short(value: Expr) -> str:
    shown = text(value)
    return shown if len(shown) <= 30 else f"a number with {len(shown)} characters"


# --- size estimates (before solve, factor, expand...) ----------------------------------------------


def degree_bound(expr: Expr) -> int:
    """An upper bound of the polynomial degree ``expr`` could expand to (non-polynomial parts count too)."""
    if not expr.free_symbols:
        return 0
    if expr.is_Symbol:
        return 1
    if expr.is_Add:
        return max(degree_bound(arg) for arg in expr.args)
    if expr.is_Mul:
        return sum(degree_bound(arg) for arg in expr.args)
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent.is_Rational:
            return math.ceil(abs(float(exponent)) * degree_bound(base))
        return degree_bound(base) + degree_bound(exponent) + 1
    return max((degree_bound((arg)) for arg in expr.args), default=1)


def term_bound(expr: Expr, cap: int) -> int:
    """An upper bound (saturating at ``cap + 1``) of the number of terms ``expand`` could produce."""
    if expr.is_Add:
        return min(cap + 1, sum(term_bound(arg, cap) for arg in expr.args))
    if expr.is_Mul:
        product = 1
        for arg in expr.args:
            product = min(cap + 1, product * term_bound(arg, cap))
        return product
    if expr.is_Pow:
        base, exponent = expr.args
        terms = term_bound(base, cap)
        if exponent.is_Integer and int(exponent) > 1 and terms > 1:
            power = int(exponent)
            if terms > cap or power > cap:
                return cap + 1
            return min(cap + 1, math.comb(power + terms - 1, terms - 1))  # monomials of that degree
        return terms
    return 1


def check_size(expr: Expr, operation: str, settings: SymbolicSettings) -> None:
    """Refuse polynomials too large for ``operation`` before sympy starts on them."""
    degree = degree_bound(expr)
    if degree > settings.max_degree:
        raise ToolLimitError(
            f"the expression has degree up to {degree}; "
            f"{operation} is limited to degree {settings.max_degree}"
        )
    terms = term_bound(expr, settings.max_terms)
    if terms > settings.max_terms:
        raise ToolLimitError(
            f"expanding the expression could give more than {settings.max_terms} terms; "
            f"{operation} is limited to {settings.max_terms}"
        )
