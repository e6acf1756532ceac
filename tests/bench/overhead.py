"""What qwengraph costs per model call, against raw HTTP loops, in one process run.

Run: ``python tests/bench/overhead.py [--rounds N] [--episodes N] [--quick]``. Prints a table;
asserts nothing (timing goals live here, never in the test suite).

Setup: a loopback OpenAI-compatible server in its own process (``qwen_loopback.py``: scripted
Qwen3 replies with thinking, three calculator rounds and the answer; JSON or SSE; 0 or 50 ms
before each reply). One *episode* is one agent run: four model calls and three tool calls. Each
path runs the same episode:

- raw loops (``raw_loops.py``): httpx (sync and async) and aiohttp, the calculator's function
  called directly: the floor;
- ``ChatQwen`` in a hand loop (the model layer alone);
- the ReAct graph from ``graphs.react.build_react`` (``invoke`` / ``ainvoke``);
- the runner (``agents.runner.run``, what the CLI and ``run_agent`` use, display events on), also
  with a trace, and with a thread (``--thread``) on the in-memory and on the SQLite checkpointer;
- the async runner ``arun`` where it exists.

Columns: **overhead per model call** = (median episode wall time of the path - that of the raw
sync httpx loop) / 4, at 0 ms latency, for JSON and SSE replies; the CPU time the same way (less
sensitive to a busy machine); **50 concurrent** = wall time of 50 episodes started at once at 50 ms
latency, divided by the ideal (4 calls x 50 ms); **cold** = a fresh interpreter importing what the
path needs and building its agent (median of 3). Medians over ``--rounds`` rounds of
``--episodes`` episodes each, the paths interleaved round by round so that a busy spell on a shared
machine spreads over all of them. The load average before and after is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]
os.environ.setdefault("QWENGRAPH_HOME", tempfile.mkdtemp(prefix="qwengraph-bench-"))

from bench_paths import Paths  # noqa: E402

CALLS = 4
LATENCY_S = 0.05
IDEAL_S = CALLS * LATENCY_S
CONCURRENT = 50


def start_server() -> tuple[subprocess.Popen[str], int]:
    """The loopback server in a process of its own; its port."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "qwen_loopback.py")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Timings:
    """Per-path, per-format lists of per-episode (wall, cpu) seconds, one entry per round."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], list[tuple[float, float]]] = {}

    def add(self, path: str, fmt: str, wall: float, cpu: float) -> None:
        self.samples.setdefault((path, fmt), []).append((wall, cpu))

    def median(self, path: str, fmt: str) -> tuple[float, float] | None:
        got = self.samples.get((path, fmt))
        if not got:
            return None
        return statistics.median(w for w, _ in got), statistics.median(c for _, c in got)


def sync_batch(episode: Callable[[], Any], n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        episode()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


async def async_batch(episode: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await episode()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


async def concurrent_wall(episode: Callable[[], Awaitable[Any]], n: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(episode() for _ in range(n)))
    return time.perf_counter() - start


def threads_wall(episode: Callable[[], Any], n: int) -> float:
    with ThreadPoolExecutor(n) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: episode(), range(n)))
        return time.perf_counter() - start


def measure_sync(paths: Paths, timings: Timings, rounds: int, episodes: int) -> None:
    cases = paths.sync_cases()
    for _name, _fmt, episode in cases:  # warm up: connections, caches, first-call imports
        episode()
    for _ in range(rounds):
        for name, fmt, episode in cases:
            timings.add(name, fmt, *sync_batch(episode, episodes))


async def measure_async(paths: Paths, timings: Timings, rounds: int, episodes: int) -> dict[str, float]:
    """Per-call figures at 0 ms (one at a time) and the 50-concurrent wall at 50 ms (x ideal)."""
    async with paths.async_session() as cases:
        for _name, _fmt, episode in cases(latency=0):
            await episode()
        for _ in range(rounds):
            for name, fmt, episode in cases(latency=0):
                timings.add(name, fmt, *(await async_batch(episode, episodes)))
        concurrent: dict[str, list[float]] = {}
        slow = [(n, e) for n, fmt, e in cases(latency=50) if fmt == "json"]
        for _name, episode in slow:
            await concurrent_wall(episode, 5)  # warm the pools at this latency
        for _ in range(max(3, rounds // 2)):
            for name, episode in slow:
                concurrent.setdefault(name, []).append(await concurrent_wall(episode, CONCURRENT))
    return {name: statistics.median(walls) / IDEAL_S for name, walls in concurrent.items()}


def measure_threads(paths: Paths, rounds: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, episode in paths.thread_cases(latency=50):
        threads_wall(episode, 5)
        walls = [threads_wall(episode, CONCURRENT) for _ in range(max(3, rounds // 2))]
        out[name] = statistics.median(walls) / IDEAL_S
    return out


COLD = {
    "raw httpx loop": "import httpx",
    "raw aiohttp loop": "import aiohttp",
    "graph": (
        "from graphs.models.chat import ChatQwen\nfrom graphs.react import build_react\n"
        "from tools.calculator import calculator\n"
        "build_react(ChatQwen(model='openai:Qwen/Qwen3-8B', base_url='http://127.0.0.1:9/v1'), [calculator])"
    ),
    "runner": (
        "from agents.runner import run, default_tools\nfrom graphs.build import NamedGraph, build_graph\n"
        "from graphs.models.chat import ChatQwen\n"
        "build_graph(NamedGraph('react'), ChatQwen(model='openai:Qwen/Qwen3-8B', base_url='http://127.0.0.1:9/v1'),"
        " default_tools())"
    ),
}


def cold(code: str, times: int = 3) -> float:
    """Seconds a fresh interpreter spends on ``code`` (interpreter start-up excluded)."""
    timed = f"import time\n_t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", timed], capture_output=True, text=True, env=env, check=True
            ).stdout
        )
        for _ in range(times)
    ]
    return statistics.median(runs)


ROWS = [
    ("raw httpx loop", "raw httpx loop", "raw httpx loop"),
    ("raw httpx async loop", "raw httpx async loop", None),
    ("raw aiohttp loop", "raw aiohttp loop", "raw aiohttp loop"),
    ("`ChatQwen` in a hand loop", "chatqwen loop", None),
    ("graph `build_react` (`invoke`)", "graph", "graph"),
    ("graph `build_react` (`ainvoke`)", "graph async", "graph"),
    ("runner `run`", "run", "runner"),
    ("runner `run` + trace", "run trace", "runner"),
    ("runner `run --thread` (memory)", "run thread memory", "runner"),
    ("runner `run --thread` (SQLite)", "run thread sqlite", "runner"),
    ("runner `arun`", "arun", "runner"),
    ("runner `arun --thread` (SQLite)", "arun thread sqlite", "runner"),
]


def table(timings: Timings, concurrent: dict[str, float], colds: dict[str, float]) -> str:
    base = {fmt: timings.median("raw httpx loop", fmt) for fmt in ("json", "sse")}

    def per_call(path: str, fmt: str, which: int) -> str:
        got, ref = timings.median(path, fmt), base[fmt]
        if got is None or ref is None:
            return ""
        return f"{(got[which] - ref[which]) / CALLS * 1000:+.2f} ms"

    lines = [
        "| path | overhead/call JSON | SSE | CPU/call JSON | CPU SSE "
        "| 50 concurrent @ 50 ms, × ideal | cold import + build |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, path, cold_key in ROWS:
        if timings.median(path, "json") is None and path not in concurrent:
            continue
        cells = [
            per_call(path, "json", 0),
            per_call(path, "sse", 0),
            per_call(path, "json", 1),
            per_call(path, "sse", 1),
        ]
        times = concurrent.get(path)
        threads = concurrent.get(f"{path} (threads)")
        conc = f"{times:.2f}×" if times else (f"{threads:.2f}× (threads)" if threads else "")
        cold_s = f"{colds[cold_key]:.2f} s" if cold_key in colds else ""
        lines.append(f"| {label} | {' | '.join(cells)} | {conc} | {cold_s} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 episodes (a smoke run)")
    args = parser.parse_args()
    rounds, episodes = (3, 3) if args.quick else (args.rounds, args.episodes)
    before = load()
    proc, port = start_server()
    try:
        paths = Paths(f"http://127.0.0.1:{port}", Path(os.environ["QWENGRAPH_HOME"]))
        timings = Timings()
        measure_sync(paths, timings, rounds, episodes)
        concurrent = asyncio.run(measure_async(paths, timings, rounds, episodes))
        concurrent.update({f"{k} (threads)": v for k, v in measure_threads(paths, rounds).items()})
        paths.close()
    finally:
        proc.kill()
        proc.wait()
    colds = {key: cold(code) for key, code in COLD.items()}
    print(f"# python tests/bench/overhead.py --rounds {rounds} --episodes {episodes}")
    print(f"# load average before: {before}; after: {load()}; {os.cpu_count()} cores; {versions()}")
    print(table(timings, concurrent, colds))


def versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in ("langgraph", "langchain-core", "httpx", "aiohttp"))


if __name__ == "__main__":
    main()
