"""OpenTelemetry spans for runs, following the GenAI semantic conventions (extra ``otel``).

:class:`OtelRecorder` is a LangChain callback handler, like :class:`~graphs.memory.traces.TraceRecorder`:
pass it in a run's callbacks (``run(..., callbacks=[OtelRecorder()])``, ``qwengraph run --otel``) and
every run becomes a trace any OpenTelemetry backend (Phoenix, Langfuse, Jaeger, Grafana Tempo) can
show:

- the run: ``invoke_agent {agent}`` (INTERNAL), ``gen_ai.operation.name=invoke_agent``,
  ``gen_ai.agent.name``, ``gen_ai.conversation.id`` (the thread, when there is one);
- each model call: ``chat {model}`` (CLIENT), ``gen_ai.operation.name=chat``,
  ``gen_ai.provider.name`` (``ollama``, ``openai`` for OpenAI-compatible servers, ``llama.cpp`` for
  the local engine), ``gen_ai.request.model``, ``gen_ai.request.temperature`` / ``top_p`` /
  ``max_tokens`` when set, ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
  ``output_tokens``, and ``qwengraph.usage.thinking_tokens`` (reasoning tokens, not in the
  conventions yet);
- each tool call: ``execute_tool {tool}`` (INTERNAL), ``gen_ai.operation.name=execute_tool``,
  ``gen_ai.tool.name``, ``gen_ai.tool.type=function``.

Failures set ``error.type`` and the span status ``ERROR``. No prompt, argument or answer text is
recorded (as in ``traces.db`` by default). Spans nest by LangChain's run tree: model and tool
spans are children of the run span.

:func:`otlp_provider` builds a tracer provider that exports over OTLP/HTTP to
``OTEL_EXPORTER_OTLP_ENDPOINT`` (the standard variables apply); tests pass their own provider with
the SDK's in-memory exporter.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from graphs.errors import ConfigError

__all__ = ["OtelRecorder", "otlp_provider"]

INSTRUMENTATION = "qwengraph"
_PROVIDERS = {"ollama": "ollama", "openai": "openai", "local": "llama.cpp"}
_REQUEST_PARAMS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "max_tokens": "max_tokens",
}


def _otel() -> Any:
    try:
        from opentelemetry import trace  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ConfigError("OpenTelemetry export needs: pip install 'qwengraph[otel]'") from None
    return trace


def otlp_provider(service_name: str = "qwengraph") -> Any:
    """A tracer provider exporting over OTLP/HTTP (``OTEL_EXPORTER_OTLP_ENDPOINT``, default
    ``http://localhost:4318``). Call ``shutdown()`` on it when done, to flush."""
    _otel()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    except ImportError:
        raise ConfigError("OpenTelemetry export needs: pip install 'qwengraph[otel]'") from None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class OtelRecorder(BaseCallbackHandler):
    """Turn a run's callbacks into GenAI-convention spans (see the module docstring).

    Args:
        tracer_provider: where spans go; the global provider by default.
        agent: the agent's name for the run span (default: ``qwengraph``).
        model: the model URI, for the provider name when the call does not say.
        conversation: the thread id, recorded as ``gen_ai.conversation.id``.
    """

    def __init__(
        self,
        tracer_provider: Any = None,
        *,
        agent: str | None = None,
        model: str | None = None,
        conversation: str | None = None,
    ) -> None:
        super().__init__()
        trace = _otel()
        self._trace = trace
        self._tracer = trace.get_tracer(INSTRUMENTATION, tracer_provider=tracer_provider)
        self.agent = agent or "qwengraph"
        self.model = model
        self.conversation = conversation
        self._spans: dict[UUID, Any] = {}
        self._parents: dict[UUID, UUID | None] = {}
        self._lock = threading.Lock()

    # ---- span bookkeeping ------------------------------------------------------------------

    def _parent_span(self, parent: UUID | None) -> Any:
        with self._lock:
            seen = 0
            while parent is not None and seen < 1000:
                if parent in self._spans:
                    return self._spans[parent]
                parent, seen = self._parents.get(parent), seen + 1
        return None

    def _start(
        self, run_id: UUID, parent: UUID | None, name: str, kind: Any, attrs: Mapping[str, Any]
    ) -> None:
        above = self._parent_span(parent)
        context = self._trace.set_span_in_context(above) if above is not None else None
        span = self._tracer.start_span(name, context=context, kind=kind, attributes=dict(attrs))
        with self._lock:
            self._parents[run_id] = parent
            self._spans[run_id] = span

    def _end(
        self,
        run_id: UUID,
        error: BaseException | None = None,
        attrs: Mapping[str, Any] | None = None,
        error_type: str | None = None,
    ) -> None:
        with self._lock:
            span = self._spans.pop(run_id, None)
            self._parents.pop(run_id, None)
        if span is None:
            return
        for key, value in (attrs or {}).items():
            if value is not None:
                span.set_attribute(key, value)
        kind = error_type or (type(error).__name__ if error is not None else None)
        if kind is not None:
            span.set_attribute("error.type", kind)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, kind))
        span.end()

    # ---- the run ---------------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """The outermost chain is the run; inner chains (graph nodes) only link spans to it."""
        if parent_run_id is None:
            attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": self.agent}
            if self.conversation:
                attrs["gen_ai.conversation.id"] = self.conversation
            self._start(run_id, None, f"invoke_agent {self.agent}", self._trace.SpanKind.INTERNAL, attrs)
        else:
            with self._lock:
                self._parents[run_id] = parent_run_id

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain ended (the run span ends with the outermost one)."""
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain failed; LangGraph's interrupts (approvals) are not failures."""
        self._end(run_id, None if type(error).__name__ == "GraphInterrupt" else error)

    # ---- model calls -----------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A model call starts: a ``chat`` span."""
        params: Mapping[str, Any] = kwargs.get("invocation_params") or {}
        metadata: Mapping[str, Any] = kwargs.get("metadata") or {}
        uri = str(params.get("model") or metadata.get("ls_model_name") or self.model or "")
        scheme, _, name = uri.partition(":") if ":" in uri else ("", "", uri)
        provider = _PROVIDERS.get(scheme) or str(metadata.get("ls_provider") or "unknown")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": name or uri,
        }
        for key, semconv in _REQUEST_PARAMS.items():
            value = params.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                attrs[f"gen_ai.request.{semconv}"] = value
        self._start(run_id, parent_run_id, f"chat {name or uri}", self._trace.SpanKind.CLIENT, attrs)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call ended: usage and finish reason."""
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        message = generation.message if isinstance(generation, ChatGeneration) else None
        attrs: dict[str, Any] = {}
        if isinstance(message, AIMessage):
            usage: Mapping[str, Any] = message.usage_metadata or {}
            attrs["gen_ai.usage.input_tokens"] = usage.get("input_tokens")
            attrs["gen_ai.usage.output_tokens"] = usage.get("output_tokens")
            attrs["qwengraph.usage.thinking_tokens"] = (usage.get("output_token_details") or {}).get(
                "reasoning"
            )
            finish = message.response_metadata.get("finish_reason")
            if finish:
                attrs["gen_ai.response.finish_reasons"] = [str(finish)]
            if message.response_metadata.get("model_name"):
                attrs["gen_ai.response.model"] = str(message.response_metadata["model_name"])
        self._end(run_id, attrs=attrs)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A model call failed."""
        self._end(run_id, error)

    # ---- tool calls ------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool call starts: an ``execute_tool`` span."""
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        attrs = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
        }
        self._start(run_id, parent_run_id, f"execute_tool {name}", self._trace.SpanKind.INTERNAL, attrs)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool call ended; an ``Error...`` result marks the span as failed (as in traces.db)."""
        text = getattr(output, "content", output)
        failed = isinstance(text, str) and text.startswith("Error")
        self._end(run_id, error_type="tool_error" if failed else None)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool call raised."""
        self._end(run_id, error)
