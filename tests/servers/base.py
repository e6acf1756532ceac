"""Scripts, the network guard and the HTTP plumbing shared by the loopback model servers."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from servers.faults import Fault, FaultyWriter, replace_answer

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


def _closed(h: _Handler) -> bool:
    """Whether the client has hung up (its end of the connection reads as closed)."""
    try:
        ready, _, _ = select.select([h.connection], [], [], 0)
        return bool(ready) and h.connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


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
        self._faults: list[Fault] = []
        self._stopping = threading.Event()
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
        self._stopping.set()
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

    def inject(self, *faults: Fault) -> None:
        """Damage or replace the next chat responses, one fault each (see :mod:`servers.faults`)."""
        with self._lock:
            self._faults += faults

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
            fault = self._faults.pop(0) if self._faults and not drop and status is None else None
        if drop:
            h.drop()
            return
        if status is not None:
            h.send_json(status, self.error_body(status, f"injected failure (HTTP {status})"))
            return
        writer: Any = h
        if fault is not None:
            if replace_answer(h, fault, self.error_body, lambda: self._stopping.is_set() or _closed(h)):
                return
            writer = FaultyWriter(h, fault)
        model = str(body.get("model", ""))
        if not self.knows(model):
            h.send_json(404, self.model_not_found(model))
            return
        try:
            turn = self.next_turn(body)
        except Exception as exc:
            h.send_json(500, self.error_body(500, f"script failed: {exc!r}"))
            return
        self.answer(writer, body, model, turn)

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
