"""OpenTelemetry export: a real run's spans, caught by the SDK's in-memory exporter, follow the
GenAI semantic conventions and nest under the run."""

from __future__ import annotations

import pytest
from servers import VLLMServer

from agents.runner import run
from graphs.memory.otel import OtelRecorder
from graphs.models.chat import ChatQwen
from tools import calculator

sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk is in the dev extra")
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider, exporter


def test_a_run_is_an_agent_span_with_chat_and_tool_children(vllm_server: VLLMServer) -> None:
    tracer_provider, exporter = provider()
    llm = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=vllm_server.base_url, temperature=0.6)
    recorder = OtelRecorder(tracer_provider, agent="math-tutor", conversation="t-1")
    result = run("What is 17*23?", chat_model=llm, tools=[calculator], trace=False, callbacks=[recorder])
    assert "391" in result.answer

    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert names.count("chat Qwen/Qwen3-8B") == 2 and names.count("execute_tool calculator") == 1
    (agent,) = [s for s in spans if s.name == "invoke_agent math-tutor"]
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.conversation.id"] == "t-1"
    assert agent.parent is None

    chats = [s for s in spans if s.name.startswith("chat ")]
    for chat in chats:
        assert chat.kind == SpanKind.CLIENT
        assert chat.parent is not None and chat.parent.span_id == agent.context.span_id
        assert chat.context.trace_id == agent.context.trace_id
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == "Qwen/Qwen3-8B"
        assert chat.attributes["gen_ai.usage.input_tokens"] > 0
        assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [("tool_calls",), ("stop",)]

    (tool,) = [s for s in spans if s.name == "execute_tool calculator"]
    assert (
        tool.attributes["gen_ai.tool.name"] == "calculator"
        and tool.attributes["gen_ai.tool.type"] == "function"
    )
    assert tool.parent is not None and tool.parent.span_id == agent.context.span_id
    assert tool.status.status_code != StatusCode.ERROR
    assert not any("17*23" in str(v) for s in spans for v in (s.attributes or {}).values())  # no content


def test_a_failing_tool_marks_its_span(vllm_server: VLLMServer) -> None:
    from servers import Turn

    vllm_server.script = [
        Turn(tool_calls=[("calculator", {"expression": "1/0"})]),
        Turn(content="It cannot be computed."),
    ]
    tracer_provider, exporter = provider()
    llm = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=vllm_server.base_url)
    run("1/0?", chat_model=llm, tools=[calculator], trace=False, callbacks=[OtelRecorder(tracer_provider)])
    (tool,) = [s for s in exporter.get_finished_spans() if s.name == "execute_tool calculator"]
    assert tool.status.status_code == StatusCode.ERROR and tool.attributes["error.type"] == "tool_error"


def test_run_otel_sends_the_spans_over_otlp(vllm_server: VLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``qwengraph run --otel`` exports to OTEL_EXPORTER_OTLP_ENDPOINT (a loopback collector here)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from typer.testing import CliRunner

    from agents.cli import app

    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_address[1]}")
    try:
        result = CliRunner().invoke(
            app,
            [
                "run",
                "What is 17*23?",
                "--model",
                "openai:Qwen/Qwen3-8B",
                "--base-url",
                vllm_server.base_url,
                "--otel",
                "--json",
            ],
        )
    finally:
        collector.shutdown()
    assert result.exit_code == 0, result.stderr
    assert [path for path, _ in received] and all(path == "/v1/traces" for path, _ in received)
    body = b"".join(data for _, data in received)  # OTLP protobuf: span names and attributes as bytes
    for needle in (
        b"invoke_agent qwengraph",
        b"chat Qwen/Qwen3-8B",
        b"execute_tool calculator",
        b"gen_ai.usage",
    ):
        assert needle in body
