"""``tool_choice`` in every LangChain form, enforced on every transport (no silent no-ops)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import FakeEngine
from servers import OllamaServer, Turn, VLLMServer

from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.choice import Choice, call_schema, parse_tool_choice
from graphs.models.transports.base import ChatRequest
from graphs.models.transports.local import FORCED_CALL_PREFILL, LocalTransport
from graphs.models.transports.ollama import ollama_kwargs
from graphs.models.transports.openai import OpenAITransport
from tools import calculator

NAMES = ["calculator", "weather"]
TOOLS = [
    {"type": "function", "function": {"name": "calculator", "description": "math", "parameters": {}}},
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "weather at a place",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("auto", Choice("auto")),
        ("none", Choice("none")),
        (False, Choice("none")),
        ("any", Choice("required")),
        ("required", Choice("required")),
        ({"type": "any"}, Choice("required")),
        ("weather", Choice("required", "weather")),
        ({"type": "function", "function": {"name": "weather"}}, Choice("required", "weather")),
        ({"type": "tool", "name": "calculator"}, Choice("required", "calculator")),
    ],
)
def test_every_langchain_form_is_read(given: Any, expected: Choice | None) -> None:
    assert parse_tool_choice(given, NAMES) == expected


def test_true_forces_the_only_tool_or_any_of_several() -> None:
    assert parse_tool_choice(True, ["weather"]) == Choice("required", "weather")
    assert parse_tool_choice(True, NAMES) == Choice("required")


@pytest.mark.parametrize("bad", ["get_time", {"type": "function"}, 3, {"type": "function", "function": {}}])
def test_unreadable_forms_and_unknown_names_are_config_errors(bad: Any) -> None:
    with pytest.raises(ConfigError, match="tool_choice"):
        parse_tool_choice(bad, NAMES)


def request(choice: str | None, name: str | None = None, **kwargs: Any) -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        tool_choice=choice,  # type: ignore[arg-type]
        tool_name=name,
        **kwargs,
    )


def test_openai_compatible_servers_get_their_own_field() -> None:
    transport = OpenAITransport("http://127.0.0.1:1/v1")
    assert transport.payload(request("required"))["tool_choice"] == "required"
    assert transport.payload(request("none"))["tool_choice"] == "none"
    assert transport.payload(request("required", "weather"))["tool_choice"] == {
        "type": "function",
        "function": {"name": "weather"},
    }
    assert "tool_choice" not in transport.payload(request(None))


def test_ollama_forces_a_call_through_format_and_leaves_tools_out_for_none() -> None:
    """Ollama has no tool_choice: "required" used to be dropped silently."""
    forced = ollama_kwargs(request("required"))
    assert forced["tools"] == TOOLS
    assert forced["format"]["anyOf"][1]["properties"]["name"] == {"type": "string", "enum": ["weather"]}
    named = ollama_kwargs(request("required", "weather"))
    assert named["format"] == call_schema(TOOLS, "weather")
    assert named["format"]["properties"]["arguments"]["required"] == ["city"]
    assert "tools" not in ollama_kwargs(request("none")) and "format" not in ollama_kwargs(request("none"))
    assert "format" not in ollama_kwargs(request("auto"))


def test_local_named_choice_prefills_the_tool_name() -> None:
    engine = FakeEngine('{"city": "Paris"}}\nIt is sunny.')
    deltas = list(LocalTransport("x", engine=engine).chat(request("required", "weather")))
    assert engine.prompts[0].endswith('<|im_start|>assistant\n<tool_call>\n{"name": "weather", "arguments": ')
    assert [(c.name, c.args) for d in deltas for c in d.tool_calls] == [("weather", {"city": "Paris"})]
    assert deltas[-1].finish_reason == "tool_calls"


def test_local_none_renders_no_tools_but_keeps_past_calls() -> None:
    """``tool_choice="none"`` used to render the tools anyway, inviting a call."""
    engine = FakeEngine("It is 391.")
    history = [
        {"role": "user", "content": "17*23?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "name": "calculator", "args": {}}]},
        {"role": "tool", "content": "391", "tool_call_id": "1", "name": "calculator"},
    ]
    transport = LocalTransport("x", engine=engine)
    list(transport.chat(ChatRequest(model="m", messages=history, tools=TOOLS, tool_choice="none")))
    assert "<tools>" not in engine.prompts[0]
    assert '<tool_call>\n{"name": "calculator"' in engine.prompts[0]
    assert not engine.prompts[0].endswith(FORCED_CALL_PREFILL)


def test_local_thinking_model_thinks_before_a_forced_call() -> None:
    """Qwen3 GGUF: the thinking is free, only the answer is the forced call."""
    engine = FakeEngine("Paris is a city, so weather.\n</think>", 'weather", "arguments": {"city": "Paris"}}')
    transport = LocalTransport("qwen3-1.7b", engine=engine, family="qwen3")
    deltas = list(transport.chat(request("required", think=True)))
    assert engine.prompts[0].endswith("<|im_start|>assistant\n<think>\n")
    assert engine.prompts[1] == (
        engine.prompts[0] + "Paris is a city, so weather.\n</think>\n\n" + FORCED_CALL_PREFILL
    )
    assert "".join(d.thinking for d in deltas).strip() == "Paris is a city, so weather."
    assert [(c.name, c.args) for d in deltas for c in d.tool_calls] == [("weather", {"city": "Paris"})]
    usage = deltas[-1].usage
    assert usage is not None and usage.thinking_tokens and usage.completion_tokens > usage.thinking_tokens


@pytest.mark.parametrize("kind", ["ollama", "vllm"])
@pytest.mark.parametrize(
    "choice", ["any", True, "weather", {"type": "function", "function": {"name": "weather"}}]
)
def test_every_form_reaches_both_servers(kind: str, choice: Any) -> None:
    from langchain_core.tools import tool

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    tools = [weather] if choice is True else [calculator, weather]
    if kind == "ollama":  # under a format schema, Ollama's model writes the call as JSON content
        turn = Turn(content=json.dumps({"name": "weather", "arguments": {"city": "Paris"}}))
    else:
        turn = Turn(tool_calls=[("weather", {"city": "Paris"})])
    server_cls = OllamaServer if kind == "ollama" else VLLMServer
    with server_cls([turn]) as server:
        url = server.url if kind == "ollama" else f"{server.url}/v1"
        uri = "ollama:qwen3:8b" if kind == "ollama" else "openai:Qwen/Qwen3-8B"
        message = ChatQwen(model=uri, base_url=url).bind_tools(tools, tool_choice=choice).invoke("Paris?")
        body = server.chat_requests[0]
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("weather", {"city": "Paris"})]
    if kind == "ollama":
        names = json.dumps(body["format"])
        assert '"enum": ["weather"]' in names
        assert ("calculator" in names) == (choice == "any")
    else:
        expected = "required" if choice == "any" else {"type": "function", "function": {"name": "weather"}}
        assert body["tool_choice"] == expected
