"""The math tutor: Qwen3 thinks out the plan, exact tools do every computation, the answer is
checked with a tool before it is given; ``mode="hint"`` gives hints instead of the answer.

Its graph is chosen per run: ReAct on servers; on a local model (answer mode), the worked-solution
graph, where the calculator and the symbolic tool fill in values, derivatives and solutions as the
model writes (:mod:`graphs.worked_checks`)."""

from __future__ import annotations

from agents.spec import AgentSpec

MODES = ("answer", "hint")


def math_tutor(*, mode: str = "answer", language: str | None = None) -> AgentSpec:
    """The ``math-tutor`` agent (tools: calculator, symbolic; thinking on)."""
    return AgentSpec(
        name="math-tutor",
        description="Explains math step by step for a learner; tools compute and check every result.",
        tools=("calculator", "symbolic"),
        prompt="math_tutor",
        variables={"mode": mode, "language": language},
        choices={"mode": MODES},
        graph="auto",
        think=True,
        max_steps=10,
    )
