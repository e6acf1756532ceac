"""Text embedders for vector search: one protocol, one small class per source, chosen by a spec string.

=========================================  ==========================================================
spec                                       embedder
=========================================  ==========================================================
``wordllama`` (the default)                WordLlama's 256-dimension model *bundled in the wordllama
                                           wheel* (16 MB of static token embeddings, average-pooled):
                                           offline, no hub, ~1 MB/s on one core
``none``                                   no vectors: BM25 only
``ollama:MODEL[@URL]``                     an Ollama server's ``/api/embed`` (URL: ``OLLAMA_HOST``,
                                           else ``http://127.0.0.1:11434``)
``openai:MODEL@URL``                       an OpenAI-compatible ``/v1/embeddings`` (vLLM serving
                                           Qwen3-Embedding, llama.cpp server, LM Studio...); the key
                                           from ``QWENGRAPH_API_KEY`` or ``OPENAI_API_KEY``
``fastembed:MODEL[@DIR]``                  a fastembed ONNX model, from ``DIR`` when given (its files
                                           on disk), else fastembed's own download and cache
``sentence-transformers:NAME_OR_DIR``      a sentence-transformers model (needs torch)
=========================================  ==========================================================

Every embedder returns L2-normalised float32 rows, so cosine similarity is a dot product. Failures
(a dead server, a missing package, a model that cannot be loaded) raise :class:`EmbedderError`
with one sentence saying what to do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt

from tools.errors import ToolError, ToolInputError

__all__ = [
    "DEFAULT_EMBEDDER",
    "SIMILARITY_FLOORS",
    "Embedder",
    "EmbedderError",
    "FastEmbedEmbedder",
    "OllamaEmbedder",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "WordLlamaEmbedder",
    "make_embedder",
    "normalise",
]

DEFAULT_EMBEDDER = "wordllama"
SIMILARITY_FLOORS = {DEFAULT_EMBEDDER: 0.2}
"""Cosine similarity below which a chunk found by its vector alone is noise, per embedder (measured on
WordLlama: unrelated questions reach 0.10-0.19 on our fixtures, answering passages 0.22-0.46).
Other embedders have no floor unless the index is given one."""
Vectors = npt.NDArray[np.float32]


class EmbedderError(ToolError):
    """The embedder cannot run (missing package or model files, unreachable or failing server)."""


class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed size.

    ``spec`` is what the index records, so the same embedder is rebuilt for queries later.
    """

    @property
    def spec(self) -> str:
        """The spec string that rebuilds this embedder (see :func:`make_embedder`)."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text."""
        ...


def normalise(rows: Any) -> Vectors:
    """``rows`` as a float32 matrix with unit-length rows (zero rows stay zero)."""
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2:
        raise EmbedderError(f"the embedder returned an array of shape {matrix.shape}, not one row per text")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Vectors = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return unit


class WordLlamaEmbedder:
    """WordLlama's bundled ``l2_supercat`` model (256 dimensions), loaded on first use.

    The wheel ships the weights and the tokenizer; they are loaded from the package directory with
    downloads disabled, so this never touches the network.
    """

    spec = DEFAULT_EMBEDDER

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import wordllama  # noqa: PLC0415 - 1 s to load: only when vectors are needed
                except ImportError:
                    raise EmbedderError(
                        "the default embedder needs the wordllama package: pip install wordllama"
                    ) from None
                bundled = Path(wordllama.__file__).parent  # weights/ and tokenizers/ live here
                try:
                    self._model = wordllama.WordLlama.load(cache_dir=bundled, disable_download=True)
                except (OSError, ValueError) as err:
                    raise EmbedderError(f"cannot load wordllama's bundled model: {err}") from None
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        return normalise(self._load().embed(list(texts), norm=False))


def _post(url: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> Any:
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
    except httpx.HTTPError as err:
        raise EmbedderError(f"embedding server at {url} is unreachable: {err}") from None
    if response.status_code >= 400:
        raise EmbedderError(
            f"embedding server at {url} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        return response.json()
    except ValueError:
        raise EmbedderError(f"embedding server at {url} did not answer JSON") from None


def _check_rows(rows: Any, count: int, url: str) -> Vectors:
    if not isinstance(rows, list) or len(rows) != count:
        raise EmbedderError(f"embedding server at {url} returned {len(rows) if isinstance(rows, list) else 0}"
                            f" vectors for {count} texts")  # fmt: skip
    try:
        return normalise(rows)
    except (TypeError, ValueError):
        raise EmbedderError(f"embedding server at {url} returned vectors that are not numbers") from None


class OllamaEmbedder:
    """An Ollama server's native ``POST /api/embed`` (``{"model", "input": [...]}``)."""

    def __init__(self, model: str, base_url: str | None = None, *, timeout: float = 120.0, batch: int = 64):
        self.model = model
        self.base_url = (base_url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434").rstrip("/")
        if "://" not in self.base_url:
            self.base_url = f"http://{self.base_url}"
        self.timeout = timeout
        self.batch = batch

    @property
    def spec(self) -> str:
        return f"ollama:{self.model}@{self.base_url}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        url = f"{self.base_url}/api/embed"
        parts = []
        for start in range(0, len(texts), self.batch):
            group = list(texts[start : start + self.batch])
            body = _post(url, {"model": self.model, "input": group}, {}, self.timeout)
            rows = body.get("embeddings") if isinstance(body, dict) else None
            parts.append(_check_rows(rows, len(group), url))
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


class OpenAIEmbedder:
    """An OpenAI-compatible ``POST /v1/embeddings`` (``{"model", "input"}`` -> ``data[i].embedding``)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        batch: int = 64,
    ):
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or os.environ.get("QWENGRAPH_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.batch = batch

    @property
    def spec(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        url = f"{self.base_url}/embeddings"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        parts = []
        for start in range(0, len(texts), self.batch):
            group = list(texts[start : start + self.batch])
            body = _post(url, {"model": self.model, "input": group}, headers, self.timeout)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise EmbedderError(f"embedding server at {url} answered without a 'data' list")
            ordered = sorted(data, key=lambda d: int(d.get("index", 0)))
            parts.append(_check_rows([d.get("embedding") for d in ordered], len(group), url))
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


class FastEmbedEmbedder:
    """A fastembed ``TextEmbedding`` model; ``model_dir`` points at its files on disk (no download).

    fastembed fetches unknown models from a hub on first use, which fails without internet: give
    ``model_dir`` (a directory with the ONNX model and ``tokenizer.json``) to run fully offline.
    """

    def __init__(self, model: str, model_dir: str | None = None):
        self.model = model
        self.model_dir = model_dir
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> str:
        return f"fastembed:{self.model}" + (f"@{self.model_dir}" if self.model_dir else "")

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from fastembed import TextEmbedding  # noqa: PLC0415 - optional package
                except ImportError:
                    raise EmbedderError("fastembed is not installed: pip install fastembed") from None
                options: dict[str, Any] = {"specific_model_path": self.model_dir} if self.model_dir else {}
                try:
                    self._model = TextEmbedding(model_name=self.model, **options)
                except Exception as err:  # noqa: BLE001 - fastembed raises many kinds; say which model
                    raise EmbedderError(f"fastembed cannot load {self.model!r}: {err}") from None
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        return normalise(list(self._load().embed(list(texts))))


class SentenceTransformerEmbedder:
    """A sentence-transformers model by name or directory (the package and torch must be installed)."""

    def __init__(self, model: str):
        self.model = model
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> str:
        return f"sentence-transformers:{self.model}"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - optional
                except ImportError:
                    raise EmbedderError(
                        "sentence-transformers is not installed: pip install sentence-transformers"
                    ) from None
                try:
                    self._model = SentenceTransformer(self.model)
                except Exception as err:  # noqa: BLE001 - hub, torch and file errors alike
                    raise EmbedderError(f"sentence-transformers cannot load {self.model!r}: {err}") from None
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        return normalise(self._load().encode(list(texts), normalize_embeddings=True))


_SHARED: dict[str, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def make_embedder(spec: str | None) -> Embedder | None:
    """The embedder a spec names (see the module docstring); ``None`` for ``"none"``.

    In-process models are shared per spec, so an index, the search tool and ``recall`` load them once.

    Raises:
        ToolInputError: the spec names no known embedder or lacks its model or URL.
    """
    text = (spec or DEFAULT_EMBEDDER).strip()
    kind, _, rest = text.partition(":")
    model, _, where = rest.partition("@")
    if text == "none":
        return None
    if text == DEFAULT_EMBEDDER:
        with _SHARED_LOCK:
            return _SHARED.setdefault(text, WordLlamaEmbedder())
    if kind in {"ollama", "openai", "fastembed", "sentence-transformers"} and not model:
        raise ToolInputError(f"embedder {text!r} names no model: write {kind}:MODEL")
    if kind == "ollama":
        return OllamaEmbedder(model, where or None)
    if kind == "openai":
        base = where or os.environ.get("QWENGRAPH_EMBED_BASE_URL", "")
        if not base:
            raise ToolInputError(
                f"embedder {text!r} needs the server: write openai:MODEL@http://host:port/v1"
                " (or set QWENGRAPH_EMBED_BASE_URL)"
            )
        return OpenAIEmbedder(model, base)
    if kind == "fastembed":
        with _SHARED_LOCK:
            return _SHARED.setdefault(text, FastEmbedEmbedder(model, where or None))
    if kind == "sentence-transformers":
        with _SHARED_LOCK:
            return _SHARED.setdefault(text, SentenceTransformerEmbedder(rest))
    raise ToolInputError(
        f"unknown embedder {text!r}: use wordllama, none, ollama:MODEL, openai:MODEL@URL, "
        "fastembed:MODEL[@DIR] or sentence-transformers:NAME_OR_DIR"
    )
