"""The safe parser on its own: rewrite rules, the tree it builds, the grammar seam, the AST whitelist."""

from __future__ import annotations

import ast
import dataclasses
from fractions import Fraction

import pytest

from tools.errors import ToolInputError, ToolLimitError
from tools.safe_math import (
    ARITHMETIC,
    DEFAULT_LIMITS,
    BinOp,
    Call,
    Name,
    Num,
    Unary,
    _Converter,
    parse,
    rewrite,
)

REWRITES = [
    # ^ is power; unicode signs
    ("2^10", "2 ** 10"),
    ("2 \u00d7 3 \u00f7 4 \u2212 1", "2 * 3 / 4 - 1"),
    ("3\u00b2", "3 ** 2"),
    # % followed by an operand (number, name, "(") is the remainder ...
    ("17 % 5", "17 % 5"),
    ("17%5", "17 % 5"),
    ("7 % (2)", "7 % ( 2 )"),
    ("7 % pi", "7 % pi"),
    # ... otherwise a percent of the operand just before it
    ("15%", "( 15 / 100 )"),
    ("200*15%", "200 * ( 15 / 100 )"),
    ("15% - 3", "( 15 / 100 ) - 3"),
    ("17 % -5", "( 17 / 100 ) - 5"),
    ("(1+2)% * 3", "( ( 1 + 2 ) / 100 ) * 3"),
    ("sqrt(4)%", "( sqrt ( 4 ) / 100 )"),
    ("max(5%, 1)", "max ( ( 5 / 100 ) , 1 )"),
    ("2^10%", "2 ** ( 10 / 100 )"),
    # n! is factorial(n)
    ("5!", "factorial ( 5 )"),
    ("(2+1)!", "factorial ( ( 2 + 1 ) )"),
    # commas: thousands separators outside calls, argument separators directly inside them
    ("2,480", "2480"),
    ("1,000,000.5", "1000000.5"),
    ("(2,480 + 1)", "( 2480 + 1 )"),
    ("max(2,480)", "max ( 2 , 480 )"),
    ("max((2,480), 1)", "max ( ( 2480 ) , 1 )"),
    # currency, underscores, leading zeros, math. prefix
    ("$2,500", "2500"),
    ("$ 3.50", "3.50"),
    ("\u20ac5 + \u00a37", "5 + 7"),
    ("1_000", "1000"),
    ("007", "7"),
    ("math.sqrt(2)", "sqrt ( 2 )"),
]


@pytest.mark.parametrize(("text", "python"), REWRITES)
def test_rewrite_rules(text: str, python: str) -> None:
    assert rewrite(text, DEFAULT_LIMITS) == python


def test_rewrite_output_is_ascii() -> None:
    assert rewrite("\u03c0 \u00d7 2\u00b3 \u2212 $1,000", DEFAULT_LIMITS).isascii()


def test_tree_keeps_exact_literals() -> None:
    assert parse("0.1 + 2.5e-1") == BinOp("+", Num(Fraction(1, 10)), Num(Fraction(1, 4)))
    assert parse("1e3") == Num(1000)
    assert parse("-x", dataclasses.replace(ARITHMETIC, allow_variables=True)) == Unary("-", Name("x"))


def test_tree_shapes_and_canonical_names() -> None:
    assert parse("LN(E) ^ 2") == BinOp("**", Call("log", (Name("e"),)), Num(2))
    assert parse("arctan(1)") == Call("atan", (Num(1),))
    assert parse("2**3**2") == BinOp("**", Num(2), BinOp("**", Num(3), Num(2)))  # right-associative


def test_a_wider_grammar_serves_a_symbolic_evaluator() -> None:
    symbolic = dataclasses.replace(
        ARITHMETIC, functions={**ARITHMETIC.functions, "diff": (2, 3)}, allow_variables=True
    )
    assert parse("diff(x^2, x)", symbolic) == Call("diff", (BinOp("**", Name("x"), Num(2)), Name("x")))
    with pytest.raises(ToolInputError, match="unknown function 'diff'"):
        parse("diff(x^2, x)")
    with pytest.raises(ToolInputError, match="is a function"):
        parse("diff + 1", symbolic)


@pytest.mark.parametrize(
    ("python", "phrase"),
    [
        ("(lambda: 1)()", "only named functions"),
        ("(lambda: 1)", "lambda is not allowed"),
        ("a.b", "attribute access is not allowed"),
        ("x[0]", "subscripting is not allowed"),
        ("1 < 2", "comparison is not allowed"),
        ("1 and 2", "and/or is not allowed"),
        ("(1, 2)", "a comma-separated list is not allowed"),
        ("[1, 2]", "the construct List is not allowed"),
        ("'s'", "only numbers"),
        ("True", "only numbers"),
        ("1j", "only numbers"),
        ("~1", "the construct UnaryOp is not allowed"),
        ("1 << 2", "the construct BinOp is not allowed"),
        ("sqrt(x=1)", "keyword arguments"),
        ("sqrt(*a)", "a starred argument is not allowed"),
        ("sqrt(**a)", "keyword arguments"),
        ("__import__('os')", "unknown function '__import__'"),
        ("[x for x in y]", "a comprehension is not allowed"),
        ("()", "empty parentheses"),
    ],
)
def test_the_ast_whitelist_refuses_python_that_the_lexer_already_blocks(python: str, phrase: str) -> None:
    """Second line of defence: the converter alone refuses these even without the lexer in front."""
    tree = ast.parse(python, mode="eval")
    with pytest.raises(ToolInputError) as caught:
        _Converter(python, ARITHMETIC, DEFAULT_LIMITS).convert(tree.body)
    assert phrase in str(caught.value)


def test_depth_limit_counts_operator_chains() -> None:
    limits = dataclasses.replace(DEFAULT_LIMITS, max_depth=5)
    assert parse("1+2+3+4", limits=limits) == parse("((1+2)+3)+4")
    with pytest.raises(ToolLimitError, match="nested more than 5 levels"):
        parse("1+2+3+4+5+6", limits=limits)
