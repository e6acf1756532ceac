"""Reading the arithmetic out of a worked solution, in the forms small models write."""

from __future__ import annotations

import pytest

from graphs.worked_text import arithmetic, expression_before, to_calculator, value_text
from tools.calculator import calculate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Revenue in 2022 = $2.7M * (1 + 0.15) ", "$2.7 * (1 + 0.15)"),
        ("R = 2 \\text{ million} \\times (1.15)^5 ", "2 * (1.15)^5"),
        ("\\[ (1 + r)^5 = \\frac{5}{2} ", "((5)/(2))"),
        ("x = 2.5^{1/5} ", "2.5^(1/5)"),
        ("\\( \\sqrt{7225} ", "sqrt(7225)"),
        ("side = \\sqrt[3]{27} ", "((27)^(1/(3)))"),
        ("price: 45 × 0.8 ", "45 * 0.8"),  # the sign small models write
        ("each pays 2,500 ÷ 8 ", "2,500 / 8"),
        ("total = 3 \\cdot 7.50 \\div 3 ", "3 * 7.50 / 3"),
        ("interest = 1000 \\times 5\\% ", "1000 * 5%"),
        ("after 10 years: 1000 * 1.05^10 ", "1000 * 1.05^10"),
        ("\\[ \\frac{\\ln\\left(\\frac{5}{2}\\right)}{5} ", "((ln(((5)/(2))))/(5))"),
    ],
)
def test_the_arithmetic_before_the_sign_is_found(text: str, expected: str) -> None:
    assert expression_before(text) == expected
    calculate(expected)  # and the calculator accepts it as written


@pytest.mark.parametrize(
    "text",
    [
        "Let r be the growth rate, so r ",  # a variable
        "Revenue in 2025 ",  # words, not arithmetic
        "The answer is 391 ",  # a bare number has nothing to check
        "x ",
        "(1 + r)^5 ",
        "f(x) ",
        "",
    ],
)
def test_text_that_is_not_arithmetic_is_left_alone(text: str) -> None:
    assert expression_before(text) is None


def test_a_repeated_left_side_takes_the_equation_a_few_lines_up() -> None:
    text = "\\[ 1+r=2.5^{1/5}\\]\nTake the fifth root:\n\\[ 1+r"
    assert expression_before(text) == "2.5^(1/5)"
    assert expression_before("r = (2.5)^(1/5) - 1\nr ") == "(2.5)^(1/5) - 1"
    far = "r = 2.5^(1/5) - 1\na\nb\nc\nd\ne\nr "
    assert expression_before(far) is None  # beyond the look-back
    assert expression_before(far, look_back=6) == "2.5^(1/5) - 1"


def test_a_repeated_left_side_with_a_symbolic_right_side_is_not_arithmetic() -> None:
    assert expression_before("r = (A/P)^(1/n) - 1\nr ") is None


def test_units_after_numbers_are_dropped_but_names_are_not() -> None:
    assert to_calculator("$2M + 3 million + 4 years") == "$2 + 3 + 4"
    assert arithmetic("2 * Mass") is None
    assert arithmetic("2 * pi") == "2 * pi"


def test_hostile_text_is_not_arithmetic() -> None:
    assert arithmetic("__import__('os').system('x') + 1") is None
    assert arithmetic("9**9**9**9") is None or arithmetic("9**9**9**9") == "9**9**9**9"


@pytest.mark.parametrize(
    ("result", "written"),
    [
        ("391", "391"),
        ("4.022714375 (exactly 6436343/1600000)", "4.022714375"),
        ("≈ 0.201124433981", "0.201124"),
        ("≈ 0.333333333333 (exactly 1/3)", "0.333333"),
        ("≈ 2.0", "2"),
        ("≈ 1.2e+30", "1.2e+30"),
    ],
)
def test_the_written_value_is_the_calculators_number(result: str, written: str) -> None:
    assert value_text(result) == written


def test_code_and_operators_are_recognised() -> None:
    from graphs.worked_text import in_code, part_of_operator

    assert in_code("text\n```python\nif x ")
    assert not in_code("text\n```python\nx = 1\n```\nSo 2 ")
    assert in_code("Run `2 + 2 ") and not in_code("Run `x` and 2 + 2 ")
    assert all(part_of_operator(t) for t in ("x <", "x >", "x !", "x =", "n +", "n -"))
    assert not any(part_of_operator(t) for t in ("2 * 3 ", "r ", "15% "))
