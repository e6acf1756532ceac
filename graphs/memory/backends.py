"""Checkpointers (threads) and stores (long-term facts) chosen by URI.

Accepted URIs, for both kinds:

* ``sqlite:///ABS/PATH`` or ``sqlite:relative/path`` (relative to the current directory). The
  default when no URI is given: ``$QWENGRAPH_HOME/threads.db`` for checkpointers and
  ``$QWENGRAPH_HOME/memory.db`` for stores. Parent directories are created; the file runs in WAL
  mode with a busy timeout so several writers (threads or processes) wait instead of failing, and
  with ``synchronous=NORMAL`` (what a crash or a power loss can cost: :mod:`graphs.memory.sqlite_tuning`).
* ``postgres://…`` or ``postgresql://…``: LangGraph's Postgres classes on a small connection pool
  (needs ``pip install 'qwengraph[postgres]'``); tables are created on open (``setup()``).
* ``memory://``: in-process only, gone when the context exits (tests, throwaway runs).

Every opener is a context manager that closes its connections on exit. Problems surface as
:class:`~graphs.errors.MemoryError_` with a one-line message: a bad URI names the accepted forms,
an unreachable server names host, port and the driver's reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.memory import InMemoryStore

from graphs.errors import MemoryError_, MemoryURIError
from graphs.memory.postgres import apg_pool, apg_setup_lock, pg_pool, pg_setup_lock, require_postgres
from graphs.memory.sqlite_tuning import atune, synchronous, tune
from graphs.paths import home

__all__ = [
    "ACCEPTED_FORMS",
    "BackendURI",
    "aopen_checkpointer",
    "aopen_store",
    "open_checkpointer",
    "open_store",
    "parse_uri",
]

ACCEPTED_FORMS = "sqlite:///ABS/PATH, sqlite:relative/path, postgres://…, postgresql://…, memory://"
BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class BackendURI:
    """A parsed memory URI: which backend, and its file path or connection string."""

    kind: Literal["memory", "sqlite", "postgres"]
    target: str = ""


def parse_uri(uri: str | None, *, default_file: str = "threads.db") -> BackendURI:
    """Parse a memory URI; ``None`` or ``""`` means the SQLite file ``default_file`` under home.

    Raises:
        MemoryError_: the URI has none of the accepted forms.
    """
    if uri is None or not uri.strip():
        return BackendURI("sqlite", str(home() / default_file))
    text = uri.strip()
    if text in ("memory://", "memory:"):
        return BackendURI("memory")
    if text.startswith(("postgres://", "postgresql://")):
        return BackendURI("postgres", text)
    if text.startswith("sqlite:///"):
        return BackendURI("sqlite", "/" + text.removeprefix("sqlite:///").lstrip("/"))
    if text.startswith("sqlite:") and not text.startswith("sqlite://") and len(text) > len("sqlite:"):
        return BackendURI("sqlite", str(Path(text.removeprefix("sqlite:")).absolute()))
    raise MemoryURIError(f"unsupported memory URI {uri!r}; accepted forms: {ACCEPTED_FORMS}")


# --------------------------------------------------------------------------- SQLite


def _sqlite_path(path: str) -> str:
    """Create the parent directories of a database file and return its path."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MemoryError_(f"cannot create the directory for {path}: {err.strerror or err}") from err
    return path


def _sqlite_problem(path: str, err: sqlite3.Error) -> MemoryError_:
    """A one-line error for a SQLite file that cannot be used, with what to do about it."""
    text = str(err)
    if Path(path).is_dir():
        return MemoryError_(f"cannot open SQLite database {path}: it is a directory")
    if "not a database" in text or "malformed" in text:
        return MemoryError_(
            f"cannot open SQLite database {path}: {text} (corrupted? move it away to start with an empty one)"
        )
    return MemoryError_(f"cannot open SQLite database {path}: {text}")


def _sqlite_connect(path: str, *, autocommit: bool) -> sqlite3.Connection:
    """Open a SQLite file shared across threads, in WAL mode with a busy timeout."""
    synchronous()  # a bad QWENGRAPH_SQLITE_SYNC fails before a connection is opened
    try:
        conn = sqlite3.connect(
            _sqlite_path(path),
            timeout=BUSY_TIMEOUT_S,
            check_same_thread=False,  # the LangGraph classes serialise access with their own lock
            isolation_level=None if autocommit else "DEFERRED",
        )
        tune(conn.execute, BUSY_TIMEOUT_S)  # WAL, synchronous=NORMAL: see graphs.memory.sqlite_tuning
    except sqlite3.Error as err:
        raise _sqlite_problem(path, err) from err
    return conn


async def _aconfigure_sqlite(conn: Any) -> None:
    await atune(conn.execute, BUSY_TIMEOUT_S)


# --------------------------------------------------------------------------- checkpointers


@contextmanager
def open_checkpointer(uri: str | None = None) -> Iterator[BaseCheckpointSaver[Any]]:
    """Open a LangGraph checkpointer (thread storage) for ``uri``; see the module docstring.

    Raises:
        MemoryError_: bad URI, unreachable server, missing extra, unopenable file.
    """
    parsed = parse_uri(uri, default_file="threads.db")
    if parsed.kind == "memory":
        yield InMemorySaver()
    elif parsed.kind == "sqlite":
        from graphs.memory.sqlite_inline import InlineSqliteSaver  # noqa: PLC0415

        conn = _sqlite_connect(parsed.target, autocommit=False)
        try:
            saver = InlineSqliteSaver(conn)  # a SqliteSaver that async runs (arun) can use too
            saver.setup()
            yield saver
        finally:
            conn.close()
    else:
        require_postgres()
        from langgraph.checkpoint.postgres import PostgresSaver  # noqa: PLC0415

        with pg_pool(parsed.target) as pool:
            pg_saver = PostgresSaver(pool)
            with pg_setup_lock(pool):
                pg_saver.setup()
            yield pg_saver


@asynccontextmanager
async def aopen_checkpointer(uri: str | None = None) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """Async twin of :func:`open_checkpointer` (async psycopg underneath for Postgres).

    SQLite: with ``synchronous=NORMAL`` (the default) the same saver as :func:`open_checkpointer`,
    its async methods run inline on the event loop (:mod:`graphs.memory.sqlite_inline`: a commit
    takes ~0.1 ms, far less than aiosqlite's thread hops); with ``QWENGRAPH_SQLITE_SYNC=full``
    (an fsync per commit) LangGraph's aiosqlite saver, so the loop never waits for the disk.
    """
    parsed = parse_uri(uri, default_file="threads.db")
    if parsed.kind == "memory":
        yield InMemorySaver()
    elif parsed.kind == "sqlite" and synchronous() == "NORMAL":
        with open_checkpointer(uri) as inline:
            yield inline
    elif parsed.kind == "sqlite":
        import aiosqlite  # noqa: PLC0415
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: PLC0415

        path = _sqlite_path(parsed.target)
        try:
            conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S)
            await _aconfigure_sqlite(conn)
        except sqlite3.Error as err:
            raise _sqlite_problem(path, err) from err
        try:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield saver
        finally:
            await conn.close()
    else:
        require_postgres()
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: PLC0415

        async with apg_pool(parsed.target) as pool:
            pg_saver = AsyncPostgresSaver(pool)
            async with apg_setup_lock(pool):
                await pg_saver.setup()
            yield pg_saver


# --------------------------------------------------------------------------- stores


@contextmanager
def open_store(uri: str | None = None, *, index: IndexConfig | None = None) -> Iterator[BaseStore]:
    """Open a LangGraph ``BaseStore`` (long-term facts) for ``uri``; see the module docstring.

    Args:
        uri: the backend URI; default ``sqlite:///$QWENGRAPH_HOME/memory.db``.
        index: optional embedding index config, which turns on semantic ``search(query=…)``.

    Raises:
        MemoryError_: bad URI, unreachable server, missing extra, unopenable file.
    """
    parsed = parse_uri(uri, default_file="memory.db")
    extra: dict[str, Any] = {"index": index} if index else {}
    if parsed.kind == "memory":
        yield InMemoryStore(**extra)
    elif parsed.kind == "sqlite":
        from langgraph.store.sqlite import SqliteStore  # noqa: PLC0415

        conn = _sqlite_connect(parsed.target, autocommit=True)
        try:
            store = SqliteStore(conn, **extra)
            store.setup()
            yield store
        finally:
            conn.close()
    else:
        require_postgres()
        from langgraph.store.postgres import PostgresStore  # noqa: PLC0415

        with pg_pool(parsed.target) as pool:
            pg_store = PostgresStore(pool, **extra)
            with pg_setup_lock(pool):
                pg_store.setup()
            yield pg_store


@asynccontextmanager
async def aopen_store(
    uri: str | None = None, *, index: IndexConfig | None = None
) -> AsyncIterator[BaseStore]:
    """Async twin of :func:`open_store`."""
    parsed = parse_uri(uri, default_file="memory.db")
    extra: dict[str, Any] = {"index": index} if index else {}
    if parsed.kind == "memory":
        yield InMemoryStore(**extra)
    elif parsed.kind == "sqlite":
        import aiosqlite  # noqa: PLC0415
        from langgraph.store.sqlite.aio import AsyncSqliteStore  # noqa: PLC0415

        path = _sqlite_path(parsed.target)
        try:
            conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            await _aconfigure_sqlite(conn)
        except sqlite3.Error as err:
            raise _sqlite_problem(path, err) from err
        try:
            store = AsyncSqliteStore(conn, **extra)
            await store.setup()
            yield store
        finally:
            await conn.close()
    else:
        require_postgres()
        from langgraph.store.postgres.aio import AsyncPostgresStore  # noqa: PLC0415

        async with apg_pool(parsed.target) as pool:
            pg_store = AsyncPostgresStore(pool, **extra)
            async with apg_setup_lock(pool):
                await pg_store.setup()
            yield pg_store
