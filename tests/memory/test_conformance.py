"""One conformance suite that every memory backend passes: memory://, SQLite and a real PostgreSQL.

Each test runs once per backend (``backend`` fixture). The Postgres server is shared by the
session, so every test works in its own namespace / thread id. Checkpointers are exercised through
a real ``StateGraph`` with a ``thread_id``, the way agents use them.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore

from graphs.errors import MemoryError_
from graphs.memory import aopen_checkpointer, aopen_store, open_checkpointer, open_store, parse_uri

BACKENDS = ["memory", "sqlite", "postgres"]


class Chat(TypedDict):
    messages: Annotated[list[str], operator.add]


def _echo(state: Chat) -> dict[str, list[str]]:
    return {"messages": [f"reply:{state['messages'][-1]}"]}


def _graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    builder = StateGraph(Chat)
    builder.add_node("echo", _echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    return builder.compile(checkpointer=checkpointer)


def _cfg(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URI of one backend; the SQLite file lives in the test's tmp dir."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return str(request.getfixturevalue("postgres_uri"))


@pytest.fixture
def ns() -> tuple[str, ...]:
    """A namespace root no other test uses (the Postgres database is shared by the session)."""
    return ("conf", uuid.uuid4().hex)


def _persistent(uri: str) -> bool:
    return not uri.startswith("memory")


# --------------------------------------------------------------------------- stores


def test_store_put_get_update_delete(backend: str, ns: tuple[str, ...]) -> None:
    with open_store(backend) as store:
        assert store.get(ns, "k") is None
        store.put(ns, "k", {"fact": "tea", "n": 1})
        item = store.get(ns, "k")
        assert item is not None
        assert (item.namespace, item.key, item.value) == (ns, "k", {"fact": "tea", "n": 1})
        store.put(ns, "k", {"fact": "coffee", "n": 2})
        item = store.get(ns, "k")
        assert item is not None
        assert item.value == {"fact": "coffee", "n": 2}
        store.delete(ns, "k")
        assert store.get(ns, "k") is None


def test_store_search_filter_limit_offset(backend: str, ns: tuple[str, ...]) -> None:
    with open_store(backend) as store:
        for i in range(7):
            store.put(ns, f"k{i}", {"kind": "even" if i % 2 == 0 else "odd", "i": i})
        assert {it.key for it in store.search(ns, limit=100)} == {f"k{i}" for i in range(7)}
        evens = store.search(ns, filter={"kind": "even"}, limit=100)
        assert sorted(it.value["i"] for it in evens) == [0, 2, 4, 6]
        first, second = store.search(ns, limit=4), store.search(ns, limit=4, offset=4)
        assert len(first) == 4
        assert len(second) == 3
        assert {it.key for it in first} | {it.key for it in second} == {f"k{i}" for i in range(7)}


def test_store_namespaces_listing_and_prefix(backend: str, ns: tuple[str, ...]) -> None:
    with open_store(backend) as store:
        store.put((*ns, "a", "x"), "1", {"v": 1})
        store.put((*ns, "a", "y"), "2", {"v": 2})
        store.put((*ns, "b"), "3", {"v": 3})
        store.put((f"{ns[0]}-other", ns[1]), "4", {"v": 4})  # shares a string prefix, not a label prefix
        assert sorted(store.list_namespaces(prefix=ns)) == [(*ns, "a", "x"), (*ns, "a", "y"), (*ns, "b")]
        assert sorted(store.list_namespaces(prefix=(*ns, "a"))) == [(*ns, "a", "x"), (*ns, "a", "y")]
        assert sorted(store.list_namespaces(prefix=ns, max_depth=3)) == [(*ns, "a"), (*ns, "b")]
        assert {it.key for it in store.search((*ns, "a"))} == {"1", "2"}
        assert {it.key for it in store.search(ns)} == {"1", "2", "3"}
        store.delete((*ns, "b"), "3")
        assert store.search((*ns, "b")) == []  # (InMemoryStore keeps listing the emptied namespace)


def _hammer(
    write: Callable[[int, int], None], n_threads: int = 8, per_thread: int = 25
) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def work(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                write(t, i)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def test_store_concurrent_writers(backend: str, ns: tuple[str, ...]) -> None:
    """Threads write distinct keys and one shared key; on SQLite/Postgres half use a second connection."""
    with open_store(backend) as first, open_store(backend) as second:
        stores = [first, second] if _persistent(backend) else [first, first]

        def write(t: int, i: int) -> None:
            store = stores[t % 2]
            store.put(ns, f"t{t}-{i}", {"t": t, "i": i})
            store.put(ns, "shared", {"t": t, "i": i})

        errors = _hammer(write)
        assert not errors, [repr(e) for e in errors[:3]]
        keys = {it.key for it in first.search(ns, limit=1000)}
        assert keys == {f"t{t}-{i}" for t in range(8) for i in range(25)} | {"shared"}
        shared = first.get(ns, "shared")
        assert shared is not None
        assert shared.value["i"] == 24  # some thread's last write


def test_store_reopen_after_close(backend: str, ns: tuple[str, ...]) -> None:
    with open_store(backend) as store:
        store.put(ns, "k", {"fact": "persists"})
    with open_store(backend) as store:
        item = store.get(ns, "k")
    if _persistent(backend):
        assert item is not None
        assert item.value == {"fact": "persists"}
    else:
        assert item is None  # memory:// is gone with its context


async def test_store_async(backend: str, ns: tuple[str, ...]) -> None:
    async with aopen_store(backend) as store:
        await store.aput((*ns, "a"), "k1", {"fact": "one"})
        await store.aput((*ns, "b"), "k2", {"fact": "two"})
        item = await store.aget((*ns, "a"), "k1")
        assert item is not None
        assert item.value == {"fact": "one"}
        assert {it.key for it in await store.asearch(ns)} == {"k1", "k2"}
        assert sorted(await store.alist_namespaces(prefix=ns)) == [(*ns, "a"), (*ns, "b")]
        await store.adelete((*ns, "a"), "k1")
        assert await store.aget((*ns, "a"), "k1") is None
    async with aopen_store(backend) as store:
        again = await store.aget((*ns, "b"), "k2")
        assert (again is not None) == _persistent(backend)


# --------------------------------------------------------------------------- checkpointers


def test_checkpointer_two_turns_reopen_and_list(backend: str) -> None:
    thread = f"t-{uuid.uuid4().hex}"
    expected = ["hi", "reply:hi", "again", "reply:again"]
    with open_checkpointer(backend) as saver:
        graph = _graph(saver)
        graph.invoke({"messages": ["hi"]}, _cfg(thread))
        out = graph.invoke({"messages": ["again"]}, _cfg(thread))
        assert out["messages"] == expected
        checkpoints = list(saver.list(_cfg(thread)))
        steps = [c.metadata["step"] for c in checkpoints]
        assert len(checkpoints) >= 4  # input + node checkpoint per turn
        assert steps == sorted(steps, reverse=True)  # newest first
        assert all(c.config["configurable"]["thread_id"] == thread for c in checkpoints)
    with open_checkpointer(backend) as saver:
        state = _graph(saver).get_state(_cfg(thread))
        if _persistent(backend):
            assert state.values["messages"] == expected
            assert len(list(saver.list(_cfg(thread)))) == len(checkpoints)
        else:
            assert state.values == {}


def test_checkpointer_threads_are_isolated(backend: str) -> None:
    a, b = f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"
    with open_checkpointer(backend) as saver:
        graph = _graph(saver)
        graph.invoke({"messages": ["to-a"]}, _cfg(a))
        graph.invoke({"messages": ["to-b"]}, _cfg(b))
        assert graph.get_state(_cfg(a)).values["messages"] == ["to-a", "reply:to-a"]
        assert graph.get_state(_cfg(b)).values["messages"] == ["to-b", "reply:to-b"]


def test_checkpointer_concurrent_writers(backend: str) -> None:
    """Eight threads run conversations at once; on SQLite/Postgres over two separate connections."""
    run = uuid.uuid4().hex
    with open_checkpointer(backend) as first, open_checkpointer(backend) as second:
        graphs = [_graph(first), _graph(second) if _persistent(backend) else _graph(first)]

        def write(t: int, i: int) -> None:
            graphs[t % 2].invoke({"messages": [f"m{i}"]}, _cfg(f"{run}-{t}"))

        errors = _hammer(write, per_thread=5)
        assert not errors, [repr(e) for e in errors[:3]]
        for t in range(8):
            messages = graphs[0].get_state(_cfg(f"{run}-{t}")).values["messages"]
            assert messages == [m for i in range(5) for m in (f"m{i}", f"reply:m{i}")]


async def test_checkpointer_async(backend: str) -> None:
    thread = f"async-{uuid.uuid4().hex}"
    async with aopen_checkpointer(backend) as saver:
        graph = _graph(saver)
        await graph.ainvoke({"messages": ["hi"]}, _cfg(thread))
        await graph.ainvoke({"messages": ["again"]}, _cfg(thread))
        latest = await saver.aget_tuple(_cfg(thread))
        assert latest is not None
        assert latest.checkpoint["channel_values"]["messages"] == ["hi", "reply:hi", "again", "reply:again"]
        assert len([c async for c in saver.alist(_cfg(thread))]) >= 4
        # a direct aput lands as the thread's newest checkpoint
        other = f"direct-{uuid.uuid4().hex}"
        checkpoint = empty_checkpoint()
        cfg = {"configurable": {"thread_id": other, "checkpoint_ns": ""}}
        stored = await saver.aput(cfg, checkpoint, {"source": "input", "step": -1, "parents": {}}, {})
        assert stored["configurable"]["checkpoint_id"] == checkpoint["id"]
        fetched = await saver.aget_tuple(_cfg(other))
        assert fetched is not None
        assert fetched.checkpoint["id"] == checkpoint["id"]
        assert fetched.metadata["source"] == "input"
    async with aopen_checkpointer(backend) as saver:
        reopened = await saver.aget_tuple(_cfg(thread))
        assert (reopened is not None) == _persistent(backend)


# --------------------------------------------------------------------------- URIs and errors


def test_default_uris_live_under_qwengraph_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "nested" / "home"
    monkeypatch.setenv("QWENGRAPH_HOME", str(home))
    with open_checkpointer() as saver:
        _graph(saver).invoke({"messages": ["x"]}, _cfg("t"))
    with open_store() as store:
        store.put(("n",), "k", {"v": 1})
    assert (home / "threads.db").is_file()
    assert (home / "memory.db").is_file()
    with sqlite3.connect(home / "memory.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_relative_sqlite_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_uri("sqlite:data/x.db") == parse_uri(f"sqlite:///{tmp_path}/data/x.db")
    with open_store("sqlite:data/x.db") as store:
        store.put(("n",), "k", {"v": 1})
    assert (tmp_path / "data" / "x.db").is_file()


@pytest.mark.parametrize("uri", ["mysql://x", "sqlite://host/x.db", "sqlite:", "threads.db", "redis://"])
def test_bad_uri_names_accepted_forms(uri: str) -> None:
    with pytest.raises(
        MemoryError_, match=r"unsupported memory URI.*sqlite:///ABS/PATH.*postgres://.*memory://"
    ):
        parse_uri(uri)
    with pytest.raises(MemoryError_), open_checkpointer(uri):
        pass


def test_unreachable_postgres_is_one_clear_line() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused
        with pytest.raises(MemoryError_) as info, open_store(f"postgresql://u:secret@127.0.0.1:{port}/db"):
            pass
    message = str(info.value)
    assert f"cannot connect to PostgreSQL at 127.0.0.1:{port}: " in message
    assert "\n" not in message
    assert "secret" not in message
    assert info.value.__cause__ is None


async def test_unreachable_postgres_async() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(MemoryError_, match=f"127.0.0.1:{port}"):
            async with aopen_checkpointer(f"postgres://127.0.0.1:{port}/db"):
                pass


def test_missing_postgres_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres", None)
    with (
        pytest.raises(MemoryError_, match=r"pip install 'qwengraph\[postgres\]'"),
        open_checkpointer("postgresql://127.0.0.1/db"),
    ):
        pass


def test_unwritable_sqlite_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(MemoryError_, match="cannot"), open_store(f"sqlite:///{blocker}/sub/x.db"):
        pass


def test_store_type() -> None:
    with open_store("memory://") as store:
        assert isinstance(store, BaseStore)
