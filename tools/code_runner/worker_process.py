"""The host side of one warm worker: start it through a launcher, send code, enforce the wall clock.

The worker speaks length-prefixed JSON on its stdin/stdout (see :mod:`tools.code_runner._worker`).
Only stdio crosses the sandbox boundary, so every backend (bwrap, runsc, a plain subprocess) works
the same way. On a timeout or a protocol violation the whole sandbox is killed (process group).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from tools.code_runner._worker import CPU_EXIT_STATUS
from tools.code_runner.base import ExitReason, Launcher, Limits, RunResult
from tools.errors import SandboxUnavailable

__all__ = ["WORKER_SCRIPT", "WorkerProcess", "minimal_env"]

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_HEADER = struct.Struct(">I")
_MAX_REPLY = 8 * 1024 * 1024
_START_SECONDS = 15.0

# One long-lived thread starts every worker: bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when
# the *thread* that forked it exits, so workers must not be forked from short-lived pool threads.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwengraph-sandbox-spawner")


def minimal_env(workdir: str) -> dict[str, str]:
    """The whole environment of sandboxed code: nothing from the host (no API keys, no tokens)."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


class WorkerProcess:
    """One running worker for one session."""

    def __init__(self, launcher: Launcher, host_workdir: Path, limits: Limits, slot: int) -> None:
        self.limits = limits
        config = {
            "limits": asdict(limits),
            "ids": launcher.slot_ids(slot),
            "limit_processes": launcher.limit_processes(),
            "reap_strays": launcher.reap_strays,
        }
        argv = launcher.argv(host_workdir, [sys.executable, "-I", str(WORKER_SCRIPT), json.dumps(config)])
        env = minimal_env(str(host_workdir))  # the launcher's own env; bwrap/runsc set the inner one
        self.process = _SPAWNER.submit(self._spawn, argv, env, host_workdir).result()
        self._stdin: IO[bytes] = self.process.stdin  # type: ignore[assignment]
        self._stdout: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        reply = self._read(time.monotonic() + _START_SECONDS)
        if reply is None or not reply.get("ready"):
            self.kill()
            raise SandboxUnavailable(
                f"the {launcher.name} sandbox did not start (exit status {self.process.poll()}); "
                "check that the backend works on this machine"
            )

    @staticmethod
    def _spawn(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - argv is built by the launcher, never by the model
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        """The worker process is still running."""
        return self.process.poll() is None

    def run(self, code: str) -> RunResult:
        """Send one cell and wait for its result, killing the sandbox on a wall-clock timeout."""
        start = time.monotonic()
        marker = f"\x00qwengraph-end-{uuid.uuid4().hex}\x00"
        body = json.dumps({"code": code, "marker": marker, "cpu_seconds": self.limits.cpu_seconds}).encode()
        try:
            self._stdin.write(_HEADER.pack(len(body)) + body)
            self._stdin.flush()
        except OSError:
            return self._lost("killed", start, "the worker had already stopped")
        reply = self._read(start + self.limits.wall_seconds)
        if reply is None:
            timed_out = self.alive
            self.kill()
            if timed_out:
                return self._lost(
                    "timeout", start, f"wall-clock limit of {self.limits.wall_seconds:g} s exceeded"
                )
            return self._lost(self._death_reason(), start, self._death_note())
        truncated_out, truncated_err = bool(reply["stdout_truncated"]), bool(reply["stderr_truncated"])
        reason: ExitReason
        if reply["exception"] is None:
            reason = "output_limit" if truncated_out or truncated_err else "ok"
        else:
            reason = "memory" if reply["memory"] else "error"
        return RunResult(
            stdout=reply["stdout"],
            stderr=reply["stderr"],
            exception=reply["exception"],
            traceback=reply["traceback"],
            stdout_truncated=truncated_out,
            stderr_truncated=truncated_err,
            duration=time.monotonic() - start,
            exit_reason=reason,
        )

    def _death_reason(self) -> ExitReason:
        code = self.process.poll()
        return "timeout" if code in (-signal.SIGXCPU, CPU_EXIT_STATUS) else "killed"

    def _death_note(self) -> str:
        code = self.process.poll()
        if code in (-signal.SIGXCPU, CPU_EXIT_STATUS):
            return f"CPU time limit of {self.limits.cpu_seconds} s exceeded"
        if code is not None and code < 0:
            return f"the worker was killed by signal {signal.Signals(-code).name}"
        return f"the worker exited (status {code})"

    def _lost(self, reason: ExitReason, start: float, note: str) -> RunResult:
        return RunResult(
            stdout="",
            stderr="",
            exception=note,
            traceback=None,
            stdout_truncated=False,
            stderr_truncated=False,
            duration=time.monotonic() - start,
            exit_reason=reason,
            state_lost=True,
        )

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """One reply frame, or ``None`` on EOF, a malformed frame, or the deadline."""
        header = self._read_exact(_HEADER.size, deadline)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > _MAX_REPLY:
            return None
        body = self._read_exact(size, deadline)
        if body is None:
            return None
        try:
            reply = json.loads(body)
        except ValueError:
            return None
        return reply if isinstance(reply, dict) else None

    def _read_exact(self, size: int, deadline: float) -> bytes | None:
        fd = self._stdout.fileno()
        buffer = bytearray()
        while len(buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, size - len(buffer))
            if not chunk:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=2)
                return None
            buffer += chunk
        return bytes(buffer)

    def kill(self) -> None:
        """Kill the sandbox (its whole process group) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        for stream in (self._stdin_or_none(), self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.process.wait()

    def _stdin_or_none(self) -> IO[bytes] | None:
        return self.process.stdin
