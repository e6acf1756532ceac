"""Model URIs: ``ollama:qwen3:8b``, ``openai:Qwen/Qwen3-8B``, ``local:qwen2.5-coder-1.5b``,
``transformers:Qwen/Qwen3-8B``.

The part before the first colon names the server kind; the rest is the model name as that server
knows it (Ollama tags keep their own colon). Base URLs come from the caller, else
``QWENGRAPH_BASE_URL``, else the kind's default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from graphs.errors import ConfigError

Kind = Literal["ollama", "openai", "local", "transformers"]
KINDS: tuple[Kind, ...] = ("ollama", "openai", "local", "transformers")
IN_PROCESS: tuple[Kind, ...] = ("local", "transformers")
"""Kinds that run in this process on a raw-completion engine (llama.cpp, Transformers): qwengraph
renders the prompt, so prefills, forced tool calls and the small-model defaults apply to them."""
DEFAULT_BASE_URLS: dict[Kind, str] = {
    "ollama": "http://localhost:11434",
    "openai": "http://localhost:8000/v1",
    "local": "",
    "transformers": "",
}


@dataclass(frozen=True)
class ModelURI:
    """A parsed model URI."""

    kind: Kind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def parse_model_uri(uri: str) -> ModelURI:
    """Parse ``kind:name``; raise :class:`ConfigError` naming the accepted forms otherwise."""
    prefix, sep, name = uri.strip().partition(":")
    for kind in KINDS:
        if sep and kind == prefix and name.strip():
            return ModelURI(kind=kind, name=name.strip())
    raise ConfigError(
        f"invalid model {uri!r}: use ollama:<model> (e.g. ollama:qwen3:8b), "
        "openai:<model> (e.g. openai:Qwen/Qwen3-8B), local:<name-or-path.gguf> "
        "or transformers:<hub-id|dir|path.gguf>"
    )


def in_process(uri: str) -> bool:
    """Whether model URI ``uri`` runs in this process (``local:`` or ``transformers:``)."""
    return uri.strip().partition(":")[0] in IN_PROCESS


def resolve_base_url(kind: Kind, base_url: str | None = None) -> str:
    """The base URL to use: explicit, else ``QWENGRAPH_BASE_URL``, else the kind's default."""
    url = base_url or os.environ.get("QWENGRAPH_BASE_URL") or DEFAULT_BASE_URLS[kind]
    if kind not in IN_PROCESS and not url.startswith(("http://", "https://")):
        raise ConfigError(f"invalid base URL {url!r}: it must start with http:// or https://")
    return url.rstrip("/")
