"""``/metrics``: the server's counters in the Prometheus text format (``prometheus-client``).

Every server has its own registry (no process-global one), holding::

    qwengraph_requests_total{agent, outcome}          ok, stopped, failed, cancelled (client went
                                                      away), or the refusal: unauthorized,
                                                      rate_limited, bad_request, unknown_agent
    qwengraph_request_seconds{agent}                  histogram: request to last byte
    qwengraph_time_to_first_token_seconds{agent}      histogram: streamed requests, to the first
                                                      thinking or answer piece
    qwengraph_tokens_total{agent, kind}               prompt / completion tokens (rate() = tokens/s)
    qwengraph_completion_tokens_per_second{agent}     histogram per request
    qwengraph_tool_calls_total{agent, tool}
    qwengraph_tool_failures_total{agent, tool}
    qwengraph_requests_in_progress{agent}             gauge
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RATE_BUCKETS = (1, 5, 10, 20, 40, 80, 160, 320, 640)


class Metrics:
    """The server's metrics (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "qwengraph_requests", "Chat requests by outcome.", ["agent", "outcome"], registry=r
        )
        self.seconds = Histogram(
            "qwengraph_request_seconds",
            "Request to last byte.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "qwengraph_time_to_first_token_seconds",
            "Request to first streamed piece.",
            ["agent"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter("qwengraph_tokens", "Model tokens.", ["agent", "kind"], registry=r)
        self.rate = Histogram(
            "qwengraph_completion_tokens_per_second",
            "Completion tokens per second of a request.",
            ["agent"],
            buckets=RATE_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter("qwengraph_tool_calls", "Tool calls.", ["agent", "tool"], registry=r)
        self.tool_failures = Counter(
            "qwengraph_tool_failures", "Tool calls that failed.", ["agent", "tool"], registry=r
        )
        self.in_progress = Gauge(
            "qwengraph_requests_in_progress", "Requests being answered.", ["agent"], registry=r
        )

    def refused(self, agent: str, outcome: str) -> None:
        """A request refused before any run (``agent`` may be ``-`` when unknown)."""
        self.requests.labels(agent=agent, outcome=outcome).inc()

    def finished(
        self,
        agent: str,
        outcome: str,
        *,
        seconds: float,
        ttft: float | None,
        usage: Mapping[str, int],
        tool_rows: Sequence[Mapping[str, Any]],
        generation_seconds: float,
    ) -> None:
        """A run ended: count it, its time, tokens and tool calls."""
        self.requests.labels(agent=agent, outcome=outcome).inc()
        self.seconds.labels(agent=agent).observe(seconds)
        if ttft is not None:
            self.ttft.labels(agent=agent).observe(ttft)
        prompt, completion = int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
        self.tokens.labels(agent=agent, kind="prompt").inc(prompt)
        self.tokens.labels(agent=agent, kind="completion").inc(completion)
        if completion and generation_seconds > 0:
            self.rate.labels(agent=agent).observe(completion / generation_seconds)
        for row in tool_rows:
            tool = str(row.get("name") or "?")
            self.tool_calls.labels(agent=agent, tool=tool).inc()
            if row.get("outcome") != "ok":
                self.tool_failures.labels(agent=agent, tool=tool).inc()

    def text(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
