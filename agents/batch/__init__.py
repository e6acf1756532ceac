"""``qwengraph batch``: run an agent over a file of tasks, resumably, in this process or on Ray.

- :mod:`agents.batch.tasks`: the tasks file (JSON lines) and task ids.
- :mod:`agents.batch.results`: the results database (SQLite or PostgreSQL).
- :mod:`agents.batch.worker`: what runs one task (a warm agent, or a workflow).
- :mod:`agents.batch.driver`: skipping done tasks, concurrency, recording, the JSONL file.
- :mod:`agents.batch.ray_executor`: the same on a Ray cluster (the ``ray`` extra).
- :mod:`agents.batch.export`: successful trajectories as ChatML fine-tuning data.
- :mod:`agents.batch.api`: :class:`BatchConfig` and :func:`run_batch_file`, what the CLI calls.
"""

from agents.batch.api import BatchConfig, arun_batch_file, run_batch_file
from agents.batch.driver import BatchReport, LocalExecutor, run_batch
from agents.batch.results import ResultStore, open_results
from agents.batch.tasks import Task, load_tasks, parse_tasks

__all__ = [
    "BatchConfig",
    "BatchReport",
    "LocalExecutor",
    "ResultStore",
    "Task",
    "arun_batch_file",
    "load_tasks",
    "open_results",
    "parse_tasks",
    "run_batch",
    "run_batch_file",
]
