"""The math tutor: Qwen3 thinks out the plan, exact tools do every computation, the answer is
checked with a tool before it is given; ``mode="hint"`` gives hints instead of the answer."""

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
        think=True,
        max_steps=10,
    )
