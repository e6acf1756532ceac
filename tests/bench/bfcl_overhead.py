"""How much of ``qwengraph eval bfcl``'s wall time is spent outside the model, on a server.

Run: ``python tests/bench/bfcl_overhead.py [--limit 20] [--concurrency 8] [--delay 1.0]``. A
loopback vLLM-style server (``tests/servers``) answers every request after ``--delay`` seconds with a
tool call to the first offered function, so the model's share of the time is known exactly: with
``K`` requests in flight the ideal wall time is ``ceil(cases / K) * delay``. Everything beyond that
(building requests, parsing, scoring against BFCL's answers, writing every case to SQLite, the
progress callback) is overhead; so is the loopback server's own work, which runs in this process
(its CPU time is in ``cpu_s``: on a shared machine the process's CPU time against the wall time is
the fairer figure, since wall time there mostly measures waiting for a core). The issue's goal: at
most 5% of the wall time, ``--limit 20`` over the default categories with ``--concurrency 8``.
Loading the BFCL data is timed on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def first_tool_call(body: dict[str, Any]) -> Any:
    """A scripted answer: one call to the first offered function, no arguments."""
    from servers import Turn

    tools = body.get("tools") or []
    if not tools:
        return Turn(content="No function fits.")
    return Turn(tool_calls=[(tools[0]["function"]["name"], {})])


def measure(limit: int, concurrency: int, delay: float, data: Path | None) -> dict[str, float]:
    """Run the eval against the loopback server; the timings."""
    from servers import VLLMServer

    from agents.eval.bfcl_data import BfclData
    from agents.eval.bfcl_run import READINGS, BfclOptions, BfclRunner, pick_cases, run_cases
    from agents.eval.store import EvalStore

    started = time.perf_counter()
    source = BfclData(data) if data else BfclData.pinned()
    with VLLMServer(first_tool_call) as server:
        server.delay = delay
        options = BfclOptions(
            model="openai:Qwen/Qwen3-8B",
            base_url=server.base_url,
            limit=limit,
            concurrency=concurrency,
            think=False,
        )
        cases = pick_cases(options, source)
        loaded = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            store = EvalStore(Path(tmp) / "evals.db")
            run = store.create_run("bfcl", options.model, options.config(), len(cases) * len(READINGS))
            done = 0

            def progress(_: object) -> None:
                nonlocal done
                done += 1

            begun, cpu = time.perf_counter(), time.process_time()
            asyncio.run(run_cases(BfclRunner(options), cases, store, run.id, on_result=progress))
            wall, cpu = time.perf_counter() - begun, time.process_time() - cpu
            stored = len(store.cases(run.id))
        requests = len(server.requests)
    ideal = math.ceil(len(cases) / concurrency) * delay
    return {
        "cases": len(cases),
        "requests": requests,
        "results_stored": stored,
        "data_load_s": loaded,
        "wall_s": wall,
        "cpu_s": cpu,
        "model_s_ideal": ideal,
        "outside_model_share": max(0.0, wall - ideal) / wall,
        "cpu_share": cpu / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20, help="cases per category")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay", type=float, default=1.0, help="the server's seconds per answer")
    parser.add_argument("--data", type=Path, default=None, help="bfcl-eval wheel or bfcl_eval folder")
    args = parser.parse_args()
    figures = measure(args.limit, args.concurrency, args.delay, args.data)
    for key, value in figures.items():
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")
    share = figures["outside_model_share"]
    print(f"outside the model: {share:.1%} of the wall time (goal: at most 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
