"""One run at a time per thread: concurrent writers on one thread lose no turn (SQLite, Postgres, memory)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agents.runner import run
from graphs.errors import ThreadBusy
from graphs.memory import open_checkpointer
from graphs.memory.locks import Holder, SqliteThreadLocks, thread_lock
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.models.transports.base import ChatRequest

WRITERS, TURNS = 3, 8


def echo(request: ChatRequest) -> Any:
    time.sleep(0.005)  # a model takes time: without the lock, writers interleave here
    last = next(m for m in reversed(request.messages) if m["role"] == "user")
    return turn(f"echo: {last['content']}")


def model() -> ChatQwen:
    return ChatQwen(model="ollama:fake", transport=ScriptedTransport(echo))


def lost_turns(saver: Any, thread: str, prompts: list[str]) -> list[str]:
    """The prompts whose turn (the prompt right before its own answer) is not in the thread."""
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    messages = saved.checkpoint["channel_values"]["messages"] if saved else []
    kept = {
        a.text
        for a, b in itertools.pairwise(messages)
        if isinstance(a, HumanMessage) and isinstance(b, AIMessage) and b.text == f"echo: {a.text}"
    }
    assert len(messages) == 2 * len(kept), "every message belongs to a complete turn"
    return [p for p in prompts if p not in kept]


def hammer(open_saver: Callable[[], AbstractContextManager[Any]], thread: str = "S") -> list[str]:
    """WRITERS threads, each with its own checkpointer, each running TURNS runs on one thread."""
    prompts = [f"writer {w} turn {t}" for w in range(WRITERS) for t in range(TURNS)]
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            with open_saver() as saver:
                for t in range(TURNS):
                    run(
                        f"writer {index} turn {t}",
                        chat_model=model(),
                        thread=thread,
                        checkpointer=saver,
                        trace=False,
                    )
        except BaseException as err:
            errors.append(err)

    workers = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not errors, errors
    with open_saver() as saver:
        return lost_turns(saver, thread, prompts)


def test_sqlite_writers_on_one_thread_lose_no_turn(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'threads.db'}"
    assert hammer(lambda: open_checkpointer(uri)) == []


def test_postgres_writers_on_one_thread_lose_no_turn(postgres_uri: str) -> None:
    assert hammer(lambda: open_checkpointer(postgres_uri), thread="pg-lock-S") == []


def test_shared_in_memory_saver_loses_no_turn() -> None:
    with open_checkpointer("memory://") as shared:

        class Same:
            def __enter__(self) -> Any:
                return shared

            def __exit__(self, *exc: object) -> None:
                return None

        assert hammer(Same) == []


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "memory"])
def test_no_wait_refuses_a_busy_thread_and_says_who_holds_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    uri = {
        "sqlite": f"sqlite:///{tmp_path / 'threads.db'}",
        "postgres": request.getfixturevalue("postgres_uri") if kind == "postgres" else "",
        "memory": "memory://",
    }[kind]
    with open_checkpointer(uri) as saver, thread_lock(saver, "busy"):
        with pytest.raises(
            ThreadBusy, match=r"thread 'busy' is in use by another run \(pid \d+ on "
        ) as caught:
            run("hi", chat_model=model(), thread="busy", checkpointer=saver, trace=False, wait=False)
        assert caught.value.exit_code == 8
        with pytest.raises(ThreadBusy):
            with thread_lock(saver, "busy", timeout=0.3):
                pass
        with thread_lock(saver, "other", wait=False):  # other threads are free
            pass
    with open_checkpointer(uri) as saver, thread_lock(saver, "busy", wait=False):  # released on exit
        pass


def test_the_second_run_waits_and_is_told_why(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'threads.db'}"
    told: list[Holder] = []
    with open_checkpointer(uri) as saver:
        holder = thread_lock(saver, "S")
        holder.__enter__()
        threading.Timer(0.5, holder.__exit__, args=(None, None, None)).start()
        started = time.monotonic()
        result = run(
            "hi", chat_model=model(), thread="S", checkpointer=saver, trace=False, on_wait=told.append
        )
        waited = time.monotonic() - started
    assert result.answer == "echo: hi"
    assert waited >= 0.4
    assert len(told) == 1 and told[0].pid > 0


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    db = tmp_path / "threads.db"
    locks = SqliteThreadLocks(str(db))
    assert locks.try_acquire("S", "live-token") is None
    import sqlite3

    with sqlite3.connect(db) as conn:  # as if its process had died: a pid that does not exist now
        conn.execute("UPDATE qwengraph_thread_locks SET pid = 2147483000, token = 'dead'")
    assert locks.try_acquire("S", "new-token") is None
    assert locks.try_acquire("S", "third") is not None  # and now it is held again
