"""A loopback server speaking Ollama's native API (NDJSON streams, tool calls whole)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from servers.base import ScriptedServer, Turn, _Handler, dumps, pieces

# --------------------------------------------------------------------------- Ollama native


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OllamaServer(ScriptedServer):
    """Ollama's native API: ``POST /api/chat`` (NDJSON stream or one JSON), tags, version, show."""

    chat_path = "/api/chat"
    default_models = ("qwen3:8b", "qwen3:0.6b")
    version = "0.13.5"

    def knows(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message}

    def model_not_found(self, model: str) -> dict[str, Any]:
        return {"error": f'model "{model}" not found, try pulling it first'}

    def route(self, h: _Handler, path: str, body: Any) -> None:
        if h.command == "GET" and path == "/api/version":
            h.send_json(200, {"version": self.version})
        elif h.command == "GET" and path == "/api/tags":
            h.send_json(200, {"models": [self._model_entry(m) for m in self.models]})
        elif h.command == "POST" and path == "/api/show":
            model = str((body or {}).get("model", ""))
            if not self.knows(model):
                h.send_json(404, {"error": f"model '{model}' not found"})
                return
            details = self._model_entry(model)["details"]
            h.send_json(
                200,
                {
                    "template": "{{ .Prompt }}",
                    "details": details,
                    "model_info": {
                        "general.architecture": "qwen3",
                        "qwen3.context_length": 40960,
                    },
                    "capabilities": ["completion", "tools", "thinking"],
                },
            )
        else:
            h.send_json(404, {"error": "404 page not found"}, "text/plain")

    def _model_entry(self, model: str) -> dict[str, Any]:
        size = model.rsplit(":", 1)[-1].upper() if ":" in model else "8B"
        return {
            "name": model,
            "model": model,
            "modified_at": "2026-01-10T16:00:00.000000000Z",
            "size": 5_225_388_164,
            "digest": "500a1f067a9f782620b40bee6f7b0c89e17ae61f686b92c24933e4ca4b2b8b41",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen3",
                "families": ["qwen3"],
                "parameter_size": size,
                "quantization_level": "Q4_K_M",
            },
        }

    def _tool_calls(self, turn: Turn) -> list[dict[str, Any]]:
        return [
            {"id": self.new_id("call_"), "function": {"index": i, "name": name, "arguments": dict(args)}}
            for i, (name, args) in enumerate(turn.tool_calls)
        ]

    def _final(self, model: str, body: dict[str, Any], turn: Turn, message: dict[str, Any]) -> dict[str, Any]:
        eval_count = len(pieces(turn.thinking)) + len(pieces(turn.content)) + 10 * len(turn.tool_calls)
        return {
            "model": model,
            "created_at": _now_rfc3339(),
            "message": message,
            "done": True,
            "done_reason": turn.finish_reason or "stop",
            "total_duration": 412_345_678,
            "load_duration": 12_345_678,
            "prompt_eval_count": self.token_count(body),
            "prompt_eval_duration": 33_387_435,
            "eval_count": eval_count,
            "eval_duration": 267_475_275,
        }

    def answer(self, h: _Handler, body: dict[str, Any], model: str, turn: Turn) -> None:
        if body.get("stream", True) is False:
            message: dict[str, Any] = {"role": "assistant", "content": turn.content}
            if turn.thinking:
                message["thinking"] = turn.thinking
            if turn.tool_calls:
                message["tool_calls"] = self._tool_calls(turn)
            h.send_json(200, dumps(self._final(model, body, turn, message), go_escape=True))
            return
        h.send_stream("application/x-ndjson", self._stream(model, body, turn))

    def _stream(self, model: str, body: dict[str, Any], turn: Turn) -> Iterator[bytes]:
        def line(message: dict[str, Any]) -> bytes:
            chunk = {"model": model, "created_at": _now_rfc3339(), "message": message, "done": False}
            return dumps(chunk, go_escape=True) + b"\n"

        for piece in pieces(turn.thinking):
            yield line({"role": "assistant", "content": "", "thinking": piece})
        for piece in pieces(turn.content):
            yield line({"role": "assistant", "content": piece})
        if turn.tool_calls:
            yield line({"role": "assistant", "content": "", "tool_calls": self._tool_calls(turn)})
        final = self._final(model, body, turn, {"role": "assistant", "content": ""})
        yield dumps(final, go_escape=True) + b"\n"
