"""The code runner's contracts: resource limits, the result of one run, and the sandbox protocol.

A backend (bubblewrap, gVisor, plain subprocess) only decides *how* a worker process is started
(:class:`Launcher`); sessions, limits and output capture are shared (:mod:`tools.code_runner.session`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

__all__ = ["MIB", "CodeSandbox", "Enforced", "ExitReason", "Launcher", "Limits", "RunResult"]

MIB = 1024 * 1024

ExitReason = Literal["ok", "error", "timeout", "memory", "killed", "output_limit"]
"""Why a run ended: ``ok``; ``error`` (the code raised); ``timeout`` (wall clock or CPU time);
``memory`` (a memory limit was hit: a ``MemoryError``, or the kernel killed a process of the session
for going over it); ``killed`` (the worker died otherwise: signal, ``os._exit``…); ``output_limit``
(the code finished but its output was truncated)."""


@dataclass(frozen=True)
class Limits:
    """Resource bounds: per call (wall, CPU, output), per session (memory, processes, workspace), and
    per process (address space, file size, open files).

    The session caps hold for everything a session runs, children included, when the machine offers
    cgroups (:mod:`tools.code_runner.cgroups`); otherwise the per-process limits and the per-slot
    uid's process count are what holds, and a session's memory is bounded only by
    ``processes * address_space`` (plus ``workspace_bytes``). :meth:`PooledSandbox.enforced` says
    which applies; the ``run_python`` tool tells the model exactly that.

    Attributes:
        wall_seconds: wall-clock time of one call; the host kills the sandbox after it.
        cpu_seconds: CPU time of one call (``RLIMIT_CPU`` soft limit, re-armed before each call).
        session_cpu_seconds: CPU time of a whole session (``RLIMIT_CPU`` hard limit).
        memory: bytes of memory for the whole session: every process, and the files in
            ``/workspace`` (a memory cgroup).
        processes: processes and threads the code may run at once (a pids cgroup; else
            ``RLIMIT_NPROC`` with a per-slot uid).
        workspace_bytes: size of ``/workspace``, a tmpfs of the session (bubblewrap).
        address_space: bytes of virtual memory per process (``RLIMIT_AS``): one allocation larger
            than this fails with ``MemoryError`` instead of getting the process killed.
        file_size: largest file the code may write (``RLIMIT_FSIZE``).
        open_files: file descriptors per process (``RLIMIT_NOFILE``).
        output_bytes: stdout and stderr kept per call, each; the rest is dropped and marked.
        idle_seconds: a session with no call for this long is closed (its variables are lost).
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 10
    session_cpu_seconds: int = 600
    memory: int = 512 * MIB
    processes: int = 64
    workspace_bytes: int = 128 * MIB
    address_space: int = 512 * MIB
    file_size: int = 64 * MIB
    open_files: int = 256
    output_bytes: int = 1 * MIB
    idle_seconds: float = 600.0


@dataclass(frozen=True)
class Enforced:
    """Which limits hold for a whole session here (``None``: not enforced as a total)."""

    memory: int | None
    processes: int | None
    workspace_bytes: int | None
    how: str


@dataclass(frozen=True)
class RunResult:
    """What one call produced.

    Attributes:
        stdout: captured standard output (at most ``Limits.output_bytes``, decoded as UTF-8).
        stderr: captured standard error, same bound.
        exception: ``"Type: message"`` when the code raised, else ``None``.
        traceback: the traceback of that exception, limited to the user's code.
        stdout_truncated: output beyond the bound was dropped.
        stderr_truncated: same for stderr.
        duration: seconds from sending the code to receiving the result.
        exit_reason: see :data:`ExitReason`.
        state_lost: this call ran in a fresh worker because an earlier one ended (timeout, crash),
            so variables defined before are gone; or this call itself ended the worker.
    """

    stdout: str
    stderr: str
    exception: str | None
    traceback: str | None
    stdout_truncated: bool
    stderr_truncated: bool
    duration: float
    exit_reason: ExitReason
    state_lost: bool = False


class Launcher(Protocol):
    """How a backend starts the in-sandbox worker for one session."""

    name: str
    inner_workdir: str
    """Where the session's work directory appears to the sandboxed code."""
    reap_strays: bool
    """True when the worker runs alone in a pid namespace, so it may ``kill(-1)`` leftovers after a call."""
    private_workspace: bool
    """True when ``/workspace`` lives inside the sandbox (a size-limited tmpfs) and dies with it, so
    files go in and out through the worker; False when it is the session's host directory."""
    args_fd: bool
    """True when the launcher reads its options from a file descriptor (``--args FD``), which keeps
    them, and the host paths in them, out of the sandbox's ``/proc/1/cmdline``."""

    def worker_argv(self, config: str) -> list[str]:
        """The worker's command as the sandbox sees it (interpreter and script at their inner paths)."""
        ...

    def argv(self, host_workdir: Path, worker_argv: list[str]) -> list[str]:
        """The command that runs ``worker_argv`` (python + worker script + config) inside the sandbox."""
        ...

    def slot_ids(self, slot: int) -> tuple[int, int] | None:
        """The (uid, gid) the worker drops to for this slot, or ``None`` to keep the launch user."""
        ...

    def limit_processes(self) -> bool:
        """Whether ``RLIMIT_NPROC`` confines only this sandbox (dedicated uid or user namespace)."""
        ...


class CodeSandbox(Protocol):
    """Runs Python code in isolated sessions; variables persist between runs of one session."""

    name: str
    limits: Limits

    def run(self, code: str, session_id: str = "default") -> RunResult:
        """Run ``code`` in the session (started on first use) and return what it produced."""
        ...

    def put_file(self, session_id: str, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` (relative) in the session's work directory."""
        ...

    def get_file(self, session_id: str, path: str) -> bytes:
        """Read ``path`` (relative) from the session's work directory."""
        ...

    def close_session(self, session_id: str) -> None:
        """End one session: stop its worker and delete its work directory."""
        ...

    def close(self) -> None:
        """End every session."""
        ...
