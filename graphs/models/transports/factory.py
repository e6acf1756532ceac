"""Build the transport a model URI names: Ollama native, OpenAI-compatible, or in process."""

from __future__ import annotations

import os
from typing import Any

from graphs.models.profiles import Profile
from graphs.models.transports.base import Transport
from graphs.models.transports.ollama import OllamaTransport
from graphs.models.transports.openai import OpenAITransport
from graphs.models.transports.retry import RetryPolicy
from graphs.models.uri import parse_model_uri, resolve_base_url


def make_transport(
    model: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    retries: int = 3,
    timeout: float = 300.0,
    think_switch: Any = "template_kwargs",
    expect_thinking: bool = False,
    reasoning_field: Any = "reasoning",
    profile: Profile | None = None,
    engine: dict[str, Any] | None = None,
) -> Transport:
    """The transport for ``model`` (a URI), with ChatQwen's connection settings.

    ``profile`` (a profile the user named) goes to the local transport, which otherwise detects
    it from the GGUF file; servers need none (ChatQwen applies the profile to each request).
    ``engine`` holds llama.cpp settings for ``local:`` models (see ``llama_settings.settings_from``);
    ``transformers:`` models take its thread count.
    """
    uri = parse_model_uri(model)
    retry = RetryPolicy(attempts=retries, read_timeout=timeout)
    if uri.kind == "ollama":
        return OllamaTransport(
            resolve_base_url("ollama", base_url), retry=retry, expect_thinking=expect_thinking
        )
    if uri.kind == "openai":
        key = api_key or os.environ.get("QWENGRAPH_API_KEY") or os.environ.get("OPENAI_API_KEY")
        return OpenAITransport(
            resolve_base_url("openai", base_url),
            api_key=key,
            retry=retry,
            think_switch=think_switch,
            expect_thinking=expect_thinking,
            reasoning_field=reasoning_field,
        )
    from graphs.models.transports.llama_settings import settings_from  # noqa: PLC0415
    from graphs.models.transports.local import LocalTransport  # noqa: PLC0415 - optional extra

    if uri.kind == "transformers":
        from graphs.models.transports.transformers_engine import TransformersEngine  # noqa: PLC0415

        hf = TransformersEngine(uri.name, threads=settings_from(engine).n_threads)
        family = None if profile is not None else hf.family
        return LocalTransport(str(uri), engine=hf, family=family, profile=profile)
    return LocalTransport(uri.name, settings=settings_from(engine), profile=profile)
