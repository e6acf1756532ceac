"""PostgreSQL plumbing of :mod:`graphs.memory.backends`: probing a server, connection pools the way
LangGraph's Postgres classes expect them, and serialising their table setup across processes.

Imported only when a ``postgres://`` URI is opened (the ``postgres`` extra may be missing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from graphs.errors import MemoryError_

if TYPE_CHECKING:
    from psycopg.rows import DictRow

POOL_MAX_SIZE = 10
CONNECT_TIMEOUT_S = 5
POSTGRES_EXTRA_HINT = "the PostgreSQL backend needs the postgres extra: pip install 'qwengraph[postgres]'"


def require_postgres() -> None:
    try:
        import langgraph.checkpoint.postgres  # noqa: PLC0415
        import langgraph.store.postgres  # noqa: F401, PLC0415
        import psycopg_pool  # noqa: F401, PLC0415
    except ImportError as err:
        raise MemoryError_(POSTGRES_EXTRA_HINT) from err


def _pg_where(dsn: str) -> str:
    """``host:port`` of a connection string, for error messages (never the password)."""
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415

    try:
        info = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - any parse problem: fall back to a generic name
        return "the PostgreSQL server"
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"


def _pg_reason(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def _pg_probe(dsn: str) -> None:
    """Connect once with a short timeout so an unreachable server fails with one clear line."""
    import psycopg  # noqa: PLC0415

    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S):
            pass
    except psycopg.Error as err:
        raise MemoryError_(f"cannot connect to PostgreSQL at {_pg_where(dsn)}: {_pg_reason(err)}") from None


async def _apg_probe(dsn: str) -> None:
    import psycopg  # noqa: PLC0415

    try:
        conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S)
        await conn.close()
    except psycopg.Error as err:
        raise MemoryError_(f"cannot connect to PostgreSQL at {_pg_where(dsn)}: {_pg_reason(err)}") from None


def _pg_kwargs() -> dict[str, Any]:
    from psycopg.rows import dict_row  # noqa: PLC0415

    return {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


@contextmanager
def pg_pool(dsn: str) -> Iterator[Any]:
    """A psycopg connection pool configured the way LangGraph's Postgres classes expect."""
    from psycopg import Connection  # noqa: PLC0415
    from psycopg_pool import ConnectionPool  # noqa: PLC0415

    _pg_probe(dsn)
    pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
        dsn, min_size=1, max_size=POOL_MAX_SIZE, kwargs=_pg_kwargs(), open=False
    )
    pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    try:
        yield pool
    finally:
        pool.close()


@asynccontextmanager
async def apg_pool(dsn: str) -> AsyncIterator[Any]:
    from psycopg import AsyncConnection  # noqa: PLC0415
    from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

    await _apg_probe(dsn)
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        dsn, min_size=1, max_size=POOL_MAX_SIZE, kwargs=_pg_kwargs(), open=False
    )
    await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    try:
        yield pool
    finally:
        await pool.close()


SETUP_LOCK_KEY = 0x7177_6772_6170_6801  # our pg_advisory_lock key for setup()
SETUP_WAIT_S = 120.0
_TRY_SETUP_LOCK = "SELECT pg_try_advisory_lock(%s) AS ok"


@contextmanager
def pg_setup_lock(pool: Any) -> Iterator[None]:
    """Serialise ``setup()`` (table migrations) across processes opening one fresh database at once:
    LangGraph's migrations are not safe to run concurrently (duplicate-key errors).

    The lock is polled with ``pg_try_advisory_lock`` rather than waited for: a session blocked in
    ``pg_advisory_lock`` keeps a transaction open, and the migrations' ``CREATE INDEX CONCURRENTLY``
    waits for every open transaction, which would deadlock.
    """
    with pool.connection() as conn:
        deadline, pause = time.monotonic() + SETUP_WAIT_S, 0.02
        while not conn.execute(_TRY_SETUP_LOCK, (SETUP_LOCK_KEY,)).fetchone()["ok"]:  # dict rows
            if time.monotonic() > deadline:
                raise MemoryError_(
                    f"PostgreSQL tables are still being set up by another process after {SETUP_WAIT_S:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


@asynccontextmanager
async def apg_setup_lock(pool: Any) -> AsyncIterator[None]:
    async with pool.connection() as conn:
        deadline, pause = time.monotonic() + SETUP_WAIT_S, 0.02
        while not (await (await conn.execute(_TRY_SETUP_LOCK, (SETUP_LOCK_KEY,))).fetchone())["ok"]:
            if time.monotonic() > deadline:
                raise MemoryError_(
                    f"PostgreSQL tables are still being set up by another process after {SETUP_WAIT_S:g} s"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
