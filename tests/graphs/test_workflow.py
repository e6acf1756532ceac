"""Workflows: every step kind run through LangGraph, templating, outputs, and line-exact errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool, tool

import graphs.workflow
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.workflow import (
    WorkflowError,
    WorkflowSpec,
    compile_workflow,
    example_path,
    load_workflow,
    run_log,
    run_workflow,
    spec_from_data,
)
from tools import calculator

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks" / "workflows"  # a link to the shipped examples


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


TOOLS: dict[str, BaseTool] = {"calculator": calculator, "shout": shout}


def spec(steps: list[dict[str, Any]], outputs: dict[str, str], **inputs: Any) -> WorkflowSpec:
    return spec_from_data({"name": "t", "inputs": inputs, "steps": steps, "outputs": outputs})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def problems(path: Path, tools: dict[str, BaseTool] | None = None) -> list[str]:
    with pytest.raises(WorkflowError) as caught:
        compile_workflow(load_workflow(path), tools if tools is not None else TOOLS)
    return caught.value.problems


def test_tool_steps_template_inputs_and_earlier_outputs() -> None:
    flow = spec(
        [
            {"id": "a", "tool": "calculator", "args": {"expression": "{{ inputs.x }} * 2"}},
            {"id": "b", "tool": "calculator", "args": {"expression": "{{ steps.a.output }} + 1"}},
            {"id": "c", "tool": "shout", "args": {"text": "total {{ steps.b.output }}"}},
        ],
        {"doubled": "{{ steps.a.output }}", "message": "{{ steps.c.output }}!"},
        x={"type": "int"},
    )
    assert run_workflow(flow, {"x": "21"}, TOOLS) == {"doubled": "42", "message": "TOTAL 43!"}


def test_defaults_and_input_errors() -> None:
    flow = spec(
        [{"id": "a", "tool": "shout", "args": {"text": "{{ inputs.word }}"}}],
        {"out": "{{ steps.a.output }}"},
        word={"default": "hi"},
        n={"type": "int", "default": 1},
    )
    assert run_workflow(flow, {}, TOOLS) == {"out": "HI"}
    with pytest.raises(WorkflowError) as caught:
        run_workflow(flow, {"n": "many", "other": 1}, TOOLS)
    assert caught.value.problems == [
        "workflow 't': unknown input 'other' (declared: word, n)",
        "workflow 't': input 'n': 'many' is not int",
    ]


@pytest.mark.parametrize(("amount", "branch"), [(10, "SMALL"), (1000, "BIG")])
def test_if_then_else(amount: int, branch: str) -> None:
    flow = spec(
        [
            {
                "id": "size",
                "if": "inputs.amount > 100",
                "then": [{"id": "big", "tool": "shout", "args": {"text": "big"}}],
                "else": [{"id": "small", "tool": "shout", "args": {"text": "small"}}],
            }
        ],
        {"size": "{{ steps.size.output }}"},
        amount={"type": "int"},
    )
    assert run_workflow(flow, {"amount": amount}, TOOLS) == {"size": branch}


def test_if_without_else_gives_none() -> None:
    flow = spec(
        [{"id": "maybe", "if": "false", "then": [{"id": "x", "tool": "shout", "args": {"text": "x"}}]}],
        {"out": "{{ steps.maybe.output }}"},
    )
    assert run_workflow(flow, {}, TOOLS) == {"out": None}


def test_for_each_loop_collects_outputs_in_order() -> None:
    flow = spec(
        [
            {
                "id": "each",
                "for_each": "inputs.words",
                "as": "word",
                "steps": [{"id": "up", "tool": "shout", "args": {"text": "{{ index }}:{{ word }}"}}],
            }
        ],
        {"all": "{{ steps.each.output }}", "joined": "{{ steps.each.output | join(',') }}"},
        words={"type": "list"},
    )
    assert run_workflow(flow, {"words": ["a", "b", "c"]}, TOOLS) == {
        "all": ["0:A", "1:B", "2:C"],
        "joined": "0:A,1:B,2:C",
    }
    assert run_workflow(flow, {"words": []}, TOOLS) == {"all": [], "joined": ""}


def test_while_loop_stops_on_condition_and_on_its_bound() -> None:
    def flow(bound: int) -> WorkflowSpec:
        body = [{"id": "p", "tool": "calculator", "args": {"expression": "2^{{ index }}"}}]
        return spec(
            [{"id": "w", "while": "index < 4", "max_iterations": bound, "steps": body}],
            {"powers": "{{ steps.w.output }}"},
        )

    assert run_workflow(flow(10), {}, TOOLS) == {"powers": ["1", "2", "4", "8"]}
    assert run_workflow(flow(2), {}, TOOLS) == {"powers": ["1", "2"]}


def test_parallel_branches_both_outputs_present() -> None:
    flow = spec(
        [
            {
                "id": "both",
                "parallel": {
                    "left": [
                        {"id": "l1", "tool": "calculator", "args": {"expression": "1+1"}},
                        {
                            "id": "l2",
                            "tool": "calculator",
                            "args": {"expression": "{{ steps.l1.output }}*10"},
                        },
                    ],
                    "right": [{"id": "r1", "tool": "shout", "args": {"text": "right"}}],
                },
            },
            {"id": "after", "tool": "shout", "args": {"text": "{{ steps.l2.output }}-{{ steps.r1.output }}"}},
        ],
        {"both": "{{ steps.both.output }}", "after": "{{ steps.after.output }}"},
    )
    outputs, log = run_log(flow, {}, TOOLS)
    assert outputs == {"both": {"left": "20", "right": "RIGHT"}, "after": "20-RIGHT"}
    assert {"l1", "l2", "r1"} <= {line.split(":")[0] for line in log}


def test_model_step_with_scripted_model() -> None:
    fake = ScriptedTransport([turn("Please approve.", thinking="hmm")])
    model = ChatQwen(model="ollama:q", transport=fake)
    flow = spec(
        [
            {"id": "total", "tool": "calculator", "args": {"expression": "{{ inputs.amounts | join('+') }}"}},
            {"id": "note", "model": "Total is {{ steps.total.output }}. Write a note.", "think": False},
        ],
        {"note": "{{ steps.note.output }}"},
        amounts={"type": "list"},
    )
    assert run_workflow(flow, {"amounts": [100, 250]}, TOOLS, model) == {"note": "Please approve."}
    request = fake.requests[0]
    assert "Total is 350. Write a note." in str(request)


def test_example_workflows_run(tmp_path: Path) -> None:
    report = run_workflow(load_workflow(example_path("squares_report")), {}, TOOLS)
    assert report == {"squares": ["9", "16", "25"], "powers": ["1", "2", "4"], "sum": "50", "product": "3600"}
    invoice = load_workflow(example_path("invoice_total.yaml"))
    model = ChatQwen(model="ollama:q", transport=ScriptedTransport([turn("Approve it.")]))
    assert run_workflow(invoice, {"amounts": [400, 250.5]}, TOOLS, model) == {
        "total": "650.5 (exactly 1301/2)",
        "note": "Approve it.",
    }
    assert run_workflow(invoice, {"amounts": [100, 20]}, TOOLS, model) == {"total": "120", "note": "380"}


def test_the_examples_ship_in_the_package_and_the_notebooks_see_them() -> None:
    shipped = example_path("squares_report")
    assert shipped.parent.parent == Path(graphs.workflow.__file__).parent  # graphs/workflow/examples
    assert (NOTEBOOKS / "squares_report.yaml").resolve() == shipped.resolve()
    shipped_names = "shipped: invoice_total, squares_report"
    with pytest.raises(WorkflowError, match=f"no example workflow 'nope'; {shipped_names}"):
        example_path("nope")


def test_unknown_tool_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        steps:
          - id: ok
            tool: calculator
            args: {expression: "1"}
          - id: fetch
            tool: web
            args: {url: x}
        """,
    )
    assert problems(path) == [f"{path}:7: step 'fetch': unknown tool 'web' (available: calculator, shout)"]


def test_missing_field_names_the_step_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        steps:
          - id: a
            tool: calculator
            args: {expression: "1"}
          - id: b
            tool: calculator
        """,
    )
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert caught.value.problems == [f"{path}:6: steps[1].args: field required"]


def test_bad_step_kind_and_wrong_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        steps:
          - id: a
            run: something
          - id: b
            while: "true"
            max_iterations: zero
            steps:
              - {id: c, tool: shout, args: {text: x}}
        """,
    )
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert caught.value.problems == [
        f"{path}:3: steps[0]: a step needs one of: tool, model, if, for_each, while, parallel",
        f"{path}:7: steps[1].max_iterations: input should be a valid integer,"
        " unable to parse string as an integer",
    ]


def test_semantic_errors_each_name_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        inputs:
          x: {type: int}
        steps:
          - id: a
            tool: shout
            args:
              text: "{{ inputs.y }}"
          - id: a
            tool: shout
            args: {text: "{{ steps.nope.output }}"}
          - id: forever
            while: "true"
            steps:
              - id: inner
                tool: shout
                args: {text: "{{ n }}"}
          - id: cond
            if: "inputs.x >"
            then: []
        outputs:
          result: "{{ whatever }}"
        """,
    )
    assert problems(path) == [
        f"{path}:8: step 'a': unknown input 'y' in '{{{{ inputs.y }}}}'",
        f"{path}:9: step 'a': duplicate step id 'a'",
        f"{path}:11: step 'a': unknown step 'nope' in '{{{{ steps.nope.output }}}}'",
        f"{path}:13: step 'forever': a while loop needs max_iterations (loops must be bounded)",
        f"{path}:17: step 'inner': unknown variable 'n' in '{{{{ n }}}}'",
        f"{path}:19: step 'cond': template error: unexpected 'end of print statement'",
        f"{path}:22: output 'result': unknown variable 'whatever' in '{{{{ whatever }}}}'",
    ]


def test_model_step_without_model_and_yaml_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nsteps:\n  - id: m\n    model: hello\n")
    assert problems(path) == [f"{path}:4: step 'm': a model step needs a chat model, and none was given"]
    broken = write(tmp_path, "name: t\nsteps:\n  - id: [unclosed\n")
    with pytest.raises(WorkflowError) as caught:
        load_workflow(broken)
    assert caught.value.problems[0].startswith(f"{broken}:4: invalid YAML:")


def test_runtime_template_error_is_a_workflow_error() -> None:
    flow = spec(
        [{"id": "a", "tool": "shout", "args": {"text": "{{ inputs.x.missing }}"}}], {}, x={"default": 1}
    )
    with pytest.raises(WorkflowError, match="step 'a': expression"):
        run_workflow(flow, {}, TOOLS)


def test_sandbox_blocks_python_internals() -> None:
    flow = spec(
        [{"id": "a", "tool": "shout", "args": {"text": "{{ inputs.x.__class__.__mro__ }}"}}],
        {},
        x={"default": "s"},
    )
    with pytest.raises(WorkflowError):
        run_workflow(flow, {}, TOOLS)
