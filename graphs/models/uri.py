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

import httpx

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
    if kind in IN_PROCESS:
        return url.rstrip("/")
    return check_base_url(url)


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, when it is a usable ``http(s)://host[:port][/path]`` URL.

    Raises:
        ConfigError: not http(s), no host, an unparsable host or port (``http://[::1``), or
            characters that cannot go into a URL (control characters, undecodable bytes).
    """
    text = url.strip()
    if not text.startswith(("http://", "https://")):
        raise ConfigError(f"invalid base URL {url!r}: it must start with http:// or https://")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError(f"invalid base URL {url!r}: it contains blanks or control characters")
    authority = text.split("://", 1)[1].split("/", 1)[0]
    if authority.count("[") != authority.count("]"):
        raise ConfigError(f"invalid base URL {url!r}: unbalanced '[' ']' around an IPv6 host")
    if not _is_utf8(text):
        raise ConfigError(f"invalid base URL {url!r}: it contains bytes that are not UTF-8")
    try:
        parsed = httpx.URL(text)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"invalid base URL {url!r}: {reason}") from None
    if not parsed.host:
        raise ConfigError(f"invalid base URL {url!r}: it names no host")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"invalid base URL {url!r}: port {port} is out of range (1-65535)")
    return text.rstrip("/")


def _is_utf8(text: str) -> bool:
    """False when ``text`` holds lone surrogates (how Python decodes undecodable bytes in argv)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
