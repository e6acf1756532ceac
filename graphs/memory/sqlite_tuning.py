"""How qwengraph's SQLite files are opened: WAL journal, ``synchronous=NORMAL``, a busy timeout.

Threads (checkpoints), long-term stores and run traces all go through :func:`pragmas`.

**What a crash can cost** (SQLite's documented behaviour, and what ``tests/graphs/test_durable.py``
checks for the first two with a process killed by SIGKILL mid-run):

- *The application crashes or is killed* (``kill -9``, an exception, Ctrl-C): nothing committed
  is lost, with either setting. A commit in WAL mode is in the WAL file once ``COMMIT`` returns;
  the operating system writes it to disk even though the process is gone.
- *The machine loses power or the OS crashes*: with ``NORMAL`` (the default) the database stays
  intact, but the last commits before the failure (those since the WAL was last synced to disk,
  at most the work of the last few moments) can be rolled back: a thread then resumes from an
  earlier step and may repeat a tool call. With ``FULL`` every commit is synced to disk before
  ``COMMIT`` returns, so nothing committed is lost even then.

Why ``NORMAL`` by default: measured on this project's machine (ext4 on a shared virtual disk), a
commit with ``FULL`` took a median 11.5 ms (one fsync each) against 0.09 ms with ``NORMAL``, and a
ReAct run with a thread commits about twenty times (a checkpoint and the tasks' writes per step).
Set ``QWENGRAPH_SQLITE_SYNC=full`` to trade that speed for durability across power loss.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from graphs.errors import ConfigError

BUSY_TIMEOUT_S = 30.0
SYNC_ENV = "QWENGRAPH_SQLITE_SYNC"
Sync = Literal["NORMAL", "FULL"]


def synchronous() -> Sync:
    """The ``synchronous`` setting: ``QWENGRAPH_SQLITE_SYNC`` (``normal`` or ``full``), else ``NORMAL``.

    Raises:
        ConfigError: the variable holds anything else.
    """
    value = os.environ.get(SYNC_ENV, "normal").strip().upper() or "NORMAL"
    if value not in ("NORMAL", "FULL"):
        raise ConfigError(f"{SYNC_ENV} must be 'normal' or 'full', not {value.lower()!r}")
    return "FULL" if value == "FULL" else "NORMAL"


def pragmas(busy_timeout_s: float = BUSY_TIMEOUT_S) -> list[str]:
    """The statements every connection runs first (WAL persists in the file; the rest per connection)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA synchronous={synchronous()}",
        f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}",
    ]


def tune(execute: Callable[[str], Any], busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Run :func:`pragmas` on a connection through its ``execute``."""
    for statement in pragmas(busy_timeout_s):
        execute(statement)


async def atune(execute: Callable[[str], Awaitable[Any]], busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Async twin of :func:`tune` (an aiosqlite connection's ``execute``)."""
    for statement in pragmas(busy_timeout_s):
        await execute(statement)
