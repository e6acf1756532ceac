"""Async model calls go through aiohttp, one client per event loop, closed when the loop ends."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
import respx
from httpx_aiohttp import AiohttpTransport
from servers import OllamaServer, Turn, VLLMServer

from graphs.models.chat import ChatQwen

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
