"""How long a 10 MB answer takes to display, and ``threads show`` on its thread.

Usage: ``python tests/bench/huge_reply.py [--mb 10]``. A loopback server (Ollama's and vLLM's
dialects, in a child process, as a real server would be) answers with N MB of text in 10 KB pieces;
each case runs ``qwengraph run`` in this process (imports already done: the figure is the run, not
Python's start-up) with its output going to /dev/null, and prints the seconds from the command's
start to its exit and the CPU seconds this process used (on a busy machine the wall time mostly
measures the other processes). The issue's goal: a 10 MB reply displayed in at most 2 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers import OllamaServer, Turn, VLLMServer


def serve(kind: str, megabytes: int, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    text = ("x" * 9_999 + " ") * (megabytes * 100)
    server = (
        OllamaServer(lambda body: Turn(content=text))
        if kind == "ollama"
        else VLLMServer(lambda body: Turn(content=text))
    )
    with server:
        ready.put(server.url if kind == "ollama" else server.base_url)
        stop.wait()


def timed(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process (every thread) and the exit code of one command."""
    from typer.testing import CliRunner

    from agents.cli import app

    with open(os.devnull, "w") as sink:
        start, cpu = time.perf_counter(), time.process_time()
        result = CliRunner().invoke(app, args)
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        sink.write(result.stdout)
    return elapsed, used, result.exit_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=10)
    options = parser.parse_args()
    os.environ["QWENGRAPH_HOME"] = tempfile.mkdtemp(prefix="qwengraph-bench-")
    timed(["threads", "list"])  # import everything once
    for kind in ("ollama", "vllm"):
        ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        stop = multiprocessing.Event()
        child = multiprocessing.Process(target=serve, args=(kind, options.mb, ready, stop))
        child.start()
        url = ready.get(timeout=60)
        model = "ollama:qwen3:8b" if kind == "ollama" else "openai:Qwen/Qwen3-8B"
        for stream in (True, False):
            for as_json in (False, True):
                thread = f"{kind}-{stream}-{as_json}"
                args = ["run", "Say a lot.", "--model", model, "--base-url", url, "--thread", thread]
                args += ([] if stream else ["--no-stream"]) + (["--json"] if as_json else [])
                seconds, cpu, code = timed(args)
                how = f"{'stream' if stream else 'whole':6}  {'--json' if as_json else 'display':7}"
                print(f"{kind:6}  {how}  {seconds:6.2f} s wall  {cpu:6.2f} s CPU  exit {code}")
        seconds, cpu, code = timed(["threads", "show", f"{kind}-True-False"])
        print(f"{kind:6}  threads show     {seconds:6.2f} s wall  {cpu:6.2f} s CPU  exit {code}")
        stop.set()
        child.join(timeout=30)


if __name__ == "__main__":
    main()
