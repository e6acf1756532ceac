"""The automation agent: helps write and run scripted workflows (``qwengraph workflow run``)."""

from __future__ import annotations

from agents.spec import AgentSpec


def automation(*, language: str | None = None) -> AgentSpec:
    """The ``automation`` agent (tool: calculator; thinking decided per request)."""
    return AgentSpec(
        name="automation",
        description="Describes and writes workflows to run with `qwengraph workflow run`.",
        tools=("calculator",),
        prompt="automation",
        variables={"language": language},
        think="auto",
        max_steps=8,
    )
