"""Bounded exact operations on calculator values: size checks, powers and the function table.

A value is an ``int`` (any size), a :class:`~fractions.Fraction` (never with denominator 1) or a
``float`` (only where the math is irrational). Operations whose cost grows with the result size
estimate it first and raise :class:`~tools.errors.ToolLimitError` before computing anything big.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from tools.errors import ToolInputError, ToolLimitError
from tools.safe_math import Limits

__all__ = ["FUNCTIONS", "Value", "check_size", "finite", "normalize", "power", "short", "to_float"]

Value = int | Fraction | float
_LOG10_2 = math.log10(2)


def normalize(value: int | Fraction) -> int | Fraction:
    """A Fraction with denominator 1 becomes an int, so integers always print as integers."""
    return value.numerator if isinstance(value, Fraction) and value.denominator == 1 else value


def _digits(number: int) -> int:
    """Decimal digits of ``number``, estimated from its bit length (off by at most one)."""
    return int(abs(number).bit_length() * _LOG10_2) + 1


def check_size(value: int | Fraction, limits: Limits) -> int | Fraction:
    """Refuse an exact value whose numerator or denominator exceeds ``limits.max_result_digits``."""
    digits = max(_digits(value.numerator), _digits(value.denominator))
    if digits > limits.max_result_digits:
        raise ToolLimitError(
            f"an exact result would have about {digits} digits; the limit is {limits.max_result_digits}"
        )
    return value


def short(value: Value) -> str:
    """A number for an error message, never thousands of digits long."""
    if isinstance(value, float):
        return f"{value:.12g}"
    if max(_digits(value.numerator), _digits(value.denominator)) > 30:
        return f"a number with about {_digits(value.numerator)} digits"
    return str(value)


def to_float(value: Value) -> float:
    """``float(value)``, refusing values beyond the float range with a clear message."""
    try:
        return float(value)
    except OverflowError:
        raise ToolLimitError(
            f"{short(value)} is too large for floating-point math (beyond about 1.8e308)"
        ) from None


def finite(value: float) -> float:
    """Refuse the infinities and NaNs that float arithmetic produces silently."""
    if math.isnan(value):
        raise ToolInputError("the result is not a number (NaN)")
    if math.isinf(value):
        raise ToolLimitError("the result overflows floating point (beyond about 1.8e308)")
    return value


def _as_int(value: Value, func: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ToolInputError(f"{func}() needs whole numbers, got {short(value)}")


def _ln(value: Value) -> float:
    """Natural log of a positive value, exact-input friendly (works far beyond the float range)."""
    if isinstance(value, Fraction):
        return math.log(value.numerator) - math.log(value.denominator)
    return math.log(value)


# --- powers ---------------------------------------------------------------------------------------


def power(base: Value, exponent: Value, limits: Limits) -> Value:
    """``base ** exponent``: exact when the result is rational, refused before it grows too big."""
    if isinstance(base, float) or isinstance(exponent, float):
        return _float_power(to_float(base), to_float(exponent))
    if isinstance(exponent, int):
        return _integer_power(base, exponent, limits)
    return _rational_power(base, exponent, limits)


def _float_power(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        raise ToolInputError("division by zero: 0 to a negative power")
    if base < 0 and not exponent.is_integer():
        raise ToolInputError("a negative number to a fractional power is not a real number")
    try:
        return finite(math.pow(base, exponent))
    except OverflowError:
        raise ToolLimitError(
            f"{base:.12g}**{exponent:.12g} overflows floating point (beyond about 1.8e308)"
        ) from None


def _integer_power(base: int | Fraction, exponent: int, limits: Limits) -> Value:
    if base == 0:
        if exponent < 0:
            raise ToolInputError("division by zero: 0 to a negative power")
        return 0 if exponent > 0 else 1
    if base in (1, -1):
        return 1 if base == 1 or exponent % 2 == 0 else -1
    largest = max(abs(base.numerator), base.denominator)
    bound = limits.max_result_digits  # largest >= 2, so the digits are at least 0.3 * |exponent|
    if abs(exponent) > 4 * bound or abs(exponent) * math.log10(largest) > bound:
        return _approximate_power(base, exponent, limits)
    result = Fraction(base) ** exponent if exponent < 0 else base**exponent
    return check_size(normalize(result), limits)


def _approximate_power(base: int | Fraction, exponent: int | Fraction, limits: Limits) -> float:
    """A float for a real power that is irrational or too long to write exactly (1.0001**100000)."""
    negative = base < 0  # only reached with an integer or odd-denominator exponent
    magnitude = -base if negative else base
    sign = -1 if negative and exponent.numerator % 2 else 1
    delta = magnitude - 1
    distance = delta if delta >= 0 else -delta
    if distance > Fraction(1, 10**6):  # the plain float route is accurate here
        try:
            result = _float_power(float(magnitude), float(exponent))
        except (OverflowError, ToolLimitError):
            result = 0.0
        if result != 0:
            return sign * result
        # else: beyond the float range (or underflowing to 0), let the logarithm below size it
    try:  # natural log of the result, accurate even when the base is within 1e-16 of 1
        if distance < Fraction(1, 2):
            small = float(delta)
            log_result = float(exponent * delta) * (math.log1p(small) / small if small else 1.0)
        else:
            log_result = float(exponent) * _ln(magnitude)
    except OverflowError:
        log_result = math.inf
    if abs(log_result) > 700:
        shown = f"({short(base)})" if negative or isinstance(base, Fraction) else short(base)
        size = f"about 10**{log_result / math.log(10):.4g}" if math.isfinite(log_result) else "astronomical"
        raise ToolLimitError(
            f"{shown}**{short(exponent)} is {size}: too long to compute exactly (limit "
            f"{limits.max_result_digits} digits) and outside the float range (about 1e-300 to 1e300)"
        )
    return sign * math.exp(log_result)


def _rational_power(base: int | Fraction, exponent: Fraction, limits: Limits) -> Value:
    if base < 0:
        if exponent.denominator % 2 == 0:
            raise ToolInputError("a negative number to a fractional power is not a real number")
        magnitude = _rational_power(-base, exponent, limits)  # odd roots of negatives are real
        return -magnitude if exponent.numerator % 2 else magnitude
    if base == 0:
        return _integer_power(0, exponent.numerator, limits)
    root = _exact_root(base, exponent.denominator)
    if root is not None:
        return _integer_power(root, exponent.numerator, limits)
    return _approximate_power(base, exponent, limits)


def _exact_root(value: int | Fraction, degree: int) -> int | Fraction | None:
    """The exact positive ``degree``-th root of ``value`` when it is rational, else None."""
    numerator = _integer_root(value.numerator, degree)
    denominator = _integer_root(value.denominator, degree)
    if numerator is None or denominator is None:
        return None
    return normalize(Fraction(numerator, denominator))


def _integer_root(number: int, degree: int) -> int | None:
    if number < 2:
        return number
    if degree > number.bit_length():  # the root would lie strictly between 1 and 2
        return None
    if degree == 2:
        root = math.isqrt(number)
    else:  # Newton's method on integers, starting above the root
        root = 1 << -(-number.bit_length() // degree)
        while True:
            better = ((degree - 1) * root + number // root ** (degree - 1)) // degree
            if better >= root:
                break
            root = better
    return root if root**degree == number else None


# --- functions ------------------------------------------------------------------------------------

Function = Callable[[list[Value], Limits], Value]


def _sqrt(args: list[Value], limits: Limits) -> Value:
    (x,) = args
    if x < 0:
        raise ToolInputError(f"sqrt() of a negative number ({short(x)}) is not a real number")
    return math.sqrt(x) if isinstance(x, float) else power(x, Fraction(1, 2), limits)


def _log(args: list[Value], limits: Limits) -> Value:
    x, base = (args[0], args[1]) if len(args) == 2 else (args[0], math.e)
    if x <= 0:
        raise ToolInputError(f"logarithms are only defined for positive numbers, got {short(x)}")
    if base <= 0 or base == 1:
        raise ToolInputError(f"a logarithm's base must be positive and not 1, got {short(base)}")
    if x == 1:
        return 0
    ratio = _ln(x) / _ln(base)
    if not isinstance(x, float) and not isinstance(base, float):  # exact when x is a power of base
        candidate = round(ratio)
        size = abs(candidate * math.log10(max(base, 1 / base)))
        if (
            candidate != 0
            and size <= limits.max_result_digits
            and _integer_power(base, candidate, limits) == x
        ):
            return candidate
    return ratio


def _with_base(base: int) -> Function:
    return lambda args, limits: _log([args[0], base], limits)


def _float_function(func: Callable[[float], float], at_zero: int | None = None) -> Function:
    """Wrap a math function; ``at_zero`` is its exact value at 0 (so sin(0) prints as 0)."""

    def apply(args: list[Value], _limits: Limits) -> Value:
        (x,) = args
        if x == 0 and at_zero is not None:
            return at_zero
        return finite(func(to_float(x)))

    return apply


def _inverse_trig(func: Callable[[float], float], name: str, exact: dict[int, int]) -> Function:
    def apply(args: list[Value], _limits: Limits) -> Value:
        (x,) = args
        if not -1 <= x <= 1:
            raise ToolInputError(f"{name}() is only defined for -1 <= x <= 1, got {short(x)}")
        if not isinstance(x, float) and x in exact:
            return exact[int(x)]
        return func(float(x))

    return apply


def _round(args: list[Value], limits: Limits) -> Value:
    """Round half away from zero (2.5 -> 3, like a school calculator), exactly."""
    places = _as_int(args[1], "round") if len(args) == 2 else 0
    if abs(places) > limits.max_round_digits:
        raise ToolLimitError(f"round() accepts at most {limits.max_round_digits} digits, got {short(places)}")
    x = Fraction(repr(args[0])) if isinstance(args[0], float) else Fraction(args[0])
    scale = Fraction(10) ** places
    rounded = math.floor(abs(x) * scale + Fraction(1, 2)) / scale
    return check_size(normalize(rounded if x >= 0 else -rounded), limits)


def _factorial(args: list[Value], limits: Limits) -> Value:
    n = _as_int(args[0], "factorial")
    if n < 0:
        raise ToolInputError(f"factorial() is only defined for n >= 0, got {short(n)}")
    if n > limits.max_factorial:
        raise ToolLimitError(f"factorial() is limited to n <= {limits.max_factorial}, got {short(n)}")
    return check_size(math.factorial(n), limits)


def _combinatorial(name: str) -> Function:
    """comb(n, k) or perm(n[, k]), refused when n or the result's size exceeds the limits."""

    def apply(args: list[Value], limits: Limits) -> Value:
        n = _as_int(args[0], name)
        k = _as_int(args[1], name) if len(args) == 2 else n
        if n < 0 or k < 0:
            raise ToolInputError(f"{name}() needs n >= 0 and k >= 0, got n={short(n)}, k={short(k)}")
        if n > limits.max_comb_n:
            raise ToolLimitError(f"{name}() is limited to n <= {limits.max_comb_n}, got {short(n)}")
        if k > n:
            return 0
        log_size = math.lgamma(n + 1) - math.lgamma(n - k + 1)
        if name == "comb":
            log_size -= math.lgamma(k + 1)
        digits = log_size / math.log(10)
        if digits > limits.max_result_digits:
            raise ToolLimitError(
                f"{name}({n}, {k}) would have about {digits:.3g} digits; the limit is "
                f"{limits.max_result_digits}"
            )
        return math.comb(n, k) if name == "comb" else math.perm(n, k)

    return apply


def _exact(value: Value) -> Value:
    """Keep floats as they are; give exact results their canonical form (``83``, not ``83/1``)."""
    return value if isinstance(value, float) else normalize(value)


FUNCTIONS: dict[str, Function] = {
    "sqrt": _sqrt,
    "log": _log,
    "log10": _with_base(10),
    "log2": _with_base(2),
    "exp": _float_function(math.exp, at_zero=1),
    "sin": _float_function(math.sin, at_zero=0),
    "cos": _float_function(math.cos, at_zero=1),
    "tan": _float_function(math.tan, at_zero=0),
    "atan": _float_function(math.atan, at_zero=0),
    "asin": _inverse_trig(math.asin, "asin", {0: 0}),
    "acos": _inverse_trig(math.acos, "acos", {1: 0}),
    "abs": lambda args, _limits: -args[0] if args[0] < 0 else args[0],
    "floor": lambda args, _limits: math.floor(args[0]),
    "ceil": lambda args, _limits: math.ceil(args[0]),
    "min": lambda args, _limits: min(args),
    "max": lambda args, _limits: max(args),
    "sum": lambda args, _limits: _exact(sum(args, Fraction(0))),
    "mean": lambda args, _limits: _exact(sum(args, Fraction(0)) / len(args)),
    "round": _round,
    "factorial": _factorial,
    "comb": _combinatorial("comb"),
    "perm": _combinatorial("perm"),
}
"""Every function of :data:`tools.safe_math.ARITHMETIC`, taking evaluated arguments and the limits."""
