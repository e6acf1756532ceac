"""``qwengraph serve``: agents offered over an OpenAI-compatible HTTP API (Starlette on uvicorn).

Routes: ``GET /v1/models`` (the agents), ``POST /v1/chat/completions`` (run one; SSE when
``stream``), ``GET /metrics`` (Prometheus text), ``GET /health``. The wire format is described in
:mod:`agents.serve.wire`, keys, limits and hashing in :mod:`agents.serve.guard`.

Each offered agent is a :class:`~agents.warm.WarmAgent` opened at start-up (model client, tools,
sandbox), so a request costs one run and nothing else. A streamed run whose client goes away is
cancelled at once (its model stream is closed, no further model or tool call starts) and logged
as ``cancelled``. Requests on one conversation are answered one at a time.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.conversation import athread_conversation
from agents.safety import redact
from agents.serve.guard import DEFAULT_BURST, DEFAULT_RATE, ApiKey, Guard, Limits, hashed, load_salt
from agents.serve.metrics import CONTENT_TYPE, Metrics
from agents.serve.reqlog import RequestLog
from agents.serve.sse import EventWriter, StreamingSSE
from agents.serve.wire import (
    ChatRequest,
    Completion,
    WireError,
    error_body,
    parse_request,
    read_body,
    too_large,
    usage_of,
)
from agents.warm import AgentChoice, RunRecord, WarmAgent
from graphs.errors import ConfigError, ModelError, QwenGraphError
from graphs.memory import aopen_checkpointer
from graphs.memory.trace_store import default_db_path, write_trace

TOOL_ACTIVITY = ("field", "text", "none")
REASONING_FIELDS = {
    "reasoning": ("reasoning",),
    "reasoning_content": ("reasoning_content",),
    "both": ("reasoning", "reasoning_content"),
}


@dataclass(frozen=True)
class ServeConfig:
    """What ``qwengraph serve`` offers and how (its flags).

    Attributes:
        agents: agent names offered (``auto`` routes each request).
        choice: model, server and run settings shared by every agent (its ``agent`` is ignored).
        keys: accepted API keys (none: an open server).
        rate, burst: requests a minute per key, and at once.
        limits: request size limits.
        memory: where conversations (threads) live (``None``: the default SQLite file).
        request_log: the request log file, ``-`` for stderr, ``None`` for none.
        trace, trace_content: record each request's run in traces.db (content only when asked).
        reasoning: ``reasoning``, ``reasoning_content`` or ``both``: where thinking goes.
        tool_activity: ``field`` (the ``qwengraph`` delta field), ``text`` (annotated lines in the
            content) or ``none``.
        required: agents that must open (named by the user); the others are skipped with a note.
    """

    agents: tuple[str, ...]
    choice: AgentChoice = field(default_factory=AgentChoice)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    rate: float = DEFAULT_RATE
    burst: int = DEFAULT_BURST
    limits: Limits = field(default_factory=Limits)
    memory: str | None = None
    request_log: str | Path | None = None
    trace: bool = True
    trace_content: bool = False
    reasoning: str = "reasoning"
    tool_activity: str = "field"
    required: tuple[str, ...] = ()


class Server:
    """The running server's state: agents, guard, metrics, logs (see the module docstring)."""

    def __init__(self, config: ServeConfig) -> None:
        if config.tool_activity not in TOOL_ACTIVITY:
            raise ConfigError(f"--tool-activity: choose from {', '.join(TOOL_ACTIVITY)}")
        if config.reasoning not in REASONING_FIELDS:
            raise ConfigError(f"--reasoning-field: choose from {', '.join(REASONING_FIELDS)}")
        self.config = config
        self.guard = Guard(config.keys, rate=config.rate, burst=config.burst)
        self.metrics = Metrics()
        self.agents: dict[str, WarmAgent] = {}
        self.skipped: dict[str, str] = {}
        self.started = int(time.time())
        self._stack = AsyncExitStack()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._background: set[asyncio.Task[None]] = set()
        self.salt = b""
        self.log = RequestLog(None)

    async def open(self) -> None:
        """Open the thread memory and every offered agent (an agent that cannot open is skipped
        with its reason, unless the user named it: then this raises)."""
        self.salt = load_salt()
        self.log = RequestLog(self.config.request_log)
        saver = await self._stack.enter_async_context(aopen_checkpointer(self.config.memory))
        for name in self.config.agents:
            agent = WarmAgent(
                AgentChoice(**{**self.config.choice.__dict__, "agent": name}),
                checkpointer=saver,
                trace_content=self.config.trace_content,
                meta={"served": name},
            )
            try:
                await agent.__aenter__()
            except QwenGraphError as err:
                if name in self.config.required:
                    raise
                self.skipped[name] = str(err)
                continue
            self._stack.callback(agent.close)
            self.agents[name] = agent
        if not self.agents:
            raise ConfigError(
                "no agent could be opened: " + "; ".join(f"{k}: {v}" for k, v in self.skipped.items())
            )

    async def close(self) -> None:
        """Wait for background logging, then release the agents and the memory."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._stack.aclose()
        self.log.close()

    # --- routes ---------------------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        """``GET /v1/models``: the agents."""
        if self.guard.identify(request.headers.get("authorization")) is None:
            return _error(401, "invalid API key", kind="invalid_request_error", code="invalid_api_key")
        data = [
            {"id": n, "object": "model", "created": self.started, "owned_by": "qwengraph"}
            for n in self.agents
        ]
        return JSONResponse({"object": "list", "data": data})

    async def metrics_text(self, request: Request) -> Response:
        """``GET /metrics``."""
        return Response(self.metrics.text(), media_type=CONTENT_TYPE)

    async def health(self, request: Request) -> Response:
        """``GET /health``."""
        return JSONResponse({"status": "ok", "agents": list(self.agents)})

    async def chat(self, request: Request) -> Response:
        """``POST /v1/chat/completions``."""
        started = time.perf_counter()
        key = self.guard.identify(request.headers.get("authorization"))
        if key is None:
            self.metrics.refused("-", "unauthorized")
            return _error(401, "invalid API key", kind="invalid_request_error", code="invalid_api_key")
        wait = self.guard.wait(key)
        if wait > 0:
            self.metrics.refused("-", "rate_limited")
            self.log.write({"key": key, "outcome": "rate_limited", "status": 429})
            retry = max(1, math.ceil(wait))
            return _error(
                429,
                f"rate limit reached for {key}: retry in {retry} s",
                kind="rate_limit_error",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(retry)},
            )
        try:
            limit = self.config.limits.max_body_bytes
            if int(request.headers.get("content-length") or 0) > limit:
                raise too_large(limit)
            req = parse_request(await read_body(request.stream(), limit), request.headers, self.config.limits)
            agent = self.agents.get(req.agent)
            if agent is None:
                known = ", ".join(self.agents)
                raise WireError(
                    404,
                    f"the model `{req.agent}` does not exist: choose from {known}",
                    kind="invalid_request_error",
                    code="model_not_found",
                    param="model",
                )
        except (WireError, ValueError) as err:
            wire = (
                err
                if isinstance(err, WireError)
                else WireError(400, str(err), kind="invalid_request_error", code="invalid_request")
            )
            self.metrics.refused("-", "unknown_agent" if wire.code == "model_not_found" else "bad_request")
            self.log.write({"key": key, "outcome": wire.code, "status": wire.status})
            return JSONResponse(wire.body(), status_code=wire.status)
        call = _Call(
            req=req,
            key=key,
            agent=agent,
            started=started,
            completion=Completion(req.agent, reasoning_fields=REASONING_FIELDS[self.config.reasoning]),
        )
        if req.stream:
            writer = EventWriter(call.completion, tool_activity=self.config.tool_activity)
            return StreamingSSE(self._stream(call, writer))
        return await self._whole(call)

    # --- running ------------------------------------------------------------------------------------

    def _thread(self, call: _Call) -> str | None:
        return f"serve:{call.key}:{call.req.conversation}" if call.req.conversation else None

    async def _begin(self, call: _Call) -> None:
        """Take the conversation's lock and decide the history (a known thread keeps its own)."""
        thread = self._thread(call)
        call.history = call.req.history
        if thread is None:
            return
        lock = self._locks.get(thread)
        if lock is None:
            lock = self._locks[thread] = asyncio.Lock()
        call.holder = lock  # keeps the lock alive (the table holds it weakly) while waiting
        await lock.acquire()
        call.lock = lock
        if await athread_conversation(call.agent.checkpointer, thread):
            call.history = []

    def _start(self, call: _Call) -> Any:
        self.metrics.in_progress.labels(agent=call.req.agent).inc()
        meta = {"key": call.key, "conversation": hashed(self.salt, call.req.conversation)}
        return call.agent.start(call.req.prompt, thread=self._thread(call), history=call.history, meta=meta)

    async def _whole(self, call: _Call) -> Response:
        await self._begin(call)
        try:
            record: RunRecord = await self._start(call).result()
        finally:
            self._end(call)
        await self._finish(call, record, outcome=None)
        if record.status == "failed":
            status = (
                502 if record.exit_code == ModelError.exit_code else (400 if record.exit_code == 2 else 500)
            )
            kind = "server_error" if status != 400 else "invalid_request_error"
            return _error(
                status, record.error or "the run failed", kind=kind, code=record.error_type or "error"
            )
        summary = record.summary
        assert summary is not None
        extra: dict[str, Any] = {"tool_calls": [c.__dict__ for c in summary.tool_calls]}
        if summary.stopped:
            extra["stopped"] = summary.stopped
        body = call.completion.whole(
            summary.answer, "\n\n".join(summary.thinking), usage_of(summary.usage), extra
        )
        return JSONResponse(body)

    async def _stream(self, call: _Call, writer: EventWriter) -> AsyncIterator[bytes]:
        yield writer.opening()  # at once: the client sees the answer has started
        handle = None
        finished = False
        try:
            await self._begin(call)
            handle = self._start(call)
            async for event in handle.events():
                piece = writer.event(event)
                if piece:
                    if call.first is None and event.kind in ("thinking", "text", "value"):
                        call.first = time.perf_counter() - call.started
                    yield piece
            record: RunRecord = await handle.result()
            finished = True
            self._later(self._finish(call, record, outcome=None))
            yield writer.closing(record, include_usage=call.req.include_usage)
        finally:
            self._end(call)
            if handle is not None and not finished:  # the client went away: stop the run now
                handle.cancel()
                self._later(self._after_cancel(call, handle))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Log and trace without holding up the response (kept until done; awaited at close)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _after_cancel(self, call: _Call, handle: Any) -> None:
        record: RunRecord = await handle.result()
        await self._finish(call, record, outcome="cancelled")

    def _end(self, call: _Call) -> None:
        if call.lock is not None:
            call.lock.release()
            call.lock = None
        if not call.ended:
            call.ended = True
            self.metrics.in_progress.labels(agent=call.req.agent).dec()

    async def _finish(self, call: _Call, record: RunRecord, *, outcome: str | None) -> None:
        """Metrics, the request log line and the trace of one answered (or abandoned) request."""
        seconds = time.perf_counter() - call.started
        summary = record.summary
        usage = summary.usage if summary is not None else {}
        tool_rows = record.trace_rows[2] if record.trace_rows else []
        model_ms = sum(
            float(r.get("latency_ms") or 0) for r in (record.trace_rows[1] if record.trace_rows else [])
        )
        outcome = outcome or record.status
        self.metrics.finished(
            call.req.agent,
            outcome,
            seconds=seconds,
            ttft=call.first,
            usage=usage,
            tool_rows=tool_rows,
            generation_seconds=model_ms / 1000,
        )
        self.log.write(
            {
                "request_id": call.completion.id,
                "agent": call.req.agent,
                "key": call.key,
                "user": hashed(self.salt, call.req.user),
                "conversation": hashed(self.salt, call.req.conversation),
                "stream": call.req.stream,
                "outcome": outcome,
                "status": 200 if record.status != "failed" else "error",
                "seconds": round(seconds, 4),
                "ttft_seconds": None if call.first is None else round(call.first, 4),
                "input_chars": call.req.chars,
                "messages": len(call.req.history) + 1,
                "prompt": redact(call.req.prompt),
                "answer": redact(summary.answer) if summary else None,
                "prompt_tokens": usage.get("input_tokens", 0),
                "completion_tokens": usage.get("output_tokens", 0),
                "tool_calls": len(tool_rows),
                "tool_failures": sum(r.get("outcome") != "ok" for r in tool_rows),
                "trace_id": record.trace_id if self.config.trace else None,
                "error_type": record.error_type,
            }
        )
        if self.config.trace and record.trace_rows:
            run_row, model_rows, rows = record.trace_rows
            try:
                await asyncio.to_thread(write_trace, default_db_path(), run_row, model_rows, rows)
            except QwenGraphError:
                self.metrics.refused(call.req.agent, "trace_not_written")


@dataclass
class _Call:
    """One chat request in progress."""

    req: ChatRequest
    key: str
    agent: WarmAgent
    started: float
    completion: Completion
    history: list[Any] = field(default_factory=list)
    lock: asyncio.Lock | None = None  # held: released when the request ends
    holder: asyncio.Lock | None = None
    first: float | None = None
    ended: bool = False


def _error(
    status: int, message: str, *, kind: str, code: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(message, kind=kind, code=code), status_code=status, headers=headers)


def create_app(server: Server) -> Starlette:
    """The ASGI app for an opened :class:`Server`."""
    return Starlette(
        routes=[
            Route("/v1/models", server.models, methods=["GET"]),
            Route("/v1/chat/completions", server.chat, methods=["POST"]),
            Route("/metrics", server.metrics_text, methods=["GET"]),
            Route("/health", server.health, methods=["GET"]),
        ]
    )
