"""Loopback model servers for tests: Ollama native and vLLM (OpenAI-compatible), driven by scripts.

Each server is a real ``ThreadingHTTPServer`` on 127.0.0.1 (random free port) in a daemon thread, so
clients run their real HTTP and streaming code. What the "model" answers comes from a *script*: a
list of :class:`Turn` (the n-th chat request that gets an answer, faults and unknown models aside,
gets the n-th turn) or a function ``request_json -> Turn``. Every request is kept in
``server.requests`` for assertions.

Wire formats follow the real servers (see ``/work/shared/fixtures/README.md`` and Ollama's
``docs/api.md``): Ollama streams NDJSON with thinking in ``message.thinking``, tool calls whole with
arguments as an object, ``id`` ``call_…`` and ``function.index``, and a final ``done`` chunk with
``done_reason`` and counters; vLLM streams SSE with ``reasoning`` (or ``reasoning_content``, or both)
deltas, tool calls split into a header delta and small ``arguments`` fragments keyed by ``index``,
a ``finish_reason`` chunk, an optional usage chunk and ``[DONE]``.

Fault injection, for retry and timeout tests: ``fail_next(n, status)`` answers the next n chat
requests with an HTTP error, ``drop_next(n)`` closes their connection without an answer, ``delay``
sleeps before answering, ``chunk_delay`` sleeps between stream chunks.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

# --------------------------------------------------------------------------- scripts


@dataclass(frozen=True)
class Turn:
    """One scripted model answer: thinking, answer text and tool calls ``(name, args)``."""

    thinking: str = ""
    content: str = ""
    tool_calls: Sequence[tuple[str, dict[str, Any]]] = ()
    finish_reason: str | None = None  # override, e.g. "length"; default stop / tool_calls


Script = Callable[[dict[str, Any]], Turn] | Sequence[Turn]


def message_text(content: Any) -> str:
    """The text of a message ``content``: a string or a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


CALC_ANSWER = "17 \u00d7 23 = 391."  # with U+00D7 MULTIPLICATION SIGN, as the brief writes it


def calculator_script(body: dict[str, Any]) -> Turn:
    """The canonical demo: call ``calculator`` on 17*23, then answer only if the tool said 391.

    Turn 2 checks that a tool message containing "391" came back; otherwise the answer does not
    contain 391, so a test passing on the answer proves the tool really ran.
    """
    tool_texts = [message_text(m.get("content")) for m in body.get("messages", []) if m.get("role") == "tool"]
    if not tool_texts:
        return Turn(
            thinking="The user wants 17 times 23. I should use the calculator tool instead of guessing.",
            tool_calls=[("calculator", {"expression": "17*23"})],
        )
    if any("391" in text for text in tool_texts):
        return Turn(thinking="The calculator returned the product, so I can answer.", content=CALC_ANSWER)
    return Turn(thinking="The calculator gave no usable result.", content="The calculator did not answer.")


def dumps(value: Any, *, go_escape: bool = False) -> bytes:
    """Compact JSON as servers send it; ``go_escape`` mimics Go's ``\\u003c``-style escaping of <, >, &."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if go_escape:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


def pieces(text: str) -> list[str]:
    """Split text the way a stream delivers it: word by word, whitespace kept."""
    return re.findall(r"\S+\s*|\s+", text)


# --------------------------------------------------------------------------- network guard


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a non-loopback address."""


def check_address(family: int, address: Any) -> None:
    """Raise NetworkBlockedError unless an AF_INET/AF_INET6 address is loopback."""
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return
    host = str(address[0])
    if host == "localhost":
        return
    try:
        ip = ipaddress.ip_address(host.split("%", maxsplit=1)[0])
    except ValueError:
        raise NetworkBlockedError(f"network access blocked in tests: {host}:{address[1]}") from None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
        raise NetworkBlockedError(f"network access blocked in tests: {host}:{address[1]}")


# --------------------------------------------------------------------------- HTTP plumbing


@dataclass
class RecordedRequest:
    """A request as the server received it."""

    method: str
    path: str
    json: Any
    headers: dict[str, str] = field(default_factory=dict)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up mid-stream is expected in timeout tests."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def setup(self) -> None:
        super().setup()
        self.server.app._connections.add(self.connection)

    def finish(self) -> None:
        self.server.app._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.send_json(400, {"error": "invalid JSON body"})
            return
        try:
            self.server.app.handle(self, body)
        except (ConnectionError, OSError):
            self.close_connection = True

    def send_json(
        self, status: int, payload: Any, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        data = payload if isinstance(payload, bytes) else dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_stream(self, content_type: str, chunks: Iterable[bytes]) -> None:
        """Chunked transfer encoding, one HTTP chunk per item, flushed as it goes."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            if self.server.app.chunk_delay:  # read per chunk, so a test can change it mid-stream
                time.sleep(self.server.app.chunk_delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the connection abruptly, without any response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class ScriptedServer:
    """Base of the two fake servers: lifecycle, request log, scripting and fault injection."""

    chat_path = ""
    default_models: tuple[str, ...] = ()

    def __init__(
        self, script: Script | None = None, *, models: Sequence[str] | None = None, seed: int = 0
    ) -> None:
        self.script: Script = calculator_script if script is None else script
        self.models = list(models if models is not None else self.default_models)
        self.requests: list[RecordedRequest] = []
        self.delay = 0.0
        self.chunk_delay = 0.0
        self._fail: list[int] = []
        self._drops = 0
        self._turns = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free loopback port and serve in a daemon thread."""
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open (keep-alive) connection."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # faults and assertions --------------------------------------------------------

    def fail_next(self, n: int, status: int = 503) -> None:
        """Answer the next ``n`` chat requests with HTTP ``status``."""
        with self._lock:
            self._fail += [status] * n

    def drop_next(self, n: int) -> None:
        """Close the connection of the next ``n`` chat requests without answering."""
        with self._lock:
            self._drops += n

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat requests received, in order."""
        return [r.json for r in self.requests if r.path.split("?")[0] == self.chat_path]

    # request handling ---------------------------------------------------------------

    def handle(self, h: _Handler, body: Any) -> None:
        path = h.path.split("?")[0]
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path, body, dict(h.headers.items())))
        if h.command == "POST" and path == self.chat_path:
            self._chat(h, body if isinstance(body, dict) else {})
        else:
            self.route(h, path, body)

    def _chat(self, h: _Handler, body: dict[str, Any]) -> None:
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            drop = self._drops > 0
            self._drops -= int(drop)
            status = self._fail.pop(0) if self._fail and not drop else None
        if drop:
            h.drop()
            return
        if status is not None:
            h.send_json(status, self.error_body(status, f"injected failure (HTTP {status})"))
            return
        model = str(body.get("model", ""))
        if not self.knows(model):
            h.send_json(404, self.model_not_found(model))
            return
        try:
            turn = self.next_turn(body)
        except Exception as exc:
            h.send_json(500, self.error_body(500, f"script failed: {exc!r}"))
            return
        self.answer(h, body, model, turn)

    def next_turn(self, body: dict[str, Any]) -> Turn:
        if callable(self.script):
            return self.script(body)
        with self._lock:
            index, self._turns = self._turns, self._turns + 1
        if index >= len(self.script):
            raise LookupError(f"script exhausted: {len(self.script)} turn(s), request #{index + 1}")
        return self.script[index]

    def knows(self, model: str) -> bool:
        return model in self.models

    def token_count(self, body: dict[str, Any]) -> int:
        """A deterministic stand-in for the prompt token count."""
        return sum(len(message_text(m.get("content")).split()) + 4 for m in body.get("messages", []))

    def new_id(self, prefix: str, length: int = 8) -> str:
        with self._lock:
            return prefix + "".join(
                self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length)
            )

    # per-server ------------------------------------------------------------------

    def route(self, h: _Handler, path: str, body: Any) -> None:
        raise NotImplementedError

    def answer(self, h: _Handler, body: dict[str, Any], model: str, turn: Turn) -> None:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def model_not_found(self, model: str) -> dict[str, Any]:
        raise NotImplementedError


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
