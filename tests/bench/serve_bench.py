"""``qwengraph serve``: time to first token for many concurrent streaming clients, over the model's own.

Run: ``python tests/bench/serve_bench.py [--clients 50] [--rounds 3] [--latency 0.05]``. Prints
figures; asserts nothing.

A vLLM-style loopback server stands in for the model (it waits ``--latency`` seconds, then streams
a short thinking and answer). First ``--clients`` concurrent streaming requests go to it directly:
the model's own time to first token. Then a ``qwengraph serve`` process (math-tutor, traces and
request log on, as by default) gets the same number of concurrent streaming clients; its time to
first token is measured to the first thinking or answer piece (not the role chunk the server sends
at once). p50 / p95 over all rounds; the overhead is serve's p95 less the model's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the loopback servers

from servers import Turn, VLLMServer
from servers.base import _HTTPServer, message_text

# The loopback server's listen backlog (socketserver's default is 5) must hold every client that
# connects at once, or some connections are reset before they are accepted.
_HTTPServer.request_queue_size = 1024


def script(body: dict[str, Any]) -> Turn:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    prompt = message_text(users[-1].get("content")) if users else ""
    return Turn(thinking=f"Thinking about {prompt}.", content=f"answer to {prompt}")


async def first_piece(client: httpx.AsyncClient, url: str, model: str, prompt: str) -> float:
    """Seconds from sending a streaming request to its first thinking or answer piece."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True}
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body) as reply:
        reply.raise_for_status()
        async for line in reply.aiter_lines():
            if first is None and line.startswith("data: {"):
                choices = json.loads(line[6:]).get("choices") or [{}]
                delta = choices[0].get("delta") or {}
                if delta.get("reasoning") or delta.get("content"):
                    first = time.perf_counter() - started
    assert first is not None, "no thinking or answer piece in the stream"
    return first


async def rounds(url: str, model: str, clients: int, count: int) -> list[float]:
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=0)  # a connection each
    samples: list[float] = []
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await first_piece(client, url, model, "warm-up")
        for r in range(count):
            asked = [first_piece(client, url, model, f"round {r} question {i}") for i in range(clients)]
            samples += await asyncio.gather(*asked)
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def show(label: str, samples: list[float]) -> None:
    p50, p95 = statistics.median(samples) * 1000, pct(samples, 0.95) * 1000
    print(f"  {label:<30} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(samples)} requests)")


def start_serve(base_url: str, home: str) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "agents", "serve", "--agent", "math-tutor",
        "--model", "openai:Qwen/Qwen3-8B", "--base-url", base_url, "--port", "0",
        "--rate", "1000000", "--burst", "100000",
    ]  # fmt: skip
    env = {**os.environ, "QWENGRAPH_HOME": home}
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"on (http://[\d.]+:\d+/v1)", line)
    if match is None:
        proc.kill()
        raise SystemExit(f"qwengraph serve did not start: {line}{proc.stderr.read()}")
    return proc, match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, VLLMServer(script) as model:
        model.delay = args.latency
        direct = asyncio.run(
            rounds(f"{model.base_url}/chat/completions", "Qwen/Qwen3-8B", args.clients, args.rounds)
        )
        proc, url = start_serve(model.base_url, home)
        try:
            served = asyncio.run(rounds(f"{url}/chat/completions", "math-tutor", args.clients, args.rounds))
        finally:
            proc.terminate()
            proc.wait(30)
    latency_ms = args.latency * 1000
    print(f"{args.clients} concurrent streaming clients, {args.rounds} rounds, latency {latency_ms:.0f} ms")
    show("the model server directly", direct)
    show("qwengraph serve (math-tutor)", served)
    print(f"  p95 overhead of serve: {(pct(served, 0.95) - pct(direct, 0.95)) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
