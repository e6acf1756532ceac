"""Pieces of the plan-and-execute graph: the typed plan, the verdict, prompts, JSON reading.

The planner and the verifier answer in JSON. Their text is read with
:func:`graphs.models.jsonrepair.repair_json` (code fences, trailing commas and other unambiguous
damage are repaired) and checked with pydantic; when that fails the model gets the precise error
and one more try (see :func:`ask_json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field, ValidationError

from graphs.models.jsonrepair import repair_json
from graphs.models.messages import REASONING_KEY, reasoning_text

PLAN_ERROR_MARK = "plan_error"
REPLAN_LIMIT_MARK = "replan_limit"
VERDICT_ERROR_MARK = "verdict_error"
STEP_LIMIT_MARK = "step_limit"  # the mark graphs.react uses; summarize reads it as stopped="step_limit"


class PlanStep(BaseModel):
    """One step of a plan: what to achieve and, optionally, which tool should help."""

    id: int
    goal: str = Field(min_length=1)
    tool_hint: str | None = None


class Plan(BaseModel):
    """The planner's typed plan."""

    steps: list[PlanStep] = Field(min_length=1, max_length=12)


class Verdict(BaseModel):
    """The verifier's decision: accept with the final answer, or ask for a new plan with a reason."""

    accept: bool
    answer: str = ""
    reason: str = ""


class StepResult(BaseModel):
    """What the executor produced for one plan step."""

    id: int
    goal: str
    result: str


PLANNER_PROMPT = """You are the planner. Break the user's request into a short list of concrete steps.
Tools the executor can use: {tools}.
Answer with JSON only, in this shape:
{{"steps": [{{"id": 1, "goal": "what this step achieves", "tool_hint": "tool name or null"}}]}}
Use as few steps as the request needs (at most 12). Do not solve the steps yourself."""

EXECUTOR_PROMPT = """You are the executor. Carry out exactly one step of a plan.
Use the tools for every calculation or lookup ({tools}); then reply with the step's result in one
or two sentences. Do not work on other steps."""

VERIFIER_PROMPT = """You are the verifier. Check the step results against the user's request.
If they fully answer it, reply with JSON {"accept": true, "answer": "the final answer for the user"}.
If something is missing or wrong, reply with JSON {"accept": false, "reason": "what must change"}.
Answer with JSON only."""

Model = TypeVar("Model", bound=BaseModel)


def read_json(text: str, schema: type[Model]) -> Model:
    """Parse ``text`` (JSON, possibly damaged or inside prose) as ``schema``.

    Raises:
        ValueError: why the text is not a valid ``schema`` object, precisely enough for the model.
    """
    try:
        data = repair_json(text)
    except ValueError as err:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError(f"the reply is not JSON: {err}") from None
        try:
            data = repair_json(text[start : end + 1])
        except ValueError:
            raise ValueError(f"the reply is not JSON: {err}") from None
    if schema is Plan and isinstance(data, list):
        data = {"steps": data}
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors()
        )
        raise ValueError(f"the JSON does not match the expected shape: {problems}") from None


PLAN_PREFILL = '{"steps": [{"id": 1, "goal": "'
VERDICT_PREFILL = '{"accept": '


def ask_json(
    model: Any,
    history: Sequence[AnyMessage],
    schema: type[Model],
    config: RunnableConfig,
    prefill: str | None = None,
) -> tuple[list[AIMessage], Model | str]:
    """Ask ``model`` for a ``schema`` object; on bad JSON, retry once with the error.

    ``prefill`` starts the reply (a :class:`~graphs.models.chat.ChatQwen` that continues prefills):
    small models that answer a JSON request in prose then write the JSON. Returns the model's
    messages (with the prefill in their text) and the parsed object, or the last error text.
    """
    replies: list[AIMessage] = []
    messages = list(history)
    error = ""
    for _ in range(2):
        if prefill is None:
            reply = model.invoke(messages, config)
        else:
            started = model.invoke(messages, config, prefill=prefill)
            assert isinstance(started, AIMessage)
            reply = as_answer(started, prefill + started.text)
        assert isinstance(reply, AIMessage)
        replies.append(reply)
        try:
            return replies, read_json(reply.text, schema)
        except ValueError as err:
            error = str(err)
        fix = f"Your reply could not be used: {error}. Reply again with JSON only."
        messages += [reply, HumanMessage(content=fix, additional_kwargs={"qwengraph": "json_error"})]
    return replies, error


def tool_list(names: Sequence[str]) -> str:
    """The tool names for a prompt."""
    return ", ".join(sorted(names)) or "(none)"


def results_text(results: Sequence[dict[str, Any]]) -> str:
    """Step results as compact JSON lines for the planner, the executor and the verifier."""
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in results) or "(none yet)"


def planner_history(
    tools: Sequence[str], request: str, results: Sequence[dict[str, Any]], feedback: str
) -> list[AnyMessage]:
    """What the planner sees: its instructions, the request, and after a rejection why."""
    text = request
    if feedback:
        text += (
            f"\n\nA previous plan was rejected: {feedback}\nIts step results were:\n{results_text(results)}"
            "\nWrite a new plan that fixes this."
        )
    return [SystemMessage(content=PLANNER_PROMPT.format(tools=tool_list(tools))), HumanMessage(content=text)]


def executor_brief(
    request: str, plan: Sequence[dict[str, Any]], index: int, results: Sequence[dict[str, Any]]
) -> str:
    """The user turn that starts one step's work."""
    step = plan[index]
    hint = f" (suggested tool: {step['tool_hint']})" if step.get("tool_hint") else ""
    outline = "\n".join(f"{s['id']}. {s['goal']}" for s in plan)
    return (
        f"Request: {request}\nPlan:\n{outline}\nResults so far:\n{results_text(results)}\n\n"
        f"Do step {step['id']} now: {step['goal']}{hint}"
    )


def verifier_history(
    request: str, plan: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]], instructions: str = ""
) -> list[AnyMessage]:
    """What the verifier sees: the request, the plan and every step's result."""
    outline = "\n".join(f"{s['id']}. {s['goal']}" for s in plan)
    text = f"Request: {request}\nPlan:\n{outline}\nStep results:\n{results_text(results)}"
    return [
        SystemMessage(content=with_instructions(VERIFIER_PROMPT, instructions)),
        HumanMessage(content=text),
    ]


def with_instructions(prompt: str, instructions: str) -> str:
    """A role's prompt with the agent's own instructions (its persona, language) after it."""
    if not instructions.strip():
        return prompt
    return f"{prompt}\n\nThe agent's instructions (follow them in what you write):\n{instructions.strip()}"


def progress_notes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Lines for a user watching a run: a new plan, each newly finished step, a rejection."""
    notes: list[str] = []
    plan = after.get("plan") or []
    if plan and plan != before.get("plan"):
        outline = "; ".join(f"{s['id']}. {s['goal']}" for s in plan)
        notes.append(f"plan: {outline}")
    done = after.get("results") or []
    old = before.get("results") or []
    fresh = done[len(old) :] if done[: len(old)] == old else done
    notes.extend(f"step {r['id']}: {r['result']}" for r in fresh)
    if after.get("replans", 0) > before.get("replans", 0):
        notes.append(f"rejected: {after.get('feedback', '')}")
    return notes


def as_answer(reply: AIMessage, text: str, mark: str | None = None) -> AIMessage:
    """``reply`` (keeping its id, thinking and usage) with ``text`` as its answer; ``mark`` flags a stop."""
    meta = dict(reply.response_metadata)
    if mark:
        meta["qwengraph"] = mark
    extra = dict(reply.additional_kwargs)
    thought = reasoning_text(reply)
    if thought:
        extra[REASONING_KEY] = thought
    return reply.model_copy(
        update={
            "content": text,
            "additional_kwargs": extra,
            "response_metadata": meta,
        }
    )


def latest_request(messages: Sequence[AnyMessage]) -> HumanMessage | None:
    """The last user request (corrections the graph wrote itself are not requests)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("qwengraph"):
            return message
    return None


def stop_message(text: str, mark: str) -> AIMessage:
    """A final message that ends the run without an accepted answer."""
    return AIMessage(content=text, response_metadata={"qwengraph": mark})
