"""Sessions shared by every backend: a pool of warm workers keyed by session id, and their files.

A session is a work directory, a cgroup when the machine offers one (:mod:`tools.code_runner.cgroups`:
memory and process caps for everything the session runs), and (while warm) one worker process.
Variables persist between calls of a session; a timeout or crash kills the worker, and the next call
starts a fresh one and says that earlier variables were lost (with a private ``/workspace``, its
files too). Files go in and out through the worker. Sessions idle for ``Limits.idle_seconds`` are
closed by a reaper thread.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TypeVar

from tools.code_runner.base import MIB, Enforced, Launcher, Limits, RunResult
from tools.code_runner.cgroups import Cgroups, SessionCgroup, detect
from tools.code_runner.worker_process import WorkerProcess
from tools.errors import ToolInputError, ToolLimitError

__all__ = ["RUNNER_TASKS", "PooledSandbox", "Session", "SessionPool"]

RUNNER_TASKS = 4
"""Tasks of a session that are not the code's: bwrap's two processes and the worker's two output
threads. The pids cgroup allows ``Limits.processes`` more (the worker's main thread runs the code)."""
T = TypeVar("T")


@dataclass
class Session:
    """One session's state: its slot (uid), work directory and warm worker, if any."""

    session_id: str
    slot: int
    workdir: Path
    worker: WorkerProcess | None = None
    cgroup: SessionCgroup | None = None
    last_used: float = field(default_factory=time.monotonic)
    lost_state: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionPool:
    """Sessions by id, at most ``max_sessions`` at once (the least recently used is closed first)."""

    def __init__(
        self, launcher: Launcher, limits: Limits, max_sessions: int = 16, *, cgroups: bool = True
    ) -> None:
        self.launcher, self.limits, self.max_sessions = launcher, limits, max_sessions
        self.cgroups: Cgroups | None = detect() if cgroups else None
        self._root = Path(tempfile.mkdtemp(prefix=f"qwengraph-{launcher.name}-"))
        os.chmod(self._root, 0o711)  # noqa: S103 - slot uids traverse it to their own bind-mounted dir only
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None

    def get(self, session_id: str) -> Session:
        """The session with this id, created (with an empty work directory) on first use."""
        with self._lock:
            if self._closed.is_set():
                raise ToolLimitError("the sandbox has been closed")
            session = self._sessions.get(session_id)
            if session is None:
                if len(self._sessions) >= self.max_sessions:
                    oldest = min(self._sessions.values(), key=lambda item: item.last_used)
                    self._discard(oldest)
                used = {item.slot for item in self._sessions.values()}
                slot = min(set(range(self.max_sessions)) - used)
                workdir = self._root / f"slot{slot}-{uuid.uuid4().hex[:12]}"
                workdir.mkdir()
                ids = self.launcher.slot_ids(slot)
                if ids is not None:
                    os.chown(workdir, *ids)
                session = Session(session_id, slot, workdir, cgroup=self._cgroup(slot))
                self._sessions[session_id] = session
                self._start_reaper()
            session.last_used = time.monotonic()
            return session

    def _cgroup(self, slot: int) -> SessionCgroup | None:
        if self.cgroups is None:
            return None
        try:
            cgroup = self.cgroups.session(f"s{slot}")
            cgroup.limit(self.limits.memory, self.limits.processes + RUNNER_TASKS)
        except OSError as err:  # fail closed: the limits promised to the model must hold
            raise ToolLimitError(f"cannot create the sandbox session's cgroup: {err}") from err
        return cgroup

    def _warm(self, session: Session) -> bool:
        """Start the session's worker if it has none running; True when an earlier one had died."""
        lost = False
        if session.worker is None or not session.worker.alive:
            if session.worker is not None:
                session.worker.kill()
                lost = True
            session.worker = WorkerProcess(
                self.launcher, session.workdir, self.limits, session.slot, session.cgroup
            )
        return lost

    def with_worker(self, session_id: str, action: Callable[[WorkerProcess], T]) -> T:
        """Run ``action`` on the session's warm worker (started if needed), holding the session."""
        session = self.get(session_id)
        with session.lock:
            session.lost_state = self._warm(session) or session.lost_state
            assert session.worker is not None
            result = action(session.worker)
            session.last_used = time.monotonic()
        return result

    def run(self, session_id: str, code: str) -> RunResult:
        """Run code in the session's warm worker, starting one if needed."""
        session = self.get(session_id)
        with session.lock:
            lost = self._warm(session) or session.lost_state
            assert session.worker is not None
            result = session.worker.run(code)
            session.lost_state = False
            if result.state_lost:
                session.worker.kill()
                session.worker = None
                session.lost_state = True
            session.last_used = time.monotonic()
        return replace(result, state_lost=True) if lost else result

    def close_session(self, session_id: str) -> None:
        """Stop the session's worker and delete its work directory."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._discard(session)

    def close(self) -> None:
        """Close every session and the pool's root directory."""
        self._closed.set()
        with self._lock:
            for session in list(self._sessions.values()):
                self._discard(session)
        shutil.rmtree(self._root, ignore_errors=True)
        if self.cgroups is not None:
            self.cgroups.close()

    def session_ids(self) -> list[str]:
        """Ids of the open sessions."""
        with self._lock:
            return list(self._sessions)

    def _discard(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)
        with session.lock:
            if session.worker is not None:
                session.worker.kill()
                session.worker = None
            if session.cgroup is not None:
                session.cgroup.remove()
        shutil.rmtree(session.workdir, ignore_errors=True)

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="qwengraph-session-reaper", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        interval = min(max(self.limits.idle_seconds / 4, 0.05), 5.0)
        while not self._closed.wait(interval):
            now = time.monotonic()
            with self._lock:
                for session in list(self._sessions.values()):
                    if now - session.last_used > self.limits.idle_seconds and not session.lock.locked():
                        self._discard(session)


def _relative(path: str) -> list[str]:
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or any(part in {"..", "."} for part in parts):
        raise ToolInputError(f"{path!r}: give a relative path inside the work directory, without '..'")
    return list(parts)


class PooledSandbox:
    """A :class:`~tools.code_runner.base.CodeSandbox` made of a launcher and a session pool.

    ``cgroups``: cap each session's memory and processes with a cgroup when the machine allows
    (``False`` for backends with their own kernel, such as gVisor).
    """

    def __init__(
        self,
        launcher: Launcher,
        limits: Limits | None = None,
        max_sessions: int = 16,
        *,
        cgroups: bool = True,
    ) -> None:
        self.name = launcher.name
        self.limits = limits or Limits()
        self.pool = SessionPool(launcher, self.limits, max_sessions, cgroups=cgroups)

    def enforced(self) -> Enforced:
        """Which limits hold for a whole session on this machine (what the model is told)."""
        private = self.pool.launcher.private_workspace
        workspace = self.limits.workspace_bytes if private else None
        if self.pool.cgroups is not None:
            how = f"cgroup {self.pool.cgroups.kind}"
            return Enforced(self.limits.memory, self.limits.processes, workspace, how)
        processes = self.limits.processes if self.pool.launcher.limit_processes() else None
        how = f"rlimits: {self.limits.address_space // MIB} MiB address space per process"
        return Enforced(None, processes, workspace, how)

    def run(self, code: str, session_id: str = "default") -> RunResult:
        """Run ``code`` in the session ``session_id`` (see :meth:`SessionPool.run`)."""
        return self.pool.run(session_id, code)

    def put_file(self, session_id: str, path: str, data: bytes) -> None:
        """Write a file into the session's work directory (symlinks are never followed)."""
        if len(data) > self.limits.file_size:
            raise ToolLimitError(f"file larger than the {self.limits.file_size} byte limit")
        parts = _relative(path)
        self.pool.with_worker(session_id, lambda worker: worker.put(parts, data))

    def get_file(self, session_id: str, path: str) -> bytes:
        """Read a regular file from the session's work directory (symlinks are never followed)."""
        parts = _relative(path)
        return self.pool.with_worker(session_id, lambda worker: worker.get(parts))

    def close_session(self, session_id: str) -> None:
        """End one session."""
        self.pool.close_session(session_id)

    def close(self) -> None:
        """End every session."""
        self.pool.close()
