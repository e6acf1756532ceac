"""``qwengraph workflow run|validate`` end to end through typer's CliRunner (calculator only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agents.cli_workflow import parse_inputs, register, workflow_app
from graphs.workflow import WorkflowError

EXAMPLES = Path(__file__).resolve().parents[1] / "notebooks" / "workflows"
REPORT = str(EXAMPLES / "squares_report.yaml")
runner = CliRunner()


def test_run_prints_outputs() -> None:
    result = runner.invoke(workflow_app, ["run", REPORT, "--input", "numbers=[2, 3]"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "squares: ['4', '9']",
        "powers: ['1', '2', '4']",
        "sum: 13",
        "product: 36",
    ]


def test_run_json_has_outputs_and_log() -> None:
    result = runner.invoke(workflow_app, ["run", REPORT, "-i", "numbers=[1]", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outputs"] == {"squares": ["1"], "powers": ["1", "2", "4"], "sum": "1", "product": "1"}
    assert "square: calculator({'expression': '1^2'}) = 1" in data["log"]


def test_run_bad_input_is_one_line_error() -> None:
    result = runner.invoke(workflow_app, ["run", REPORT, "--input", "colour=red"])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "error: workflow 'squares_report': unknown input 'colour' (declared: numbers)"
    )
    assert "Traceback" not in result.output


def test_validate_ok() -> None:
    result = runner.invoke(workflow_app, ["validate", str(EXAMPLES / "invoice_total.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("ok (invoice_total: tools calculator; model steps: True)\n")


def test_validate_reports_file_and_line(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: t\nsteps:\n  - id: fetch\n    tool: web\n    args: {}\n")
    result = runner.invoke(workflow_app, ["validate", str(flow)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {flow}:4: step 'fetch': unknown tool 'web'"
        " (available: calculator, run_python, search, symbolic)"
    )


def test_validate_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(workflow_app, ["validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {tmp_path / 'none.yaml'}: cannot read")


def test_parse_inputs() -> None:
    assert parse_inputs(["n=3", "xs=[1, 2]", "s=hello world", "e="]) == {
        "n": 3,
        "xs": [1, 2],
        "s": "hello world",
        "e": "",
    }
    with pytest.raises(WorkflowError, match="expected key=value"):
        parse_inputs(["oops"])


def test_register_adds_the_workflow_group() -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    result = runner.invoke(app, ["workflow", "--help"])
    assert result.exit_code == 0
    assert "validate" in result.stdout and "run" in result.stdout
