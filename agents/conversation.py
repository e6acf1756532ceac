"""Threads seen from outside a run: what a thread holds, and starting one from a known history.

An OpenAI client sends the whole conversation with every request; an agent's graph keeps a
conversation as a thread of its checkpointer. :func:`aseed_thread` writes earlier messages as a
new thread's first checkpoint (LangGraph's checkpointer interface), so the next run on the thread
sees them as its history; :func:`athread_conversation` reads a thread's messages back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AnyMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint


async def aseed_thread(saver: BaseCheckpointSaver[Any], thread: str, messages: Sequence[AnyMessage]) -> bool:
    """Start ``thread`` with ``messages`` as its earlier conversation; ``False`` if it already exists."""
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if await saver.aget_tuple(config) is not None:
        return False
    checkpoint = empty_checkpoint()
    version = saver.get_next_version(None, None)
    checkpoint["channel_values"] = {"messages": list(messages)}
    checkpoint["channel_versions"] = {"messages": version}
    await saver.aput(
        config, checkpoint, {"source": "update", "step": -1, "parents": {}}, {"messages": version}
    )
    return True


async def athread_conversation(saver: BaseCheckpointSaver[Any], thread: str) -> list[AnyMessage]:
    """The messages saved in ``thread`` (none for an unknown thread)."""
    saved = await saver.aget_tuple({"configurable": {"thread_id": thread}})
    if saved is None:
        return []
    return list(saved.checkpoint.get("channel_values", {}).get("messages", []))
