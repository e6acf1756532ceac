"""A SQLite checkpointer whose async methods run the sync ones inline, on the event loop.

LangGraph's ``AsyncSqliteSaver`` goes through aiosqlite: every statement, fetch and commit is a hop
to the connection's own thread and back, several per checkpoint. With ``synchronous=NORMAL``
(:mod:`graphs.memory.sqlite_tuning`) a commit costs about 0.1 ms and no fsync, so the hops cost far
more than the work: measured with ``tests/bench/overhead.py``, an ``arun`` on a SQLite thread spent
several times the CPU and wall time of one without (see the README's performance section).

:class:`InlineSqliteSaver` is LangGraph's sync ``SqliteSaver`` (same tables, same file, so sync and
async runs share threads) with ``aget_tuple``/``alist``/``aput``/``aput_writes``/``adelete_thread``
calling the sync methods directly. The cost: while another process holds the database's write lock,
the event loop waits for it (up to the busy timeout) instead of only the one run; with WAL and
short transactions that wait is a commit's length. With ``QWENGRAPH_SQLITE_SYNC=full`` each commit
waits for an fsync, so :func:`graphs.memory.aopen_checkpointer` then keeps aiosqlite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["InlineSqliteSaver"]


class InlineSqliteSaver(SqliteSaver):
    """``SqliteSaver`` usable from ``ainvoke``/``astream``: the async methods are the sync ones."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """:meth:`get_tuple`, inline."""
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """:meth:`list`, inline."""
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """:meth:`put`, inline."""
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """:meth:`put_writes`, inline."""
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """:meth:`delete_thread`, inline."""
        self.delete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """:meth:`get_delta_channel_history` (SQLite's one-query form), inline."""
        return self.get_delta_channel_history(config=config, channels=channels)
