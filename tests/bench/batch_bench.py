"""``qwengraph batch`` wall time against a loopback model server with a fixed latency.

Run: ``python tests/bench/batch_bench.py [--tasks 200] [--concurrency 50] [--latency 0.05]
[--executor local|ray] [--workers N]``. Prints figures; asserts nothing.

Each task is one model call (a vLLM-style loopback server that waits ``--latency`` seconds before
it answers, then streams a short thinking and answer) through a plain ReAct run with traces and the
results database on, as ``qwengraph batch`` does. The ideal wall time is
``ceil(tasks / concurrency) * latency``: what a batch with no overhead of its own would take.
With ``--executor ray`` a local Ray cluster is started for the batch (its start-up is shown apart:
the batch's own time counts from the moment every worker holds a warm agent).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the loopback servers

from servers import Turn, VLLMServer
from servers.base import _HTTPServer, message_text

from agents.batch import BatchConfig, run_batch_file
from agents.warm import AgentChoice

# The loopback server's listen backlog (socketserver's default is 5) must hold every connection
# opened at once, or some are reset before they are accepted (and retried by the transport).
_HTTPServer.request_queue_size = 1024


def script(body: dict[str, Any]) -> Turn:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    prompt = message_text(users[-1].get("content")) if users else ""
    return Turn(thinking=f"Thinking about {prompt}.", content=f"answer to {prompt}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, VLLMServer(script) as server:
        os.environ["QWENGRAPH_HOME"] = tmp
        server.delay = args.latency
        tasks = Path(tmp) / "tasks.jsonl"
        tasks.write_text(
            "".join(json.dumps({"id": f"t{i}", "prompt": f"question {i}"}) + "\n" for i in range(args.tasks))
        )
        config = BatchConfig(
            tasks=tasks,
            choice=AgentChoice(model="openai:Qwen/Qwen3-8B", base_url=server.base_url),
            concurrency=args.concurrency,
            executor=args.executor,
            ray_workers=args.workers,
        )
        started = time.perf_counter()
        report, _ = run_batch_file(config)
        total = time.perf_counter() - started
    ideal = math.ceil(args.tasks / args.concurrency) * args.latency
    latency_ms = args.latency * 1000
    print(f"executor {args.executor}: {args.tasks} tasks, concurrency {args.concurrency}", end="")
    print(f", latency {latency_ms:.0f} ms")
    print(f"  ok {report.counts['ok']}, failed {report.counts['failed']}, stopped {report.counts['stopped']}")
    rate = report.ran / report.seconds
    print(f"  batch wall time {report.seconds:.2f} s ({rate:.0f} tasks/s); ideal {ideal:.2f} s", end="")
    print(f": {report.seconds / ideal:.1f}x")
    print(f"  with start-up (imports excluded; Ray cluster included): {total:.2f} s")


if __name__ == "__main__":
    main()
