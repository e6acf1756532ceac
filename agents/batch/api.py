"""The Python API behind ``qwengraph batch``: :class:`BatchConfig` in, :class:`BatchReport` out.

Example:
    >>> from agents.batch import BatchConfig, run_batch_file
    >>> config = BatchConfig(tasks="tasks.jsonl", agent="math-tutor", model="openai:Qwen/Qwen3-8B",
    ...                      base_url="http://localhost:8000/v1", concurrency=32)
    >>> report = run_batch_file(config)  # doctest: +SKIP
    >>> print(report.line())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.batch.driver import BatchReport, Executor, LocalExecutor, Progress, run_batch
from agents.batch.export import ExportReport, check_format, export_rows
from agents.batch.results import open_results
from agents.batch.tasks import Task, load_tasks
from agents.batch.worker import AgentWorker, TaskWorker, WorkflowWorker
from agents.warm import AgentChoice
from graphs.errors import ConfigError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class BatchConfig:
    """Everything a batch needs (the flags of ``qwengraph batch``).

    Attributes:
        tasks: the tasks file (JSON lines, see :mod:`agents.batch.tasks`).
        choice: the agent and its settings (built from ``agent``/``tools``/... when ``None``).
        workflow: run this workflow file per task instead of an agent.
        concurrency: tasks running at once (over the whole cluster with Ray).
        results: results database URI (default ``$QWENGRAPH_HOME/batches.db``).
        out: the JSONL results file (default: ``TASKS.results.jsonl`` next to the tasks file).
        batch: the batch's name in the results database (default: the tasks file's full path).
        retry_failed: run ``failed`` and ``stopped`` tasks again.
        memory: thread memory URI for tasks with a ``thread``.
        trace, trace_content: record traces (content as text only when asked).
        executor: ``local`` (this process) or ``ray``.
        ray_address: the Ray cluster (``None``: ``RAY_ADDRESS``, else a local cluster).
        ray_workers: Ray actors, each holding a warm agent (``None``: one per CPU of the cluster).
        export: ``chatml-jsonl`` to write the successful trajectories to ``export_out``.
    """

    tasks: str | Path
    choice: AgentChoice | None = None
    workflow: str | None = None
    concurrency: int = 4
    results: str | None = None
    out: Path | None = None
    batch: str | None = None
    retry_failed: bool = False
    memory: str | None = None
    trace: bool = True
    trace_content: bool = False
    executor: str = "local"
    ray_address: str | None = None
    ray_workers: int | None = None
    export: str | None = None
    export_out: Path | None = None
    export_thinking: bool = False

    def name(self) -> str:
        """The batch's name: ``batch``, else the tasks file's absolute path."""
        return self.batch or str(Path(self.tasks).resolve())

    def out_path(self) -> Path:
        """Where the JSONL results go."""
        if self.out is not None:
            return Path(self.out)
        path = Path(self.tasks)
        return path.with_name(f"{path.stem}.results.jsonl")

    def export_path(self) -> Path:
        """Where ``--export`` writes."""
        if self.export_out is not None:
            return Path(self.export_out)
        path = Path(self.tasks)
        return path.with_name(f"{path.stem}.chatml.jsonl")

    def settings(self) -> dict[str, Any]:
        """What a rerun of the batch must keep (see :data:`agents.batch.driver.SETTINGS_CHECKED`)."""
        choice = self.choice or AgentChoice()
        return {
            "agent": choice.agent,
            "tools": list(choice.tools) if choice.tools is not None else None,
            "graph": choice.graph,
            "model": choice.model,
            "workflow": str(Path(self.workflow).resolve()) if self.workflow else None,
        }


def check_config(config: BatchConfig) -> None:
    """Refuse contradictory settings before anything is opened (:class:`ConfigError`)."""
    if config.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if config.executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {config.executor!r}: choose from {', '.join(EXECUTORS)}")
    if config.ray_address and config.executor != "ray":
        raise ConfigError("--address is for --executor ray")
    if config.ray_workers is not None and config.ray_workers < 1:
        raise ConfigError("--workers must be at least 1")
    if config.export is not None:
        check_format(config.export)
        if config.workflow:
            raise ConfigError("--export writes agent conversations; a workflow batch has none")
    choice = config.choice or AgentChoice()
    if config.workflow and (choice.agent or choice.tools or choice.graph):
        raise ConfigError("--workflow runs the workflow file: it takes no --agent, --tools or --graph")


def make_worker(config: BatchConfig, *, max_parallel: int) -> TaskWorker:
    """The worker that runs this batch's tasks (in this process or in a Ray actor)."""
    choice = config.choice or AgentChoice()
    if config.workflow:
        return WorkflowWorker(
            config.workflow, model=choice.model, base_url=choice.base_url, max_parallel=max_parallel
        )
    return AgentWorker(
        choice,
        memory=config.memory,
        trace_content=config.trace_content,
        meta={"batch": config.name()},
    )


def make_executor(config: BatchConfig) -> Executor:
    """The executor :attr:`BatchConfig.executor` names."""
    if config.executor == "ray":
        from agents.batch.ray_executor import RayExecutor  # noqa: PLC0415 - Ray is an optional extra

        return RayExecutor(config, address=config.ray_address, workers=config.ray_workers)
    return LocalExecutor(make_worker(config, max_parallel=config.concurrency))


async def arun_batch_file(
    config: BatchConfig, progress: Progress | None = None, *, tasks: list[Task] | None = None
) -> tuple[BatchReport, ExportReport | None]:
    """Run the batch ``config`` describes; see :func:`agents.batch.driver.run_batch`."""
    check_config(config)
    tasks = tasks if tasks is not None else load_tasks(config.tasks, workflow=bool(config.workflow))
    store = open_results(config.results)
    try:
        report = await run_batch(
            tasks,
            make_executor(config),
            store,
            batch=config.name(),
            tasks_file=str(Path(config.tasks).resolve()),
            settings=config.settings(),
            concurrency=config.concurrency,
            retry_failed=config.retry_failed,
            out=config.out_path(),
            progress=progress,
            trace=config.trace and not config.workflow,
        )
        exported = None
        if config.export is not None:
            rows = await asyncio.to_thread(store.rows, config.name())
            exported = await asyncio.to_thread(
                export_rows, rows, config.export_path(), with_thinking=config.export_thinking
            )
        return report, exported
    finally:
        store.close()


def run_batch_file(
    config: BatchConfig, progress: Progress | None = None
) -> tuple[BatchReport, ExportReport | None]:
    """Blocking twin of :func:`arun_batch_file` (runs its own event loop)."""
    return asyncio.run(arun_batch_file(config, progress))
