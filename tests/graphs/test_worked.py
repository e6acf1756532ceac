"""The worked-solution graph with a scripted model: the calculator really fills in every value."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.react import STEP_LIMIT_MARK
from graphs.summary import summarize
from graphs.worked import build_worked
from tools import calculator

QUESTION = "Revenue grows 15% a year from $2M. What is it after 5 years, and what rate reaches $5M?"


def scripted(*turns):
    fake = ScriptedTransport(list(turns))
    return ChatQwen(model="local:qwen2.5-coder-1.5b", transport=fake), fake


def solve(model, prompt=QUESTION, **kwargs):
    graph = build_worked(model, [calculator], **kwargs)
    state = graph.invoke({"messages": [HumanMessage(content=prompt)], "steps": 0})
    return state, summarize(state["messages"][1:])


def test_each_arithmetic_value_comes_from_the_calculator_and_the_model_continues_from_it():
    model, fake = scripted(
        turn("After 5 years: 2 * 1.15^5 ", stop="="),  # a wrong head value would follow: cut here
        turn("M.\nNeeded: r ", stop="="),  # `r =` is not arithmetic: kept, the model goes on
        turn(" 2.5^(1/5) - 1\nr ", stop="≈"),  # the repeated left side: the equation above is used
        turn(", about 20.11%.\nFinal answer: about $4.02M; 20.11% a year."),
    )
    state, summary = solve(model)
    assert [(c.args["expression"], c.result) for c in summary.tool_calls] == [
        ("2 * 1.15^5", "4.022714375 (exactly 6436343/1600000)"),
        ("2.5^(1/5) - 1", "≈ 0.201124433981"),
    ]
    assert summary.answer == (
        "After 5 years: 2 * 1.15^5 = 4.022714375M.\nNeeded: r = 2.5^(1/5) - 1\nr ≈ 0.201124, about 20.11%."
        "\nFinal answer: about $4.02M; 20.11% a year."
    )
    # every call after the first continues the text written so far, values included
    assert [r.prefill for r in fake.requests] == [
        "",
        "After 5 years: 2 * 1.15^5 = 4.022714375",
        "After 5 years: 2 * 1.15^5 = 4.022714375M.\nNeeded: r =",
        "After 5 years: 2 * 1.15^5 = 4.022714375M.\nNeeded: r = 2.5^(1/5) - 1\nr ≈ 0.201124",
    ]
    assert all(r.sampling["stop"] == ["=", "≈", "\\approx"] for r in fake.requests)
    assert all(r.think is False and r.sampling["temperature"] == 0.0 for r in fake.requests)
    assert not any(r.tools for r in fake.requests)
    # the prompt is the request alone: the calculations travel in the prefill, not as history
    assert all([m["role"] for m in r.messages] == ["system", "user"] for r in fake.requests)
    kinds = [type(m).__name__ for m in state["messages"]]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert state["steps"] == 3, "a step is a turn ending in a calculation or the answer"


def test_a_calculator_error_leaves_the_sign_for_the_model_to_finish():
    model, fake = scripted(
        turn("1/0 ", stop="="),
        turn(" undefined."),
    )
    state, summary = solve(model, prompt="What is 1/0?")
    error = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    assert error.status == "error" and "zero" in error.text
    assert fake.requests[1].prefill == "1/0 ="
    assert summary.answer == "1/0 = undefined."


def test_the_step_limit_keeps_the_work_so_far_and_says_why():
    model, fake = scripted(*[turn(f"\n{i} + 1 ", stop="=") for i in range(3)])
    state, summary = solve(model, max_steps=2)
    last = state["messages"][-1]
    assert isinstance(last, AIMessage) and last.response_metadata["qwengraph"] == STEP_LIMIT_MARK
    assert summary.stopped == STEP_LIMIT_MARK
    assert len(fake.requests) == 2 and len(summary.tool_calls) == 2
    assert (
        summary.answer == "0 + 1 = 1\n1 + 1 = 2\n\n(Stopped after 2 steps (raise --max-steps to allow more).)"
    )


def test_signs_that_are_not_arithmetic_are_continued_up_to_a_cap():
    model, fake = scripted(*[turn(f"x{i} ", stop="=") for i in range(3)])
    state, summary = solve(model, max_continuations=3)
    assert len(fake.requests) == 3 and not summary.tool_calls
    assert summary.stopped == STEP_LIMIT_MARK and state["steps"] == 1
    assert summary.answer == "x0 =x1 =x2 =\n\n(Stopped after 3 model calls in one step.)"


def test_a_second_request_on_the_thread_sees_the_first_answer_not_its_scaffolding():
    model, fake = scripted(turn("2 + 2 ", stop="="), turn("."), turn("Still 4."))
    graph = build_worked(model, [calculator])
    state = graph.invoke({"messages": [HumanMessage(content="2+2?")], "steps": 0})
    state = graph.invoke({"messages": [*state["messages"], HumanMessage(content="Sure?")], "steps": 0})
    assert summarize(state["messages"][1:]).answer == "Still 4."
    roles = [m["role"] for m in fake.requests[-1].messages]
    assert roles[-2:] == ["assistant", "user"]
    assert "2 + 2 = 4." in fake.requests[-1].messages[-2]["content"]


def test_only_chatqwen_can_continue_a_prefill():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    with pytest.raises(ConfigError, match="ChatQwen"):
        build_worked(FakeListChatModel(responses=["x"]), [calculator])
    model, _ = scripted()
    with pytest.raises(ConfigError, match="max_steps"):
        build_worked(model, [calculator], max_steps=0)
    with pytest.raises(ConfigError, match="max_continuations"):
        build_worked(model, [calculator], max_continuations=0)


def test_any_tool_named_calculator_can_check_the_numbers():
    seen: list[str] = []

    @tool("calculator")
    def rounding_calculator(expression: str) -> str:
        """Evaluate and round."""
        seen.append(expression)
        return "42"

    model, _ = scripted(turn("6 * 7 ", stop="="), turn("!"))
    state = build_worked(model, [rounding_calculator]).invoke({"messages": [HumanMessage("6*7")], "steps": 0})
    assert seen == ["6 * 7"]
    assert summarize(state["messages"][1:]).answer == "6 * 7 = 42!"


# --- code: each closed ```python block runs and its output follows ---------------------------------


def fake_run_python(outputs: list[str], seen: list[str]):
    @tool("run_python")
    def run_python(code: str) -> str:
        """Run Python."""
        seen.append(code)
        return outputs.pop(0)

    return run_python


def test_a_failing_block_shows_its_traceback_and_the_fixed_block_runs_again():
    seen: list[str] = []
    runner = fake_run_python(
        ["Traceback (most recent call last):\nAssertionError", "(no output; print() what you want to see)"],
        seen,
    )
    model, fake = scripted(
        turn("Code:\n", stop="\n```"),  # an opening fence: nothing to run, the model goes on
        turn("python\ndef f():\n    return 1\nassert f() == 2", stop="\n```"),
        turn("\nThe assert was wrong.\n", stop="\n```"),
        turn("python\ndef f():\n    return 1\nassert f() == 1", stop="\n```"),
        turn("\nFinal:\n", stop="\n```"),
        turn("python\ndef f():\n    return 1\nassert f() == 1", stop="\n```"),  # shown again: not rerun
        turn("\nDone."),
    )
    state = build_worked(model, [runner]).invoke({"messages": [HumanMessage("f")], "steps": 0})
    assert seen == ["def f():\n    return 1\nassert f() == 2", "def f():\n    return 1\nassert f() == 1"]
    answer = summarize(state["messages"][1:]).answer
    assert "```output\nTraceback (most recent call last):\nAssertionError\n```" in answer
    assert "```output\n(ran without errors; no output)\n```" in answer
    assert answer.endswith("assert f() == 1\n```\nDone.")
    assert fake.requests[0].sampling.get("temperature") != 0.0, "code is sampled: greedy repeats itself"
    system = fake.requests[0].messages[0]["content"]
    assert "Each ```python block you write is run" in system
    assert [r.sampling["stop"] for r in fake.requests][0] == ["\n```"]


def test_blocks_in_other_languages_are_not_run():
    from graphs.worked_checks import CodeCheck

    check = CodeCheck(fake_run_python([], []))
    assert check.arguments("Run:\n```bash\nls", "\n```", "") is None
    assert check.arguments("Output:\n```output\n1", "\n```", "") is None
    assert check.arguments("Text, then a fence opens", "\n```", "") is None
    assert check.arguments("```python\n   ", "\n```", "") is None
    assert check.arguments("```py\nprint(2)", "\n```", "") == {"code": "print(2)"}


def test_without_a_tool_it_can_use_the_graph_refuses():
    model, _ = scripted()

    @tool
    def search(query: str) -> str:
        """Search."""
        return query

    with pytest.raises(ConfigError, match="needs the calculator, run_python or symbolic tool"):
        build_worked(model, [search])


def test_an_agent_prompt_keeps_the_code_instructions():
    model, fake = scripted(turn("ok"))
    graph = build_worked(model, [fake_run_python([], [])], system_prompt="Be brief.")
    graph.invoke({"messages": [HumanMessage("x")], "steps": 0})
    system = fake.requests[0].messages[0]["content"]
    assert system.startswith("Be brief.\n\nEach ```python block you write is run")


# --- algebra: derivatives after f'(x) = and the solutions of polynomial equations -----------------

REQUEST = "Find the derivative of f(x) = x^3 + 2x^2 - 5x + 3 and its critical points"


def symbolic_check():
    from graphs.worked_checks import SymbolicCheck
    from tools.symbolic import symbolic

    return SymbolicCheck(symbolic)


def test_the_first_f_prime_gets_the_derivative_of_the_defined_function():
    check = symbolic_check()
    assert check.arguments("Step 1:\nf'(x) ", "=", REQUEST) == {
        "operation": "differentiate",
        "expression": "x^3 + 2x^2 - 5x + 3",
        "variable": "x",
    }
    assert check.arguments("We need f'(x).\n\\[ f'(x) ", "=", REQUEST)["operation"] == "differentiate"
    assert check.arguments("f''(x) ", "=", REQUEST)["order"] == 2
    assert check.arguments("f'(x) = 3x\nagain f'(x) ", "=", REQUEST) is None, "only the first one"
    assert check.arguments("g'(x) ", "=", REQUEST) is None, "g is not defined anywhere"
    assert check.arguments("Let g(x) = x^2. Then g'(x) ", "=", REQUEST)["expression"] == "x^2"


def test_a_finished_polynomial_equation_gets_its_solutions_once():
    check = symbolic_check()
    text = "Set it to zero:\n3x^2 + 4x - 5 = 0\n"
    args = check.arguments(text.removesuffix("\n"), "\n", REQUEST)
    assert args == {"operation": "solve", "expression": "3x^2 + 4x - 5 = 0", "variable": "x"}
    written = check.written(args, "x = -2/3 - sqrt(19)/3 ≈ -2.11963\nx = -2/3 + sqrt(19)/3 ≈ 0.7863", True)
    assert written == (
        "Solved with the symbolic tool: 3x^2 + 4x - 5 = 0: "
        "x = -2/3 - sqrt(19)/3 ≈ -2.11963 or x = -2/3 + sqrt(19)/3 ≈ 0.7863\n"
    )
    assert check.arguments((text + written).removesuffix("\n"), "\n", REQUEST) is None, (
        "its own line is not an equation to solve"
    )
    for line in ["3x - 1 = 0", "x = 5", "f'(x) = 0", "3x - 1 = 0 or x + 5 = 0", "x^2 + y^2 = 1"]:
        assert check.arguments(line, "\n", REQUEST) is None, line


def test_math_is_filled_in_by_the_symbolic_tool_in_a_graph():
    seen: list[dict] = []

    @tool("symbolic")
    def fake_symbolic(operation: str, expression: str, variable: str = "x") -> str:
        """Symbolic."""
        seen.append({"operation": operation, "expression": expression})
        return "3*x^2 + 4*x - 5" if operation == "differentiate" else "x = -2/3 ± sqrt(19)/3"

    model, fake = scripted(
        turn("Derivative:\nf'(x) ", stop="="),
        turn("", stop="\n"),
        turn("3x^2 + 4x - 5 = 0", stop="\n"),
        turn("The critical points are x = -2/3 ± sqrt(19)/3."),
    )
    graph = build_worked(model, [fake_symbolic])
    state = graph.invoke({"messages": [HumanMessage(REQUEST)], "steps": 0})
    assert [s["operation"] for s in seen] == ["differentiate", "solve"]
    answer = summarize(state["messages"][1:]).answer
    assert answer.startswith("Derivative:\nf'(x) = 3*x^2 + 4*x - 5\n3x^2 + 4x - 5 = 0\nSolved with")
    assert "plain text" in fake.requests[0].messages[0]["content"], "the algebra prompt"
    assert fake.requests[0].sampling["stop"] == ["=", "\n"]


def test_an_explicit_temperature_is_kept_even_for_code():
    model, fake = scripted(turn("ok"))
    graph = build_worked(model, [fake_run_python([], [])], temperature=0.0)
    graph.invoke({"messages": [HumanMessage("x")], "steps": 0})
    assert fake.requests[0].sampling["temperature"] == 0.0


@pytest.mark.parametrize(
    ("pieces", "kept"),
    [
        (["```python\nif 2**10 ", "", " 1024:\n    print('ok')\n```\nDone."], "if 2**10 == 1024:"),
        (["```python\nassert 3 * 7 <", " 21\n```\nDone."], "assert 3 * 7 <= 21"),
        (["```python\nn = 5\nn +", " 2 * 3\n```\nDone."], "n += 2 * 3"),
        (["Run `2 + 2 ", "", " 4` to check."], "`2 + 2 == 4`"),
    ],
    ids=["equals-in-a-block", "less-or-equal", "plus-equals", "inline-code"],
)
def test_signs_inside_code_are_never_filled(pieces: list[str], kept: str):
    """The bug: ``if 2**10 ==`` in a code block became ``if 2**10 = 1024``."""
    turns = [turn(text, stop="=") for text in pieces[:-1]] + [turn(pieces[-1])]
    model, fake = scripted(*turns)
    _, summary = solve(model, prompt="Check 2**10.")
    assert summary.tool_calls == [], "nothing in code is sent to the calculator"
    assert kept in summary.answer
    assert [r.prefill for r in fake.requests] == [
        "",
        *("=".join(pieces[: i + 1]) + "=" for i in range(len(pieces) - 1)),
    ]


def test_an_equals_after_prose_arithmetic_is_still_filled_after_a_code_block():
    model, _ = scripted(turn("```python\nx = 1\n```\nSo 6 * 7 ", stop="="), turn("."))
    _, summary = solve(model, prompt="6*7?")
    assert [c.args["expression"] for c in summary.tool_calls] == ["6 * 7"]
    assert summary.answer.endswith("So 6 * 7 = 42.")


def test_earlier_turns_are_trimmed_to_the_context_window():
    """A long thread: the oldest turns go, the request and the prefill stay, under the budget."""
    model, fake = scripted(turn("4 + 4 ", stop="="), turn("."))
    graph = build_worked(model, [calculator], context_tokens=1_500)
    history = []
    for n in range(12):
        history += [
            HumanMessage(content=f"question {n}: " + "blah " * 300),
            AIMessage(content="answer " * 300),
        ]
    state = graph.invoke({"messages": [*history, HumanMessage(content="What is 4+4?")], "steps": 0})
    assert summarize(state["messages"][len(history) + 1 :]).answer == "4 + 4 = 8."
    for request in fake.requests:
        sent = request.messages
        assert sent[-1] == {"role": "user", "content": "What is 4+4?"}
        assert any("omitted to fit the context window" in m["content"] for m in sent)
        assert (sum(len(m["content"]) for m in sent) + len(request.prefill or "")) / 3.5 < 1_500
