"""``qwengraph serve``'s app in process (httpx's ASGI transport) against a loopback vLLM-style server:
the wire format, keys, per-key limits, input limits, threads, failures, the request log, /metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import ALICE, BOB, MODEL, joined, script, sse_events
from servers import VLLMServer

from agents.serve.app import ServeConfig, Server, create_app
from agents.serve.guard import ApiKey, Limits
from agents.warm import AgentChoice
from graphs.errors import ConfigError

Open = Callable[..., Any]


@pytest.fixture
def model_server() -> AsyncIterator[VLLMServer]:
    with VLLMServer(script) as srv:
        yield srv


@pytest.fixture
async def opened(model_server: VLLMServer, tmp_path: Path) -> AsyncIterator[Open]:
    """``await opened(**config)`` -> (server, client); everything is closed after the test."""
    servers: list[Server] = []
    clients: list[httpx.AsyncClient] = []

    async def open_server(**options: Any) -> tuple[Server, httpx.AsyncClient]:
        settings: dict[str, Any] = {
            "agents": ("math-tutor",),
            "choice": AgentChoice(model=MODEL, base_url=model_server.base_url),
            "keys": {ALICE: ApiKey("alice"), BOB: ApiKey("bob")},
            "request_log": tmp_path / "requests.jsonl",
            **options,
        }
        server = Server(ServeConfig(**settings))
        await server.open()
        servers.append(server)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(server)),
            base_url="http://serve.test",
            headers={"Authorization": f"Bearer {ALICE}"},
        )
        clients.append(client)
        return server, client

    yield open_server
    for client in clients:
        await client.aclose()
    for server in servers:
        await server.close()


def log_lines(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


def ask(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": "math-tutor", "messages": [{"role": "user", "content": prompt}], **extra}


async def test_models_lists_the_agents_and_keys_are_required(opened: Open) -> None:
    _, client = await opened(agents=("math-tutor", "coding-assistant"))
    listed = (await client.get("/v1/models")).json()
    assert [m["id"] for m in listed["data"]] == ["math-tutor", "coding-assistant"]
    assert {m["object"] for m in listed["data"]} == {"model"}

    for headers in ({"Authorization": ""}, {"Authorization": "Bearer sk-wrong-0123456789"}):
        refused = await client.post("/v1/chat/completions", json=ask("hi"), headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
    assert (await client.get("/v1/models", headers={"Authorization": ""})).status_code == 401
    assert (await client.get("/health")).json() == {
        "status": "ok",
        "agents": ["math-tutor", "coding-assistant"],
    }


async def test_a_whole_answer_carries_reasoning_tool_calls_and_usage(opened: Open, tmp_path: Path) -> None:
    _, client = await opened()
    reply = await client.post("/v1/chat/completions", json=ask("calc: What is 17*23?", user="student-42"))
    assert reply.status_code == 200
    body = reply.json()
    message = body["choices"][0]["message"]
    assert body["object"] == "chat.completion" and body["model"] == "math-tutor"
    assert message["content"] == "17 × 23 = 391."  # only said after the calculator really answered
    assert "use the calculator tool" in message["reasoning"]
    assert message["qwengraph"]["tool_calls"] == [
        {"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}
    ]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    (line,) = log_lines(tmp_path)  # the request log: names and hashes, never the content
    assert (line["key"], line["agent"], line["outcome"], line["status"]) == ("alice", "math-tutor", "ok", 200)
    assert line["user"].startswith("h:") and "student-42" not in json.dumps(line)
    assert line["prompt"].startswith("sha256:") and "17*23" not in line["prompt"]
    assert line["answer"].startswith("sha256:") and "391" not in line["answer"]
    assert line["tool_calls"] == 1 and line["tool_failures"] == 0 and line["trace_id"]
    assert ALICE not in (tmp_path / "requests.jsonl").read_text()


async def test_a_streamed_answer_in_openai_chunks(opened: Open) -> None:
    _, client = await opened()
    reply = await client.post(
        "/v1/chat/completions",
        json=ask("calc: What is 17*23?", stream=True, stream_options={"include_usage": True}),
    )
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = sse_events(reply.text)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert joined(chunks, "content") == "17 × 23 = 391."
    assert joined(chunks, "reasoning").startswith("The user wants 17 times 23.")
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    activity = [d["qwengraph"] for d in deltas if "qwengraph" in d]
    assert activity == [
        {"type": "tool_call", "name": "calculator", "args": {"expression": "17*23"}},
        {"type": "tool_result", "name": "calculator", "args": {"expression": "17*23"}, "content": "391"},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


async def test_tool_activity_as_text_and_thinking_in_both_fields(opened: Open) -> None:
    _, client = await opened(tool_activity="text", reasoning="both")
    reply = await client.post("/v1/chat/completions", json=ask("calc: What is 17*23?", stream=True))
    chunks = [e for e in sse_events(reply.text) if isinstance(e, dict)]
    assert joined(chunks, "content") == '\n> calculator({"expression": "17*23"})\n> → 391\n\n17 × 23 = 391.'
    assert joined(chunks, "reasoning") == joined(chunks, "reasoning_content") != ""
    with pytest.raises(ConfigError, match="--tool-activity"):
        Server(ServeConfig(agents=("math-tutor",), tool_activity="xml"))


async def test_rate_limits_are_per_key_with_retry_after(opened: Open, tmp_path: Path) -> None:
    keys = {ALICE: ApiKey("alice"), BOB: ApiKey("bob", rate=600)}
    server, client = await opened(keys=keys, rate=1, burst=2)
    for n in range(2):
        assert (await client.post("/v1/chat/completions", json=ask(f"q{n}"))).status_code == 200
    refused = await client.post("/v1/chat/completions", json=ask("q2"))
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60  # 1 request a minute: about 30 s for the next
    bob = {"Authorization": f"Bearer {BOB}"}  # another key has its own bucket (and its own rate)
    for n in range(3):
        assert (await client.post("/v1/chat/completions", json=ask(f"b{n}"), headers=bob)).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'qwengraph_requests_total{agent="-",outcome="rate_limited"} 1.0' in metrics
    assert 'qwengraph_requests_total{agent="math-tutor",outcome="ok"} 5.0' in metrics
    assert [line["outcome"] for line in log_lines(tmp_path)].count("rate_limited") == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (ask("x" * 101), 400, "input_too_long"),
        (
            {"model": "math-tutor", "messages": [{"role": "user", "content": "a"}] * 4},
            400,
            "too_many_messages",
        ),
        (ask("hello", padding="p" * 3000), 413, "request_too_large"),
        (
            {"model": "math-tutor", "messages": [{"role": "assistant", "content": "hi"}]},
            400,
            "invalid_request",
        ),
        (
            {"model": "math-tutor", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            400,
            "invalid_request",
        ),
        (ask("hello", model="nobody"), 404, "model_not_found"),
        ({"messages": []}, 400, "invalid_request"),
    ],
    ids=["chars", "messages", "body", "last-not-user", "image-part", "unknown-agent", "no-model"],
)
async def test_input_limits_and_bad_requests(
    opened: Open, model_server: VLLMServer, body: dict[str, Any], status: int, code: str
) -> None:
    _, client = await opened(limits=Limits(max_body_bytes=2000, max_messages=3, max_input_chars=100))
    reply = await client.post("/v1/chat/completions", json=body)
    assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)
    assert model_server.chat_requests == []  # refused before any model call


async def test_malformed_json_is_a_400(opened: Open) -> None:
    _, client = await opened()
    reply = await client.post("/v1/chat/completions", content=b"{not json")
    assert reply.status_code == 400 and "not JSON" in reply.json()["error"]["message"]


async def test_a_conversation_id_keeps_the_thread_per_key(opened: Open, model_server: VLLMServer) -> None:
    _, client = await opened()
    first = await client.post("/v1/chat/completions", json=ask("first question", conversation_id="c1"))
    assert first.json()["choices"][0]["message"]["content"] == "answer to first question"
    # The client sends only its new message; the server's thread holds the rest.
    await client.post(
        "/v1/chat/completions", json=ask("second question"), headers={"X-Conversation-Id": "c1"}
    )
    sent = [m["content"] for m in model_server.chat_requests[-1]["messages"] if m["role"] != "system"]
    assert sent == ["first question", "answer to first question", "second question"]
    # Bob's "c1" is another conversation: a conversation id is only meaningful within one key.
    await client.post(
        "/v1/chat/completions",
        json=ask("bob asks", conversation_id="c1"),
        headers={"Authorization": f"Bearer {BOB}"},
    )
    sent = [m["content"] for m in model_server.chat_requests[-1]["messages"] if m["role"] != "system"]
    assert sent == ["bob asks"]


async def test_history_from_the_client_is_used_without_a_conversation_id(
    opened: Open, model_server: VLLMServer
) -> None:
    _, client = await opened()
    messages = [
        {"role": "system", "content": "ignored: the agent's own prompt applies"},
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": "now"},
    ]
    reply = await client.post("/v1/chat/completions", json={"model": "math-tutor", "messages": messages})
    assert reply.json()["choices"][0]["message"]["content"] == "answer to now"
    sent = model_server.chat_requests[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == ["earlier", "earlier answer", "now"]
    assert "ignored" not in json.dumps(sent)


async def test_a_failing_model_server_is_a_502_or_an_error_event(
    opened: Open, model_server: VLLMServer, tmp_path: Path
) -> None:
    _, client = await opened()
    model_server.fail_next(1, status=400)  # not retried: the run fails at once
    reply = await client.post("/v1/chat/completions", json=ask("q"))
    assert reply.status_code == 502 and reply.json()["error"]["type"] == "server_error"
    assert "400" in reply.json()["error"]["message"]

    model_server.fail_next(1, status=400)
    streamed = await client.post("/v1/chat/completions", json=ask("q", stream=True))
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]" and "error" in events[-2] and "400" in events[-2]["error"]["message"]
    assert [line["outcome"] for line in log_lines(tmp_path)] == ["failed", "failed"]
    ok = await client.post("/v1/chat/completions", json=ask("again"))  # the server goes on
    assert ok.json()["choices"][0]["message"]["content"] == "answer to again"


async def test_metrics_count_requests_tokens_tools_and_first_tokens(opened: Open) -> None:
    _, client = await opened()
    await client.post("/v1/chat/completions", json=ask("calc: What is 17*23?", stream=True))
    await client.post("/v1/chat/completions", json=ask("plain"))
    text = (await client.get("/metrics")).text
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['qwengraph_requests_total{agent="math-tutor",outcome="ok"}'] == 2
    assert values['qwengraph_tool_calls_total{agent="math-tutor",tool="calculator"}'] == 1
    assert values.get('qwengraph_tool_failures_total{agent="math-tutor",tool="calculator"}', 0) == 0
    assert values['qwengraph_tokens_total{agent="math-tutor",kind="completion"}'] > 0
    assert values['qwengraph_request_seconds_count{agent="math-tutor"}'] == 2
    assert values['qwengraph_time_to_first_token_seconds_count{agent="math-tutor"}'] == 1  # streamed only
    assert values['qwengraph_completion_tokens_per_second_count{agent="math-tutor"}'] == 2
    assert values['qwengraph_requests_in_progress{agent="math-tutor"}'] == 0


async def test_requests_without_a_conversation_leave_no_state_behind(
    opened: Open, model_server: VLLMServer
) -> None:
    server, client = await opened()
    await client.post("/v1/chat/completions", json=ask("calc: What is 17*23?", stream=True))
    await client.post("/v1/chat/completions", json=ask("plain"))
    model_server.fail_next(1, status=400)
    await client.post("/v1/chat/completions", json=ask("fails"))
    agent = server.agents["math-tutor"]
    # Threadless runs share one in-memory saver (so the graph sees the same saver each time) and
    # each run's checkpoints are deleted when it ends: a long-running server does not grow.
    assert not any(agent._scratch.storage.values()) and not agent._scratch.writes


async def test_a_chunked_body_is_cut_off_at_the_limit(opened: Open, model_server: VLLMServer) -> None:
    _, client = await opened(limits=Limits(max_body_bytes=2000))
    sent = 0

    async def endless() -> AsyncIterator[bytes]:  # no Content-Length: transfer-encoding chunked
        nonlocal sent
        yield b'{"model": "math-tutor", "messages": [{"role": "user", "content": "'
        for _ in range(1000):
            sent += 1
            yield b"x" * 1000

    reply = await client.post("/v1/chat/completions", content=endless())
    assert (reply.status_code, reply.json()["error"]["code"]) == (413, "request_too_large")
    assert sent < 10  # refused after the first few kilobytes, not after reading the megabyte
    assert model_server.chat_requests == []
