"""Batch workers: run one task and give back its result row (plain JSON-ready data).

The same worker runs in the driver's process (``--executor local``) and inside every Ray actor
(``--executor ray``): :class:`AgentWorker` holds a warm agent (:class:`~agents.warm.WarmAgent`:
model client, tools, code sandbox) and a thread memory for tasks that continue a conversation;
:class:`WorkflowWorker` runs a workflow file with each task's variables as its inputs. A task that
fails gives a ``failed`` row with the error; a worker never raises for one task.

An outcome is ``{"row": {...}, "trace": [run_row, model_rows, tool_rows] | None}``: the row's keys
are :data:`agents.batch.results.FIELDS` (the driver adds ``batch`` and ``attempts``), and the trace
rows are written by the driver into its own ``traces.db``, wherever the task ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Mapping
from contextlib import AsyncExitStack, ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self

from langchain_core.messages import messages_to_dict
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents.batch.tasks import Task
from agents.warm import AgentChoice, RunRecord, WarmAgent
from graphs.errors import QwenGraphError
from graphs.memory import aopen_checkpointer

Outcome = dict[str, Any]


class TaskWorker(Protocol):
    """Runs tasks; opened once (``async with``), then :meth:`run` for each task, concurrently."""

    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def run(self, task: Mapping[str, Any]) -> Outcome:
        """Run one task (:meth:`agents.batch.tasks.Task.to_json`) and return its outcome."""
        ...


def worker_name() -> str:
    """``host:pid``: where a task ran (several Ray workers share a host)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def iso(ts: float) -> str:
    """A Unix time as ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def record_row(task: Task, record: RunRecord, *, worker: str, model: str) -> dict[str, Any]:
    """A result row (without ``batch`` and ``attempts``) from one run's record."""
    summary = record.summary
    usage = summary.usage if summary is not None else {}
    return {
        "task_id": task.id,
        "line": task.line,
        "status": record.status,
        "prompt": task.prompt,
        "thread": task.thread,
        "answer": summary.answer if summary is not None else None,
        "stopped": summary.stopped if summary is not None else None,
        "tool_calls": [
            {"name": c.name, "args": c.args, "result": c.result}
            for c in (summary.tool_calls if summary else [])
        ],
        "steps": summary.steps if summary is not None else 0,
        "input_tokens": usage.get("input_tokens", 0),
        "output_tokens": usage.get("output_tokens", 0),
        "reasoning_tokens": usage.get("reasoning_tokens", 0),
        "total_tokens": usage.get("total_tokens", 0),
        "started_at": iso(record.started),
        "ended_at": iso(record.ended),
        "seconds": round(record.seconds, 4),
        "trace_id": record.trace_id,
        "error_type": record.error_type,
        "error": record.error,
        "worker": worker,
        "model": model,
        "trajectory": {"messages": messages_to_dict(record.messages)} if record.status == "ok" else None,
    }


class AgentWorker:
    """Runs batch tasks on one warm agent (see the module docstring).

    Args:
        choice: the agent and its settings.
        memory: thread memory URI for tasks with a ``thread`` (``None``: the default SQLite file).
        trace_content: keep prompts and answers as text in the trace rows.
        meta: facts every trace row carries (the batch name).
    """

    def __init__(
        self,
        choice: AgentChoice,
        *,
        memory: str | None = None,
        trace_content: bool = False,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.choice = choice
        self.memory = memory
        self.trace_content = trace_content
        self.meta = dict(meta or {})
        self.name = worker_name()
        self._stack = AsyncExitStack()
        self._saver: BaseCheckpointSaver[Any] | None = None
        self._agents: dict[tuple[str | None, str | None], WarmAgent] = {}
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Self:
        await self._agent({})  # bad settings fail here, before any task
        return self

    async def __aexit__(self, *exc: object) -> None:
        for agent in self._agents.values():
            agent.close()
        await self._stack.aclose()

    async def _agent(self, variables: Mapping[str, Any]) -> WarmAgent:
        """The warm agent for a task's settings (``mode``, ``language``), opened on first use."""
        key = (variables.get("mode"), variables.get("language"))
        async with self._lock:
            agent = self._agents.get(key)
            if agent is None:
                if self._saver is None:
                    self._saver = await self._stack.enter_async_context(aopen_checkpointer(self.memory))
                choice = self.choice
                if any(key):
                    choice = replace(choice, mode=key[0] or choice.mode, language=key[1] or choice.language)
                agent = WarmAgent(
                    choice,
                    checkpointer=self._saver,
                    trace_content=self.trace_content,
                    meta=self.meta,
                )
                await agent.__aenter__()
                self._agents[key] = agent
            return agent

    async def run(self, task: Mapping[str, Any]) -> Outcome:
        """Run one task; a failure is a ``failed`` row, never an exception."""
        item = Task.from_json(dict(task))
        try:
            agent = await self._agent(item.variables)
        except QwenGraphError as err:
            return failed_outcome(item, err, worker=self.name, model=self.choice.model or "")
        record = await agent.arun(item.prompt, thread=item.thread, meta={"task": item.id})
        row = record_row(item, record, worker=self.name, model=agent.model)
        return {"row": row, "trace": list(record.trace_rows) if record.trace_rows else None}


def failed_outcome(task: Task, err: BaseException, *, worker: str, model: str) -> Outcome:
    """The outcome of a task that could not start (bad settings for it, no sandbox...)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    row: dict[str, Any] = {
        "task_id": task.id,
        "line": task.line,
        "status": "failed",
        "prompt": task.prompt,
        "thread": task.thread,
        "tool_calls": [],
        "steps": 0,
        "started_at": now,
        "ended_at": now,
        "seconds": 0.0,
        "error_type": type(err).__name__,
        "error": str(err) or type(err).__name__,
        "worker": worker,
        "model": model,
    }
    return {"row": row, "trace": None}


class WorkflowWorker:
    """Runs a workflow file once per task, the task's ``variables`` as its inputs; the answer is
    the workflow's outputs as JSON."""

    def __init__(
        self,
        path: str | Path,
        *,
        model: str | None = None,
        base_url: str | None = None,
        max_parallel: int = 16,
    ) -> None:
        self.path = str(path)
        self.model = model
        self.base_url = base_url
        self.name = worker_name()
        self._stack = ExitStack()
        self._semaphore = asyncio.Semaphore(max(1, max_parallel))

    async def __aenter__(self) -> Self:
        from agents.settings import resolve_model  # noqa: PLC0415
        from agents.toolbox import TOOL_NAMES, open_tools  # noqa: PLC0415
        from graphs.models.chat import ChatQwen  # noqa: PLC0415
        from graphs.workflow import ModelStep, ToolStep, check_workflow, load_workflow, make_env  # noqa: PLC0415
        from graphs.workflow.check import walk  # noqa: PLC0415

        self.spec = load_workflow(self.path)
        check_workflow(self.spec, make_env(), tools=TOOL_NAMES, has_model=True)
        steps = [step for step, _, _ in walk(self.spec.steps, ("steps",))]
        tool_names = list(dict.fromkeys(s.tool for s in steps if isinstance(s, ToolStep)))
        has_model = any(isinstance(s, ModelStep) for s in steps)
        self.llm = ChatQwen(model=resolve_model(self.model), base_url=self.base_url) if has_model else None
        tools = self._stack.enter_context(open_tools(tool_names))
        self.tools = {t.name: t for t in tools}
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stack.close()

    async def run(self, task: Mapping[str, Any]) -> Outcome:
        """Run the workflow on the task's variables."""
        from graphs.workflow import WorkflowError, run_log  # noqa: PLC0415

        item = Task.from_json(dict(task))
        started = datetime.now(UTC)
        try:
            async with self._semaphore:
                outputs, _ = await asyncio.to_thread(run_log, self.spec, item.variables, self.tools, self.llm)
        except (QwenGraphError, WorkflowError, ValueError) as err:
            message = "; ".join(err.problems) if isinstance(err, WorkflowError) and err.problems else str(err)
            outcome = failed_outcome(item, err, worker=self.name, model=self.llm.model if self.llm else "")
            outcome["row"]["error"] = message
            return outcome
        ended = datetime.now(UTC)
        row = {
            "task_id": item.id,
            "line": item.line,
            "status": "ok",
            "prompt": item.prompt,
            "thread": item.thread,
            "answer": json.dumps(outputs, ensure_ascii=False, default=str),
            "tool_calls": [],
            "steps": 0,
            "started_at": started.isoformat(timespec="milliseconds"),
            "ended_at": ended.isoformat(timespec="milliseconds"),
            "seconds": round((ended - started).total_seconds(), 4),
            "worker": self.name,
            "model": self.llm.model if self.llm else "",
        }
        return {"row": row, "trace": None}
