"""Run traces: every model call and tool call of a run, recorded into SQLite.

:class:`TraceRecorder` is a LangChain callback handler. Pass it to a graph run
(``graph.stream(inputs, config={"callbacks": [recorder]})``) and it notes, for each model call, the
start and end time, latency, prompt/completion/thinking tokens, tokens per second, finish reason and
error; for each tool call, the name, arguments, duration, outcome (``ok``/``error``) and result size.

The hot path only appends to in-memory lists (a few microseconds per event); :meth:`TraceRecorder.flush`
writes everything in **one** transaction with sqlite-utils. :func:`recording_trace` flushes on exit,
also when the body raised (the run is then stored with outcome ``error``), so nothing is lost.
Flushing again later writes only what is new, so a long session may flush after every turn.

Privacy: user content (the prompt, tool arguments and results, the answer, error messages) is stored
as a SHA-256 hex digest and a length, never as text, unless the recorder is created with
``store_content=True``. Note that a digest of a short, guessable text can be confirmed by hashing
guesses: it hides content from casual reading, it is not encryption.

The tables and columns are described in :mod:`graphs.memory.trace_store` (``$QWENGRAPH_HOME/traces.db``
by default). ``seq`` orders model and tool calls of one run together (start order).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from graphs.errors import MemoryError_, TraceNotWritten
from graphs.memory.trace_store import MODEL_FIELDS, call_notes, default_db_path, digest, iso, write_trace
from graphs.models.messages import reasoning_text


class TraceRecorder(BaseCallbackHandler):
    """Collect one run's model and tool calls; :meth:`flush` writes them to SQLite.

    Thread-safe (the ReAct graph runs tools in worker threads) and quick, so it runs inline also
    in async runs (``run_inline``: no executor hop per callback). Handler errors never reach the run:
    LangChain logs and ignores exceptions raised by callbacks, and the handlers do no I/O.

    Args:
        db_path: the SQLite file; ``$QWENGRAPH_HOME/traces.db`` by default.
        store_content: store prompt, arguments, results and answer as text (opt-in).
        run_id: the run's id; a new UUID by default.
        model: the model URI, if known up front (else taken from the first model call).
        prompt: the user's prompt (else taken from the graph's input: the last human message).
        meta: extra JSON-serialisable facts about the run (agent name, flags). Put no content here.
    """

    run_inline = True

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        store_content: bool = False,
        run_id: str | None = None,
        model: str | None = None,
        prompt: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path) if db_path is not None else default_db_path()
        self.store_content = store_content
        self.run_id = run_id or str(uuid.uuid4())
        self.model = model
        self.meta = dict(meta or {})
        self.started = time.time()
        self.ended: float | None = None
        self.outcome = "running"
        self.error: str | None = None
        self.error_message: str | None = None
        self.prompt = prompt
        self.answer: str | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._root: UUID | None = None
        self._open: dict[UUID, dict[str, Any]] = {}
        self._done: list[tuple[str, dict[str, Any]]] = []

    # --- what callers may set -------------------------------------------------------------------

    def set_answer(self, answer: str) -> None:
        """Record the run's final answer (else taken from the graph's output)."""
        self.answer = answer

    def finish(self, outcome: str = "ok", error: BaseException | None = None) -> None:
        """Mark the run finished (``ok`` or ``error``); the first call wins."""
        with self._lock:
            if self.ended is not None:
                return
            self.ended = time.time()
            self.outcome = "error" if error is not None else outcome
            if error is not None:
                self.error, self.error_message = self._error_fields(error)

    # --- callbacks: run boundaries ---------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """The outermost chain is the run: take the prompt from its input."""
        if parent_run_id is None and self._root is None:
            self._root = run_id
            if self.prompt is None:
                self.prompt = _last_text(inputs, HumanMessage)

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """The outermost chain ended: take the answer from its output."""
        if run_id == self._root and self.answer is None:
            self.answer = _last_text(outputs, AIMessage)

    def on_chain_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """The outermost chain failed: the run's outcome is ``error``."""
        if run_id == self._root:
            self.finish(error=error)

    # --- callbacks: model calls ------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A model call starts."""
        self._start_model(run_id, metadata, kwargs.get("invocation_params"))

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A (non-chat) model call starts."""
        self._start_model(run_id, metadata, kwargs.get("invocation_params"))

    def _start_model(
        self, run_id: UUID, metadata: Mapping[str, Any] | None, params: Mapping[str, Any] | None
    ) -> None:
        meta = metadata or {}
        model = (params or {}).get("model") or meta.get("ls_model_name")
        with self._lock:
            self._seq += 1
            self._open[run_id] = {
                "kind": "model",
                "call_id": str(run_id),
                "seq": self._seq,
                "t0": time.time(),
                "p0": time.perf_counter(),
                "node": meta.get("langgraph_node"),
                "model": str(model) if model else None,
                "notes": meta.get("qwengraph_note"),
            }

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call ended: note tokens and finish reason."""
        row = self._close(run_id)
        if row is None:
            return
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        message = generation.message if isinstance(generation, ChatGeneration) else None
        usage: Mapping[str, Any] = {}
        finish = (generation.generation_info or {}).get("finish_reason") if generation else None
        if isinstance(message, AIMessage):
            usage = message.usage_metadata or {}
            finish = message.response_metadata.get("finish_reason") or finish
            row["thinking_chars"] = len(reasoning_text(message))
            row["notes"] = call_notes(row.get("notes"), message.response_metadata)
        if not usage:
            token_usage = (response.llm_output or {}).get("token_usage") or {}
            usage = {
                "input_tokens": token_usage.get("prompt_tokens"),
                "output_tokens": token_usage.get("completion_tokens"),
            }
        details = usage.get("output_token_details") or {}
        row["prompt_tokens"] = usage.get("input_tokens")
        row["completion_tokens"] = usage.get("output_tokens")
        row["thinking_tokens"] = details.get("reasoning")
        row["finish_reason"] = finish
        seconds = row["latency_ms"] / 1000
        if row["completion_tokens"] and seconds > 0:
            row["tokens_per_s"] = round(row["completion_tokens"] / seconds, 2)
        self._keep(row)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call failed."""
        row = self._close(run_id)
        if row is not None:
            row["error"], row["error_message"] = self._error_fields(error)
            self._keep(row)

    # --- callbacks: tool calls -------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool call starts: note its name and arguments."""
        name = (serialized or {}).get("name") or kwargs.get("name") or "?"
        args = json.dumps(inputs, sort_keys=True, default=str, ensure_ascii=False) if inputs else input_str
        with self._lock:
            self._seq += 1
            self._open[run_id] = {
                "kind": "tool",
                "call_id": str(run_id),
                "seq": self._seq,
                "t0": time.time(),
                "p0": time.perf_counter(),
                "name": str(name),
                "args": args,
            }

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool call ended; a result starting with ``Error`` counts as an error (as in the graph)."""
        row = self._close(run_id)
        if row is None:
            return
        text = _tool_text(output)
        failed = text.startswith("Error") or (isinstance(output, ToolMessage) and output.status == "error")
        row["outcome"] = "error" if failed else "ok"
        if failed:
            row["error"] = "tool_error"
        row["result"] = text
        self._keep(row)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool call raised."""
        row = self._close(run_id)
        if row is not None:
            row["outcome"] = "error"
            row["error"], row["error_message"] = self._error_fields(error)
            self._keep(row)

    # --- bookkeeping -----------------------------------------------------------------------------

    def _close(self, run_id: UUID) -> dict[str, Any] | None:
        with self._lock:
            row = self._open.pop(run_id, None)
        if row is not None:
            row["t1"] = time.time()
            row["latency_ms"] = round((time.perf_counter() - row.pop("p0")) * 1000, 3)
        return row

    def _keep(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._done.append((row["kind"], row))

    def _error_fields(self, error: BaseException) -> tuple[str, str | None]:
        text = str(error)
        return type(error).__name__, text if self.store_content else None

    def _content(self, prefix: str, text: str | None) -> dict[str, Any]:
        if text is None:
            return {f"{prefix}_sha256": None, f"{prefix}_chars": None, prefix: None}
        return {
            f"{prefix}_sha256": digest(text),
            f"{prefix}_chars": len(text),
            prefix: text if self.store_content else None,
        }

    # --- writing ---------------------------------------------------------------------------------

    def rows(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """The run row and the rows of the finished model/tool calls not yet written."""
        with self._lock:
            done = list(self._done)
        model_rows: list[dict[str, Any]] = []
        tool_rows: list[dict[str, Any]] = []
        for kind, row in done:
            common = {
                "call_id": row["call_id"],
                "run_id": self.run_id,
                "seq": row["seq"],
                "started_at": iso(row["t0"]),
                "ended_at": iso(row["t1"]),
            }
            if kind == "model":
                if self.model is None and row.get("model"):
                    self.model = row["model"]
                model_rows.append(common | {k: row.get(k) for k in MODEL_FIELDS})
            else:
                tool_rows.append(common | self._tool_fields(row))
        return self._run_row(), model_rows, tool_rows

    def _tool_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": row["name"],
            "duration_ms": row["latency_ms"],
            "outcome": row.get("outcome", "error"),
            "error": row.get("error"),
            "error_message": row.get("error_message"),
            **self._content("args", row["args"]),
            **self._content("result", row.get("result")),
        }

    def _run_row(self) -> dict[str, Any]:
        ended = self.ended
        return {
            "run_id": self.run_id,
            "started_at": iso(self.started),
            "ended_at": iso(ended),
            "duration_ms": round((ended - self.started) * 1000, 3) if ended is not None else None,
            "model": self.model,
            "outcome": self.outcome,
            "error": self.error,
            "error_message": self.error_message,
            **self._content("prompt", self.prompt),
            **self._content("answer", self.answer),
            "store_content": int(self.store_content),
            "meta": json.dumps(self.meta, sort_keys=True, default=str),
        }

    def flush(self) -> None:
        """Write the run row and every finished call not yet written, in one transaction.

        Raises:
            MemoryError_: the database could not be opened or written (the rows stay buffered, so
                a later flush retries them).
        """
        run_row, model_rows, tool_rows = self.rows()
        write_trace(self.db_path, run_row, model_rows, tool_rows)
        with self._lock:
            del self._done[: len(model_rows) + len(tool_rows)]


def _tool_text(output: Any) -> str:
    if isinstance(output, ToolMessage):
        output = output.content
    if isinstance(output, str):
        return output
    return json.dumps(output, default=str, ensure_ascii=False)


def _last_text(payload: Any, kind: type[BaseMessage]) -> str | None:
    """The text of the last message of type ``kind`` in a graph input/output (``{"messages": [...]}``)."""
    messages: Any = payload.get("messages") if isinstance(payload, Mapping) else None
    if not isinstance(messages, Sequence):
        return None
    for message in reversed(messages):
        if isinstance(message, kind) and not (isinstance(message, AIMessage) and message.tool_calls):
            return message.text
    return None


@contextmanager
def recording_trace(
    db_path: str | Path | None = None,
    *,
    store_content: bool = False,
    meta: Mapping[str, Any] | None = None,
    model: str | None = None,
    prompt: str | None = None,
    run_id: str | None = None,
) -> Iterator[TraceRecorder]:
    """Yield a :class:`TraceRecorder` for one run and write its trace on exit.

    The trace is written also when the body raises (outcome ``error``, the error's type kept); a
    failure to write it then is attached to the original error as a note instead of replacing it.
    When the body succeeded, a failure to write the trace never turns the run into a failure: it is
    reported as a :class:`~graphs.errors.TraceNotWritten` warning (the CLI prints ``warning: ...``).

    Example:
        >>> with recording_trace(meta={"agent": "math-tutor"}) as recorder:  # doctest: +SKIP
        ...     graph.invoke(inputs, config={"callbacks": [recorder]})
    """
    recorder = TraceRecorder(
        db_path, store_content=store_content, meta=meta, model=model, prompt=prompt, run_id=run_id
    )
    try:
        yield recorder
    except BaseException as err:
        recorder.finish(error=err)
        try:
            recorder.flush()
        except MemoryError_ as write_error:
            err.add_note(f"(the run's trace was not written: {write_error})")
        raise
    recorder.finish()
    try:
        recorder.flush()
    except MemoryError_ as write_error:
        warnings.warn(TraceNotWritten(f"the run's trace was not written: {write_error}"), stacklevel=3)
