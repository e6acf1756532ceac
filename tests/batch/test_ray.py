"""``batch --executor ray`` on a real Ray cluster this test starts on loopback (two worker CPUs).

Ray is the optional ``ray`` extra (240 MB, ~30 s to start a cluster on a busy 2-core machine), so
this module is marked ``slow`` and skipped when Ray is not installed; ``make test-ray`` installs
the extra and runs it, and CI (``.ci/run``) calls ``make test-ray`` after ``make test``.

The cluster is ``ray start --head --block`` in a session of its own (every port chosen free, its
files in a temporary directory, HOME pointed there so nothing lands in the user's ~/.ray); the
teardown ends that process group (SIGTERM, then SIGKILL), which holds every process Ray started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from batch_support import MODEL, prompts_asked, write_tasks
from servers import VLLMServer

pytest.importorskip("ray", reason="the ray extra is not installed: `make test-ray` runs this test")
pytestmark = pytest.mark.slow

RAY = Path(sys.executable).with_name("ray")
TOTAL = 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything the head left behind in its group


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """``(address, env)`` of a fresh head node on 127.0.0.1 with 2 CPUs."""
    root = Path(tempfile.mkdtemp(prefix="qg-ray-", dir="/tmp"))  # short: Ray's socket paths are limited
    port = _free_port()
    env = {**os.environ, "HOME": str(root), "RAY_USAGE_STATS_ENABLED": "0"}
    ports = {
        "--dashboard-port": _free_port(),
        "--dashboard-agent-listen-port": _free_port(),
        "--dashboard-agent-grpc-port": _free_port(),
        "--runtime-env-agent-port": _free_port(),
        "--metrics-export-port": _free_port(),
        "--node-manager-port": _free_port(),
        "--object-manager-port": _free_port(),
    }
    command = [
        str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={root / 't'}",
        *(f"{flag}={value}" for flag, value in ports.items()),
    ]  # fmt: skip
    log = (root / "head.log").open("wb")
    head = subprocess.Popen(command, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert head.poll() is None, (root / "head.log").read_text(errors="replace")[-2000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", env
    finally:
        _stop(head)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def test_tasks_spread_over_two_ray_workers_with_the_same_outputs_and_resume(
    server: VLLMServer, ray_cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    address, cluster_env = ray_cluster
    specs = [{"id": f"t{i}", "prompt": f"calc: {i}" if i % 4 == 0 else f"task {i}"} for i in range(TOTAL)]
    specs[5]["thread"] = specs[9]["thread"] = "s1"  # a thread's tasks: same worker, in order
    tasks = write_tasks(tmp_path / "tasks.jsonl", specs)
    home = tmp_path / "home"
    command = [
        sys.executable, "-m", "agents", "batch", str(tasks), "--model", MODEL, "--base-url", server.base_url,
        "--executor", "ray", "--address", address, "--workers", "2", "--concurrency", "6", "--json",
    ]  # fmt: skip
    env = {**cluster_env, "QWENGRAPH_HOME": str(home)}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert (report["ran"], report["counts"]["ok"]) == (TOTAL, TOTAL)

    rows = [json.loads(x) for x in (tmp_path / "tasks.results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [s["id"] for s in specs] and {r["status"] for r in rows} == {"ok"}
    workers = {r["worker"] for r in rows}
    assert len(workers) == 2, workers  # two Ray worker processes ran the tasks
    assert all(not w.endswith(":" + str(os.getpid())) for w in workers)
    assert rows[5]["worker"] == rows[9]["worker"]
    assert rows[4]["tool_calls"] == [{"name": "calculator", "args": {"expression": "17*23"}, "result": "391"}]
    asked = server.chat_requests
    second_turn = next(b for b in asked if b["messages"][-1]["content"] == "task 9")
    assert ("user", "task 5") in [(m["role"], m["content"]) for m in second_turn["messages"]]
    with sqlite3.connect(home / "traces.db") as db:  # the workers' traces reached the driver's home
        traced = {run_id for (run_id,) in db.execute("SELECT run_id FROM runs")}
    assert {r["trace_id"] for r in rows} <= traced

    cut = len(server.chat_requests)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["skipped"] == TOTAL
    assert prompts_asked(server, cut) == []
