"""One run at a time per thread: a lock per thread, kept in the checkpointer's own database.

Two runs that continue the same thread at once would each read the same last checkpoint and write
their turn on top of it, so one of the turns is lost. :func:`thread_lock` serialises them: the
second run waits (``on_wait`` is called once, with who holds the lock, so a user sees why nothing
happens) or, with ``wait=False``, fails at once with :class:`~graphs.errors.ThreadBusy`.

Where the lock lives, by checkpointer:

* SQLite (``SqliteSaver``, ``AsyncSqliteSaver``): a row in the table ``qwengraph_thread_locks`` of
  the same file, taken in a ``BEGIN IMMEDIATE`` transaction. The row names the holder's pid, the
  pid's start time and the host; a row whose process is gone (killed with ``kill -9``, or a
  reused pid) is taken over, so a crash never leaves a thread locked. SQLite files are shared by
  processes of one host only (WAL mode needs shared memory), which is what makes that check sound.
* PostgreSQL (``PostgresSaver``, ``AsyncPostgresSaver``): a session-level advisory lock
  (``pg_try_advisory_lock``) on a connection of its own, held for the run; the server releases it
  when that connection ends, also when the process dies.
* Anything else (``InMemorySaver``, your own checkpointer): a lock inside this process.

:func:`agents.runner.run` takes the lock for a run on a saved thread; take it yourself around your
own ``graph.invoke`` calls on a shared thread. The lock is not re-entrant.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from graphs.errors import MemoryError_, ThreadBusy

__all__ = ["Holder", "ThreadLocks", "athread_lock", "locks_for", "thread_lock"]

LOCK_TABLE = "qwengraph_thread_locks"
BUSY_TIMEOUT_S = 30.0
POLL_S = (0.02, 0.25)
"""First and longest pause between two attempts to take a busy lock."""


@dataclass(frozen=True)
class Holder:
    """Who holds a thread's lock."""

    pid: int
    host: str
    since: float

    def describe(self) -> str:
        """``pid 123 on host, since 12:00:01``."""
        when = (
            datetime.fromtimestamp(self.since, UTC).astimezone().strftime("%H:%M:%S") if self.since else "?"
        )
        return f"pid {self.pid} on {self.host}, since {when}"


class ThreadLocks(Protocol):
    """Per-thread locks in one database. ``token`` tells the holders apart (several per process)."""

    def try_acquire(self, thread: str, token: str) -> Holder | None:
        """Take the lock; ``None`` when taken, else who holds it."""
        ...

    def release(self, thread: str, token: str) -> None:
        """Give the lock back (only the holder with ``token`` can)."""
        ...


# --------------------------------------------------------------------------- SQLite


def _start_time(pid: int) -> str:
    """The start time of ``pid`` (clock ticks after boot), or ``""`` when unknown; tells reused pids apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return not started or not _start_time(pid) or _start_time(pid) == started


class SqliteThreadLocks:
    """Lock rows in ``qwengraph_thread_locks`` of a SQLite file (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.host = socket.gethostname()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            if not self._ready:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (thread_id TEXT PRIMARY KEY, "
                    "token TEXT NOT NULL, pid INTEGER NOT NULL, started TEXT NOT NULL, host TEXT NOT NULL, "
                    "since REAL NOT NULL)"
                )
                self._ready = True
        except sqlite3.Error as err:
            raise MemoryError_(f"cannot lock threads in SQLite database {self.path}: {err}") from err
        return conn

    def try_acquire(self, thread: str, token: str) -> Holder | None:
        """Take the row for ``thread`` unless a live process holds it."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                f"SELECT pid, started, host, since, token FROM {LOCK_TABLE} WHERE thread_id = ?",  # noqa: S608
                (thread,),
            ).fetchone()
            if row is not None and row[4] != token:
                pid, started, host, since = int(row[0]), str(row[1]), str(row[2]), float(row[3])
                if host != self.host or _alive(pid, started):
                    conn.execute("ROLLBACK")
                    return Holder(pid, host, since)
            pid = os.getpid()
            conn.execute(
                f"INSERT OR REPLACE INTO {LOCK_TABLE} VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608 - our table
                (thread, token, pid, _start_time(pid), self.host, time.time()),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise MemoryError_(f"cannot lock thread {thread!r} in {self.path}: {err}") from err
        finally:
            conn.close()
        return None

    def release(self, thread: str, token: str) -> None:
        """Delete the row if it is still ours."""
        conn = self._connect()
        try:
            sql = f"DELETE FROM {LOCK_TABLE} WHERE thread_id = ? AND token = ?"  # noqa: S608 - our table
            conn.execute(sql, (thread, token))
        except sqlite3.Error as err:
            raise MemoryError_(f"cannot unlock thread {thread!r} in {self.path}: {err}") from err
        finally:
            conn.close()


# --------------------------------------------------------------------------- PostgreSQL


def _advisory_key(thread: str) -> int:
    """A signed 64-bit advisory-lock key for ``thread`` (qwengraph's own key space)."""
    digest = hashlib.blake2b(f"qwengraph-thread:{thread}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresThreadLocks:
    """Session advisory locks, one connection per held lock (see the module docstring)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.host = socket.gethostname()
        self._held: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def try_acquire(self, thread: str, token: str) -> Holder | None:
        """``pg_try_advisory_lock`` on a new connection, kept open while the lock is held."""
        import psycopg  # noqa: PLC0415 - the postgres extra

        key = _advisory_key(thread)
        name = f"qwengraph-lock pid={os.getpid()} host={self.host}"[:63]
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, application_name=name, connect_timeout=5)
        except psycopg.Error as err:
            raise MemoryError_(f"cannot lock thread {thread!r} in PostgreSQL: {err}") from err
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row is not None and row[0]:
                with self._lock:
                    self._held[(thread, token)] = conn
                return None
            holder = conn.execute(
                "SELECT a.application_name, extract(epoch from a.query_start) FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
            ).fetchone()
        except psycopg.Error as err:
            conn.close()
            raise MemoryError_(f"cannot lock thread {thread!r} in PostgreSQL: {err}") from err
        conn.close()
        return _pg_holder(holder)

    def release(self, thread: str, token: str) -> None:
        """Unlock by closing the lock's connection."""
        with self._lock:
            conn = self._held.pop((thread, token), None)
        if conn is not None:
            conn.close()


def _pg_holder(row: Any) -> Holder:
    name, since = (str(row[0] or ""), float(row[1] or 0)) if row else ("", 0.0)
    fields = dict(part.split("=", 1) for part in name.split() if "=" in part)
    pid = int(fields["pid"]) if fields.get("pid", "").isdigit() else 0
    return Holder(pid, fields.get("host", "the PostgreSQL server's client"), since)


def _pg_conninfo(conn: Any) -> str:
    """A connection string for a psycopg pool or connection (sync or async)."""
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    conninfo = getattr(conn, "conninfo", None)  # a pool
    if isinstance(conninfo, str):
        return conninfo
    info = conn.info
    params = info.get_parameters()
    if info.password:
        params["password"] = info.password
    return make_conninfo("", **params)


# --------------------------------------------------------------------------- in process


class ProcessThreadLocks:
    """Locks inside this process, for checkpointers that live in it (``InMemorySaver``) or are unknown."""

    _owners: dict[tuple[int, str], str] = {}  # noqa: RUF012 - one table per process, on purpose
    _guard = threading.Lock()

    def __init__(self, saver: object) -> None:
        self.scope = id(saver)

    def try_acquire(self, thread: str, token: str) -> Holder | None:
        """Take the lock unless another holder in this process has it."""
        with self._guard:
            owner = self._owners.setdefault((self.scope, thread), token)
        return None if owner == token else Holder(os.getpid(), socket.gethostname(), 0.0)

    def release(self, thread: str, token: str) -> None:
        """Give it back."""
        with self._guard:
            if self._owners.get((self.scope, thread)) == token:
                del self._owners[(self.scope, thread)]


# --------------------------------------------------------------------------- choosing and holding


def locks_for(saver: object) -> ThreadLocks:
    """The lock table that goes with a (sync) checkpointer; see the module docstring."""
    kind = type(saver).__name__
    if kind in ("SqliteSaver", "InlineSqliteSaver"):  # InlineSqliteSaver: graphs.memory.sqlite_inline
        conn: sqlite3.Connection = saver.conn  # type: ignore[attr-defined]
        with saver.lock:  # type: ignore[attr-defined]  # the saver serialises its connection
            rows = conn.execute("PRAGMA database_list").fetchall()
        path = next((str(r[2]) for r in rows if r[1] == "main"), "")
        return SqliteThreadLocks(path) if path else ProcessThreadLocks(saver)
    if kind in ("PostgresSaver", "AsyncPostgresSaver"):
        return PostgresThreadLocks(_pg_conninfo(saver.conn))  # type: ignore[attr-defined]
    return ProcessThreadLocks(saver)


async def alocks_for(saver: object) -> ThreadLocks:
    """Async twin of :func:`locks_for` (reads an ``AsyncSqliteSaver``'s file name asynchronously)."""
    if type(saver).__name__ == "AsyncSqliteSaver":
        cursor = await saver.conn.execute("PRAGMA database_list")  # type: ignore[attr-defined]
        rows = await cursor.fetchall()
        path = next((str(r[2]) for r in rows if r[1] == "main"), "")
        return SqliteThreadLocks(path) if path else ProcessThreadLocks(saver)
    return locks_for(saver)


def _busy(thread: str, holder: Holder) -> ThreadBusy:
    return ThreadBusy(
        f"thread {thread!r} is in use by another run ({holder.describe()}); try again when it has finished",
        thread=thread,
        holder=holder.describe(),
    )


@contextmanager
def thread_lock(
    saver: object,
    thread: str,
    *,
    wait: bool = True,
    timeout: float | None = None,
    on_wait: Callable[[Holder], None] | None = None,
    locks: ThreadLocks | None = None,
) -> Iterator[None]:
    """Hold ``thread``'s lock for the ``with`` block.

    Args:
        saver: the checkpointer the thread lives in (picks where the lock lives).
        thread: the thread id.
        wait: wait for a busy lock (``False``: raise :class:`ThreadBusy` at once).
        timeout: seconds to wait at most (``None``: as long as it takes), then :class:`ThreadBusy`.
        on_wait: called once, with the holder, when the lock is busy and the caller waits.
        locks: the lock table to use instead of the one :func:`locks_for` picks.

    Raises:
        ThreadBusy: the lock is held by another run and ``wait`` is false or ``timeout`` passed.
        MemoryError_: the lock table cannot be read or written.
    """
    table = locks or locks_for(saver)
    token = uuid.uuid4().hex
    deadline = None if timeout is None else time.monotonic() + timeout
    pause, told = POLL_S[0], False
    while (holder := table.try_acquire(thread, token)) is not None:
        if not wait or (deadline is not None and time.monotonic() >= deadline):
            raise _busy(thread, holder)
        if not told and on_wait is not None:
            on_wait(holder)
        told = True
        time.sleep(pause)
        pause = min(pause * 1.5, POLL_S[1])
    try:
        yield
    finally:
        table.release(thread, token)


@asynccontextmanager
async def athread_lock(
    saver: object,
    thread: str,
    *,
    wait: bool = True,
    timeout: float | None = None,
    on_wait: Callable[[Holder], None] | None = None,
) -> AsyncIterator[None]:
    """Async twin of :func:`thread_lock` (the lock table is used from a worker thread)."""
    table = await alocks_for(saver)
    token = uuid.uuid4().hex
    deadline = None if timeout is None else time.monotonic() + timeout
    pause, told = POLL_S[0], False
    while (holder := await asyncio.to_thread(table.try_acquire, thread, token)) is not None:
        if not wait or (deadline is not None and time.monotonic() >= deadline):
            raise _busy(thread, holder)
        if not told and on_wait is not None:
            on_wait(holder)
        told = True
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, POLL_S[1])
    try:
        yield
    finally:
        await asyncio.to_thread(table.release, thread, token)
