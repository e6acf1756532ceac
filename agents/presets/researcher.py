"""The researcher: answers only from the ingested documents, quoting the passage and citing
``path:lines``, and says plainly when they do not contain the answer.

It runs on the research graph (:mod:`graphs.research`): the graph searches with the question, the
model quotes the sentence that answers and then answers, and the citations are checked against the
index (a failed check is shown to the model once, then marked in the result). Measured on the local
Qwen2.5-Coder-1.5B: ``tests/bench/retrieval_quality.py``.
"""

from __future__ import annotations

from agents.spec import AgentSpec


def researcher(*, language: str | None = None) -> AgentSpec:
    """The ``researcher`` agent (tool: search over the index made by ``qwengraph ingest``)."""
    return AgentSpec(
        name="researcher",
        description="Answers from your ingested documents, quoting them, with checked path:lines citations.",
        tools=("search",),
        prompt="researcher",
        variables={"language": language},
        graph="research",
        think=True,
        max_steps=6,
    )
