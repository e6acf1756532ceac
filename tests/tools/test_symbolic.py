"""The ``symbolic`` tool: exact outputs per operation, hostile input, the timeout, LangChain use."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from tools import SymbolicSettings, ToolInputError, ToolLimitError, make_symbolic, symbolic
from tools.safe_math import ARITHMETIC, DEFAULT_LIMITS, parse
from tools.symbolic import symbolic_math
from tools.symbolic_parse import SYMBOLIC, prepare

USER_POLYNOMIAL = "x^3 + 2x^2 - 5x + 3"


@pytest.fixture(scope="module", autouse=True)
def warm_worker() -> None:
    """Start a worker once, so the timings below measure the checks, not sympy's import."""
    assert symbolic_math("expand", "x") == "x"


def test_user_example_derivative() -> None:
    assert symbolic_math("differentiate", USER_POLYNOMIAL) == "3*x^2 + 4*x - 5"


def test_user_example_critical_points() -> None:
    assert symbolic_math("critical_points", USER_POLYNOMIAL) == (
        "derivative: 3*x^2 + 4*x - 5\n"
        "critical points (derivative = 0):\n"
        "x = -sqrt(19)/3 - 2/3 ≈ -2.11963: local maximum, value 38*sqrt(19)/27 + 187/27 ≈ 13.0607\n"
        "x = -2/3 + sqrt(19)/3 ≈ 0.7863: local minimum, value 187/27 - 38*sqrt(19)/27 ≈ 0.791179"
    )


def test_user_example_through_solve() -> None:
    assert symbolic_math("solve", "3x^2 + 4x - 5 = 0") == (
        "x = -sqrt(19)/3 - 2/3 ≈ -2.11963\nx = -2/3 + sqrt(19)/3 ≈ 0.7863"
    )


@pytest.mark.parametrize(
    ("operation", "expression", "options", "expected"),
    [
        ("differentiate", "sin(x)*e^x", {"order": 2}, "2*exp(x)*cos(x)"),
        ("differentiate", "x^3", {"point": "x=2"}, "3*x^2\nat x = 2: 12"),
        ("differentiate", "x^2 y^3", {"variable": "y"}, "3*x^2*y^2"),
        ("differentiate", "x^2*y^3", {"variable": "x, y"}, "6*x*y^2"),
        ("derivative", "f(x) = x^2 + 1", {}, "2*x"),
        ("integrate", "x^2", {}, "x^3/3 + C"),
        ("integrate", "1/x", {}, "log(x) + C"),
        ("integrate", "x^2", {"bounds": "0, 1"}, "1/3 ≈ 0.333333"),
        ("integrate", "1/x^2", {"bounds": "1, oo"}, "1"),
        ("integrate", "exp(-x^2)", {"bounds": "-oo, oo"}, "sqrt(pi) ≈ 1.77245"),
        ("integrate", "exp(x^x)", {"bounds": "0, 1"}, "no closed form found; numerically ≈ 2.19754"),
        ("solve", "x^2 - 5x + 6 = 0", {}, "x = 2\nx = 3"),
        ("solve", "x^2 + 1", {}, "x = -I\nx = I"),
        (
            "solve",
            "x^2 + x + 1 = 0",
            {},
            "x = -1/2 - sqrt(3)*I/2 ≈ -0.5 - 0.866025*I\nx = -1/2 + sqrt(3)*I/2 ≈ -0.5 + 0.866025*I",
        ),
        ("solve", "exp(x) = 2", {}, "x = log(2) ≈ 0.693147"),
        ("solve", "a*x + b = 0", {}, "x = -b/a"),
        ("solve", "x = x", {}, "every value of x is a solution (the equation is an identity)"),
        ("solve", "x + 1 = x", {}, "no solution: the equation reduces to 1 = 0"),
        (
            "solve",
            "x^5 - x + 1 = 0",
            {},
            "x = CRootOf(x^5 - x + 1, 0) ≈ -1.1673\n"
            + "\n".join(
                f"x = CRootOf(x^5 - x + 1, {k}) ≈ {v}"
                for k, v in [
                    (1, "-0.181232 - 1.08395*I"),
                    (2, "-0.181232 + 1.08395*I"),
                    (3, "0.764884 - 0.352472*I"),
                    (4, "0.764884 + 0.352472*I"),
                ]
            ),
        ),
        ("simplify", "(x^2 - 1)/(x - 1)", {}, "x + 1"),
        ("simplify", "sin(theta)^2 + cos(theta)^2", {}, "1"),
        ("factor", "x^2 - 5x + 6", {}, "(x - 3)*(x - 2)"),
        ("factor", "x^4 - 16", {}, "(x - 2)*(x + 2)*(x^2 + 4)"),
        ("expand", "(x+1)^3", {}, "x^3 + 3*x^2 + 3*x + 1"),
        ("expand", "(a+b)(a-b)", {}, "a^2 - b^2"),
        ("limit", "sin(x)/x", {"point": "0"}, "1"),
        ("limit", "(x^2-1)/(x-1)", {"point": "x -> 1"}, "2"),
        ("limit", "(1 + 1/n)^n", {"point": "oo"}, "E ≈ 2.71828"),
        ("limit", "exp(-t)", {"point": "∞"}, "0"),
        ("limit", "1/x", {"point": "0"}, "the limit does not exist: from the left -oo, from the right oo"),
        ("limit", "1/x", {"point": "0+"}, "oo"),
        ("limit", "1/x", {"point": "0-"}, "-oo"),
        (
            "limit",
            "sin(1/x)",
            {"point": "0"},
            "the limit does not exist: the values keep oscillating between -1 and 1",
        ),
        ("evaluate", "x^2 + 1", {"point": "x=2"}, "5"),
        ("evaluate", "x^2", {"point": "3"}, "9"),
        ("evaluate", "x^2 + y", {"point": "x=1/3, y=sqrt(2)"}, "1/9 + sqrt(2) ≈ 1.52532"),
        ("evaluate", "1/2", {}, "1/2 = 0.5"),
        ("evaluate", "2^100", {}, "1267650600228229401496703205376"),
    ],
)
def test_operations(operation: str, expression: str, options: dict[str, Any], expected: str) -> None:
    assert symbolic_math(operation, expression, **options) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("x + y = 3; x - y = 1", "x = 2, y = 1"),
        ("2x + 3y = 7\nx - y = 1", "x = 2, y = 1"),
        ("x + y + z = 6; x - y = 0; z = 2", "x = 2, y = 2, z = 2"),
        ("x^2 + y^2 = 25; y = x + 1", "x = -4, y = -3\nx = 3, y = 4"),
    ],
)
def test_systems(expression: str, expected: str) -> None:
    assert symbolic_math("solve", expression) == expected


def test_system_with_chosen_variables_keeps_the_others_as_parameters() -> None:
    assert symbolic_math("solve", "x + y = a; x - y = 1", variable="x, y") == "x = a/2 + 1/2, y = a/2 - 1/2"


HOSTILE: list[tuple[str, str, dict[str, Any], type[Exception], str]] = [
    ("simplify", "__import__('os').system('ls')", {}, ToolInputError, "names starting with '_'"),
    ("simplify", "x.__class__", {}, ToolInputError, "attribute access"),
    ("simplify", "lambda: 1", {}, ToolInputError, "keyword 'lambda'"),
    ("solve", "x; import os", {}, ToolInputError, "keyword 'import'"),
    ("simplify", "x; y", {}, ToolInputError, "only allowed for solve"),
    ("simplify", "'x'", {}, ToolInputError, "strings are not allowed"),
    ("expand", "x^(10^9)", {}, ToolLimitError, "exponent 1000000000 is too large"),
    ("evaluate", "10^(10^9)", {}, ToolLimitError, "digits"),
    ("evaluate", "factorial(10^6)", {}, ToolLimitError, "factorial() of 1000000 is too large"),
    ("factor", "x^1000 - 1", {}, ToolLimitError, "degree up to 1000"),
    ("expand", "(x+y+z+w)^40", {}, ToolLimitError, "more than 1000 terms"),
    ("solve", "x^100 - 1", {}, ToolLimitError, "characters long"),
    ("simplify", "(" * 10_000 + "x" + ")" * 10_000, {}, ToolLimitError, "characters long"),
    ("simplify", "(" * 60 + "x" + ")" * 60, {}, ToolLimitError, "nested more than 50"),
    ("solve", "x = 1 = 2", {}, ToolInputError, "one '='"),
    ("solve", "x > 2", {}, ToolInputError, "inequalities"),
    ("simplify", "x = 2", {}, ToolInputError, "only allowed in solve"),
    ("simplify", "x(x+1)", {}, ToolInputError, "write x*(...)"),
    ("evaluate", "1/x", {"point": "x=0"}, ToolInputError, "undefined at that point"),
    ("evaluate", "x + 1", {}, ToolInputError, "evaluate needs point"),
    ("differentiate", "a*b", {}, ToolInputError, "several variables (a, b)"),
    ("differentiate", "x", {"variable": "__class__"}, ToolInputError, "variable must be a name"),
    ("differentiate", "x", {"variable": "sin"}, ToolInputError, "not a variable"),
    ("differentiate", "x", {"order": 1000}, ToolLimitError, "order must be between 1 and 20"),
    ("limit", "1/x", {}, ToolInputError, "limit needs point"),
    ("integrate", "x", {"bounds": "1"}, ToolInputError, "bounds must be two values"),
    ("integrate", "exp(x^x)", {}, ToolInputError, "no closed-form antiderivative"),
    ("frobnicate", "x", {}, ToolInputError, "unknown operation 'frobnicate'"),
    ("solve", "; ".join(f"x{k} = {k}" for k in range(7)), {}, ToolLimitError, "more than 6 equations"),
]


@pytest.mark.parametrize(("operation", "expression", "options", "error", "message"), HOSTILE)
def test_hostile_input_fails_fast_with_a_clear_message(
    operation: str, expression: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    # Refused by a check before any sympy work (the message names the limit, not the deadline);
    # speed is measured in tests/bench, never asserted here.
    with pytest.raises(error, match=None) as caught:
        symbolic_math(operation, expression, **options)
    assert message in str(caught.value)
    assert "was stopped" not in str(caught.value)


def test_refusals_name_the_symbolic_vocabulary() -> None:
    with pytest.raises(ToolInputError, match="variables") as caught:
        symbolic_math("simplify", "x.real")
    assert "round(x, 2)" not in str(caught.value)


def test_a_hanging_integral_is_stopped_at_the_deadline_and_the_tool_recovers() -> None:
    quick = SymbolicSettings(timeout=1.0)
    with pytest.raises(ToolLimitError, match=r"took longer than 1 s and was stopped"):
        symbolic_math("integrate", "sin(x)^7*exp(x^2)/(1+x^3)", settings=quick)
    assert symbolic_math("differentiate", "x^2", settings=quick) == "2*x"


def test_implicit_multiplication_is_symbolic_only() -> None:
    assert parse("2x", SYMBOLIC) == parse("2*x", SYMBOLIC)
    assert parse("(x+1)(x-1)", SYMBOLIC) == parse("(x+1)*(x-1)", SYMBOLIC)
    with pytest.raises(ToolInputError, match="implicit multiplication"):
        parse("2pi", ARITHMETIC)


def test_prepare_needs_no_worker() -> None:
    problem = prepare("critical_points", USER_POLYNOMIAL, limits=DEFAULT_LIMITS)
    assert problem.operation == "critical_points"
    assert problem.variables == ("x",)


def test_invoke_returns_the_result_string() -> None:
    result = symbolic.invoke({"operation": "differentiate", "expression": USER_POLYNOMIAL})
    assert result == "3*x^2 + 4*x - 5"


async def test_ainvoke_returns_the_result_string() -> None:
    result = await symbolic.ainvoke({"operation": "solve", "expression": "x + y = 3; x - y = 1"})
    assert result == "x = 2, y = 1"


def test_errors_come_back_as_error_text() -> None:
    result = symbolic.invoke({"operation": "expand", "expression": "x^(10^9)"})
    assert result.startswith("Error: the exponent 1000000000 is too large")


def test_a_tool_call_error_is_a_tool_message_with_error_status() -> None:
    call = {
        "name": "symbolic",
        "args": {"operation": "simplify", "expression": "__import__('os')"},
        "id": "call-1",
        "type": "tool_call",
    }
    message = symbolic.invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert str(message.content).startswith("Error: names starting with '_'")


def test_wrong_arguments_are_answered_with_the_expected_shape() -> None:
    call = {"name": "symbolic", "args": {"expr": "x"}, "id": "call-2", "type": "tool_call"}
    message = symbolic.invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert '"operation"' in str(message.content)


def test_custom_settings() -> None:
    strict = make_symbolic(settings=SymbolicSettings(max_degree=3))
    assert strict.invoke({"operation": "factor", "expression": "x^3 - 1"}) == "(x - 1)*(x^2 + x + 1)"
    assert "limited to degree 3" in strict.invoke({"operation": "factor", "expression": "x^4 - 1"})


def test_an_idle_worker_killed_from_outside_is_replaced() -> None:
    import os
    import signal

    from tools import symbolic_worker

    assert symbolic_math("expand", "(x+1)^2") == "x^2 + 2*x + 1"
    for worker in list(symbolic_worker._POOL.idle):
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
    assert symbolic_math("expand", "(x+1)^2") == "x^2 + 2*x + 1"
