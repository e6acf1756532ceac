"""LangChain's own standard unit suite for chat models (``langchain-tests``), run on ``ChatQwen``.

These tests are LangChain's, not ours: they check the constructor with the standard parameters
(``temperature``, ``max_tokens``, ``timeout``, ``stop``, ``max_retries``, ``streaming``), reading the
API key from the environment, ``bind_tools`` with ``tool_choice="any"``, ``with_structured_output``
for every method and ``strict`` value, the tracing parameters, and serialisation.
"""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from graphs.models.chat import ChatQwen


class TestChatQwenUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatQwen]:
        return ChatQwen

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "openai:Qwen/Qwen3-8B", "base_url": "http://127.0.0.1:8000/v1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        env = {"QWENGRAPH_API_KEY": "sk-from-env", "QWENGRAPH_BASE_URL": "http://127.0.0.1:9/v1"}
        return env, {"model": "openai:Qwen/Qwen3-8B"}, {"api_key": "sk-from-env"}

    @property
    def supports_json_mode(self) -> bool:
        return True
