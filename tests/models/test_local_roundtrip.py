"""The local transport renders an agent turn exactly as the official template does, thinking included.

A fake engine records the prompt the transport renders for a conversation whose current turn holds
the model's own thinking and tool calls; that prompt must equal the official Qwen3 / Qwen3.5 /
Qwen3.6 template rendering of the same conversation (tests/fixtures/chat_templates).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.profiles import QWEN3_CODER, get_profile
from graphs.models.transports.engine import Piece
from graphs.models.transports.local import LocalTransport

TEMPLATES = Path(__file__).resolve().parent.parent / "fixtures" / "chat_templates"
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look up a value.",
        "parameters": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
    },
}


class RecordingEngine:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        self.prompts.append(prompt)
        yield Piece(text="done", finish_reason="stop", prompt_tokens=1, completion_tokens=1)


def official(template: str, messages: list[dict[str, Any]], **kwargs: Any) -> str:
    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda v, **kw: json.dumps(v, ensure_ascii=False, **kw)
    env.globals["raise_exception"] = raise_exception
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return env.from_string(text).render(messages=messages, tools=[TOOL], add_generation_prompt=True, **kwargs)


CONVERSATION = [
    SystemMessage("Use tools."),
    HumanMessage("Earlier question"),
    AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "old thoughts"},
            {"type": "text", "text": "Earlier answer"},
        ]
    ),
    HumanMessage("Look up a, then b."),
    AIMessage(
        content=[{"type": "reasoning", "reasoning": "First a."}],
        tool_calls=[{"name": "lookup", "args": {"key": "a"}, "id": "1"}],
    ),
    ToolMessage("1", tool_call_id="1", name="lookup"),
    AIMessage(
        content=[{"type": "reasoning", "reasoning": "Now b."}, {"type": "text", "text": "Checking b."}],
        tool_calls=[{"name": "lookup", "args": {"key": "b"}, "id": "2"}],
    ),
    ToolMessage("2", tool_call_id="2", name="lookup"),
]
HF = [  # the same conversation as Hugging Face messages: every assistant message with its thinking
    {"role": "system", "content": "Use tools."},
    {"role": "user", "content": "Earlier question"},
    {"role": "assistant", "content": "Earlier answer", "reasoning_content": "old thoughts"},
    {"role": "user", "content": "Look up a, then b."},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "First a.",
        "tool_calls": [{"type": "function", "function": {"name": "lookup", "arguments": {"key": "a"}}}],
    },
    {"role": "tool", "content": "1"},
    {
        "role": "assistant",
        "content": "Checking b.",
        "reasoning_content": "Now b.",
        "tool_calls": [{"type": "function", "function": {"name": "lookup", "arguments": {"key": "b"}}}],
    },
    {"role": "tool", "content": "2"},
]


@pytest.mark.parametrize(
    ("profile", "template", "kwargs"),
    [
        ("qwen3", "qwen3.jinja", {}),
        ("qwen3.5", "qwen3.5-35b-a3b.jinja", {}),
        ("qwen3.6", "qwen3.6-35b-a3b-unsloth.jinja", {}),
        ("qwen3.6", "qwen3.6-35b-a3b-unsloth.jinja", {"preserve_thinking": True}),
    ],
)
def test_local_prompt_is_the_official_rendering_of_the_agent_turn(
    profile: str, template: str, kwargs: dict[str, Any]
) -> None:
    engine = RecordingEngine()
    transport = LocalTransport("model.gguf", engine=engine, profile=get_profile(profile))
    llm = ChatQwen(model="local:model.gguf", transport=transport, **kwargs)
    llm.bind_tools([TOOL]).invoke(CONVERSATION, think=True)
    expected = official(template, HF, enable_thinking=True, **kwargs)
    assert engine.prompts == [expected]
    assert "<think>\nFirst a.\n</think>" in expected and "<think>\nNow b.\n</think>" in expected
    assert ("old thoughts" in expected) is bool(kwargs.get("preserve_thinking"))


def test_local_refuses_templates_it_does_not_reproduce_and_images() -> None:
    coder = ChatQwen(
        model="local:coder.gguf",
        transport=LocalTransport("coder.gguf", engine=RecordingEngine(), profile=QWEN3_CODER),
    )
    with pytest.raises(ConfigError, match="does not reproduce"):
        coder.invoke("hi")
    vision = ChatQwen(
        model="local:q.gguf",
        transport=LocalTransport("q.gguf", engine=RecordingEngine(), profile=get_profile("qwen3.5")),
    )
    image = HumanMessage(
        content=[{"type": "text", "text": "what?"}, {"type": "image", "url": "http://x/y.png"}]
    )
    with pytest.raises(ConfigError, match="cannot take images"):
        vision.invoke([image])
