"""Threads seen from outside a run: what a thread holds, and starting one from a known history.

An OpenAI client sends the whole conversation with every request; an agent's graph keeps a
conversation as a thread of its checkpointer. :func:`seed_thread` writes earlier messages as a
new thread's first checkpoint (LangGraph's checkpointer interface), so the next run on the thread
sees them as its history; :func:`thread_conversation` reads a thread's messages back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AnyMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint


def seed_thread(saver: BaseCheckpointSaver[Any], thread: str, messages: Sequence[AnyMessage]) -> bool:
    """Start ``thread`` with ``messages`` as its earlier conversation; ``False`` if it already exists.

    An OpenAI client sends the whole conversation with every request; the agent's graph keeps it as
    a thread. The messages are written as the thread's first checkpoint (LangGraph's checkpointer
    interface), so the next run on the thread sees them as history.
    """
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    if saver.get_tuple(config) is not None:
        return False
    checkpoint = empty_checkpoint()
    version = saver.get_next_version(None, None)
    checkpoint["channel_values"] = {"messages": list(messages)}
    checkpoint["channel_versions"] = {"messages": version}
    saver.put(config, checkpoint, {"source": "update", "step": -1, "parents": {}}, {"messages": version})
    return True


def thread_conversation(saver: BaseCheckpointSaver[Any], thread: str) -> list[AnyMessage]:
    """The messages saved in ``thread`` (none for an unknown thread)."""
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    if saved is None:
        return []
    return list(saved.checkpoint.get("channel_values", {}).get("messages", []))
