"""Sessions shared by every backend: a pool of warm workers keyed by session id, and their files.

A session is a work directory plus (while warm) one worker process. Variables persist between calls
of a session; a timeout or crash kills the worker, and the next call starts a fresh one and says that
earlier variables were lost. Sessions idle for ``Limits.idle_seconds`` are closed by a reaper thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from tools.code_runner.base import Launcher, Limits, RunResult
from tools.code_runner.worker_process import WorkerProcess
from tools.errors import ToolInputError, ToolLimitError

__all__ = ["PooledSandbox", "Session", "SessionPool"]


@dataclass
class Session:
    """One session's state: its slot (uid), work directory and warm worker, if any."""

    session_id: str
    slot: int
    workdir: Path
    worker: WorkerProcess | None = None
    last_used: float = field(default_factory=time.monotonic)
    lost_state: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionPool:
    """Sessions by id, at most ``max_sessions`` at once (the least recently used is closed first)."""

    def __init__(self, launcher: Launcher, limits: Limits, max_sessions: int = 16) -> None:
        self.launcher, self.limits, self.max_sessions = launcher, limits, max_sessions
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
                session = Session(session_id, slot, workdir)
                self._sessions[session_id] = session
                self._start_reaper()
            session.last_used = time.monotonic()
            return session

    def run(self, session_id: str, code: str) -> RunResult:
        """Run code in the session's warm worker, starting one if needed."""
        session = self.get(session_id)
        with session.lock:
            lost = session.lost_state
            if session.worker is None or not session.worker.alive:
                if session.worker is not None:
                    session.worker.kill()
                    lost = True
                session.worker = WorkerProcess(self.launcher, session.workdir, self.limits, session.slot)
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


def _open_dir(workdir: Path, parts: list[str], create: bool) -> int:
    """Open the directory holding ``parts[-1]`` without following any symlink the code planted."""
    fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


class PooledSandbox:
    """A :class:`~tools.code_runner.base.CodeSandbox` made of a launcher and a session pool."""

    def __init__(self, launcher: Launcher, limits: Limits | None = None, max_sessions: int = 16) -> None:
        self.name = launcher.name
        self.limits = limits or Limits()
        self.pool = SessionPool(launcher, self.limits, max_sessions)

    def run(self, code: str, session_id: str = "default") -> RunResult:
        """Run ``code`` in the session ``session_id`` (see :meth:`SessionPool.run`)."""
        return self.pool.run(session_id, code)

    def put_file(self, session_id: str, path: str, data: bytes) -> None:
        """Write a file into the session's work directory (symlinks are never followed)."""
        if len(data) > self.limits.file_size:
            raise ToolLimitError(f"file larger than the {self.limits.file_size} byte limit")
        session = self.pool.get(session_id)
        parts = _relative(path)
        ids = self.pool.launcher.slot_ids(session.slot)
        dir_fd = _open_dir(session.workdir, parts, create=True)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            fd = os.open(parts[-1], flags, 0o644, dir_fd=dir_fd)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if ids is not None:
                    os.fchown(handle.fileno(), *ids)
        finally:
            os.close(dir_fd)

    def get_file(self, session_id: str, path: str) -> bytes:
        """Read a regular file from the session's work directory (symlinks are never followed)."""
        session = self.pool.get(session_id)
        parts = _relative(path)
        try:
            dir_fd = _open_dir(session.workdir, parts, create=False)
            try:
                fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as error:
            raise ToolInputError(f"{path!r}: cannot read ({error.strerror})") from error
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ToolInputError(f"{path!r} is not a regular file")
            if info.st_size > self.limits.file_size:
                raise ToolLimitError(f"{path!r} is larger than the {self.limits.file_size} byte limit")
            return handle.read(self.limits.file_size + 1)

    def close_session(self, session_id: str) -> None:
        """End one session."""
        self.pool.close_session(session_id)

    def close(self) -> None:
        """End every session."""
        self.pool.close()
