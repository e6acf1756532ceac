"""SQLite files are opened in WAL mode with synchronous=NORMAL, or FULL when the user asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphs.errors import ConfigError
from graphs.memory import aopen_checkpointer, aopen_store, open_checkpointer, open_store
from graphs.memory.trace_store import open_db

NORMAL, FULL = 1, 2  # what PRAGMA synchronous reports


@pytest.mark.parametrize(("env", "expected"), [(None, NORMAL), ("full", FULL), ("NORMAL", NORMAL)])
def test_checkpointer_store_and_traces_use_the_chosen_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str | None, expected: int
) -> None:
    if env is None:
        monkeypatch.delenv("QWENGRAPH_SQLITE_SYNC", raising=False)
    else:
        monkeypatch.setenv("QWENGRAPH_SQLITE_SYNC", env)
    with open_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver:
        conn = saver.conn  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == expected
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with open_store(f"sqlite:///{tmp_path}/memory.db") as store:
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == expected  # type: ignore[attr-defined]
    db = open_db(tmp_path / "traces.db")
    assert db.execute("PRAGMA synchronous").fetchone()[0] == expected
    db.conn.close()


async def test_async_checkpointer_and_store_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QWENGRAPH_SQLITE_SYNC", raising=False)
    async with aopen_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver:
        cursor = await saver.conn.execute("PRAGMA synchronous")  # type: ignore[attr-defined]
        assert (await cursor.fetchone())[0] == NORMAL
    monkeypatch.setenv("QWENGRAPH_SQLITE_SYNC", "full")
    async with aopen_store(f"sqlite:///{tmp_path}/memory.db") as store:
        cursor = await store.conn.execute("PRAGMA synchronous")  # type: ignore[attr-defined]
        assert (await cursor.fetchone())[0] == FULL


def test_a_bad_setting_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_SQLITE_SYNC", "off")
    with (
        pytest.raises(ConfigError, match="QWENGRAPH_SQLITE_SYNC must be 'normal' or 'full', not 'off'"),
        open_checkpointer(f"sqlite:///{tmp_path}/threads.db"),
    ):
        pass
