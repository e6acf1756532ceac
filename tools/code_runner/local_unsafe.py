"""An UNSAFE backend: the worker runs as a plain subprocess of the host, with only resource limits.

No filesystem, network or process isolation: model-written code can read your files, use the network
and leave processes behind. Only for trusted code or machines where nothing else runs; it must be
chosen explicitly (``make_sandbox("unsafe-subprocess")``) and warns every time it is created.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from tools.code_runner.base import Limits
from tools.code_runner.session import PooledSandbox
from tools.code_runner.worker_process import WORKER_SCRIPT

__all__ = ["UnsafeLauncher", "UnsafeSubprocessSandbox"]


class UnsafeLauncher:
    """Runs the worker directly in the session's directory, with a clean environment and rlimits."""

    name = "unsafe-subprocess"
    inner_workdir = "."
    reap_strays = False  # no pid namespace: kill(-1) would hit every process of the user
    private_workspace = False
    args_fd = False

    def worker_argv(self, config: str) -> list[str]:
        """The worker script where it is installed."""
        return [sys.executable, "-I", str(WORKER_SCRIPT), config]

    def argv(self, host_workdir: Path, worker_argv: list[str]) -> list[str]:
        """The worker command itself; the session directory is its working directory."""
        return list(worker_argv)

    def slot_ids(self, slot: int) -> tuple[int, int] | None:
        """No uid switch."""
        return None

    def limit_processes(self) -> bool:
        """``RLIMIT_NPROC`` would count all of the user's processes, so it is not set."""
        return False


class UnsafeSubprocessSandbox(PooledSandbox):
    """Sessions of warm workers as plain subprocesses. Not a sandbox; see the module docstring."""

    def __init__(self, limits: Limits | None = None, max_sessions: int = 16) -> None:
        warnings.warn(
            "unsafe-subprocess runs model-written code WITHOUT isolation (files, network and processes "
            "of this machine are reachable); use the bwrap backend unless you trust the code",
            UserWarning,
            stacklevel=2,
        )
        super().__init__(UnsafeLauncher(), limits, max_sessions)
