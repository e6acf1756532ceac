"""A loopback server speaking vLLM's OpenAI-compatible API (SSE, argument fragments by index)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from servers.base import Script, ScriptedServer, Turn, _Handler, dumps, pieces

# --------------------------------------------------------------------------- vLLM / OpenAI-compatible


ReasoningStyle = Literal["reasoning", "reasoning_content", "both"]


class VLLMServer(ScriptedServer):
    """vLLM's OpenAI-compatible API: ``POST /v1/chat/completions`` (SSE or one JSON), ``GET /v1/models``.

    Args:
        reasoning_style: the thinking field: ``reasoning`` (vLLM 0.17+), ``reasoning_content``
            (0.8.x) or ``both`` (around 0.11: the same text in both fields).
        fragment: size of the ``arguments`` fragments tool calls are streamed in.
    """

    chat_path = "/v1/chat/completions"
    default_models = ("Qwen/Qwen3-8B",)

    def __init__(
        self,
        script: Script | None = None,
        *,
        models: Sequence[str] | None = None,
        seed: int = 0,
        reasoning_style: ReasoningStyle = "reasoning",
        fragment: int = 5,
    ) -> None:
        super().__init__(script, models=models, seed=seed)
        self.reasoning_style: ReasoningStyle = reasoning_style
        self.fragment = fragment

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = {400: "BadRequestError", 404: "NotFoundError", 503: "ServiceUnavailableError"}
        return {
            "error": {
                "message": message,
                "type": kind.get(status, "InternalServerError"),
                "param": None,
                "code": status,
            }
        }

    def model_not_found(self, model: str) -> dict[str, Any]:
        body = self.error_body(404, f"The model `{model}` does not exist.")
        body["error"]["param"] = "model"
        return body

    def route(self, h: _Handler, path: str, body: Any) -> None:
        if h.command == "GET" and path == "/v1/models":
            data = [
                {
                    "id": m,
                    "object": "model",
                    "created": int(time.time()),
                    "owned_by": "vllm",
                    "root": m,
                    "parent": None,
                    "max_model_len": 40960,
                }
                for m in self.models
            ]
            h.send_json(200, {"object": "list", "data": data})
        else:
            h.send_json(404, {"detail": "Not Found"})

    def _reasoning(self, text: str | None) -> dict[str, Any]:
        if self.reasoning_style == "both":
            return {"reasoning": text, "reasoning_content": text}
        return {self.reasoning_style: text}

    def _usage(self, body: dict[str, Any], turn: Turn) -> dict[str, int]:
        prompt = self.token_count(body)
        completion = len(pieces(turn.thinking)) + len(pieces(turn.content)) + 10 * len(turn.tool_calls)
        return {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion}

    def _finish(self, turn: Turn) -> str:
        return turn.finish_reason or ("tool_calls" if turn.tool_calls else "stop")

    def answer(self, h: _Handler, body: dict[str, Any], model: str, turn: Turn) -> None:
        cid, created = self.new_id("chatcmpl-", 16), int(time.time())
        calls = [
            (self.new_id("chatcmpl-tool-", 16), name, json.dumps(args, ensure_ascii=False))
            for name, args in turn.tool_calls
        ]
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": turn.content or None, "refusal": None}
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
            ]
            message.update(self._reasoning(turn.thinking or None))
            choice = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": self._finish(turn),
                "stop_reason": None,
            }
            h.send_json(
                200,
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": self._usage(body, turn),
                    "prompt_logprobs": None,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        h.send_stream(
            "text/event-stream",
            self._stream(body, model, turn, cid, created, calls, include_usage),
        )

    def _stream(
        self,
        body: dict[str, Any],
        model: str,
        turn: Turn,
        cid: str,
        created: int,
        calls: list[tuple[str, str, str]],
        include_usage: bool,
    ) -> Iterator[bytes]:
        def event(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
            chunk: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
            }
            if delta is not None:
                chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            if usage is not None:
                chunk["usage"] = usage
            return b"data: " + dumps(chunk) + b"\n\n"

        yield event({"role": "assistant", "content": ""})
        for piece in pieces(turn.thinking):
            yield event(self._reasoning(piece))
        for piece in pieces(turn.content):
            yield event({"content": piece})
        for index, (call_id, name, arguments) in enumerate(calls):
            head = {"id": call_id, "type": "function", "index": index, "function": {"name": name}}
            yield event({"tool_calls": [head]})
            for start in range(0, len(arguments), self.fragment):
                frag = arguments[start : start + self.fragment]
                yield event({"tool_calls": [{"index": index, "function": {"arguments": frag}}]})
        yield event({}, self._finish(turn))
        if include_usage:
            yield event(None, usage=self._usage(body, turn))
        yield b"data: [DONE]\n\n"
