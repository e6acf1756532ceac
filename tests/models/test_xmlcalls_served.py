"""A real Qwen3.6 XML tool call that a server returned as text becomes a tool call (sglang#31763).

The reporter's SGLang ran Qwen3.6-27B without a tool-call parser, so the model's
``<tool_call><function=…><parameter=…>`` block arrived in the message text. A loopback server of the
OpenAI dialect answers with exactly that text here; ChatQwen must hand the agent a typed call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.tools import tool
from servers import Turn, VLLMServer

from graphs.models.chat import ChatQwen
from graphs.models.qwen import parse_text_tool_calls
from graphs.models.transports.assemble import tool_schemas

Wire = Callable[[str], dict[str, Any]]
RECORDING = "sglang_qwen3.6-27b-w8a8_xml-call-in-content_issue31763.json"


@tool
def get_highest_load_line(limit: int) -> str:
    """The production lines with the highest load, at most ``limit`` of them."""
    return f"{limit} lines"


def test_the_reported_text_parses_to_one_typed_call(wire: Wire) -> None:
    recording = wire(RECORDING)
    found = parse_text_tool_calls(recording["response"]["raw_text"], tool_schemas(recording["tools"]))
    assert [(c.name, c.args) for c in found.calls] == [("get_highest_load_line", {"limit": 10})]
    assert found.text == "" and found.bad == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_server_without_a_tool_parser_still_gives_the_agent_the_call(wire: Wire, stream: bool) -> None:
    raw = wire(RECORDING)["response"]["raw_text"]
    with VLLMServer([Turn(content=raw)], models=["Qwen/Qwen3.6-27B"]) as server:
        model = ChatQwen(model="openai:Qwen/Qwen3.6-27B", base_url=server.base_url, stream=stream)
        reply = model.bind_tools([get_highest_load_line]).invoke("Which lines carry the most load?")
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [("get_highest_load_line", {"limit": 10})]
    assert "<function=" not in reply.text and "</tool_call>" not in reply.text
