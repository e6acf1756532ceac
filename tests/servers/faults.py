"""Faults the loopback servers can inject into one chat response, in either dialect.

``server.inject(fault, ...)`` queues faults; each chat request takes the next one (after
``fail_next``/``drop_next``). A fault either replaces the answer (an HTTP status with headers, raw
bytes, a server that never answers) or damages the answer the script produced, on the wire, after the
dialect has rendered it (cut it after some bytes, cleanly or by dropping the connection; rewrite its
bytes), so the same fault works for Ollama's NDJSON and vLLM's SSE, streamed or not.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from servers.base import _Handler

FaultKind = Literal["status", "body", "hang", "delay", "cut", "rewrite"]


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    Kinds:
        status: answer HTTP ``status`` (the dialect's error body) with ``headers`` (e.g. Retry-After).
        body: answer 200 with exactly ``body`` (malformed JSON, an empty body...).
        hang: read the request and never answer (until the client gives up or the server stops).
        delay: wait ``seconds`` before the first byte, then answer normally.
        cut: answer normally but stop after ``after`` bytes of the body (or, streamed, after
            ``chunks`` whole chunks: lines or events), then send ``then`` (say, an error line):
            ``drop`` closes the connection mid-message (the client sees a broken transfer);
            otherwise the HTTP message ends cleanly there (a truncated body, e.g. a stream cut
            mid-JSON-line).
        rewrite: answer normally with every body chunk passed through ``fn``.
    """

    kind: FaultKind
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    after: int = 0
    chunks: int | None = None
    drop: bool = False
    then: bytes = b""
    fn: Callable[[bytes], bytes] | None = None


def status(code: int, **headers: str) -> Fault:
    """HTTP ``code`` with these headers (``Retry_After="2"`` becomes ``Retry-After: 2``)."""
    return Fault("status", status=code, headers={k.replace("_", "-"): v for k, v in headers.items()})


def hang() -> Fault:
    """Never answer."""
    return Fault("hang")


class FaultyWriter:
    """Stands in for the request handler while the dialect writes its answer; applies one fault."""

    def __init__(self, handler: _Handler, fault: Fault) -> None:
        self.h = handler
        self.fault = fault

    def send_json(
        self, status: int, payload: Any, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        from servers.base import dumps

        data = payload if isinstance(payload, bytes) else dumps(payload)
        if self.fault.kind == "rewrite" and self.fault.fn is not None:
            data = self.fault.fn(data)
        if self.fault.kind != "cut":
            self.h.send_json(status, data, content_type)
            return
        kept = data[: self.fault.after]
        self.h.send_response(status)
        self.h.send_header("Content-Type", content_type)
        self.h.send_header("Content-Length", str(len(data) if self.fault.drop else len(kept)))
        self.h.end_headers()
        self.h.wfile.write(kept)
        self.h.wfile.flush()
        if self.fault.drop:
            self.h.drop()

    def send_stream(self, content_type: str, chunks: Iterable[bytes]) -> None:
        if self.fault.kind == "rewrite" and self.fault.fn is not None:
            fn = self.fault.fn
            self.h.send_stream(content_type, (fn(c) for c in chunks))
            return
        if self.fault.kind != "cut":
            self.h.send_stream(content_type, chunks)
            return
        self.h.send_response(200)
        self.h.send_header("Content-Type", content_type)
        self.h.send_header("Transfer-Encoding", "chunked")
        self.h.end_headers()
        budget = self.fault.after
        for index, chunk in enumerate(chunks):
            if self.fault.chunks is not None:
                if index >= self.fault.chunks:
                    break
                budget = len(chunk) + 1
            part = chunk[:budget]
            if part:
                self.h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.h.wfile.flush()
            budget -= len(part)
            if budget <= 0:
                break
        if self.fault.then:
            self.h.wfile.write(b"%x\r\n%s\r\n" % (len(self.fault.then), self.fault.then))
            self.h.wfile.flush()
        if self.fault.drop:
            self.h.drop()
        else:
            self.h.wfile.write(b"0\r\n\r\n")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.h, name)


def replace_answer(
    h: _Handler, fault: Fault, error_body: Callable[[int, str], Any], stop: Callable[[], bool]
) -> bool:
    """Answer for a fault that replaces the response; ``False`` when the fault damages it instead."""
    if fault.kind == "status":
        from servers.base import dumps

        data = dumps(error_body(fault.status, f"injected failure (HTTP {fault.status})"))
        h.send_response(fault.status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for key, value in fault.headers.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)
        return True
    if fault.kind == "body":
        h.send_json(200, fault.body)
        return True
    if fault.kind == "hang":
        while not stop():
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)
        h.close_connection = True
        return True
    if fault.kind == "delay":
        time.sleep(fault.seconds)
    return False
