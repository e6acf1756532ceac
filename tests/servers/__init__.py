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
sleeps before answering, ``chunk_delay`` sleeps between stream chunks, and ``inject(fault, ...)``
damages or replaces the next responses on the wire (see :mod:`servers.faults`: HTTP statuses with
headers, raw bodies, cuts mid-stream, rewritten bytes, a server that never answers).
"""

from servers.base import (
    CALC_ANSWER,
    NetworkBlockedError,
    RecordedRequest,
    Script,
    ScriptedServer,
    Turn,
    calculator_script,
    check_address,
    message_text,
)
from servers.faults import Fault, hang, status
from servers.ollama import OllamaServer
from servers.vllm import VLLMServer

__all__ = [
    "CALC_ANSWER",
    "Fault",
    "NetworkBlockedError",
    "OllamaServer",
    "RecordedRequest",
    "Script",
    "ScriptedServer",
    "Turn",
    "VLLMServer",
    "calculator_script",
    "check_address",
    "hang",
    "message_text",
    "status",
]
