"""The planner: plans multi-part requests, works each step with exact tools, verifies the result.

It runs on the plan-and-execute graph (:mod:`graphs.plan_execute`): a thinking planner writes the
steps, a non-thinking executor does each with the tools, a thinking verifier accepts the results or
sends the plan back with the reason. Its prompt is given to the executor and the verifier.
"""

from __future__ import annotations

from agents.spec import AgentSpec


def planner(*, language: str | None = None) -> AgentSpec:
    """The ``planner`` agent (tools: calculator, symbolic; graph: plan_execute; thinking on)."""
    return AgentSpec(
        name="planner",
        description="Plans multi-part requests, works each step with exact tools, verifies the answer.",
        tools=("calculator", "symbolic"),
        prompt="planner",
        variables={"language": language},
        graph="plan_execute",
        think=True,
        max_steps=16,
    )
