r"""The host side of one warm worker: start it through a launcher, send code, enforce the wall clock.

The worker speaks length-prefixed JSON on its stdin/stdout (see :mod:`tools.code_runner._worker`).
Only stdio crosses the sandbox boundary, so every backend (bwrap, runsc, a plain subprocess) works
the same way; files of the session go through it too. On a timeout or a protocol violation the
whole sandbox is killed (process group, and the session's cgroup when there is one). A worker is
placed in its session's cgroup before it starts: the launch command is prefixed with a tiny shell
that writes its own pid into ``cgroup.procs`` and then ``exec``\ s the sandbox.
"""

from __future__ import annotations

import base64
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
from tools.code_runner.base import MIB, ExitReason, Launcher, Limits, RunResult
from tools.code_runner.cgroups import SessionCgroup
from tools.errors import SandboxUnavailable, ToolInputError, ToolLimitError

__all__ = ["WORKER_SCRIPT", "WorkerProcess", "minimal_env"]

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_HEADER = struct.Struct(">I")
_START_SECONDS = 15.0
_JOIN_CGROUP = 'for f in $1; do echo $$ > "$f" || exit 125; done; shift; exec "$@"'
"""Run by ``/bin/sh -c``: join the session's cgroup(s), then become the sandbox."""

# One long-lived thread starts every worker: bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when
# the *thread* that forked it exits, so workers must not be forked from short-lived pool threads.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwengraph-sandbox-spawner")


def minimal_env(workdir: str, python_bin: str | None = None) -> dict[str, str]:
    """The whole environment of sandboxed code: nothing from the host (no API keys, no tokens).

    One malloc arena and one BLAS thread: each extra arena reserves 64 MiB of address space, which
    ``RLIMIT_AS`` counts although no memory is used.
    """
    return {
        "PATH": f"{python_bin or Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MALLOC_ARENA_MAX": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def _launch_argv(launcher: Launcher, argv: list[str]) -> tuple[list[str], bytes | None]:
    """``argv``, or, for a launcher that takes ``--args FD``, its options apart to send through a pipe."""
    if not launcher.args_fd or "--" not in argv:
        return argv, None
    split = argv.index("--")
    options = b"".join(arg.encode() + b"\0" for arg in argv[1:split])
    return [argv[0], "--args", "{fd}", *argv[split:]], options


class WorkerProcess:
    """One running worker for one session (in ``cgroup`` when the machine offers one)."""

    def __init__(
        self,
        launcher: Launcher,
        host_workdir: Path,
        limits: Limits,
        slot: int,
        cgroup: SessionCgroup | None = None,
    ) -> None:
        self.limits = limits
        self.launcher = launcher
        self.cgroup = cgroup
        self._oom_before = cgroup.oom_kills() if cgroup is not None else 0
        config = {
            "limits": asdict(limits),
            "ids": launcher.slot_ids(slot),
            "limit_processes": launcher.limit_processes(),
            "reap_strays": launcher.reap_strays,
        }
        argv, options = _launch_argv(
            launcher, launcher.argv(host_workdir, launcher.worker_argv(json.dumps(config)))
        )
        if cgroup is not None:
            argv = ["/bin/sh", "-c", _JOIN_CGROUP, "sh", " ".join(map(str, cgroup.procs_files)), *argv]
        env = minimal_env(str(host_workdir))  # the launcher's own env; bwrap/runsc set the inner one
        self.process = _SPAWNER.submit(self._spawn, argv, env, host_workdir, options).result()
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
    def _spawn(
        argv: list[str], env: dict[str, str], cwd: Path, options: bytes | None
    ) -> subprocess.Popen[bytes]:
        if options is None:
            return subprocess.Popen(  # noqa: S603 - argv is built by the launcher, never by the model
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, options)  # a few kilobytes: fits the pipe, so no reader is needed yet
            os.close(write_end)
            argv = [arg.replace("{fd}", str(read_end)) for arg in argv]
            return subprocess.Popen(  # noqa: S603 - as above
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
                pass_fds=(read_end,),
            )
        finally:
            os.close(read_end)

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
            if self._new_oom_kills():
                return self._lost("memory", start, self._memory_note())
            return self._lost(self._death_reason(), start, self._death_note())
        truncated_out, truncated_err = bool(reply["stdout_truncated"]), bool(reply["stderr_truncated"])
        reason: ExitReason
        exception = reply["exception"]
        if self._new_oom_kills():  # a child was killed for the session's memory; the worker lives on
            reason = "memory"
            exception = exception or self._memory_note()
        elif exception is None:
            reason = "output_limit" if truncated_out or truncated_err else "ok"
        else:
            reason = "memory" if reply["memory"] else "error"
        return RunResult(
            stdout=reply["stdout"],
            stderr=reply["stderr"],
            exception=exception,
            traceback=reply["traceback"],
            stdout_truncated=truncated_out,
            stderr_truncated=truncated_err,
            duration=time.monotonic() - start,
            exit_reason=reason,
        )

    def _new_oom_kills(self) -> int:
        if self.cgroup is None:
            return 0
        now = self.cgroup.oom_kills()
        new, self._oom_before = now - self._oom_before, now
        return new

    def _memory_note(self) -> str:
        return (
            f"memory limit of {self.limits.memory // MIB} MiB for the session reached (all its processes "
            "and its /workspace files count): the kernel killed a process"
        )

    def put(self, parts: list[str], data: bytes) -> None:
        """Write a file of ``/workspace`` through the worker."""
        self._file({"op": "put", "parts": parts, "data": base64.b64encode(data).decode()})

    def get(self, parts: list[str]) -> bytes:
        """Read a file of ``/workspace`` through the worker."""
        return base64.b64decode(self._file({"op": "get", "parts": parts})["data"])

    def _file(self, request: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(request).encode()
        try:
            self._stdin.write(_HEADER.pack(len(body)) + body)
            self._stdin.flush()
        except OSError:
            raise ToolLimitError("the sandbox session has stopped; run code to start it again") from None
        reply = self._read(time.monotonic() + max(self.limits.wall_seconds, 10.0))
        if reply is None:
            self.kill()
            raise ToolLimitError("the sandbox did not answer a file request in time")
        path = "/".join(request["parts"])
        if "error" in reply:
            kind = ToolLimitError if reply.get("limit") else ToolInputError
            raise kind(f"{path!r} {reply['error']}")
        return reply

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
        if size > 2 * (self.limits.file_size + self.limits.output_bytes) + MIB:
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
        """Kill the sandbox (its whole process group, and what is left in its cgroup) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill()
        for stream in (self._stdin_or_none(), self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.process.wait()

    def _stdin_or_none(self) -> IO[bytes] | None:
        return self.process.stdin
