"""The plan-and-execute graph with scripted planner, executor and verifier turns."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool as tool_fn
from langgraph.checkpoint.memory import InMemorySaver

from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.plan_execute import build_plan_execute
from graphs.plan_parts import Plan, PlanStep, Verdict, read_json
from graphs.summary import summarize
from tools import calculator

REQUEST = "What is 17*23, plus 9?"
PLAN = {
    "steps": [
        {"id": 1, "goal": "multiply 17 by 23", "tool_hint": "calculator"},
        {"id": 2, "goal": "add 9 to the product", "tool_hint": "calculator"},
    ]
}


def scripted(*turns):
    fake = ScriptedTransport(list(turns))
    return ChatQwen(model="ollama:qwen3:8b", transport=fake), fake


def invoke(model, **kwargs):
    graph = build_plan_execute(model, [calculator], **kwargs)
    state = graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 0})
    return state, summarize(state["messages"][1:])


def work_turns():
    return [
        turn(tool=("calculator", {"expression": "17*23"})),
        turn("17*23 = 391."),
        turn(tool=("calculator", {"expression": "391+9"})),
        turn("391 + 9 = 400."),
    ]


def accept(answer="17*23 + 9 = 400."):
    return turn(json.dumps({"accept": True, "answer": answer}), thinking="Both results check out.")


def test_happy_path_plans_executes_with_tools_and_verifies():
    model, fake = scripted(
        turn(json.dumps(PLAN), thinking="Two steps: multiply, then add."), *work_turns(), accept()
    )
    state, summary = invoke(model)
    assert state["plan"] == PLAN["steps"]
    assert [r["result"] for r in state["results"]] == ["17*23 = 391.", "391 + 9 = 400."]
    assert summary.answer == "17*23 + 9 = 400."
    assert summary.stopped is None
    assert [(c.name, c.args, c.result) for c in summary.tool_calls] == [
        ("calculator", {"expression": "17*23"}, "391"),
        ("calculator", {"expression": "391+9"}, "400"),
    ]
    assert summary.steps == 6 == state["steps"]
    assert summary.thinking == ["Two steps: multiply, then add.", "Both results check out."]
    thinks = [r.think for r in fake.requests]
    assert thinks == [True, False, False, False, False, True], "planner and verifier think, executor does not"
    assert fake.requests[0].tools == [] and fake.requests[1].tools, "only the executor is offered tools"
    second_step = fake.requests[3].messages[1]["content"]
    assert "Do step 2 now: add 9 to the product (suggested tool: calculator)" in second_step
    assert '"result": "17*23 = 391."' in second_step
    assert fake.requests[3].messages[-1]["role"] == "user", "a step starts without the previous step's turns"
    verifier_text = fake.requests[5].messages[-1]["content"]
    assert "391 + 9 = 400." in verifier_text and REQUEST in verifier_text
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and final.usage_metadata, "the answer keeps the verifier's usage"


def test_damaged_plan_json_is_repaired_without_a_retry():
    damaged = "```json\n{'steps': [{'id': 1, 'goal': 'compute 17*23+9', 'tool_hint': None},]}\n```"
    model, fake = scripted(
        turn(damaged),
        turn(tool=("calculator", {"expression": "17*23+9"})),
        turn("400"),
        accept("400"),
    )
    state, summary = invoke(model)
    assert state["plan"] == [{"id": 1, "goal": "compute 17*23+9", "tool_hint": None}]
    assert summary.answer == "400" and len(fake.requests) == 4


def test_bad_plan_is_retried_once_with_the_precise_error():
    model, fake = scripted(
        turn('{"steps": [{"goal": "multiply"}]}'),
        turn(json.dumps({"steps": [{"id": 1, "goal": "compute 17*23+9"}]})),
        turn("400"),
        accept("400"),
    )
    state, summary = invoke(model)
    retry = fake.requests[1].messages[-1]["content"]
    assert retry.startswith("Your reply could not be used: the JSON does not match the expected shape")
    assert "steps.0.id: Field required" in retry
    assert summary.answer == "400" and state["plan"][0]["goal"] == "compute 17*23+9"


def test_unusable_plan_twice_ends_with_a_clear_message():
    model, fake = scripted(turn("I will just answer: 400"), turn("still not json"))
    state, summary = invoke(model)
    last = state["messages"][-1]
    assert last.response_metadata["qwengraph"] == "plan_error"
    assert summary.answer.startswith("Could not make a plan: the planner's reply was not a usable plan twice")
    assert "the reply is not JSON" in summary.answer
    assert len(fake.requests) == 2


def test_an_unusable_verdict_keeps_the_step_results_for_the_user():
    model, fake = scripted(turn(json.dumps(PLAN)), *work_turns(), turn("looks fine"), turn("yes, fine"))
    state, summary = invoke(model)
    assert summary.stopped == "verdict_error"
    assert summary.answer.startswith("Could not verify the results: the verifier's reply was unusable twice")
    assert summary.answer.endswith(
        "The steps' results, not verified:\n1. multiply 17 by 23: 17*23 = 391.\n"
        "2. add 9 to the product: 391 + 9 = 400."
    )
    verifier_system = fake.requests[5].messages[0]["content"]
    assert '{"accept": true, "answer": "the final answer for the user"}' in verifier_system, "no {{ }}"
    planner_system = fake.requests[0].messages[0]["content"]
    assert '{"steps": [{"id": 1,' in planner_system and "{{" not in planner_system


def test_verifier_rejection_replans_with_the_reason():
    reject = turn(json.dumps({"accept": False, "reason": "the 9 was never added"}))
    one_step = json.dumps({"steps": [{"id": 1, "goal": "multiply 17 by 23"}]})
    model, fake = scripted(
        turn(one_step),
        turn(tool=("calculator", {"expression": "17*23"})),
        turn("391"),
        reject,
        turn(json.dumps(PLAN)),
        *work_turns(),
        accept(),
    )
    state, summary = invoke(model)
    assert state["replans"] == 1
    replan = fake.requests[4].messages[-1]["content"]
    assert "A previous plan was rejected: the 9 was never added" in replan and '"result": "391"' in replan
    assert summary.answer == "17*23 + 9 = 400."
    assert len(summary.tool_calls) == 3


def test_replan_limit_ends_with_a_clear_message():
    one_step = json.dumps({"steps": [{"id": 1, "goal": "guess"}]})
    reject = turn(json.dumps({"accept": False, "reason": "not checked with a tool"}))
    model, _ = scripted(turn(one_step), turn("maybe 400"), reject, turn(one_step), turn("400?"), reject)
    state, summary = invoke(model, max_replans=1)
    last = state["messages"][-1]
    assert last.response_metadata["qwengraph"] == "replan_limit"
    assert summary.answer == (
        "Stopped after 1 replans without an accepted answer "
        "(the verifier's last objection: not checked with a tool)."
    )


def test_step_limit_per_task_moves_on_with_a_note():
    looping = [turn(tool=("calculator", {"expression": f"{n}+1"})) for n in range(2)]
    one_step = json.dumps({"steps": [{"id": 1, "goal": "count"}]})
    model, fake = scripted(turn(one_step), *looping, accept("gave up"))
    state, _ = invoke(model, max_steps_per_task=2)
    assert state["results"][0]["result"] == "(no result: stopped after 2 model calls)"
    assert len(fake.requests) == 4
    assert sum(isinstance(m, ToolMessage) for m in state["messages"]) == 2


def test_a_thread_with_a_checkpointer_starts_each_request_afresh():
    saver = InMemorySaver()
    one_step = json.dumps({"steps": [{"id": 1, "goal": "say hi"}]})
    model, fake = scripted(
        turn(one_step), turn("hi"), turn(json.dumps({"accept": False, "reason": "too short"})),
        turn(one_step), turn("hello there"), accept("hello there"),
        turn(one_step), turn("bye"), accept("bye"),
    )  # fmt: skip
    graph = build_plan_execute(model, [calculator], checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"messages": [HumanMessage(content="greet me")], "steps": 0}, config)
    state = graph.invoke({"messages": [HumanMessage(content="now say bye")], "steps": 0}, config)
    assert state["replans"] == 0 and state["request"] == "now say bye"
    assert "rejected" not in fake.requests[6].messages[-1]["content"]
    assert state["messages"][-1].text == "bye"


def test_read_json_names_the_problem():
    assert read_json('Here: {"accept": true, "answer": "4"} done', Verdict).answer == "4"
    assert read_json('[{"id": "1", "goal": "x"}]', Plan).steps == [PlanStep(id=1, goal="x")]
    with pytest.raises(ValueError, match=r"steps: List should have at least 1 item"):
        read_json('{"steps": []}', Plan)
    with pytest.raises(ValueError, match=r"the reply is not JSON: .*line 1 column"):
        read_json("no json here", Plan)


def test_bad_arguments_are_refused():
    model, _ = scripted()
    with pytest.raises(ValueError, match="approval"):
        build_plan_execute(model, [calculator], approve=["run_python"])
    with pytest.raises(ValueError, match="max_steps_per_task"):
        build_plan_execute(model, [calculator], max_steps_per_task=0)


def test_json_prefill_starts_the_planner_and_verifier_replies():
    from graphs.plan_parts import PLAN_PREFILL, VERDICT_PREFILL

    plan_text = json.dumps(PLAN)
    assert plan_text.startswith(PLAN_PREFILL)
    model, fake = scripted(
        turn(plan_text[len(PLAN_PREFILL) :]),
        *work_turns(),
        turn(' true, "answer": "400."}'),
    )
    state, summary = invoke(model, json_prefill=True)
    assert summary.answer == "400." and state["plan"] == PLAN["steps"]
    prefills = [r.prefill for r in fake.requests]
    assert prefills == [PLAN_PREFILL, None, None, None, None, VERDICT_PREFILL]


def test_json_prefill_is_on_for_local_models_without_thinking_only():
    from graphs.models.transports.local import LocalTransport
    from graphs.plan_execute import _prefills_json

    assert _prefills_json(
        ChatQwen(model="local:qwen2.5-coder-1.5b", transport=LocalTransport("qwen2.5-coder-1.5b"))
    )
    qwen3 = ChatQwen(model="local:/m/Qwen3-1.7B-Q4.gguf", transport=LocalTransport("/m/Qwen3-1.7B-Q4.gguf"))
    assert not _prefills_json(qwen3), "a thinking model plans in its thinking first"
    assert not _prefills_json(ChatQwen(model="ollama:qwen3:8b"))


def test_long_step_work_and_results_are_trimmed_to_the_context_window():
    """A huge tool result: the executor's history and the results shown later stay in budget."""
    huge = "7" * 40_000  # about 11k tokens: far over the 2k budget below

    @tool_fn
    def dump(n: int) -> str:
        """Return a lot of digits."""
        return huge

    one_step = {"steps": [{"id": 1, "goal": "dump", "tool_hint": "dump"}]}
    model, fake = scripted(
        turn(json.dumps(one_step)),
        turn(tool=("dump", {"n": 1})),
        turn(tool=("dump", {"n": 2})),
        turn(huge),  # the step's result: the whole dump
        turn(json.dumps({"accept": True, "answer": "done"})),
    )
    graph = build_plan_execute(model, [dump], context_tokens=2_000)
    state = graph.invoke({"messages": [HumanMessage(content=REQUEST)], "steps": 0})
    assert summarize(state["messages"][1:]).answer == "done"
    executor_calls = fake.requests[1:4]
    third = executor_calls[2]  # after two tool results of 40k characters each
    assert any("omitted to fit the context window" in m["content"] for m in third.messages)
    assert sum(len(m["content"]) for m in third.messages) < 2_000 * 4
    verifier = fake.requests[4]
    shown = verifier.messages[-1]["content"]
    assert "characters omitted ..." in shown and len(shown) < 2_000 * 4
    assert state["results"][0]["result"] == huge, (
        "the state keeps the full result; only the prompt is clipped"
    )


def test_clip_results_shares_the_budget():
    from graphs.plan_parts import clip_results

    results = [{"id": 1, "result": "a" * 10}, {"id": 2, "result": "b" * 1000}, {"id": 3, "result": "c" * 500}]
    clipped = clip_results(results, 310)
    assert clipped[0]["result"] == "a" * 10
    assert sum(len(r["result"].split(" [...")[0]) for r in clipped) <= 310
    assert clipped[1]["result"].startswith("b" * 100) and clipped[1]["result"].endswith("b" * 50)
    assert "[... 850 characters omitted ...]" in clipped[1]["result"]
    assert clip_results(results, 10_000) == results
