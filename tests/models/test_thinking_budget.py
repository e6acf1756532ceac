"""Thinking budget, "all thinking, no answer" recovery and ``think="auto"``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from servers import Turn as ServerTurn
from servers import VLLMServer

from graphs.models.budget import (
    EARLY_STOP,
    EARLY_STOP_SENTENCE,
    ThinkingMeter,
    continuation_prompt,
    lacks_answer,
    retry_settings,
)
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text
from graphs.models.testing import ScriptedTransport, Turn, turn
from graphs.models.thinking import decide_think, think_reason
from graphs.models.transports.base import Delta
from graphs.models.transports.engine import Piece
from graphs.models.transports.local import LocalTransport


class PieceEngine:
    """Plays scripted completions, one list item per engine piece (a piece is one token)."""

    def __init__(self, *completions: list[str]) -> None:
        self.completions = list(completions)
        self.prompts: list[str] = []
        self.pulled: list[int] = []

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        self.prompts.append(prompt)
        parts = self.completions.pop(0)
        self.pulled.append(0)
        for i, part in enumerate(parts):
            self.pulled[-1] += 1
            last = i == len(parts) - 1
            yield Piece(
                text=part,
                finish_reason="stop" if last else None,
                prompt_tokens=7 if last or i == 0 else 0,
                completion_tokens=len(parts) if last else 0,
            )


THINKING = ["<think>\n", "Let ", "me ", "multiply ", "17 ", "by ", "23 ", "carefully ", "now"]


def local_model(engine: PieceEngine, **kwargs: Any) -> ChatQwen:
    transport = LocalTransport("qwen3-0.6b", engine=engine, family="qwen3")
    return ChatQwen(model="local:qwen3-0.6b", transport=transport, **kwargs)


def test_early_stop_sentence_is_qwens() -> None:
    assert EARLY_STOP_SENTENCE.startswith("Considering the limited time by the user")
    assert EARLY_STOP.endswith(EARLY_STOP_SENTENCE + "\n</think>\n\n")


def test_meter_counts_only_pieces_inside_thinking() -> None:
    meter = ThinkingMeter(2)
    assert not meter.feed("<think>")  # the opener is inside: 1
    assert meter.feed("a")  # 2: budget spent
    assert meter.thinking == "a"
    done = ThinkingMeter(2)
    for text in ["<think>", "x</think>", "answer", "more", "text"]:
        assert not done.feed(text)
    assert done.spent == 1
    assert not ThinkingMeter(1, start_inside=False).feed("plain answer")
    assert ThinkingMeter(1, start_inside=True).feed("a")


def test_continuation_prompt_ends_with_the_early_stop() -> None:
    prompt = continuation_prompt("P<|im_start|>assistant\n", "\nsome thought \n")
    assert prompt == "P<|im_start|>assistant\n<think>\nsome thought" + EARLY_STOP


def test_local_budget_cuts_thinking_and_continues_after_the_early_stop() -> None:
    engine = PieceEngine(THINKING, ["17*23 ", "= 391."])
    message = local_model(engine, think=True, thinking_budget=4).invoke("What is 17*23?")
    assert engine.pulled[0] == 4, "generation stopped at the budget"
    first, second = engine.prompts
    assert second.startswith(first)
    assert second.endswith(EARLY_STOP_SENTENCE + "\n</think>\n\n")
    assert second == first + "<think>\nLet me multiply" + EARLY_STOP
    assert reasoning_text(message) == "Let me multiply"
    assert message.text == "17*23 = 391."
    assert message.response_metadata["thinking_budget_hit"] is True
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 4 + 2


def test_local_budget_streams_the_same_message() -> None:
    engine = PieceEngine(THINKING, ["17*23 ", "= 391."])
    chunks = list(local_model(engine, think=True).stream("What is 17*23?", thinking_budget=3))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert isinstance(merged, AIMessageChunk)
    assert reasoning_text(merged) == "Let me"
    assert merged.text == "17*23 = 391."
    assert merged.response_metadata["thinking_budget_hit"] is True


def test_local_budget_not_hit_leaves_the_completion_alone() -> None:
    engine = PieceEngine(["<think>\n", "short", "</think>\n\n", "391"])
    message = local_model(engine, think=True, thinking_budget=10).invoke("What is 17*23?")
    assert len(engine.prompts) == 1
    assert message.text == "391" and reasoning_text(message) == "short"
    assert "thinking_budget_hit" not in message.response_metadata


def test_local_budget_ignored_without_thinking() -> None:
    engine = PieceEngine(["391"])
    message = local_model(engine, think=False, thinking_budget=1).invoke("What is 17*23?")
    assert message.text == "391" and len(engine.prompts) == 1


def test_vllm_payload_carries_its_budget_field() -> None:
    with VLLMServer([ServerTurn(thinking="Hmm.", content="391"), ServerTurn(content="391")]) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=server.base_url, think=True)
        assert model.invoke("What is 17*23?", thinking_budget=256).text == "391"
        model.invoke("What is 17*23?", think=False, thinking_budget=256)
        first, second = server.chat_requests
    assert first["thinking_token_budget"] == 256
    assert "thinking_token_budget" not in second, "no budget when thinking is off"


def test_vllm_length_stop_while_thinking_is_retried_without_thinking() -> None:
    script = [ServerTurn(thinking="Hmm, " * 20, finish_reason="length"), ServerTurn(content="391")]
    with VLLMServer(script) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=server.base_url, think=True)
        message = model.invoke("What is 17*23?")
        first, second = server.chat_requests
    assert first["chat_template_kwargs"] == {"enable_thinking": True}
    assert second["chat_template_kwargs"] == {"enable_thinking": False}
    assert message.text == "391"
    assert message.response_metadata["recovered"] == "no_think_retry"


def all_thinking() -> Turn:
    return replace(
        turn(thinking="Let me think about this for a long time...", pieces=3), finish_reason="length"
    )


def scripted(*turns: Turn, **kwargs: Any) -> tuple[ChatQwen, ScriptedTransport]:
    fake = ScriptedTransport(list(turns))
    return ChatQwen(model="ollama:qwen3:8b", transport=fake, **kwargs), fake


def test_no_answer_is_retried_without_thinking_on_invoke() -> None:
    model, fake = scripted(all_thinking(), turn("It is 391."), think=True)
    message = model.invoke("What is 17*23?")
    assert [r.think for r in fake.requests] == [True, False]
    assert fake.requests[1].sampling["temperature"] == 0.7, "non-thinking sampling on the retry"
    assert message.text == "It is 391."
    assert message.response_metadata["recovered"] == "no_think_retry"
    assert message.response_metadata["finish_reason"] == "stop"


async def test_no_answer_is_retried_on_ainvoke() -> None:
    model, fake = scripted(all_thinking(), turn("It is 391."), think=True)
    message = await model.ainvoke("What is 17*23?")
    assert [r.think for r in fake.requests] == [True, False]
    assert message.response_metadata["recovered"] == "no_think_retry"


def merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    return merged


def test_no_answer_stream_streams_the_retry_too() -> None:
    model, fake = scripted(all_thinking(), turn("It is 391.", pieces=2), think=True)
    merged = merge(list(model.stream("What is 17*23?")))
    assert [r.think for r in fake.requests] == [True, False]
    assert reasoning_text(merged).startswith("Let me think")
    assert merged.text == "It is 391."
    assert merged.response_metadata["recovered"] == "no_think_retry"
    assert merged.response_metadata["finish_reason"] == "stop"


async def test_no_answer_astream_streams_the_retry_too() -> None:
    model, fake = scripted(all_thinking(), turn("It is 391."), think=True)
    merged = merge([c async for c in model.astream("What is 17*23?")])
    assert [r.think for r in fake.requests] == [True, False]
    assert merged.text == "It is 391."
    assert merged.response_metadata["recovered"] == "no_think_retry"


def test_bigger_budget_policy_doubles_the_budget() -> None:
    model, fake = scripted(
        all_thinking(), turn("391"), think=True, thinking_budget=100, no_answer="bigger_budget"
    )
    message = model.invoke("What is 17*23?", max_tokens=300)
    assert [(r.think, r.thinking_budget) for r in fake.requests] == [(True, 100), (True, 200)]
    assert fake.requests[1].sampling["max_tokens"] == 600
    assert message.response_metadata["recovered"] == "bigger_budget_retry"


def test_recovery_is_attempted_once_and_can_be_off() -> None:
    model, fake = scripted(all_thinking(), all_thinking(), think=True)
    message = model.invoke("What is 17*23?")
    assert len(fake.requests) == 2
    assert message.text == "" and message.response_metadata["recovered"] == "no_think_retry"
    off, fake_off = scripted(all_thinking(), think=True, no_answer="off")
    assert "recovered" not in off.invoke("x").response_metadata
    assert len(fake_off.requests) == 1


def test_answers_and_tool_calls_are_not_retried() -> None:
    model, fake = scripted(turn("391", thinking="easy"), turn(tool=("calculator", {"e": "1"}), thinking="t"))
    model.invoke("a")
    model.invoke("b")
    assert len(fake.requests) == 2


def test_lacks_answer_and_retry_settings() -> None:
    assert lacks_answer([Delta(thinking="t"), Delta(finish_reason="length")])
    assert not lacks_answer([Delta(thinking="t"), Delta(text=" 4")])
    assert not lacks_answer([Delta(finish_reason="length")])
    assert retry_settings("off", 10, None) is None
    assert retry_settings("no_think", 10, None) == (
        {"think": False, "thinking_budget": None},
        "no_think_retry",
    )
    assert retry_settings("bigger_budget", None, None) == (
        {"think": False, "thinking_budget": None},
        "no_think_retry",
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hi there", None),
        ("What is the capital of France?", None),
        ("Summarise this paragraph in one line.", None),
        ("What is 17*23?", "math"),
        ("Find the derivative of f(x) = x^3 + 2x^2", "math"),
        ("Solve for x: 2x + 3 = 7", "math"),
        ("Write a Python function that reverses a list", "code"),
        ("Why does this raise?\n```py\nprint(x)\n```", "code"),
        ("Explain step by step how TCP handshakes work", "multi-step"),
        ("Compare SQLite and Postgres for a small app", "multi-step"),
        ("Compare tea and coffee for mornings", "multi-step"),
        ("First book the hotel, then email me the summary", "multi-step"),
        ("word " * 100, "long"),
    ],
)
def test_decide_think_table(text: str, reason: str | None) -> None:
    assert think_reason(text) == reason
    assert decide_think([HumanMessage(text)]) is (reason is not None)


def test_decide_think_reads_the_last_user_message() -> None:
    history: list[BaseMessage] = [
        SystemMessage("You are a calculator expert: solve equations."),
        HumanMessage("Solve x^2 = 4"),
        AIMessage("x = 2 or -2"),
        HumanMessage("thanks!"),
    ]
    assert decide_think(history) is False
    assert decide_think([]) is False


def test_auto_think_applies_the_rule_and_can_be_overridden() -> None:
    model, fake = scripted(turn("hi"), turn("391"), turn("ok"), think="auto")
    model.invoke("hello")
    model.invoke("What is 17*23?")
    model.invoke("hello", think_rule=lambda messages: True)
    assert [r.think for r in fake.requests] == [False, True, True]
