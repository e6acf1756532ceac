"""The in-process local transport, with a fake engine (no llama.cpp, no weights)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import FakeEngine
from langchain_core.messages import HumanMessage

from graphs.errors import CassetteError, ConfigError
from graphs.models.cassette import record, replay
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text
from graphs.models.transports.base import ChatRequest
from graphs.models.transports.llama_settings import resolve_settings
from graphs.models.transports.local import FORCED_CALL_PREFILL, JSONEnd, LocalTransport
from tools import calculator

TOOLS = [{"type": "function", "function": {"name": "calculator", "description": "math", "parameters": {}}}]


def model(engine: FakeEngine, spec: str = "qwen2.5-coder-1.5b") -> ChatQwen:
    return ChatQwen(model=f"local:{spec}", transport=LocalTransport(spec, engine=engine))


def request(**kwargs: Any) -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": "What is 17*23?"}], **kwargs)


def test_prompt_is_qwen_chatml_with_tools() -> None:
    prompt = LocalTransport("x", engine=FakeEngine()).prompt(request(tools=TOOLS))
    assert prompt.startswith("<|im_start|>system\n")
    assert "<tools>" in prompt and '"name": "calculator"' in prompt
    assert prompt.endswith("<|im_start|>user\nWhat is 17*23?<|im_end|>\n<|im_start|>assistant\n")


def test_required_tool_choice_prefills_the_call_and_parses_it() -> None:
    """Generation stops once the forced call's JSON closes: what a small model adds is dropped."""
    engine = FakeEngine('calculator", "arguments": {"expression": "17*23"}}\nThe answer is 17*23 = 391.')
    transport = LocalTransport("x", engine=engine)
    deltas = list(transport.chat(request(tools=TOOLS, tool_choice="required")))
    assert engine.prompts[0].endswith("<|im_start|>assistant\n" + FORCED_CALL_PREFILL)
    calls = [c for d in deltas for c in d.tool_calls]
    assert [(c.name, c.args) for c in calls] == [("calculator", {"expression": "17*23"})]
    assert "".join(d.text for d in deltas) == ""
    assert deltas[-1].finish_reason == "tool_calls"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens < 20


def test_json_end_respects_strings_and_typographic_quotes() -> None:
    end = JSONEnd('{"name": "')
    assert end.feed('calc}", "arguments": {"e": "a\\"}"}') is None
    assert end.feed("}\ntrailing") == 1
    assert JSONEnd("{").feed("\u201cname\u201d: \u201c}\u201d}") == 12


@pytest.mark.parametrize(
    "completion",
    [
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "17*23"}}\n',
        '{"name": "calculator", "arguments": {"expression": "17*23"}}',
        '```json\n{"name": "calculator", "arguments": {"expression": "17*23"}}\n```',
    ],
    ids=["tag-stopped-at-close", "bare-json", "json-block"],
)
def test_small_model_call_forms(completion: str) -> None:
    message = model(FakeEngine(completion)).bind_tools([calculator]).invoke("What is 17*23?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("calculator", {"expression": "17*23"})]
    assert message.text == ""


def test_streaming_and_usage() -> None:
    chunks = list(model(FakeEngine("The answer is 391.")).stream("What is 17*23?"))
    assert len(chunks) > 3
    assert "".join(c.text for c in chunks) == "The answer is 391."
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert len(usage) == 1 and usage[0]["output_tokens"] == 6


def test_qwen3_gguf_thinking_is_split_and_no_think_prefills_empty_block() -> None:
    engine = FakeEngine("<think>\nMultiply.\n</think>\n\n391", "391")
    llm = model(engine, spec="/models/Qwen3-0.6B-Q8_0.gguf")
    message = llm.invoke("What is 17*23?", think=True)
    assert reasoning_text(message) == "Multiply." and message.text == "391"
    llm.invoke("What is 17*23?", think=False)
    assert engine.prompts[1].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_sampling_reaches_the_engine() -> None:
    engine = FakeEngine("ok")
    model(engine).invoke([HumanMessage("hi")], think=False, max_tokens=32)
    assert engine.sampling[0] == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 32}


async def test_async_runs_in_a_worker_thread() -> None:
    message = await model(FakeEngine("4")).ainvoke("2+2?")
    assert message.text == "4"


def test_record_then_replay_without_engine_or_weights(tmp_path) -> None:
    cassette = tmp_path / "local.json"
    with record(cassette):
        live = model(FakeEngine("The answer is 391.")).invoke("What is 17*23?")
    data = json.loads(cassette.read_text())
    (interaction,) = data["interactions"]
    assert interaction["request"]["path"] == "/local/completion"
    assert interaction["request"]["json"]["prompt"].endswith("<|im_start|>assistant\n")
    assert "".join(p["text"] for p in interaction["response"]["ndjson"]) == "The answer is 391."
    # no engine at all: a transport whose engine would have to load a model file that does not exist
    replaying = ChatQwen(
        model="local:/nonexistent/model.gguf", transport=LocalTransport("qwen2.5-coder-1.5b")
    )
    with replay(cassette):
        again = replaying.invoke("What is 17*23?")
    assert again.text == live.text == "The answer is 391."


def test_replay_drift_on_a_different_prompt(tmp_path) -> None:
    cassette = tmp_path / "local.json"
    with record(cassette):
        model(FakeEngine("391")).invoke("What is 17*23?")
    with pytest.raises(CassetteError, match="drifted"), replay(cassette):
        ChatQwen(model="local:x", transport=LocalTransport("qwen2.5-coder-1.5b")).invoke("What is 18*23?")


def test_missing_model_and_bad_threads_are_config_errors(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    with pytest.raises(Exception, match=r"qwengraph models install qwen2\.5-coder-1\.5b"):
        ChatQwen(model="local:qwen2.5-coder-1.5b").invoke("hi")
    monkeypatch.setenv("QWENGRAPH_THREADS", "zero")
    with pytest.raises(ConfigError, match="QWENGRAPH_THREADS"):
        resolve_settings()
    monkeypatch.setenv("QWENGRAPH_THREADS", "3")
    assert resolve_settings().n_threads == 3


def test_qwen25_models_get_plain_sampling_and_no_think_flag() -> None:
    engine = FakeEngine("ok", "ok")
    llm = model(engine)
    assert llm.build_request([HumanMessage("hi")], None, stream=False, think=True).think is False
    llm.invoke("hi", think=True)
    assert engine.sampling[0]["temperature"] == 0.7 and engine.sampling[0]["top_p"] == 0.8
    qwen3 = model(FakeEngine("ok"), spec="/m/qwen3-1.7b.gguf")
    assert (
        qwen3.build_request([HumanMessage("hi")], None, stream=False, think=True).sampling["temperature"]
        == 0.6
    )


def test_qwen3_thinking_tokens_are_counted_in_usage() -> None:
    engine = FakeEngine("<think>\nMultiply seventeen by twenty-three.\n</think>\n\n391")
    message = model(engine, spec="/models/Qwen3-0.6B-Q8_0.gguf").invoke("What is 17*23?", think=True)
    usage = message.usage_metadata
    assert usage is not None
    reasoning = usage["output_token_details"]["reasoning"]
    assert 0 < reasoning < usage["output_tokens"]
    plain = model(FakeEngine("391")).invoke("What is 17*23?").usage_metadata
    assert plain is not None and "output_token_details" not in plain  # Qwen2.5 does not think
