"""The coding assistant: writes code and tests, runs them in the sandbox, fixes failures and returns
the passing code.

``search`` is added when a document index exists (``qwengraph ingest`` of a codebase), decided
when the spec is built: an agent never offers a tool that would fail on first use. The router
(:mod:`agents.router`) pairs it with a coder model. Its graph is chosen per run: ReAct on servers;
on a local model with ``run_python`` alone, the worked-solution graph, which runs each ```python
block the model writes and shows it the real output (:mod:`graphs.worked_checks`).
"""

from __future__ import annotations

from agents.spec import AgentSpec
from tools.retrieval import default_db_path


def coding_assistant(
    *, has_index: bool | None = None, code_language: str = "Python", language: str | None = None
) -> AgentSpec:
    """The ``coding-assistant`` agent (tools: run_python, + search when an index exists)."""
    indexed = default_db_path().exists() if has_index is None else has_index
    return AgentSpec(
        name="coding-assistant",
        description="Writes code and tests, runs them with run_python, fixes failures, returns passing code.",
        tools=("run_python", "search") if indexed else ("run_python",),
        prompt="coding",
        variables={"code_language": code_language, "language": language},
        graph="auto",
        think=True,
        max_steps=12,
    )
