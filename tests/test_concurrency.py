"""Concurrent ``qwengraph`` processes on one home: no lock error, no lost turn, a visible wait.

Real processes (each imports the whole stack, ~3 s of CPU): slow on a loaded machine, but this is
the situation users meet (several terminals, a shell loop with ``&``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import OllamaServer, Turn, message_text
from typer.testing import CliRunner

from agents.cli import app
from graphs.memory import open_checkpointer
from graphs.memory.locks import thread_lock


def echo(body: dict) -> Turn:
    time.sleep(0.3)  # long enough for the runs to overlap
    users = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "user"]
    return Turn(content=f"echo: {users[-1]}")


def spawn(home: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agents", "run", *args, "--model", "ollama:qwen3:8b", "--base-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "QWENGRAPH_HOME": str(home)},
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    outputs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


@pytest.mark.slow
def test_twelve_concurrent_runs_on_one_home(tmp_path: Path) -> None:
    with OllamaServer(echo) as server:
        procs = [spawn(tmp_path, server.url, f"question {i}", "--json") for i in range(12)]
        results = finish(procs)
    for code, out, err in results:
        assert code == 0, err
        assert "locked" not in err and "warning" not in err, err
        assert json.loads(out)["answer"].startswith("echo: question")
    with sqlite3.connect(tmp_path / "traces.db") as db:
        assert db.execute("SELECT count(*) FROM runs WHERE outcome = 'ok'").fetchone() == (12,)


def test_three_concurrent_runs_on_one_thread_keep_every_turn(tmp_path: Path) -> None:
    prompts = [f"turn {i}" for i in range(3)]
    with OllamaServer(echo) as server:
        procs = [spawn(tmp_path, server.url, p, "--thread", "S", "--json") for p in prompts]
        results = finish(procs)
    for code, _, err in results:
        assert code == 0, err
    waited = [err for _, _, err in results if "waiting: thread 'S' is in use by another run" in err]
    assert waited, "the runs that had to wait say so"
    with open_checkpointer(f"sqlite:///{tmp_path / 'threads.db'}") as saver:
        saved = saver.get_tuple({"configurable": {"thread_id": "S"}})
        assert saved is not None
        messages = saved.checkpoint["channel_values"]["messages"]
    texts = [(m.type, m.text) for m in messages]
    assert len(texts) == 6
    for (kind, prompt), (answer_kind, answer) in zip(texts[::2], texts[1::2], strict=True):
        assert (kind, answer_kind) == ("human", "ai")
        assert answer == f"echo: {prompt}"
    assert sorted(t for k, t in texts if k == "human") == prompts


def test_no_wait_refuses_a_busy_thread_with_exit_8(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    with OllamaServer(echo) as server, open_checkpointer(None) as saver, thread_lock(saver, "S"):
        args = [
            "run",
            "hi",
            "--thread",
            "S",
            "--no-wait",
            "--model",
            "ollama:qwen3:8b",
            "--base-url",
            server.url,
        ]
        result = CliRunner().invoke(app, args, catch_exceptions=False)
        assert server.chat_requests == []
    assert result.exit_code == 8
    err = result.stderr.strip()
    assert err.startswith("error: thread 'S' is in use by another run (pid ") and len(err.splitlines()) == 1
