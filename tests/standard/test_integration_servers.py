"""LangChain's standard integration suite for chat models, run on ``ChatQwen`` against the loopback
Ollama (native API) and vLLM (OpenAI-compatible) servers.

The servers speak each dialect's real wire format (NDJSON with ``message.thinking``; SSE with
``reasoning`` deltas and tool-call argument fragments) and answer from
:func:`servers.standard.standard_script`, which honours ``tool_choice``, Ollama's ``format`` and
vLLM's ``response_format`` the way those servers do. The suite's skips, each not applicable here:
image, audio, PDF inputs and image/PDF tool messages (the Qwen text models this library targets
read text only; those tests also download their media from the internet); ``test_stream_time``
(a pytest-recording/VCR benchmark: our cassettes are our own format); and the per-call
``model=`` tests (see ``model_override_value``) run here, against each server's second model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from servers import OllamaServer, VLLMServer
from servers.standard import standard_script

from graphs.models.chat import ChatQwen


class _LoopbackSuite(ChatModelIntegrationTests):
    server_class: type[OllamaServer] | type[VLLMServer]
    uri: str

    @pytest.fixture(autouse=True)
    def _server(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        with self.server_class(standard_script, models=self.models) as server:
            url = server.url if self.server_class is OllamaServer else f"{server.url}/v1"
            monkeypatch.setenv("QWENGRAPH_BASE_URL", url)
            yield

    models: tuple[str, ...] = ()

    @property
    def chat_model_class(self) -> type[ChatQwen]:
        return ChatQwen

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": self.uri}

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True


class TestOllamaServer(_LoopbackSuite):
    server_class = OllamaServer
    uri = "ollama:qwen3:8b"
    models = ("qwen3:8b", "qwen3:0.6b")

    @property
    def model_override_value(self) -> str:
        return "qwen3:0.6b"


class TestVLLMServer(_LoopbackSuite):
    server_class = VLLMServer
    uri = "openai:Qwen/Qwen3-8B"
    models = ("Qwen/Qwen3-8B", "Qwen/Qwen3-0.6B")

    @property
    def model_override_value(self) -> str:
        return "Qwen/Qwen3-0.6B"
