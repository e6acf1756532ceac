"""Record/replay cassettes against the loopback servers: the replay, with the server stopped, matches."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest
from servers import OllamaServer, Turn, VLLMServer

from graphs.errors import CassetteError
from graphs.models.cassette import Cassette, Recorder, Replayer, cassette, record, replay
from graphs.models.cassette_format import decompress, encode_body

USER = [{"role": "user", "content": "What is 17*23?"}]
TOOL_RESULT = [*USER, {"role": "tool", "content": "391"}]
DEAD = "http://10.255.255.1:9"  # never reachable: the network guard would raise if anything tried


def ollama_exchange(host: str) -> list[dict[str, Any]]:
    client = ollama.Client(host=host)
    streamed = [c.model_dump() for c in client.chat(model="qwen3:8b", messages=USER, stream=True)]
    whole = client.chat(model="qwen3:8b", messages=TOOL_RESULT, stream=False).model_dump()
    return [*streamed, whole]


async def ollama_async_exchange(host: str) -> list[dict[str, Any]]:
    client = ollama.AsyncClient(host=host)
    out = [c.model_dump() async for c in await client.chat(model="qwen3:8b", messages=USER, stream=True)]
    out.append((await client.chat(model="qwen3:8b", messages=TOOL_RESULT)).model_dump())
    return out


def sse_payloads(lines: list[str]) -> list[Any]:
    data = [ln.removeprefix("data: ") for ln in lines if ln.startswith("data: ")]
    return [d if d == "[DONE]" else json.loads(d) for d in data]


def vllm_body(stream: bool = True) -> dict[str, Any]:
    return {
        "model": "Qwen/Qwen3-8B",
        "messages": USER,
        "stream": stream,
        "stream_options": {"include_usage": True},
    }


def sse_exchange(base_url: str) -> list[Any]:
    with (
        httpx.Client(base_url=base_url) as client,
        client.stream("POST", "/chat/completions", json=vllm_body()) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        return sse_payloads(list(r.iter_lines()))


async def sse_async_exchange(base_url: str) -> list[Any]:
    async with (
        httpx.AsyncClient(base_url=base_url) as client,
        client.stream("POST", "/chat/completions", json=vllm_body()) as r,
    ):
        return sse_payloads([line async for line in r.aiter_lines()])


# --------------------------------------------------------------------------- round trips


def test_ollama_sync_record_then_replay_with_server_stopped(
    ollama_server: OllamaServer, tmp_path: Path
) -> None:
    path = tmp_path / "calc.json"
    with record(path, meta={"purpose": "test"}):
        live = ollama_exchange(ollama_server.url)
    url = ollama_server.url
    ollama_server.stop()

    with replay(path) as player:
        assert ollama_exchange(url) == live
    assert all(player.played)
    with replay(path):  # the host does not matter: only the path is recorded
        assert ollama_exchange(DEAD) == live

    data = json.loads(path.read_text())
    assert data["meta"]["purpose"] == "test"
    assert data["meta"]["models"] == ["qwen3:8b"]
    assert data["meta"]["qwengraph"]
    assert data["meta"]["created"]
    assert data["meta"]["format"] == 1
    first, second = data["interactions"]
    assert first["request"]["method"] == "POST"
    assert first["request"]["path"] == "/api/chat"
    assert first["request"]["json"]["messages"] == USER
    assert first["request"]["json"]["stream"] is True
    assert first["response"]["status"] == 200
    assert isinstance(first["response"]["ndjson"], list)
    assert first["response"]["ndjson"][-1]["done"] is True
    assert second["response"]["json"]["message"]["content"] == "17 \u00d7 23 = 391."
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


async def test_ollama_async_record_then_replay(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = tmp_path / "async.json"
    with record(path):
        live = await ollama_async_exchange(ollama_server.url)
    ollama_server.stop()
    assert any(c["message"].get("tool_calls") for c in live)
    with replay(path):
        assert await ollama_async_exchange(DEAD) == live


def test_httpx_sse_record_then_replay(vllm_server: VLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "sse.json"
    with record(path):
        live = sse_exchange(vllm_server.base_url)
    vllm_server.stop()
    assert live[-1] == "[DONE]"
    assert "usage" in live[-2]
    stored = json.loads(path.read_text())["interactions"][0]["response"]["sse"]
    assert stored == live  # JSON payloads stored parsed, [DONE] kept as a string
    with replay(path):
        assert sse_exchange(f"{DEAD}/v1") == live


async def test_httpx_async_sse_record_then_replay(vllm_server: VLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "sse_async.json"
    with record(path):
        live = await sse_async_exchange(vllm_server.base_url)
    vllm_server.stop()
    with replay(path):
        assert await sse_async_exchange(f"{DEAD}/v1") == live


def test_replay_streams_chunk_by_chunk(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = tmp_path / "chunks.json"
    body = {"model": "qwen3:8b", "messages": USER}
    with record(path):
        httpx.post(f"{ollama_server.url}/api/chat", json=body)
    lines = len(json.loads(path.read_text())["interactions"][0]["response"]["ndjson"])
    with replay(path), httpx.stream("POST", f"{DEAD}/api/chat", json=body) as r:
        assert r.headers["content-type"] == "application/x-ndjson"
        assert len(list(r.iter_raw())) == lines > 3


def test_vllm_non_stream_json_round_trip(vllm_server: VLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "json.json"
    with record(path):
        live = httpx.post(f"{vllm_server.base_url}/chat/completions", json=vllm_body(stream=False)).json()
    with replay(path):
        assert httpx.post(f"{DEAD}/v1/chat/completions", json=vllm_body(stream=False)).json() == live


# --------------------------------------------------------------------------- errors are recorded too


def test_error_status_is_recorded_and_replayed(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = tmp_path / "404.json"
    client = ollama.Client(host=ollama_server.url)
    with record(path), pytest.raises(ollama.ResponseError) as live:
        client.chat(model="qwen9:1b", messages=USER)
    response = json.loads(path.read_text())["interactions"][0]["response"]
    assert response == {"status": 404, "json": {"error": 'model "qwen9:1b" not found, try pulling it first'}}
    with replay(path), pytest.raises(ollama.ResponseError) as replayed:
        ollama.Client(host=DEAD).chat(model="qwen9:1b", messages=USER)
    assert (replayed.value.status_code, replayed.value.error) == (live.value.status_code, live.value.error)


def test_5xx_then_success_is_replayed_in_order(vllm_server: VLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "retry.json"
    vllm_server.fail_next(1, status=503)
    url = f"{vllm_server.base_url}/chat/completions"
    with record(path):
        live = [httpx.post(url, json=vllm_body(stream=False)).status_code for _ in range(2)]
    with replay(path):
        assert (
            [httpx.post(url, json=vllm_body(stream=False)).status_code for _ in range(2)]
            == live
            == [503, 200]
        )


def test_connection_refused_is_recorded_and_replayed(tmp_path: Path) -> None:
    server = OllamaServer().start()
    url = server.url
    server.stop()
    path = tmp_path / "refused.json"
    with record(path), pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/version")
    assert json.loads(path.read_text())["interactions"][0]["response"]["error"]["type"] == "ConnectError"
    with replay(path), pytest.raises(httpx.ConnectError):
        httpx.get(f"{DEAD}/api/version")


def test_mid_stream_timeout_is_recorded_and_replayed(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = tmp_path / "timeout.json"
    ollama_server.script = [Turn(content="one two three four five six")]
    ollama_server.chunk_delay = 0.05

    def read(host: str) -> list[dict[str, Any]]:
        got: list[bytes] = []
        body = {"model": "qwen3:8b", "messages": USER}
        with httpx.stream("POST", f"{host}/api/chat", json=body, timeout=0.3) as r:
            with pytest.raises(httpx.ReadTimeout):  # noqa: PT012
                for chunk in r.iter_raw():
                    got.append(chunk)
                    ollama_server.chunk_delay = 1.0  # the next chunk comes too late
        return [json.loads(line) for line in b"".join(got).splitlines()]

    with record(path):
        live = read(ollama_server.url)
    response = json.loads(path.read_text())["interactions"][0]["response"]
    assert response["error"]["type"] == "ReadTimeout"
    assert response["status"] == 200
    assert response["ndjson"] == live
    with replay(path):
        assert read(DEAD) == live


# --------------------------------------------------------------------------- replay failures


def _recorded(tmp_path: Path, server: OllamaServer, calls: int = 1) -> Path:
    path = tmp_path / "recorded.json"
    with record(path):
        for _ in range(calls):
            ollama.Client(host=server.url).chat(model="qwen3:8b", messages=USER, stream=False)
    return path


def test_drift_raises_with_a_diff_naming_the_field(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = _recorded(tmp_path, ollama_server)
    other = [{"role": "user", "content": "What is 17*24?"}]
    with pytest.raises(CassetteError) as info, replay(path):
        ollama.Client(host=DEAD).chat(model="qwen3:8b", messages=other, stream=False)
    message = str(info.value)
    assert "interactions[0]" in message
    assert "json.messages[0].content" in message
    assert str(path) in message
    assert "--- recorded" in message
    assert "+++ actual" in message
    assert '-        "content": "What is 17*23?",' in message
    assert '+        "content": "What is 17*24?",' in message


def test_drift_in_path_or_method(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = _recorded(tmp_path, ollama_server)
    with pytest.raises(CassetteError, match=r"at json, method, path"), replay(path):
        httpx.get(f"{DEAD}/api/tags")


def test_swallowed_drift_is_raised_on_exit(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = _recorded(tmp_path, ollama_server)

    def swallow() -> None:  # e.g. a retry loop that catches too much
        with contextlib.suppress(CassetteError):
            httpx.post(f"{DEAD}/api/chat", json={"model": "other"})

    with pytest.raises(CassetteError, match="drifted"), replay(path):
        swallow()


def test_unplayed_interactions_fail_on_exit(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = _recorded(tmp_path, ollama_server, calls=3)
    unplayed = r"2 recorded interaction\(s\) left unplayed: POST /api/chat, POST /api/chat$"
    with pytest.raises(CassetteError, match=unplayed), replay(path):
        ollama.Client(host=DEAD).chat(model="qwen3:8b", messages=USER, stream=False)


def test_request_beyond_the_recording_raises(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = _recorded(tmp_path, ollama_server)
    client = ollama.Client(host=DEAD)
    no_more = r"request #2 POST /api/chat has no recorded interaction left"

    def play() -> None:
        client.chat(model="qwen3:8b", messages=USER, stream=False)
        with pytest.raises(CassetteError, match=no_more):
            client.chat(model="qwen3:8b", messages=USER, stream=False)
        with pytest.raises(CassetteError, match="request #3"):  # any other request too: nothing passes
            httpx.get("http://127.0.0.1:1/anything")

    with pytest.raises(CassetteError, match=no_more), replay(path):  # raised again on exit, though caught
        play()


def test_unordered_replay_matches_by_request(vllm_server: VLLMServer, tmp_path: Path) -> None:
    path = tmp_path / "unordered.json"
    url = f"{vllm_server.base_url}/chat/completions"
    first, second = vllm_body(stream=False), {**vllm_body(stream=False), "messages": TOOL_RESULT}
    with record(path):
        live = [httpx.post(url, json=b).json() for b in (first, second)]
    with replay(path, ordered=False):
        assert [httpx.post(url, json=b).json() for b in (second, first)] == live[::-1]
    with pytest.raises(CassetteError), replay(path):
        httpx.post(url, json=second)


def test_atomic_write_when_the_block_raises(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "partial.json"
    path.parent.mkdir()
    path.write_text("previous content")

    def record_then_fail() -> None:
        with record(path):
            ollama.Client(host=ollama_server.url).chat(model="qwen3:8b", messages=USER, stream=False)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        record_then_fail()
    data = json.loads(path.read_text())
    assert len(data["interactions"]) == 1
    assert data["meta"]["error"] == "RuntimeError: boom"
    assert sorted(p.name for p in path.parent.iterdir()) == ["partial.json"]


def test_recording_unpatches_transports(tmp_path: Path) -> None:
    originals = (httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request)
    with record(tmp_path / "x.json"):
        assert httpx.HTTPTransport.handle_request is not originals[0]
    assert (httpx.HTTPTransport.handle_request, httpx.AsyncHTTPTransport.handle_async_request) == originals


# --------------------------------------------------------------------------- files and modes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", 'expected an object with an "interactions" list'),
        ('{"interactions": [{"request": {}}]}', "interaction 0 needs a request and a response"),
        ('{"interactions": [{"request": {"method": "GET", "path": "x"}, "response": {}}]}', 'path" starting'),
        (
            '{"interactions": [{"request": {"method": "GET", "path": "/"}, "response": {"status": 200}}]}',
            "one of",
        ),
        (
            '{"interactions": [{"request": {"method": "GET", "path": "/"}, "response": {}}]}',
            '"status" or an "error"',
        ),
    ],
)
def test_invalid_cassettes_name_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CassetteError, match=str(path)) as info:
        Cassette.load(path)
    assert expected in str(info.value)


def test_missing_cassette(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="does not exist"):
        replay(tmp_path / "nope.json")


def test_cassette_modes(ollama_server: OllamaServer, tmp_path: Path) -> None:
    path = tmp_path / "auto.json"
    assert isinstance(cassette(path, mode="auto"), Recorder)
    with cassette(path, mode="auto"):
        httpx.get(f"{ollama_server.url}/api/version")
    assert isinstance(cassette(path, mode="auto"), Replayer)
    assert isinstance(cassette(path), Replayer)
    assert isinstance(cassette(path, mode="record"), Recorder)
    with pytest.raises(CassetteError, match="unknown cassette mode"):
        cassette(path, mode="bogus")  # type: ignore[arg-type]


def test_body_encoding_rules() -> None:
    assert encode_body("application/json; charset=utf-8", '{"a": 1}') == {"json": {"a": 1}}
    assert encode_body("application/x-ndjson", '{"a":1}\n{"b":2}\n') == {"ndjson": [{"a": 1}, {"b": 2}]}
    assert encode_body("text/event-stream", 'data: {"a":1}\n\ndata: [DONE]\n\n') == {
        "sse": [{"a": 1}, "[DONE]"]
    }
    assert encode_body("text/event-stream", "event: x\ndata: 1\n\n")["text"] == "event: x\ndata: 1\n\n"
    assert encode_body("text/event-stream", "data: cut off")["content_type"] == "text/event-stream"
    assert encode_body("text/plain", "hi") == {"text": "hi", "content_type": "text/plain"}
    assert encode_body("application/json", "{oops")["text"] == "{oops"
    assert decompress(gzip.compress(b"abc"), "gzip") == b"abc"
    with pytest.raises(CassetteError, match="br"):
        decompress(b"x", "br")


def test_text_body_replays_with_its_content_type(tmp_path: Path) -> None:
    path = tmp_path / "text.json"
    interaction = {
        "request": {"method": "GET", "path": "/health?x=1", "json": None},
        "response": {"status": 200, "text": "ok", "content_type": "text/plain; charset=utf-8"},
    }
    Cassette(interactions=[interaction]).save(path)
    with replay(path):
        r = httpx.get(f"{DEAD}/health", params={"x": 1})
    assert (r.text, r.headers["content-type"]) == ("ok", "text/plain; charset=utf-8")


# --------------------------------------------------------------------------- pytest plugin


@pytest.fixture
def force_record(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request.config.option, "qwen_record", True)


def test_plugin_fixture_resolves_names_next_to_the_test(qwen_cassette: Any) -> None:
    with pytest.raises(CassetteError) as info:
        qwen_cassette("does-not-exist.json")
    assert str(Path(__file__).parent / "cassettes" / "does-not-exist.json") in str(info.value)
    with pytest.raises(CassetteError, match=r"test_plugin_fixture_resolves_names_next_to_the_test\.json"):
        qwen_cassette()


def test_plugin_fixture_records_then_replays(
    force_record: None, qwen_cassette: Any, ollama_server: OllamaServer, tmp_path: Path
) -> None:
    path = tmp_path / "plugin.json"
    with qwen_cassette(str(path)) as recorder:
        assert isinstance(recorder, Recorder)
        live = httpx.get(f"{ollama_server.url}/api/version").json()
    assert json.loads(path.read_text())["meta"]["test"].endswith("test_plugin_fixture_records_then_replays")
    with replay(path):
        assert httpx.get(f"{DEAD}/api/version").json() == live


def test_saved_cassettes_are_readable_by_others(tmp_path) -> None:
    import stat

    from graphs.models.cassette import Cassette

    path = Cassette({"format": 1}, [], tmp_path / "c.json").save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
