"""A real ``qwengraph batch`` process killed with SIGKILL mid-batch resumes without redoing a task."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_support import MODEL, prompts_asked, write_tasks
from servers import VLLMServer

TOTAL = 24


def recorded(db: Path) -> dict[str, str]:
    """``task_id -> status`` in the results database (empty until the batch wrote its first rows)."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return dict(conn.execute("SELECT task_id, status FROM batch_results").fetchall())
    except sqlite3.OperationalError:  # the table does not exist yet
        return {}


@pytest.mark.slow
def test_kill_9_mid_batch_then_rerun_redoes_no_finished_task(server: VLLMServer, tmp_path: Path) -> None:
    server.delay = 0.15  # each model call takes a while, so the batch is still going when killed
    tasks = write_tasks(
        tmp_path / "tasks.jsonl", [{"id": f"t{i}", "prompt": f"task {i}"} for i in range(TOTAL)]
    )
    db = tmp_path / "results.db"
    command = [
        sys.executable, "-m", "agents", "batch", str(tasks), "--model", MODEL, "--base-url", server.base_url,
        "--concurrency", "3", "--results", f"sqlite:///{db}",
    ]  # fmt: skip
    env = {**os.environ, "QWENGRAPH_HOME": str(tmp_path / "home")}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while len(recorded(db)) < 6:
            assert first.poll() is None, first.communicate()[1].decode()
            assert time.monotonic() < deadline, "the batch recorded nothing in time"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    time.sleep(0.5)  # requests the killed process had in flight reach the server
    done_before = recorded(db)
    cut = len(server.chat_requests)
    assert 6 <= len(done_before) < TOTAL, "killed mid-batch"
    assert set(done_before.values()) == {"ok"}

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    assert f"{len(done_before)} task(s) already done in this batch: skipped" in second.stderr

    redone = set(prompts_asked(server, cut)) & {f"task {t[1:]}" for t in done_before}
    assert redone == set(), f"finished tasks were run again: {sorted(redone)}"
    final = recorded(db)
    assert len(final) == TOTAL and set(final.values()) == {"ok"}
    asked_after = prompts_asked(server, cut)
    assert sorted(asked_after) == sorted(f"task {i}" for i in range(TOTAL) if f"t{i}" not in done_before)
    lines = [json.loads(x) for x in (tmp_path / "tasks.results.jsonl").read_text().splitlines()]
    assert [row["id"] for row in lines] == [f"t{i}" for i in range(TOTAL)]  # one line per task, in order
    assert all(row["answer"] == f"answer to task {row['id'][1:]}" for row in lines)
