"""Graph-shape snapshots: the Mermaid drawing of each graph must match the file in ``snapshots/``.

A change to a graph's nodes or edges shows up here as a diff. When the change is intended, rewrite
the snapshots with ``QWENGRAPH_UPDATE_SNAPSHOTS=1 pytest tests/graphs/test_graph_shapes.py`` and
review the new drawings in the commit.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport
from graphs.plan_execute import build_plan_execute
from graphs.react import build_react
from graphs.workflow import compile_workflow, load_workflow
from tools import calculator

SNAPSHOTS = Path(__file__).parent / "snapshots"
WORKFLOWS = Path(__file__).parents[2] / "notebooks" / "workflows"
UPDATE = "QWENGRAPH_UPDATE_SNAPSHOTS"


def model() -> ChatQwen:
    return ChatQwen(model="ollama:qwen3:8b", transport=ScriptedTransport([]))


GRAPHS: dict[str, Callable[[], Any]] = {
    "react": lambda: build_react(model(), [calculator]),
    "plan_execute": lambda: build_plan_execute(model(), [calculator]),
    "squares_report": lambda: compile_workflow(
        load_workflow(WORKFLOWS / "squares_report.yaml"), {"calculator": calculator}
    ),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_graph_shape_matches_snapshot(name: str) -> None:
    drawing = GRAPHS[name]().get_graph().draw_mermaid()
    path = SNAPSHOTS / f"{name}.mermaid"
    if os.environ.get(UPDATE) == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(drawing, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"no snapshot {path}; create it with {UPDATE}=1 pytest {__file__}")
    expected = path.read_text(encoding="utf-8")
    if drawing != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                drawing.splitlines(keepends=True),
                fromfile=f"snapshots/{name}.mermaid",
                tofile="current drawing",
            )
        )
        pytest.fail(
            f"the shape of graph {name!r} changed:\n{diff}\n"
            f"If this is intended, update the snapshots: {UPDATE}=1 pytest {__file__}"
        )
