"""``qwengraph graph draw``: files by suffix, Mermaid/DOT to stdout, one-line errors with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli import app
from graphs.draw import dot_available

runner = CliRunner()
WORKFLOWS = Path(__file__).parents[1] / "notebooks" / "workflows"


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["graph", "draw", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_draw_an_agent_to_svg(tmp_path: Path) -> None:
    code, _, err = invoke(
        "--agent", "math-tutor", "--model", "ollama:qwen3:8b", "-o", str(tmp_path / "g.svg")
    )
    assert code == 0, err
    svg = (tmp_path / "g.svg").read_text()
    assert (
        "<svg" in svg
        and ">call_model</text>" in svg
        and "math&#45;tutor: react graph on ollama:qwen3:8b" in svg
    )
    assert "wrote" in err and "g.svg" in err


def test_mermaid_to_stdout_by_default_and_dot_on_request() -> None:
    code, out, _ = invoke("--agent", "planner")
    assert code == 0 and "graph TD;" in out and "plan(plan)" in out
    code, out, _ = invoke("--workflow", str(WORKFLOWS / "invoice_total.yaml"), "--format", "dot")
    assert code == 0 and out.startswith("digraph G {") and '"total" -> "check"' in out


def test_the_local_default_draws_the_worked_graph(tmp_path: Path) -> None:
    code, _, err = invoke("-m", "local:qwen2.5-coder-1.5b", "-o", str(tmp_path / "plain.mmd"))
    assert code == 0, err
    assert "write(write)" in (tmp_path / "plain.mmd").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent", "nobody"], "unknown agent 'nobody'"),
        (["--agent", "auto"], "--agent auto picks an agent per request"),
        (["--graph", "swarm"], "unknown graph 'swarm'"),
        (["--format", "jpeg"], "--format must be one of svg, png, dot, mermaid"),
        (["--format", "svg"], "--format svg writes a file: give -o FILE"),
        (["-o", "graph.txt"], "cannot tell the format from 'graph.txt'"),
        (["--workflow", "missing.yaml"], "missing.yaml"),
        (["--workflow", str(WORKFLOWS / "invoice_total.yaml"), "--agent", "planner"], "leave out --agent"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2 and message in err and "Traceback" not in err + out
    assert err.count("error:") == 1


def test_no_graphviz_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = invoke("-o", str(tmp_path / "g.svg"))
    assert (
        code == 1 and "Graphviz's dot program is not installed" in err and "apt-get install graphviz" in err
    )
    assert not (tmp_path / "g.svg").exists()
