"""Offline graph drawings: DOT and Mermaid text for every graph qwengraph builds, SVG/PNG by Graphviz's dot.

Rendering tests need Graphviz's ``dot`` (``apt-get install graphviz``; installed by ``make
system-deps`` and CI) and are skipped with that reason where it is missing; everything else runs
everywhere. No test touches the network: ``draw`` never calls a web service.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.drawing import agent_drawing, stand_in_tools, workflow_drawing
from agents.spec import builtin_agents
from graphs.draw import GraphDrawing, dot_available, draw, render, to_dot
from graphs.errors import ConfigError, DrawError
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport
from graphs.react import build_react
from tools import calculator

WORKFLOWS = Path(__file__).parents[2] / "notebooks" / "workflows"
needs_dot = pytest.mark.skipif(
    not dot_available(), reason="Graphviz's dot is not installed (apt-get install graphviz)"
)


def react_graph() -> object:
    return build_react(ChatQwen(model="ollama:qwen3:8b", transport=ScriptedTransport([])), [calculator])


def edges(dot: str) -> set[tuple[str, str, bool]]:
    """(source, target, dashed) of every edge in DOT text."""
    found = re.findall(r'^\s*"([^"]+)" -> "([^"]+)"(.*);$', dot, re.M)
    return {(a, b, "dashed" in rest) for a, b, rest in found}


def test_dot_has_every_node_and_edge_with_conditional_edges_dashed() -> None:
    shape = react_graph().get_graph()  # type: ignore[attr-defined]
    dot = to_dot(shape, title="react")
    for node in shape.nodes:
        assert f'"{node}" [' in dot
    assert edges(dot) == {(e.source, e.target, e.conditional) for e in shape.edges}
    assert ("call_model", "run_tool", True) in edges(dot) and ("run_tool", "collect", False) in edges(dot)
    assert 'label="START", shape=oval' in dot and 'label="react"' in dot


def test_workflow_branch_labels_and_quoting() -> None:
    dot = workflow_drawing(WORKFLOWS / "squares_report.yaml").dot
    assert '"squares" -> "square" [style=dashed, label="body"];' in dot
    assert '"stats/join" -> "__outputs__";' in dot
    quoted = to_dot(type("G", (), {"nodes": {'a"b': None}, "edges": []})())
    assert quoted.count('"a\\"b" [label="a\\"b"]') == 1


@pytest.mark.parametrize("agent", [*builtin_agents(has_index=False).names(), None])
@pytest.mark.parametrize("model", ["local:qwen2.5-coder-1.5b", "ollama:qwen3:8b"])
def test_every_agent_graph_can_be_drawn_without_a_model_or_sandbox(agent: str | None, model: str) -> None:
    drawing = agent_drawing(agent, model=model)
    expected = {"planner": "plan_execute", "researcher": "research"}.get(agent or "", "react")
    if model.startswith("local:") and agent in (None, "math-tutor", "coding-assistant"):
        expected = "worked"
    assert f": {expected} graph on {model}" in drawing.title
    first_node = {"react": "call_model", "worked": "write", "plan_execute": "plan", "research": "search"}[
        expected
    ]
    assert f'"__start__" -> "{first_node}"' in drawing.dot
    assert "graph TD;" in drawing.mermaid


@pytest.mark.parametrize("graph", ["react", "worked", "plan_execute", "auto"])
def test_plain_run_graphs(graph: str) -> None:
    expected = "worked" if graph == "auto" else graph  # auto: the worked solution for a local model
    assert f": {expected} graph on local:x.gguf" in agent_drawing(graph=graph, model="local:x.gguf").title


def test_drawing_refuses_what_it_cannot_draw() -> None:
    with pytest.raises(ConfigError, match="picks an agent per request"):
        agent_drawing("auto")
    with pytest.raises(ConfigError, match="unknown graph 'swarm'"):
        agent_drawing(graph="swarm")
    with pytest.raises(ConfigError, match="plain runs"):
        agent_drawing("math-tutor", graph="react")
    with pytest.raises(ConfigError, match="unknown agent"):
        agent_drawing("nobody")


def test_stand_in_tools_have_the_real_names_and_refuse_to_run() -> None:
    tools = stand_in_tools(["calculator", "run_python", "search"])
    assert [t.name for t in tools] == ["calculator", "run_python", "search"]
    assert tools[0] is calculator
    with pytest.raises(ConfigError, match="stand-in"):
        tools[1].invoke({"code": "print(1)"})


@needs_dot
def test_svg_and_png_are_rendered_locally(tmp_path: Path) -> None:
    drawing = draw(react_graph(), title="react")  # type: ignore[arg-type]
    svg = drawing.svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for node in ("call_model", "run_tool", "collect", "START", "END"):
        assert f">{node}</text>" in svg
    png = drawing.save(tmp_path / "out" / "react.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (drawing.save(tmp_path / "g.mmd")).read_text() == drawing.mermaid
    assert (drawing.save(tmp_path / "g.gv")).read_text() == drawing.dot
    bundle = drawing._repr_mimebundle_()
    assert bundle["image/svg+xml"] == svg and "text/vnd.mermaid" not in bundle, "one drawing, not two"


def test_without_graphviz_svg_is_a_clear_error_and_text_still_works(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    drawing = draw(react_graph())  # type: ignore[arg-type]
    with pytest.raises(DrawError, match="dot program is not installed: install Graphviz"):
        drawing.save(tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    assert drawing.save(tmp_path / "g.dot").read_text().startswith("digraph G {")
    bundle = drawing._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and bundle["text/vnd.mermaid"].startswith("---")


@needs_dot
def test_dot_errors_and_unknown_suffixes_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DrawError, match=r"dot failed: .*syntax error"):
        render("digraph { a -> }")
    with pytest.raises(DrawError, match=r"cannot tell the drawing format from 'g\.txt'"):
        GraphDrawing(dot="digraph G {}", mermaid="").save(tmp_path / "g.txt")
