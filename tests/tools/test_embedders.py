"""Embedders: the bundled default, server endpoints on loopback servers, optional packages, specs."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tools.errors import ToolInputError
from tools.retrieval import Index, make_embedder
from tools.retrieval.embedders import (
    EmbedderError,
    FastEmbedEmbedder,
    OllamaEmbedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
    WordLlamaEmbedder,
)

DOCS = Path(__file__).resolve().parent.parent / "fixtures" / "docs"
DIMS = 32


def hashed(text: str) -> list[float]:
    """A deterministic bag-of-words vector (what the fake servers answer)."""
    row = [0.0] * DIMS
    for word in text.lower().split():
        row[int(hashlib.sha256(word.strip(".,?!").encode()).hexdigest(), 16) % DIMS] += 1.0
    return row


class EmbedServer:
    """A loopback server for Ollama's ``/api/embed`` and OpenAI's ``/v1/embeddings``."""

    def __init__(self, *, status: int = 200, broken: str | None = None) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body, dict(self.headers)))
                texts = body["input"]
                if self.path == "/api/embed":
                    answer: Any = {"model": body["model"], "embeddings": [hashed(t) for t in texts]}
                else:  # OpenAI: data in any order, each with its index
                    data = [
                        {"object": "embedding", "index": i, "embedding": hashed(t)}
                        for i, t in enumerate(texts)
                    ]
                    answer = {"object": "list", "data": list(reversed(data)), "model": body["model"]}
                if broken == "count":
                    answer = {"embeddings": [hashed("x")], "data": [{"index": 0, "embedding": hashed("x")}]}
                payload = b"not json" if broken == "json" else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[EmbedServer]:
    srv = EmbedServer()
    yield srv
    srv.close()


def test_the_bundled_default_works_offline_and_separates_meaning() -> None:
    embedder = make_embedder(None)
    assert isinstance(embedder, WordLlamaEmbedder) and embedder.spec == "wordllama"
    assert make_embedder("wordllama") is embedder  # loaded once per process
    rows = embedder.embed(
        [
            "Customers get a full refund within 30 days.",
            "Can I get my money back?",
            "Descale the coffee machine.",
        ]
    )
    assert rows.shape == (3, 256) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert rows[0] @ rows[1] > rows[0] @ rows[2] + 0.1  # the paraphrase is closer than the unrelated text
    assert np.all(embedder.embed([""]) == 0)  # no words: a zero vector, not NaN


def test_ollama_embed_endpoint(server: EmbedServer) -> None:
    embedder = make_embedder(f"ollama:nomic-embed-text@{server.url}")
    assert isinstance(embedder, OllamaEmbedder) and embedder.spec == f"ollama:nomic-embed-text@{server.url}"
    embedder.batch = 2
    rows = embedder.embed(["alpha beta", "gamma", "alpha"])
    assert rows.shape == (3, DIMS)
    assert [(path, body["model"], len(body["input"])) for path, body, _ in server.requests] == [
        ("/api/embed", "nomic-embed-text", 2),
        ("/api/embed", "nomic-embed-text", 1),
    ]
    expected = np.asarray(hashed("alpha"), dtype=np.float32)
    assert np.allclose(rows[2], expected / np.linalg.norm(expected))


def test_ollama_host_from_the_environment(monkeypatch: pytest.MonkeyPatch, server: EmbedServer) -> None:
    monkeypatch.setenv("OLLAMA_HOST", server.url.removeprefix("http://"))
    embedder = make_embedder("ollama:bge-m3")
    assert isinstance(embedder, OllamaEmbedder) and embedder.base_url == server.url
    assert embedder.embed(["one"]).shape == (1, DIMS)


def test_openai_embeddings_endpoint_keeps_order_and_sends_the_key(
    monkeypatch: pytest.MonkeyPatch, server: EmbedServer
) -> None:
    monkeypatch.setenv("QWENGRAPH_API_KEY", "sk-test")
    embedder = make_embedder(f"openai:Qwen/Qwen3-Embedding-0.6B@{server.url}/v1")
    assert isinstance(embedder, OpenAIEmbedder)
    rows = embedder.embed(["first text", "second text"])
    path, body, headers = server.requests[0]
    assert path == "/v1/embeddings" and body == {
        "model": "Qwen/Qwen3-Embedding-0.6B",
        "input": ["first text", "second text"],
    }
    assert headers["Authorization"] == "Bearer sk-test"
    first = np.asarray(hashed("first text"), dtype=np.float32)
    assert np.allclose(rows[0], first / np.linalg.norm(first))  # the server's reversed data is re-ordered


@pytest.mark.parametrize(
    ("status", "broken", "message"),
    [
        (500, None, "HTTP 500"),
        (200, "json", "did not answer JSON"),
        (200, "count", "returned 1 vectors for 2"),
    ],
)
def test_misbehaving_servers_are_one_clear_error(status: int, broken: str | None, message: str) -> None:
    srv = EmbedServer(status=status, broken=broken)
    try:
        for spec in (f"ollama:m@{srv.url}", f"openai:m@{srv.url}/v1"):
            embedder = make_embedder(spec)
            assert embedder is not None
            with pytest.raises(EmbedderError, match=message):
                embedder.embed(["a", "b"])
    finally:
        srv.close()


def test_a_dead_server_is_unreachable_not_a_hang() -> None:
    embedder = OllamaEmbedder("m", "http://127.0.0.1:9", timeout=5)
    with pytest.raises(EmbedderError, match="unreachable"):
        embedder.embed(["x"])


def test_an_index_on_a_server_embedder_searches_by_vector(tmp_path: Path, server: EmbedServer) -> None:
    spec = f"ollama:fake@{server.url}"
    with Index(tmp_path / "i.db", embedder=spec) as index:
        stats = index.ingest([DOCS])
        assert stats.vectors == index.counts()[1] == index.vectors.count()
        assert index.describe()["embedder"] == spec and index.describe()["dims"] == DIMS
        hit = index.search("blue descaling tablets kitchen cupboard", k=1, mode="vector")[0]
        assert Path(hit.path).name == "notes.txt"
    with Index(tmp_path / "i.db") as again:  # reopened: the recorded embedder is rebuilt for queries
        assert again.embedder is not None and again.embedder.spec == spec and again.has_vectors()


def test_a_failing_embedder_leaves_the_index_usable(tmp_path: Path) -> None:
    with Index(tmp_path / "i.db", embedder="ollama:m@http://127.0.0.1:9") as index:
        with pytest.raises(EmbedderError, match="unreachable"):
            index.ingest([DOCS])
        assert index.counts() == (0, 0)  # the batch was not written without its vectors


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("word2vec", "unknown embedder"),
        ("ollama:", "names no model"),
        ("openai:text-embedding-3-small", "needs the server"),
    ],
)
def test_bad_specs(spec: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QWENGRAPH_EMBED_BASE_URL", raising=False)
    with pytest.raises(ToolInputError, match=message):
        make_embedder(spec)


def test_none_means_no_vectors() -> None:
    assert make_embedder("none") is None


def test_missing_optional_packages_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastembed", None)  # import fails, as when not installed
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbedderError, match="pip install fastembed"):
        FastEmbedEmbedder("BAAI/bge-small-en-v1.5").embed(["x"])
    with pytest.raises(EmbedderError, match="pip install sentence-transformers"):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2").embed(["x"])


def test_local_model_files_are_passed_to_fastembed_and_sentence_transformers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The adapters hand the model directory to the library and normalise what it returns.

    (The libraries themselves are not installed in CI: fastembed fetches from a hub, and
    sentence-transformers needs torch. ``tests/bench/retrieval_quality.py --embedder
    sentence-transformers:DIR`` measured a real local model; see the README.)
    """
    seen: dict[str, Any] = {}

    class TextEmbedding:
        def __init__(self, model_name: str, **options: Any) -> None:
            seen["fastembed"] = (model_name, options)

        def embed(self, texts: list[str]) -> Iterator[list[float]]:
            return iter([[3.0, 4.0] for _ in texts])

    class SentenceTransformer:
        def __init__(self, name: str) -> None:
            seen["st"] = name

        def encode(self, texts: list[str], normalize_embeddings: bool) -> Any:
            seen["normalize"] = normalize_embeddings
            return np.array([[0.0, 2.0] for _ in texts])

    monkeypatch.setitem(sys.modules, "fastembed", types.SimpleNamespace(TextEmbedding=TextEmbedding))
    monkeypatch.setitem(
        sys.modules, "sentence_transformers", types.SimpleNamespace(SentenceTransformer=SentenceTransformer)
    )
    fast = make_embedder(f"fastembed:BAAI/bge-small-en-v1.5@{tmp_path}")
    assert fast is not None and fast.spec == f"fastembed:BAAI/bge-small-en-v1.5@{tmp_path}"
    assert np.allclose(fast.embed(["a", "b"]), [[0.6, 0.8], [0.6, 0.8]])
    assert seen["fastembed"] == ("BAAI/bge-small-en-v1.5", {"specific_model_path": str(tmp_path)})
    st = make_embedder(f"sentence-transformers:{tmp_path}")
    assert st is not None and np.allclose(st.embed(["a"]), [[0.0, 1.0]])
    assert seen["st"] == str(tmp_path) and seen["normalize"] is True
