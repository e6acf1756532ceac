"""The baselines of ``overhead.py``: the same agent episode as a plain loop over raw HTTP clients.

Each loop sends what qwengraph sends (the same system prompt and tool schema), reads the reply
(one JSON body, or server-sent events with thinking, text and tool-call fragments put together),
runs the calculator's own function on each call (no LangChain tool machinery) and sends the result
back, until the model answers. Nothing else: no validation, no retries, no callbacks. The
difference between a qwengraph path and these loops is what qwengraph costs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import httpx

from tools.calculator import calculate


class Reply:
    """One assistant reply put together from a JSON body or from stream events."""

    def __init__(self) -> None:
        self.reasoning = ""
        self.content = ""
        self.calls: dict[int, dict[str, str]] = {}

    def whole(self, body: dict[str, Any]) -> Reply:
        message = body["choices"][0]["message"]
        self.reasoning = message.get("reasoning") or ""
        self.content = message.get("content") or ""
        for index, call in enumerate(message.get("tool_calls") or []):
            self.calls[index] = {
                "id": call["id"],
                "name": call["function"]["name"],
                "args": call["function"]["arguments"],
            }
        return self

    def event(self, line: str) -> None:
        if not line.startswith("data: ") or line == "data: [DONE]":
            return
        for choice in json.loads(line[6:]).get("choices") or []:
            delta = choice.get("delta") or {}
            self.reasoning += delta.get("reasoning") or ""
            self.content += delta.get("content") or ""
            for piece in delta.get("tool_calls") or []:
                call = self.calls.setdefault(piece["index"], {"id": "", "name": "", "args": ""})
                call["id"] = piece.get("id") or call["id"]
                function = piece.get("function") or {}
                call["name"] = function.get("name") or call["name"]
                call["args"] += function.get("arguments") or ""

    def lines(self, lines: Iterable[str]) -> Reply:
        for line in lines:
            self.event(line)
        return self

    def follow_up(self, messages: list[dict[str, Any]]) -> bool:
        """Append this reply and its tool results to ``messages``; ``False`` when it is the answer."""
        if not self.calls:
            return False
        calls = [self.calls[i] for i in sorted(self.calls)]
        messages.append(
            {
                "role": "assistant",
                "content": self.content,
                "reasoning": self.reasoning,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["args"]},
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            result = calculate(json.loads(call["args"])["expression"])
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        return True


def body(
    model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], stream: bool
) -> dict[str, Any]:
    """The request body, as qwengraph would build it (thinking on)."""
    out: dict[str, Any] = {"model": model, "messages": messages, "tools": tools, "stream": stream}
    out["chat_template_kwargs"] = {"enable_thinking": True}
    return out


def httpx_episode(
    client: httpx.Client,
    url: str,
    model: str,
    start: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    stream: bool,
) -> str:
    """One episode over a sync httpx client; returns the answer."""
    messages = list(start)
    while True:
        if stream:
            with client.stream("POST", url, json=body(model, messages, tools, True)) as response:
                reply = Reply().lines(response.iter_lines())
        else:
            reply = Reply().whole(client.post(url, json=body(model, messages, tools, False)).json())
        if not reply.follow_up(messages):
            return reply.content


async def ahttpx_episode(
    client: httpx.AsyncClient,
    url: str,
    model: str,
    start: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    stream: bool,
) -> str:
    """One episode over httpx's own async client."""
    messages = list(start)
    while True:
        if stream:
            async with client.stream("POST", url, json=body(model, messages, tools, True)) as response:
                reply = Reply()
                async for line in response.aiter_lines():
                    reply.event(line)
        else:
            reply = Reply().whole((await client.post(url, json=body(model, messages, tools, False))).json())
        if not reply.follow_up(messages):
            return reply.content


async def _aiohttp_lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    async for raw in response.content:
        yield raw.decode().rstrip("\r\n")


async def aiohttp_episode(
    session: aiohttp.ClientSession,
    url: str,
    model: str,
    start: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    stream: bool,
) -> str:
    """One episode over an aiohttp session."""
    messages = list(start)
    while True:
        async with session.post(url, json=body(model, messages, tools, stream)) as response:
            if stream:
                reply = Reply()
                async for line in _aiohttp_lines(response):
                    reply.event(line)
            else:
                reply = Reply().whole(await response.json())
        if not reply.follow_up(messages):
            return reply.content
