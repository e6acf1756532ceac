"""SQLite files are opened in WAL mode with synchronous=NORMAL, or FULL when the user asks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from graphs.errors import ConfigError
from graphs.memory import aopen_checkpointer, aopen_store, open_checkpointer, open_store
from graphs.memory.sqlite_inline import InlineSqliteSaver
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
        assert isinstance(saver, InlineSqliteSaver), "NORMAL: async methods inline, no aiosqlite hops"
        assert saver.conn.execute("PRAGMA synchronous").fetchone()[0] == NORMAL
    monkeypatch.setenv("QWENGRAPH_SQLITE_SYNC", "full")
    async with aopen_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver:
        assert isinstance(saver, AsyncSqliteSaver), "FULL: the loop never waits for an fsync"
        cursor = await saver.conn.execute("PRAGMA synchronous")
        assert (await cursor.fetchone())[0] == FULL
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


async def test_the_inline_saver_works_in_the_loops_thread_and_shares_threads_with_sync_runs(
    tmp_path: Path,
) -> None:
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.graph import START, MessagesState, StateGraph

    calls: list[str] = []

    def reply(state: MessagesState) -> dict[str, list[AIMessage]]:
        return {"messages": [AIMessage(f"reply {len(state['messages'])}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    async with aopen_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver:
        assert isinstance(saver, InlineSqliteSaver)
        put = saver.put
        saver.put = lambda *a, **k: calls.append(threading.current_thread().name) or put(*a, **k)  # type: ignore[method-assign]
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"messages": [HumanMessage("one")]}, config, durability="sync")
        history = [c async for c in saver.alist(config)]
    assert calls and set(calls) == {threading.current_thread().name}, "no hop to another thread"
    assert len(history) == len(calls)
    with open_checkpointer(f"sqlite:///{tmp_path}/threads.db") as sync_saver:  # the same file, sync
        graph = builder.compile(checkpointer=sync_saver)
        state = graph.invoke({"messages": [HumanMessage("two")]}, config)
        assert [m.text for m in state["messages"]] == ["one", "reply 1", "two", "reply 3"]
        sync_saver.delete_thread("t")
    async with aopen_checkpointer(f"sqlite:///{tmp_path}/threads.db") as saver:
        assert await saver.aget_tuple(config) is None
