"""``batch --executor ray``: the batch's tasks spread over a Ray cluster (the ``ray`` extra).

Each Ray worker process holds one :class:`BatchActor`: an async actor that opens the batch's
worker once (:func:`agents.batch.api.make_worker`: a warm agent with its model client, tools and
code sandbox) and then runs tasks on its own event loop, several at once. The driver (the
``qwengraph batch`` process) keeps everything else: which tasks are done, the concurrency limit
over the whole cluster, the results database, the JSONL file, the traces (each task's trace rows
travel back with its result) and the progress bar, so outputs and resumability are the same as
with the local executor.

Placement: a thread's tasks always go to the same actor (its conversation may live in that
node's SQLite memory; use ``--memory postgres://…`` to share threads across nodes); other tasks
go to the actor with the fewest tasks in flight. An actor that dies is restarted by Ray (its
tasks in flight are recorded as failed; ``--retry-failed`` runs them again).

The cluster: ``address`` (``--address``) as ``ray.init`` takes it (``HOST:6379`` of a running
cluster, ``ray://HOST:10001`` for Ray Client, ``auto``); without one, ``RAY_ADDRESS``, else a
local cluster started for the batch and stopped after it. The driver's ``QWENGRAPH_*``
environment variables are passed to the workers; every node needs qwengraph installed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from agents.batch.worker import Outcome, TaskWorker
from graphs.errors import ConfigError, QwenGraphError

if TYPE_CHECKING:
    from agents.batch.api import BatchConfig

RAY_EXTRA_HINT = "--executor ray needs Ray: pip install 'qwengraph[ray]'"
ACTOR_RESTARTS = 3


class BatchActor:
    """One Ray worker's share of the batch: a warm worker running tasks concurrently."""

    def __init__(self, config: BatchConfig, max_parallel: int) -> None:
        self.config = config
        self.max_parallel = max_parallel
        self.worker: TaskWorker | None = None

    async def ready(self) -> str:
        """Open the worker (the agent, its model client and tools); return ``host:pid``."""
        from agents.batch.api import make_worker  # noqa: PLC0415 - in the worker process

        if self.worker is None:
            worker = make_worker(self.config, max_parallel=self.max_parallel)
            await worker.__aenter__()
            self.worker = worker
        return self.worker.name

    async def run(self, task: Mapping[str, Any]) -> Outcome:
        """Run one task (opening the worker first after a restart)."""
        if self.worker is None:
            await self.ready()
        assert self.worker is not None
        return await self.worker.run(task)

    async def close(self) -> None:
        """Release the worker's tools."""
        if self.worker is not None:
            await self.worker.__aexit__(None, None, None)
            self.worker = None


def _cause(err: BaseException) -> BaseException:
    """The exception raised inside a Ray worker (Ray wraps it)."""
    cause = getattr(err, "cause", None)
    return cause if isinstance(cause, BaseException) else err


def _worker_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("QWENGRAPH_")}


class RayExecutor:
    """:class:`agents.batch.driver.Executor` on a Ray cluster (see the module docstring).

    Args:
        config: the batch (it travels to every actor).
        address: the cluster to join (``None``: ``RAY_ADDRESS``, else start a local one).
        workers: actors to start (``None``: one per CPU of the cluster).
    """

    label = "ray"

    def __init__(
        self, config: BatchConfig, *, address: str | None = None, workers: int | None = None
    ) -> None:
        self.config = config
        self.address = address
        self.workers = workers
        self.names: list[str] = []
        self._actors: list[Any] = []
        self._in_flight: list[int] = []
        self._started_ray = False

    async def __aenter__(self) -> Self:
        try:
            import ray  # noqa: PLC0415
        except ImportError:
            raise ConfigError(RAY_EXTRA_HINT) from None
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "log_to_driver": False,
                "logging_level": logging.ERROR,
                "runtime_env": {"env_vars": _worker_env()},
            }
            if address is None:
                options["include_dashboard"] = False  # a local cluster for this batch only
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = address or "a new local cluster"
                raise ConfigError(f"cannot start or join the Ray cluster ({where}): {err}") from None
            self._started_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 1.0)) or 1.0
        count = self.workers or max(1, int(cpus))
        per_actor = max(1, math.ceil(self.config.concurrency / count))
        remote = ray.remote(
            num_cpus=min(1.0, cpus / count), max_concurrency=per_actor + 2, max_restarts=ACTOR_RESTARTS
        )(BatchActor)
        self._actors = [remote.remote(self.config, per_actor) for _ in range(count)]
        self._in_flight = [0] * count
        try:
            self.names = [await actor.ready.remote() for actor in self._actors]
        except ray.exceptions.RayError as err:
            await self.__aexit__(None, None, None)
            cause = _cause(err)
            if isinstance(cause, QwenGraphError):
                raise cause from None
            raise ConfigError(f"a Ray worker could not start: {cause}") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        import ray  # noqa: PLC0415

        for actor in self._actors:
            with contextlib.suppress(ray.exceptions.RayError):  # a dead actor has nothing to release
                await actor.close.remote()
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def _pick(self, task: Mapping[str, Any]) -> int:
        thread = task.get("thread")
        if thread:
            return zlib.crc32(str(thread).encode("utf-8")) % len(self._actors)
        return min(range(len(self._actors)), key=self._in_flight.__getitem__)

    async def submit(self, task: Mapping[str, Any]) -> Outcome:
        """Run the task on an actor (see the module docstring for which)."""
        import ray  # noqa: PLC0415

        index = self._pick(task)
        self._in_flight[index] += 1
        try:
            outcome: Outcome = await self._actors[index].run.remote(dict(task))
        except ray.exceptions.RayError as err:
            raise RuntimeError(
                f"Ray worker {self.names[index] if self.names else index}: {_cause(err)}"
            ) from None
        finally:
            self._in_flight[index] -= 1
        return outcome
