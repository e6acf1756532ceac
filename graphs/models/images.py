"""Images in messages: LangChain image blocks in, one neutral form out, each server's form on the wire.

Accepted in a user message's content list (every LangChain shape we know, so nothing is dropped):

- OpenAI's ``{"type": "image_url", "image_url": {"url": ...}}`` (or ``"image_url": "..."``);
- LangChain's ``{"type": "image", "url": ...}``, ``{"type": "image", "base64": ..., "mime_type": ...}``
  and the older ``{"type": "image", "source_type": "url" | "base64", "url" | "data": ...}``;
- ``{"type": "image", "path": ...}`` and ``file://`` URLs: a local file, read and encoded.

URLs may be ``http(s)://`` or ``data:<mime>;base64,...``. The neutral image is ``{"url": ...}`` or
``{"mime": ..., "data": <base64>}``. :func:`image_block` makes a block from a file (the CLI's
``--image``). Servers: OpenAI-compatible ones get ``image_url`` parts (data URIs for bytes); Ollama
gets base64 in the message's ``images`` (it cannot fetch URLs: a remote URL is refused there).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from graphs.errors import ConfigError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Larger files are refused: servers reject them, and a 20 MB base64 body is already a lot."""
LOCAL_IMAGES = (
    "the local transport runs text-only llama.cpp models and cannot take images; "
    "use a vision model through Ollama or an OpenAI-compatible server"
)
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


def is_image_block(block: object) -> bool:
    """Whether a content block is an image in any accepted shape."""
    return isinstance(block, Mapping) and block.get("type") in ("image", "image_url")


def neutral_image(block: Mapping[str, Any]) -> dict[str, str]:
    """One image block as ``{"url"}`` or ``{"mime", "data"}`` (files read, data URIs decoded).

    Raises:
        ConfigError: a block without an image, an unreadable or oversized file, bad base64.
    """
    if block.get("type") == "image_url":
        inner = block.get("image_url")
        url = inner.get("url") if isinstance(inner, Mapping) else inner
        return _from_url(str(url or ""))
    if isinstance(block.get("path"), str):
        return read_image(Path(block["path"]))
    data = block.get("base64") or (block.get("data") if block.get("source_type") == "base64" else None)
    if isinstance(data, str) and data:
        mime = str(block.get("mime_type") or "image/png")
        return {"mime": mime, "data": _checked_base64(data)}
    url = block.get("url")
    if isinstance(url, str) and url:
        return _from_url(url)
    raise ConfigError(f"an image block without an image (no url, path or base64 data): {_short(block)}")


def read_image(path: Path) -> dict[str, str]:
    """A local image file as ``{"mime", "data"}``.

    Raises:
        ConfigError: missing, unreadable, too large, or not an image type we know.
    """
    mime = mimetypes.guess_type(path.name)[0] or ""
    if mime not in _IMAGE_TYPES:
        raise ConfigError(f"{path}: not an image file this can send (png, jpeg, webp, gif or bmp)")
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ConfigError(
                f"{path}: {size} bytes is larger than the {MAX_IMAGE_BYTES} allowed for an image"
            )
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read image {path}: {err.strerror or err}") from None
    return {"mime": mime, "data": base64.b64encode(raw).decode("ascii")}


def image_block(path: str | Path) -> dict[str, Any]:
    """A LangChain image content block holding the file's bytes (for ``HumanMessage`` content)."""
    image = read_image(Path(path))
    return {"type": "image", "base64": image["data"], "mime_type": image["mime"]}


def data_url(image: Mapping[str, str]) -> str:
    """The image as a URL: its own, or a ``data:`` URI."""
    return image["url"] if "url" in image else f"data:{image['mime']};base64,{image['data']}"


def image_bytes_base64(image: Mapping[str, str], *, server: str) -> str:
    """The image's base64 data, for servers that take bytes only (``server`` names it in errors).

    Raises:
        ConfigError: the image is a remote URL.
    """
    if "data" in image:
        return image["data"]
    raise ConfigError(
        f"{server} takes image data, not URLs: download {image['url']} and pass the file "
        "(e.g. qwengraph run --image FILE)"
    )


def _from_url(url: str) -> dict[str, str]:
    if url.startswith("data:"):
        header, sep, payload = url[5:].partition(",")
        if not sep or not header.endswith(";base64"):
            raise ConfigError("an image data URI must be data:<mime>;base64,<data>")
        return {"mime": header.removesuffix(";base64") or "image/png", "data": _checked_base64(payload)}
    if url.startswith("file://"):
        return read_image(Path(unquote(urlparse(url).path)))
    if url.startswith(("http://", "https://")):
        return {"url": url}
    raise ConfigError(f"unsupported image URL {url[:60]!r}: use http(s)://, data: or file://")


def _checked_base64(data: str) -> str:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("image data is not valid base64") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise ConfigError(f"an image of {len(raw)} bytes is larger than the {MAX_IMAGE_BYTES} allowed")
    return data


def _short(block: Mapping[str, Any]) -> str:
    return str({k: (str(v)[:40] if isinstance(v, str) else v) for k, v in block.items()})[:160]
