"""Soak: N minutes of concurrent runs against misbehaving servers, with random faults and kill -9s.

Usage: ``nice python tests/bench/soak.py --minutes 10 [--api 3] [--cli 2]``. In one home:

* a loopback Ollama and vLLM server (in a child process, so the figures below are qwengraph's
  alone) whose script calls ``calculator`` or ``run_python`` and then answers, with random faults
  injected (5xx, 429 + Retry-After, cut streams, malformed bodies, slow first bytes) on about one
  request in five;
* ``--api`` threads of this process running :func:`agents.runner.run` in a loop on a few shared
  threads (SQLite checkpointer, warm sandbox sessions): a long-lived process whose RSS, open files
  and sandbox workers must stay flat;
* ``--cli`` concurrent ``qwengraph run`` processes on the same threads, a third of them killed with
  ``kill -9`` mid-run and then continued with ``qwengraph resume``.

Every minute it prints RSS, open files, sandbox workers alive (processes running the sandbox's
worker) and cgroups, and the runs so far. At the end it checks every thread: a turn whose run
exited 0 must be there (its prompt, then its answer) — else it counts as lost — and no finished
tool call may be repeated within a turn (the kill -9 and resume story). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers import Fault, OllamaServer, Turn, VLLMServer, message_text, status

THREADS = [f"soak-{n}" for n in range(6)]


def script(body: dict[str, Any]) -> Turn:
    """Call a tool for the latest request, then answer with its result."""
    messages = body.get("messages", [])
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
    asked = message_text(messages[last_user].get("content")) if messages else ""
    results = [message_text(m.get("content")) for m in messages[last_user:] if m.get("role") == "tool"]
    if results:
        return Turn(content=f"answer to [{asked}]: {results[-1][:40]}")
    if "python" in asked:
        return Turn(
            thinking="I will run it.", tool_calls=[("run_python", {"code": "print(sum(range(100)))"})]
        )
    return Turn(thinking="I will compute it.", tool_calls=[("calculator", {"expression": "17*23"})])


def random_fault(rng: random.Random) -> Fault:
    return rng.choice(
        [
            status(503),
            status(429, Retry_After="1"),
            Fault("cut", chunks=2, drop=True),
            Fault("cut", after=150),
            Fault("body", body=b'{"message": oops}'),
            Fault("delay", seconds=0.5),
        ]
    )


class Soak:
    """Shared counters and the expected turns."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.expected: list[tuple[str, str]] = []  # (thread, prompt) of runs that exited 0
        self.lock_errors = 0
        self.stop = threading.Event()

    def note(self, outcome: str, thread: str | None = None, prompt: str | None = None) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if thread is not None and prompt is not None:
                self.expected.append((thread, prompt))


def api_worker(soak: Soak, index: int, servers: dict[str, str], seed: int) -> None:
    from agents.runner import run
    from agents.toolbox import open_tools
    from graphs.errors import QwenGraphError
    from graphs.memory import open_checkpointer
    from graphs.models.chat import ChatQwen

    rng = random.Random(seed)
    with (
        open_checkpointer(None) as saver,
        open_tools(["calculator", "run_python"], session_id=f"api{index}") as tools,
    ):
        turn = 0
        while not soak.stop.is_set():
            turn += 1
            kind = rng.choice(["ollama", "openai"])
            thread = rng.choice(THREADS)
            prompt = f"api{index}-{turn} {'python' if rng.random() < 0.3 else 'calc'}"
            model = ChatQwen(
                model="ollama:qwen3:8b" if kind == "ollama" else "openai:Qwen/Qwen3-8B",
                base_url=servers[kind],
            )
            try:
                run(
                    prompt,
                    chat_model=model,
                    thread=thread,
                    checkpointer=saver,
                    tools=tools,
                    stream=rng.random() < 0.5,
                )
            except QwenGraphError as err:
                soak.note(f"api error {type(err).__name__}")
                if "locked" in str(err):
                    soak.lock_errors += 1
                continue
            soak.note("api ok", thread, prompt)


def cli_worker(soak: Soak, index: int, servers: dict[str, str], seed: int, home: str) -> None:
    rng = random.Random(seed)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QWENGRAPH_HOME": home}
    runs = 0
    while not soak.stop.is_set():
        runs += 1
        kind = rng.choice(["ollama", "openai"])
        thread = rng.choice(THREADS)
        prompt = f"cli{index}-{runs} {'python' if rng.random() < 0.3 else 'calc'}"
        model = [
            "--model",
            "ollama:qwen3:8b" if kind == "ollama" else "openai:Qwen/Qwen3-8B",
            "--base-url",
            servers[kind],
        ]
        argv = [
            sys.executable,
            "-m",
            "agents",
            "run",
            prompt,
            "--thread",
            thread,
            "--json",
            "--tools",
            "calculator,run_python",
            *model,
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if rng.random() < 0.33:
            time.sleep(rng.uniform(1.0, 6.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                soak.note("cli killed")
                resumed = subprocess.run(
                    [sys.executable, "-m", "agents", "resume", "--thread", thread, "--json", *model],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=300,
                    check=False,
                )
                why = (resumed.stderr.strip().splitlines() or [""])[-1][:90]  # e.g. nothing to resume
                code = resumed.returncode
                soak.note(f"cli resume exit {code}" + (f" ({why})" if code else ""))
                continue
        out, err = proc.communicate(timeout=600)
        if "locked" in err:
            soak.lock_errors += 1
        soak.note(f"cli exit {proc.returncode}", thread if proc.returncode == 0 else None, prompt)


def serve(ready: Any, stop: Any, seed: int) -> None:
    """The child process: both servers, a fault injector, and a janitor for their request logs."""
    rng = random.Random(seed)
    with OllamaServer(script) as ollama, VLLMServer(script) as vllm:
        ready.put({"ollama": ollama.url, "openai": vllm.base_url})
        while not stop.wait(1.0):
            for server in (ollama, vllm):
                seen = len(server.chat_requests)
                server.requests.clear()  # the scripted servers keep every request; this is a soak
                if not server._faults and rng.random() < min(1.0, 0.2 * max(seen, 1)):
                    server.inject(random_fault(rng))


def figures() -> tuple[float, int, int, int]:
    """RSS (MB) and open files of this process, sandbox workers alive (the Python worker processes,
    not bwrap's), qwengraph's cgroup directories on the machine (pools and sessions, one per
    hierarchy: v1 has a memory and a pids directory for each)."""
    status = Path("/proc/self/status").read_text()
    rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
    files = len(os.listdir("/proc/self/fd"))
    workers = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_text(errors="replace").split("\0")
        except OSError:
            continue
        workers += "/qwengraph/worker.py" in argv[:3] and "bwrap" not in argv[0]  # not bwrap's own two
    root = Path("/sys/fs/cgroup")  # each directory once: v2, or v1's memory and pids hierarchies
    cgroups = sum(1 for _ in root.rglob("qwengraph-*")) if root.exists() else 0
    return rss, files, workers, cgroups


def check_threads(soak: Soak) -> tuple[int, int]:
    """Lost turns (exited 0 but not in the thread) and finished tool calls repeated within a turn."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from graphs.memory import open_checkpointer

    lost = repeated = 0
    with open_checkpointer(None) as saver:
        for thread in THREADS:
            saved = saver.get_tuple({"configurable": {"thread_id": thread}})
            messages = saved.checkpoint["channel_values"].get("messages", []) if saved else []
            answered = {
                m.text for i, m in enumerate(messages) if isinstance(m, HumanMessage)
                and any(isinstance(n, AIMessage) and f"[{m.text}]" in n.text for n in messages[i + 1 :])
            }  # fmt: skip
            lost += sum(1 for t, p in soak.expected if t == thread and p not in answered)
            done: set[tuple[str, str]] = set()
            results = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
            for m in messages:
                if isinstance(m, HumanMessage):
                    done = set()
                elif isinstance(m, AIMessage):
                    for call in m.tool_calls:
                        key = (call["name"], repr(sorted(call["args"].items())))
                        repeated += key in done
                        if call.get("id") in results:
                            done.add(key)
    return lost, repeated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--api", type=int, default=3, help="API threads in this process")
    parser.add_argument("--cli", type=int, default=2, help="concurrent CLI processes")
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()
    home = tempfile.mkdtemp(prefix="qwengraph-soak-")
    os.environ["QWENGRAPH_HOME"] = home
    soak = Soak()
    ready: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=serve, args=(ready, stop, options.seed), daemon=True)
    child.start()
    servers = ready.get(timeout=120)
    seed = options.seed
    workers = [
        threading.Thread(target=api_worker, args=(soak, i, servers, seed + i)) for i in range(options.api)
    ]
    workers += [
        threading.Thread(target=cli_worker, args=(soak, i, servers, seed + 100 + i, home))
        for i in range(options.cli)
    ]
    start = time.monotonic()
    try:
        for worker in workers:
            worker.start()
        print(f"soak: {options.minutes:g} min, {options.api} API threads, {options.cli} CLI processes")
        print("min   RSS MB  files  sandbox workers  cgroups  runs so far")
        while time.monotonic() - start < options.minutes * 60:
            time.sleep(min(60.0, max(options.minutes * 60 - (time.monotonic() - start), 0.1)))
            rss, files, alive, cgroups = figures()
            minute = (time.monotonic() - start) / 60
            done = sum(soak.outcomes.values())
            print(f"{minute:4.1f}  {rss:7.1f}  {files:5d}  {alive:15d}  {cgroups:7d}  {done}", flush=True)
    finally:
        soak.stop.set()
        for worker in workers:
            worker.join(timeout=900)
        stop.set()
        child.join(timeout=60)
    time.sleep(2)
    rss, files, alive, cgroups = figures()
    lost, repeated = check_threads(soak)
    print(f"after: RSS {rss:.1f} MB, open files {files}, sandbox workers alive {alive}, cgroups {cgroups}")
    print(f"runs: {dict(sorted(soak.outcomes.items()))}")
    print(
        f"turns that exited 0: {len(soak.expected)}; lost turns: {lost}; repeated tool calls: {repeated}; "
        f"lock errors: {soak.lock_errors}"
    )


if __name__ == "__main__":
    main()
