"""A loopback server answering as Microsoft Foundry Local does: OpenAI chat completions on a local port.

What it follows, from Foundry Local's documentation (learn.microsoft.com/azure/foundry-local,
"Foundry Local REST API Reference" and "Integrate inference SDKs with Foundry Local"):

- ``POST /v1/chat/completions``, "fully compatible with the OpenAI Chat Completions API": a
  ``chat.completion`` object (``id``, ``choices[].message`` with ``role`` and ``content``,
  ``finish_reason`` ``stop``/``length``, ``usage``), or server-sent ``chat.completion.chunk`` events
  ending with ``data: [DONE]`` when ``stream`` is true;
- model ids such as ``qwen2.5-0.5b-instruct-generic-cpu`` (alias + variant), a port the service
  picks (``foundry service status`` prints the endpoint), no API key needed;
- ``GET /v1/models``, the OpenAI model list.

How Qwen tool calls come back: users report that Foundry Local returns a Qwen model's function call
as JSON text in ``content`` rather than in ``tool_calls`` (e.g. the README of
github.com/thangchung/agent-engineering-experiment, ``foundry-local-agent-fx``, on qwen2.5-14b).
This server does the same, which is the harder case for a client: qwengraph must find the call in
the text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from servers.base import ScriptedServer, Turn, _Handler, dumps, pieces


class FoundryLocalServer(ScriptedServer):
    """Foundry Local's OpenAI-compatible endpoint with Qwen tool calls written into ``content``."""

    chat_path = "/v1/chat/completions"
    default_models = ("qwen2.5-0.5b-instruct-generic-cpu", "qwen2.5-1.5b-instruct-generic-cpu")

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error", "code": status}}

    def model_not_found(self, model: str) -> dict[str, Any]:
        return self.error_body(404, f"Model {model} not found or not loaded")

    def route(self, h: _Handler, path: str, body: Any) -> None:
        if h.command == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "Microsoft"} for m in self.models]
            h.send_json(200, {"object": "list", "data": data})
        else:
            h.send_json(404, self.error_body(404, "Not Found"))

    @staticmethod
    def _content(turn: Turn) -> str:
        """The answer text; a tool call is the JSON object Qwen writes, as text."""
        calls = [json.dumps({"name": name, "arguments": args}) for name, args in turn.tool_calls]
        return "\n".join([*calls, turn.content] if turn.content else calls)

    def answer(self, h: _Handler, body: dict[str, Any], model: str, turn: Turn) -> None:
        cid, created = self.new_id("chatcmpl-"), int(time.time())
        content = self._content(turn)
        finish = turn.finish_reason or "stop"
        prompt = self.token_count(body)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(pieces(content)),
            "total_tokens": prompt + len(pieces(content)),
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": content}
            choice = {"index": 0, "message": message, "finish_reason": finish}
            h.send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                },
            )
            return
        h.send_stream("text/event-stream", self._stream(cid, created, model, content, finish))

    def _stream(self, cid: str, created: int, model: str, content: str, finish: str) -> Iterator[bytes]:
        def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            }
            return b"data: " + dumps(chunk) + b"\n\n"

        yield event({"role": "assistant", "content": ""})
        for piece in pieces(content):
            yield event({"content": piece})
        yield event({}, finish)
        yield b"data: [DONE]\n\n"
