"""Exact evaluation of a :mod:`tools.safe_math` tree, and the calculator's result format.

Numbers are big integers and :class:`~fractions.Fraction` for as long as the result is rational
(``0.1 + 0.2`` is exactly ``3/10``, ``1/3`` stays ``1/3``), and become floats only where the math is
irrational (``sqrt(2)``, ``log(3)``, ``sin(1)``, ``pi``). Every operation whose cost grows with its
result (``**``, ``factorial``, ``comb``, ``perm``) estimates the result's size first and refuses
before computing, so ``9**9**9**9`` fails in microseconds; every exact result is then checked
against :attr:`Limits.max_result_digits`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Context, Decimal
from fractions import Fraction

from tools.errors import ToolInputError, ToolLimitError
from tools.exact_ops import FUNCTIONS, Value, check_size, finite, normalize, power, short, to_float
from tools.safe_math import DEFAULT_LIMITS, BinOp, Call, Limits, Name, Node, Num, Unary

__all__ = ["Value", "evaluate", "format_value", "int_to_str"]

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def evaluate(node: Node, limits: Limits = DEFAULT_LIMITS) -> Value:
    """Evaluate a tree that :func:`tools.safe_math.parse` built with the ``ARITHMETIC`` grammar.

    Raises:
        ToolInputError: a math error (division by zero, a domain error such as ``sqrt(-1)``).
        ToolLimitError: a result would exceed ``limits``, or overflow floating point.
    """
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        if node.id not in _CONSTANTS:
            raise ToolInputError(f"'{node.id}' has no numeric value: the constants are pi and e")
        return _CONSTANTS[node.id]
    if isinstance(node, Unary):
        operand = evaluate(node.operand, limits)
        return -operand if node.op == "-" else operand
    if isinstance(node, BinOp):
        return _binary(node.op, evaluate(node.left, limits), evaluate(node.right, limits), limits)
    return _call(node, limits)


def _binary(op: str, left: Value, right: Value, limits: Limits) -> Value:
    if op in ("/", "//", "%") and right == 0:
        raise ToolInputError(f"division by zero in {short(left)} {op} 0")
    try:
        if op == "**":
            return power(left, right, limits)
        if isinstance(left, float) or isinstance(right, float):
            divisor = to_float(right)
            if divisor == 0:  # an exact divisor below the float range: divide exactly, then round
                return finite(float(_EXACT_OPS[op](Fraction(left), Fraction(right))))
            return finite(_FLOAT_OPS[op](to_float(left), divisor))
    except OverflowError:
        raise ToolLimitError(f"{op} overflows floating point (beyond about 1.8e308)") from None
    except ZeroDivisionError:  # backstop; zero divisors are refused above
        raise ToolInputError(f"division by zero in {short(left)} {op} {short(right)}") from None
    return check_size(normalize(_EXACT_OPS[op](left, right)), limits)


_EXACT_OPS: dict[str, Callable[[int | Fraction, int | Fraction], int | Fraction]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: Fraction(a) / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}
_FLOAT_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: float(a // b),
    "%": lambda a, b: a % b,
}


def _call(node: Call, limits: Limits) -> Value:
    function = FUNCTIONS.get(node.func)
    if function is None:
        raise ToolInputError(f"the calculator has no function '{node.func}'")
    args = [evaluate(arg, limits) for arg in node.args]
    try:
        return function(args, limits)
    except OverflowError:
        raise ToolLimitError(f"{node.func}() overflows floating point (beyond about 1.8e308)") from None


# --- formatting -----------------------------------------------------------------------------------

_SIGNIFICANT = 12
_EXACT_DECIMAL_DIGITS = 20


def format_value(value: Value) -> str:
    """Format a result for the model.

    * integer: all digits, ``391``;
    * fraction: the decimal first, then the exact value: ``0.3 (exactly 3/10)`` when a short
      decimal is exact, else ``≈ 0.333333333333 (exactly 1/3)`` (12 significant digits). The
      decimal leads because small models read the first number: with the fraction first,
      Qwen2.5-Coder-1.5B reported ``32181715/8`` as "$32,181,715";
    * float (an irrational or approximate result): ``≈ 1.41421356237`` (12 significant digits).
    """
    if isinstance(value, int):
        return int_to_str(value)
    if isinstance(value, Fraction):
        decimal = _terminating_decimal(value)
        if decimal is None:
            decimal = _approximate(value)
            sign = "=" if Fraction(decimal) == value else "≈"
        else:
            sign = "="
        approx = "" if sign == "=" else "≈ "
        return f"{approx}{decimal} (exactly {int_to_str(value.numerator)}/{int_to_str(value.denominator)})"
    return f"≈ {value + 0.0:.{_SIGNIFICANT}g}"  # + 0.0 turns -0.0 into 0.0


def int_to_str(number: int) -> str:
    """``str(number)`` without Python's 4,300-digit conversion limit (split into halves when long)."""
    if abs(number).bit_length() <= 10_000:
        return str(number)
    sign = "-" if number < 0 else ""
    half = int(abs(number).bit_length() * math.log10(2)) // 2
    high, low = divmod(abs(number), 10**half)
    return sign + int_to_str(high) + int_to_str(low).zfill(half)


def _terminating_decimal(value: Fraction) -> str | None:
    """The exact decimal of ``value`` if it terminates within 20 digits after the point, else None."""
    if 10**_EXACT_DECIMAL_DIGITS % value.denominator:  # needs more places, or never terminates
        return None
    places = next(k for k in range(1, _EXACT_DECIMAL_DIGITS + 1) if 10**k % value.denominator == 0)
    scaled = abs(value.numerator) * 10**places // value.denominator
    if scaled >= 10**_EXACT_DECIMAL_DIGITS:  # too many significant digits (and str() stays cheap)
        return None
    digits = str(scaled).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _approximate(value: Fraction) -> str:
    """``value`` to 12 significant digits, in float notation, at any magnitude."""
    context = Context(prec=_SIGNIFICANT)
    quotient = context.divide(Decimal(value.numerator), Decimal(value.denominator))
    as_float = float(quotient)
    if math.isfinite(as_float) and as_float != 0:
        return f"{as_float:.{_SIGNIFICANT}g}"
    mantissa, exponent = f"{quotient:.{_SIGNIFICANT - 1}e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent):+03d}"
