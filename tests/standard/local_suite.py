"""The configuration of LangChain's integration suite on the real local model (shared by the
replayed run in the default suite and the ``live`` run on the engine)."""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import ChatModelIntegrationTests

from graphs.models.chat import ChatQwen

MODEL = "local:qwen2.5-coder-1.5b"
SETTINGS: dict[str, Any] = {"model": MODEL, "temperature": 0.0, "max_tokens": 80}
"""Greedy decoding (so a replay asks for exactly what was recorded) and short answers: the suite
checks shapes, not prose, and every token costs time on 2 cores."""


class LocalSuite(ChatModelIntegrationTests):
    """Qwen2.5-Coder-1.5B on llama.cpp. Skips, each not applicable to this model: image, audio,
    PDF inputs and image/PDF tool messages (a text-only model; those tests also download their
    media), reasoning token counts (Qwen2.5 does not think) and ``test_stream_time`` (a VCR
    benchmark; our recordings are our own cassettes)."""

    @property
    def chat_model_class(self) -> type[ChatQwen]:
        return ChatQwen

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return dict(SETTINGS)

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "qwen2.5-coder-0.5b"  # the other installed model: another engine behind the same ChatQwen
