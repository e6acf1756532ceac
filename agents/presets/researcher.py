"""The researcher: answers only from the ingested documents, citing ``path:lines``, and says plainly
when they do not contain the answer."""

from __future__ import annotations

from agents.spec import AgentSpec


def researcher(*, language: str | None = None) -> AgentSpec:
    """The ``researcher`` agent (tool: search over the index made by ``qwengraph ingest``)."""
    return AgentSpec(
        name="researcher",
        description="Answers from your ingested documents with path:lines citations.",
        tools=("search",),
        prompt="researcher",
        variables={"language": language},
        think=True,
        max_steps=6,
    )
