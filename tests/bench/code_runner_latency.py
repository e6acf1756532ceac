"""Code runner latency per available backend: cold start (new session) and warm call, p50/p95.

Run: ``python tests/bench/code_runner_latency.py [ROUNDS]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

from tools.code_runner import Backend, make_sandbox
from tools.errors import SandboxUnavailable


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms"


def bench(backend: Backend, rounds: int) -> None:
    """Print cold and warm latency of ``print(1)`` for one backend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sandbox = make_sandbox(backend)
        except SandboxUnavailable as error:
            print(f"{backend:18} unavailable: {error}")
            return
    try:
        cold = []
        for index in range(max(rounds // 10, 5)):
            start = time.perf_counter()
            sandbox.run("print(1)", f"cold-{index}")
            cold.append(time.perf_counter() - start)
            sandbox.close_session(f"cold-{index}")
        sandbox.run("x = 0", "warm")
        warm = []
        for _ in range(rounds):
            start = time.perf_counter()
            sandbox.run("x += 1\nprint(x)", "warm")
            warm.append(time.perf_counter() - start)
    finally:
        sandbox.close()
    print(f"{backend:18} cold {_percentiles(cold)}   (n={len(cold)})")
    print(f"{backend:18} warm {_percentiles(warm)}   (n={len(warm)})")


def main() -> None:
    """Benchmark every backend that can run here."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    backends: list[Backend] = ["bwrap", "gvisor", "unsafe-subprocess"]
    for backend in backends:
        bench(backend, rounds)


if __name__ == "__main__":
    main()
