"""Context trimming: system and latest user message kept, tool pairs intact, a note for what went."""

from __future__ import annotations

import random

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from graphs.context import approx_tokens, fit_messages

SYSTEM = SystemMessage(content="You are a helpful assistant.")


def tool_turn(n: int, calls: int = 1) -> list[BaseMessage]:
    ai = AIMessage(
        content="",
        tool_calls=[
            {"name": "calculator", "args": {"expression": f"{n}+{i}"}, "id": f"c{n}_{i}"}
            for i in range(calls)
        ],
    )
    return [ai, *(ToolMessage(content=str(n + i), tool_call_id=f"c{n}_{i}") for i in range(calls))]


def history(turns: int) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SYSTEM]
    for n in range(turns):
        messages += [HumanMessage(content=f"question {n} " + "words " * 20), *tool_turn(n, 2)]
        messages.append(AIMessage(content=f"answer {n} " + "text " * 20))
    messages.append(HumanMessage(content="the latest question"))
    return messages


def total(messages):
    return sum(approx_tokens(m) for m in messages)


def check_invariants(original, fitted):
    """No orphan tool results, no unanswered tool calls, order kept, system and latest user kept."""
    kept = [m for m in fitted if m.additional_kwargs.get("qwengraph") != "context_note"]
    positions = [next(i for i, o in enumerate(original) if o is m) for m in kept]
    assert positions == sorted(positions), "order changed"
    first_other = next((i for i, m in enumerate(original) if not isinstance(m, SystemMessage)), len(original))
    leading = original[:first_other]
    assert fitted[: len(leading)] == leading
    humans = [m for m in original if isinstance(m, HumanMessage)]
    if humans:
        assert any(m is humans[-1] for m in fitted)
    answered = {m.tool_call_id for m in fitted if isinstance(m, ToolMessage)}
    asked = {c["id"] for m in fitted if isinstance(m, AIMessage) for c in m.tool_calls}
    assert answered == asked, "a tool call lost its result or a result lost its call"
    notes = [m for m in fitted if m.additional_kwargs.get("qwengraph") == "context_note"]
    assert len(notes) <= 1
    if notes:
        dropped = len(original) - len(kept)
        assert f"[{dropped} earlier message" in notes[0].text


def test_fitting_history_is_returned_unchanged():
    messages = history(2)
    fitted = fit_messages(messages, 10_000)
    assert fitted == messages and fitted is not messages


def test_oldest_turns_go_first_with_one_note():
    messages = history(5)
    budget = total(messages) // 2
    fitted = fit_messages(messages, budget)
    assert total(fitted) <= budget
    check_invariants(messages, fitted)
    assert fitted[0] is SYSTEM and isinstance(fitted[1], SystemMessage)
    assert "earlier messages were omitted" in fitted[1].text
    assert fitted[-1] is messages[-1]
    texts = [m.text for m in fitted]
    assert not any(t.startswith("question 0") for t in texts) and any(
        t.startswith("question 4") for t in texts
    )


def test_minimum_is_system_note_and_latest_user_message():
    messages = history(3)
    fitted = fit_messages(messages, 1)
    assert fitted[0] is SYSTEM and fitted[-1] is messages[-1] and len(fitted) == 3


def test_current_turn_steps_are_dropped_oldest_first_but_pairs_stay_whole():
    messages = [
        SYSTEM,
        HumanMessage(content="do many things"),
        *tool_turn(1, 3),
        *tool_turn(2, 1),
        *tool_turn(3, 2),
    ]
    budget = total(messages) - approx_tokens(messages[2])  # too small by one AI message
    fitted = fit_messages(messages, budget)
    check_invariants(messages, fitted)
    assert fitted[2] is messages[1] and fitted[-1] is messages[-1]
    assert not any(isinstance(m, AIMessage) and m.tool_calls[0]["id"] == "c1_0" for m in fitted)


def test_results_far_from_their_call_stay_with_it():
    ai = tool_turn(7)[0]
    late = ToolMessage(content="7", tool_call_id="c7_0")
    messages = [
        SYSTEM,
        HumanMessage(content="a"),
        ai,
        HumanMessage(content="x"),
        late,
        HumanMessage(content="b"),
    ]
    for budget in range(1, total(messages) + 1):
        check_invariants(messages, fit_messages(messages, budget))
    latest_inside = [SYSTEM, HumanMessage(content="old " * 50), ai, HumanMessage(content="latest"), late]
    for budget in range(1, total(latest_inside) + 1):
        check_invariants(latest_inside, fit_messages(latest_inside, budget))


def test_summarize_hook_replaces_the_count():
    seen: list[list[BaseMessage]] = []

    def summarize(dropped):
        seen.append(dropped)
        return "the user asked earlier questions"

    messages = history(4)
    fitted = fit_messages(messages, total(messages) // 2, summarize=summarize)
    note = fitted[1]
    assert "Summary of the omitted part: the user asked earlier questions" in note.text
    assert seen and all(m in messages for m in seen[-1])
    check_invariants(messages, fitted)


def test_summary_too_long_falls_back_to_the_plain_note():
    messages = history(3)
    fitted = fit_messages(messages, total(messages) // 2, summarize=lambda dropped: "long " * 10_000)
    assert "Summary" not in fitted[1].text and "omitted" in fitted[1].text


def test_custom_counter_is_used():
    messages = history(3)
    fitted = fit_messages(messages, 8, count_tokens=lambda m: 1)
    assert len(fitted) == 8  # system, note, the last whole earlier turn (5 messages), latest question
    assert fitted[2].text.startswith("question 2")
    check_invariants(messages, fitted)


def test_approx_tokens():
    assert approx_tokens(HumanMessage(content="")) == 4
    assert approx_tokens(HumanMessage(content="abcdefg")) == 4 + 2  # 7 chars / 3.5
    assert approx_tokens(HumanMessage(content="abcdefgh")) == 4 + 3  # rounded up
    ai = tool_turn(1)[0]
    assert approx_tokens(ai) > approx_tokens(AIMessage(content=""))
    thinking = AIMessage(
        content=[{"type": "reasoning", "reasoning": "x" * 1000}, {"type": "text", "text": "hi"}]
    )
    assert approx_tokens(thinking) == 4 + 1


def random_history(rng: random.Random) -> list[BaseMessage]:
    messages: list[BaseMessage] = (
        [SystemMessage(content="sys " * rng.randint(0, 30))] if rng.random() < 0.8 else []
    )
    if rng.random() < 0.2:
        messages.append(SystemMessage(content="second system"))
    call = 0
    for _ in range(rng.randint(0, 8)):
        kind = rng.random()
        if kind < 0.4:
            messages.append(HumanMessage(content="q " * rng.randint(0, 60)))
        elif kind < 0.7:
            n = rng.randint(1, 3)
            ids = [f"id{call + i}" for i in range(n)]
            call += n
            messages.append(
                AIMessage(content="", tool_calls=[{"name": "t", "args": {"x": i}, "id": i} for i in ids])
            )
            messages += [ToolMessage(content="r " * rng.randint(0, 40), tool_call_id=i) for i in ids]
        else:
            messages.append(AIMessage(content="a " * rng.randint(0, 80)))
    return messages


def test_invariants_hold_on_many_random_histories():
    rng = random.Random(1234)
    for _ in range(600):
        messages = random_history(rng)
        budget = rng.randint(1, total(messages) + 10)
        fitted = fit_messages(messages, budget)
        check_invariants(messages, fitted)
        minimum = fit_messages(messages, 0)
        if total(minimum) <= budget:
            assert total(fitted) <= budget, "a fitting history exists but was not found"
