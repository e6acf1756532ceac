"""Run an agent on every task of a task set, concurrently, and store each scored run.

Each task is one ``qwengraph run`` (a plain run, or ``--agent NAME``) with the same settings the
CLI would use, executed in a worker thread; ``concurrency`` tasks run at once (a local model still
answers one completion at a time). Results go to the eval database with reading ``task``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.agent_run import make_model, plan_run, run_think
from agents.eval.bfcl_run import FATAL
from agents.eval.store import CaseResult, EvalStore
from agents.eval.tasks import Task, load_tasks, run_checks
from agents.runner import run
from agents.toolbox import open_tools
from graphs.errors import QwenGraphError
from graphs.summary import RunSummary
from tools.errors import ToolError

READING = "task"


@dataclass
class TasksOptions:
    """Everything that defines a task-set run; stored with it for ``eval resume``."""

    file: str
    model: str | None = None
    agent: str | None = None
    graph: str | None = None
    base_url: str | None = None
    think: bool | None = None
    max_steps: int | None = None
    concurrency: int = 1
    timeout: float = 300.0

    def config(self) -> dict[str, Any]:
        """The JSON-able settings."""
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TasksOptions:
        """Settings back from :meth:`config` (unknown keys ignored)."""
        return cls(**{k: v for k, v in config.items() if k in cls.__dataclass_fields__})

    def tasks(self) -> list[Task]:
        """The task file's tasks (validated)."""
        return load_tasks(Path(self.file))


def run_task(options: TasksOptions, task: Task) -> RunSummary:
    """One task as ``qwengraph run`` would run it (no streaming display, no trace)."""
    plan = plan_run(task.prompt, agent=options.agent, think=options.think, graph=options.graph)
    with open_tools(plan.tools, session_id=f"eval-{task.id}") as tools:
        chat = make_model(plan, model=options.model, base_url=options.base_url, timeout=options.timeout)
        return run(
            task.prompt,
            chat_model=chat,
            think=run_think(plan),
            stream=False,
            max_steps=options.max_steps or plan.max_steps,
            force_tool=plan.force_tool,
            tools=tools,
            system_prompt=plan.system_prompt,
            trace=False,
            spec=plan,
            language=plan.language,
        )


def score_task(
    task: Task, summary: RunSummary | None, seconds: float, error: str | None = None
) -> CaseResult:
    """The stored result of one task run (``summary`` is ``None`` when the run failed)."""
    usage = summary.usage if summary else {}
    thinking = "\n\n".join(summary.thinking) if summary else ""
    error_type: str | None
    if summary is None:
        valid, error_type, reason = False, "run_error", error or "the run failed"
    else:
        checked = run_checks(task, summary)
        failure = f"stopped:{summary.stopped}" if summary.stopped else f"check:{checked.failed}"
        valid, error_type, reason = checked.passed, None if checked.passed else failure, checked.reason
    return CaseResult(
        case_id=task.id,
        category=task.category,
        reading=READING,
        valid=valid,
        error_type=error_type,
        error=reason,
        input={"prompt": task.prompt},
        expected=task.checks,
        raw_output=summary.answer if summary else (error or ""),
        decoded=[asdict(c) for c in summary.tool_calls] if summary else None,
        thinking=thinking,
        model_calls=summary.steps if summary else 0,
        prompt_tokens=int(usage.get("input_tokens", 0)),
        completion_tokens=int(usage.get("output_tokens", 0)),
        thinking_tokens=int(usage.get("reasoning_tokens", 0))
        or ((len(thinking) + 3) // 4 if thinking else None),
        seconds=seconds,
    )


async def run_tasks(
    options: TasksOptions,
    tasks: list[Task],
    store: EvalStore,
    run_id: str,
    *,
    on_result: Callable[[CaseResult], None] | None = None,
    runner: Callable[[TasksOptions, Task], RunSummary] = run_task,
) -> None:
    """Run the tasks not stored yet, ``concurrency`` at a time; store each result at once."""
    done = store.done_keys(run_id)
    gate = asyncio.Semaphore(max(1, options.concurrency))

    async def one(task: Task) -> None:
        async with gate:
            started = time.perf_counter()
            try:
                summary: RunSummary | None = await asyncio.to_thread(runner, options, task)
                error = None
            except FATAL:
                raise
            except (QwenGraphError, ToolError) as err:
                summary, error = None, f"{type(err).__name__}: {err}"
            result = score_task(task, summary, time.perf_counter() - started, error)
            store.add_case(run_id, result)
            if on_result is not None:
                on_result(result)

    pending = [asyncio.create_task(one(t)) for t in tasks if (t.id, READING) not in done]
    try:
        await asyncio.gather(*pending)
    finally:
        for task in pending:
            task.cancel()
