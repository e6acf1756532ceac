"""Lexing and rewriting of model-written math into plain Python syntax (step 1 of :mod:`tools.safe_math`).

A single linear scan with no recursion: it bounds length, parenthesis depth and token count before
Python's own parser ever sees the text, refuses strings, attributes, subscripts, keywords and
unknown characters, and rewrites the notations small models use (``^``, ``15%``, ``2,480``,
``$2,500``, Unicode operator signs). The output is ASCII, so AST column offsets equal character offsets.
"""

from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tools.errors import ToolInputError, ToolLimitError

if TYPE_CHECKING:
    from tools.safe_math import Limits

__all__ = ["ALLOWED", "rewrite"]

ALLOWED = (
    "use numbers, + - * / // % ** (or ^), parentheses, pi, e and functions such as "
    "sqrt(x), log(x), round(x, 2), min(a, b)"
)
"""What is allowed, appended to refusals so the model knows what to write instead."""


_UNICODE = str.maketrans(
    {
        "\u00d7": "*",  # multiplication sign
        "\u2715": "*",  # multiplication x
        "\u00b7": "*",  # middle dot
        "\u22c5": "*",  # dot operator
        "\u2219": "*",  # bullet operator
        "\u2217": "*",  # asterisk operator
        "\u00f7": "/",  # division sign
        "\u2215": "/",  # division slash
        "\u2212": "-",  # minus sign
        "\u2013": "-",  # en dash
        "\uff0d": "-",  # fullwidth hyphen-minus
        "\uff0b": "+",  # fullwidth plus
        "\u00b2": "**2",  # superscript two
        "\u00b3": "**3",  # superscript three
        "\u03c0": " pi ",  # greek small letter pi
        "\u20ac": "$",  # euro sign
        "\u00a3": "$",  # pound sign
        "\u00a0": " ",  # no-break space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow no-break space
    }
)
_DIGITS = r"\d(?:_?\d)*"
_EXPONENT = r"(?:[eE](?P<exp>[+-]?\d+))?"
_PLAIN_NUMBER = re.compile(rf"(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS}){_EXPONENT}", re.ASCII)
_GROUPED_NUMBER = re.compile(rf"\d{{1,3}}(?:,\d{{3}})+(?:\.{_DIGITS})?{_EXPONENT}(?!\d)", re.ASCII)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("**", "//", "+", "-", "*", "/", "%", "^", "!")
_REFUSED = {
    "'": "strings are not allowed",
    '"': "strings are not allowed",
    "[": "lists and subscripts ([ ]) are not allowed",
    "]": "lists and subscripts ([ ]) are not allowed",
    "{": "braces are not allowed",
    "}": "braces are not allowed",
    "=": "assignments, comparisons and keyword arguments (=) are not allowed",
    "<": "comparisons are not allowed",
    ">": "comparisons are not allowed",
    ";": "only one expression is allowed (no ';')",
    "&": "bitwise operators are not supported",
    "|": "bitwise operators are not supported",
    "~": "bitwise operators are not supported",
}
_OPERAND_START = ("num", "name", "(")
_OPERAND_END = ("num", "name", ")")


@dataclass(slots=True)
class _Token:
    kind: Literal["num", "name", "op", "(", ")", ","]
    text: str


class _Lexer:
    """Split normalized text into tokens, refusing anything outside the grammar's alphabet."""

    def __init__(self, text: str, limits: Limits) -> None:
        self.text = text
        self.limits = limits
        self.pos = 0
        self.tokens: list[_Token] = []
        self.parens: list[bool] = []  # one entry per open parenthesis: is it a function call's?

    def run(self) -> list[_Token]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char.isspace():
                self.pos += 1
            elif char == "$":  # a currency sign before a number is dropped
                rest = text[self.pos + 1 :].lstrip()
                if not rest or rest[0] not in "0123456789.":
                    raise ToolInputError("'$' must be directly followed by a number, like $2,500")
                self.pos = len(text) - len(rest)
            elif not self._number() and not self._name():
                self.pos += 1
                self._punctuation(char)
            if len(self.tokens) > self.limits.max_tokens:
                raise ToolLimitError(
                    f"the expression has more than {self.limits.max_tokens} tokens; split it up"
                )
        if self.parens:
            raise ToolInputError(f"unbalanced parentheses: {len(self.parens)} '(' never closed")
        return self.tokens

    def _number(self) -> bool:
        in_call = bool(self.parens) and self.parens[-1]
        grouped = None if in_call else _GROUPED_NUMBER.match(self.text, self.pos)
        match = grouped or _PLAIN_NUMBER.match(self.text, self.pos)
        if match is None:
            return False
        self.tokens.append(_Token("num", _number_literal(match, self.limits)))
        self.pos = match.end()
        return True

    def _name(self) -> bool:
        match = _NAME.match(self.text, self.pos)
        if match is None:
            return False
        name = match.group()
        self.pos = match.end()
        if keyword.iskeyword(name) or keyword.issoftkeyword(name):
            raise ToolInputError(f"the Python keyword '{name}' is not allowed: {ALLOWED}")
        if name.startswith("_"):
            raise ToolInputError(f"names starting with '_' are not allowed ('{name}'): {ALLOWED}")
        if name == "math" and self.text.startswith(".", self.pos) and _NAME.match(self.text, self.pos + 1):
            self.pos += 1  # math.sqrt(2) -> sqrt(2)
        else:
            self.tokens.append(_Token("name", name))
        return True

    def _punctuation(self, char: str) -> None:
        if char == "(":
            self.parens.append(bool(self.tokens) and self.tokens[-1].kind == "name")
            _check_depth(len(self.parens), self.limits)
            self.tokens.append(_Token("(", char))
        elif char == ")":
            if not self.parens:
                raise ToolInputError("unbalanced parentheses: a ')' has no matching '('")
            self.parens.pop()
            self.tokens.append(_Token(")", char))
        elif char == ",":
            if not (self.parens and self.parens[-1]):
                raise ToolInputError(
                    "a comma is only allowed between function arguments, like max(2, 3), or as a "
                    "thousands separator in groups of three digits, like 2,480 or 1,000,000"
                )
            self.tokens.append(_Token(",", char))
        elif char == ".":
            raise ToolInputError(f"attribute access ('.') is not allowed: {ALLOWED}")
        elif op := next((op for op in _OPERATORS if self.text.startswith(op, self.pos - 1)), None):
            self.pos += len(op) - 1
            self.tokens.append(_Token("op", "**" if op == "^" else op))
        else:
            reason = _REFUSED.get(char, f"the character {char!r} is not allowed")
            raise ToolInputError(f"{reason}: {ALLOWED}")


def _check_depth(depth: int, limits: Limits) -> None:
    if depth > limits.max_paren_depth:
        raise ToolLimitError(
            f"parentheses are nested more than {limits.max_paren_depth} levels deep; "
            "simplify the expression or split it into several calculations"
        )


def _number_literal(match: re.Match[str], limits: Limits) -> str:
    """The literal as Python accepts it: thousands separators and underscores removed."""
    exponent = match.group("exp")
    if exponent is not None and abs(int(exponent)) > limits.max_result_digits:
        raise ToolLimitError(
            f"the number {match.group()} has an exponent beyond ±{limits.max_result_digits}, "
            "the largest this calculator handles exactly"
        )
    literal = match.group().replace(",", "").replace("_", "")
    if literal.isdigit():  # Python refuses leading zeros in integers ("007")
        literal = literal.lstrip("0") or "0"
    return literal


def _apply_postfix(tokens: list[_Token], limits: Limits, implicit_multiplication: bool) -> list[_Token]:
    """Rewrite percent signs and factorial marks, which Python lacks, as ordinary syntax.

    Linear: ``group_start`` remembers where the group ending the output begins, so finding the
    operand of a postfix sign never walks back through the tokens.
    """
    out: list[_Token] = []
    opens: list[int] = []  # output positions of the parentheses not yet closed
    group_start = -1  # output position of the "(" matching out[-1] when that is ")"
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        percent = token.text == "%" and (following is None or following.kind not in _OPERAND_START)
        if token.kind == "op" and (percent or token.text == "!"):
            if not out or out[-1].kind not in _OPERAND_END:
                raise ToolInputError(f"'{token.text}' must follow a number or a closing parenthesis")
            start = len(out) - 1
            if out[-1].kind == ")":
                is_call = group_start > 0 and out[group_start - 1].kind == "name"
                start = group_start - 1 if is_call else group_start
            if percent:  # 15% -> (15 / 100)
                out.insert(start, _Token("(", "("))
                out += [_Token("op", "/"), _Token("num", "100")]
                group_start = start
            else:  # 5! -> factorial(5)
                out[start:start] = [_Token("name", "factorial"), _Token("(", "(")]
                group_start = start + 1
            out.append(_Token(")", ")"))
        else:
            if token.kind == "(":
                opens.append(len(out))
            elif token.kind == ")":
                group_start = opens.pop()
            out.append(token)
        if len(out) > limits.max_tokens:
            raise ToolLimitError(f"the expression has more than {limits.max_tokens} tokens; split it up")
    if implicit_multiplication:
        out = _insert_products(out, limits)
    for left, right in itertools.pairwise(out):
        is_call = left.kind == "name" and right.kind == "("
        if left.kind in _OPERAND_END and right.kind in _OPERAND_START and not is_call:
            raise ToolInputError(
                f"missing operator between '{left.text}' and '{right.text}': implicit multiplication "
                f"is not supported, write {left.text}*{right.text}"
            )
    return out


def _insert_products(tokens: list[_Token], limits: Limits) -> list[_Token]:
    """Insert ``*`` between a number or ``)`` and a following name or ``(``: ``2x``, ``(x+1)(x-1)``."""
    out: list[_Token] = []
    for token in tokens:
        if out and out[-1].kind in ("num", ")") and token.kind in ("name", "("):
            out.append(_Token("op", "*"))
        out.append(token)
    if len(out) > limits.max_tokens:
        raise ToolLimitError(f"the expression has more than {limits.max_tokens} tokens; split it up")
    return out


def rewrite(text: str, limits: Limits, *, implicit_multiplication: bool = False) -> str:
    """Rewrite model-written math into plain Python syntax, refusing anything else.

    Rules (in this order):

    * Unicode: the multiplication sign (U+00D7) and middle dot (U+00B7) mean ``*``; the division
      sign (U+00F7) means ``/``; the minus sign (U+2212) and en dash mean ``-``; superscript two and
      three mean ``**2`` and ``**3``; the letter pi means ``pi``. A ``$`` (or euro, pound) sign
      before a number is dropped, and so is ``math.`` before a name (``math.sqrt(2)``).
    * ``^`` means power (``**``); ``n!`` means ``factorial(n)``.
    * Comma: directly inside a function call's parentheses a comma separates arguments
      (``max(2,480)`` is max of 2 and 480). Everywhere else, a comma inside a digit group of the
      form ``d{1,3}(,ddd)+`` is a thousands separator (``2,480`` and ``(1,000,000 + 1)``); any other
      comma is refused.
    * ``%`` is the remainder operator when a number, a name or ``(`` follows it (``17 % 5``,
      ``17%5``, ``x % (y)``); otherwise it is a percent sign dividing the operand just before it by
      100 (``15%``, ``200*15%``, ``(a+b)% * 3``, ``15% - 3``). So ``17 % -5`` is read as a percent;
      write ``17 % (-5)`` for a remainder by a negative number.
    * No implicit multiplication: ``2pi`` and ``2(3)`` are refused with a hint to write ``*``;
      unless ``implicit_multiplication`` (the symbolic grammar): then a number or ``)`` directly
      followed by a name or ``(`` multiplies (``2x^2``, ``3(x+1)``, ``(x+1)(x-1)``, ``2sin(x)``).

    Raises:
        ToolInputError: for characters or constructs outside the grammar.
        ToolLimitError: for input beyond ``limits`` (length, nesting, tokens, literal exponents).
    """
    if len(text) > limits.max_length:
        raise ToolLimitError(
            f"the expression is {len(text)} characters long; the limit is {limits.max_length}"
        )
    tokens = _apply_postfix(_Lexer(text.translate(_UNICODE), limits).run(), limits, implicit_multiplication)
    if not tokens:
        raise ToolInputError("the expression is empty: write one arithmetic expression, like 17*23")
    depth = 0
    for token in tokens:  # again: 15% and 5! add parentheses
        depth += {"(": 1, ")": -1}.get(token.kind, 0)
        _check_depth(depth, limits)
    return " ".join(token.text for token in tokens)
