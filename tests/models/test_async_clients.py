"""Async model calls go through aiohttp, one client per event loop, closed when the loop ends."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings

import httpx
import pytest
import respx
from servers import OllamaServer, Turn, VLLMServer

from graphs.errors import ServerUnavailable
from graphs.models.chat import ChatQwen
from graphs.models.transports.aio import AiohttpTransport

ANSWER = Turn(thinking="Easy.", content="It is 4.")


def model_for(server: OllamaServer | VLLMServer) -> ChatQwen:
    if isinstance(server, OllamaServer):
        return ChatQwen(model="ollama:qwen3:8b", base_url=server.url)
    return ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=server.base_url)


def http_client(model: ChatQwen) -> object:
    """The httpx client under the running loop's async client (the ``ollama`` client wraps one)."""
    client = model.get_transport().aclient  # type: ignore[attr-defined]
    return getattr(client, "_client", client)


@pytest.mark.parametrize("kind", ["ollama", "vllm"])
def test_one_model_from_two_event_loops(kind: str) -> None:
    with OllamaServer([ANSWER] * 2) if kind == "ollama" else VLLMServer([ANSWER] * 2) as server:
        model = model_for(server)
        seen = []

        async def ask() -> str:
            answer = await model.ainvoke("What is 2+2?")
            client = http_client(model)
            assert isinstance(client._transport, AiohttpTransport)  # type: ignore[attr-defined]
            seen.append(client)
            return answer.text

        gc.collect()  # garbage of earlier tests is theirs: only this test's sockets count below
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            assert asyncio.run(ask()) == "It is 4."
            assert asyncio.run(ask()) == "It is 4.", "a second loop must not reuse the first loop's client"
            gc.collect()
        first, second = seen
        assert first is not second
        assert first.is_closed and second.is_closed, "each loop's client is closed as the loop ends"  # type: ignore[attr-defined]


async def test_respx_mocks_the_aiohttp_client_at_the_httpx_level() -> None:
    """respx's default mocks httpcore, which aiohttp replaces: ``using="httpx"`` mocks any transport."""
    model = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url="http://example.invalid/v1")
    body = {"choices": [{"message": {"role": "assistant", "content": "mocked"}, "finish_reason": "stop"}]}
    with respx.mock(assert_all_mocked=True, using="httpx") as router:
        route = router.post("http://example.invalid/v1/chat/completions").respond(json=body)
        answer = await model.ainvoke("hi")
    assert answer.text == "mocked" and route.called


# --------------------------------------------------------------------------- the transport itself

USER = [{"role": "user", "content": "hi"}]


async def post(url: str, timeout: float = 5.0, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=timeout) as client:
        return await client.post(url, **kwargs)  # type: ignore[arg-type]


async def test_bodies_headers_and_status_pass_through(vllm_server: VLLMServer) -> None:
    vllm_server.fail_next(1, status=503)
    url = f"{vllm_server.base_url}/chat/completions"
    failed = await post(url, json={"model": "Qwen/Qwen3-8B", "messages": USER})
    assert failed.status_code == 503 and "error" in failed.json()
    ok = await post(url, json={"model": "Qwen/Qwen3-8B", "messages": USER})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/json")
    assert ok.json()["choices"][0]["message"]["role"] == "assistant"
    assert vllm_server.chat_requests[-1]["messages"] == USER, "the JSON body arrives intact"


async def test_gzip_bodies_are_decoded_by_httpx() -> None:
    import gzip
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Gzipped(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = gzip.compress(b'{"ok": true}')
            self.send_response(200)
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gzipped)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
            response = await client.get(f"http://127.0.0.1:{server.server_port}/")
        assert response.json() == {"ok": True}
    finally:
        server.shutdown()
        server.server_close()


async def test_errors_are_httpx_errors(ollama_server: OllamaServer) -> None:
    url = f"{ollama_server.url}/api/chat"
    body = {"model": "qwen3:8b", "messages": USER}
    ollama_server.delay = 0.5
    with pytest.raises(httpx.ReadTimeout):
        await post(url, timeout=0.1, json=body)
    ollama_server.delay = 0.0
    ollama_server.drop_next(1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.NetworkError)):
        await post(url, json=body)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        await post(f"http://127.0.0.1:{port}/api/chat", json=body)


async def test_a_dead_server_is_one_clear_model_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=f"http://127.0.0.1:{port}/v1", retries=1)
    with pytest.raises(ServerUnavailable, match=f"cannot reach http://127.0.0.1:{port}/v1"):
        await model.ainvoke("hi")
