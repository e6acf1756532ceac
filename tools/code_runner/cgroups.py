"""Memory and process caps for a whole sandbox session: a cgroup per session, when the machine allows.

Per-process rlimits cannot bound what a session uses in total: 8 children of 300 MB each stay under
a 512 MiB ``RLIMIT_AS`` apiece. A cgroup counts every process and thread of the session, and the
memory of the files in its ``/workspace`` tmpfs, against one limit:

* **cgroup v2** (the unified hierarchy) when its ``memory`` and ``pids`` controllers can be enabled
  below this process's own cgroup (root, or a delegated subtree such as a systemd user slice);
* **cgroup v1** when the ``memory`` and ``pids`` hierarchies are mounted and writable (root in many
  containers and VMs: the machine this was written on);
* otherwise none: the sandbox falls back to its per-slot uid and rlimits, and says so
  (:attr:`Cgroups.kind` is ``None``; see ``tools.code_runner.base.Limits`` for the bound then).

Layout: ``<this process's cgroup>/qwengraph-<pid>-<id>/<session>/``, one directory per session,
created when the session starts and removed when it closes. Directories left by a process that died
(``kill -9``) are removed the next time a pool starts. Workers are placed in their session's cgroup
before they run anything (the launch command writes its own pid into ``cgroup.procs`` and then
``exec``\\ s the sandbox), so every process the code starts is inside from the first instruction.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Cgroups", "SessionCgroup", "detect"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "qwengraph-"
Kind = Literal["v1", "v2"]


@dataclass(frozen=True)
class SessionCgroup:
    """One session's cgroup: one directory (v2) or one per controller (v1)."""

    kind: Kind
    dirs: tuple[Path, ...]  # v2: (dir,); v1: (memory dir, pids dir)

    @property
    def procs_files(self) -> tuple[Path, ...]:
        """The ``cgroup.procs`` files a new process must write its pid into."""
        return tuple(d / "cgroup.procs" for d in self.dirs)

    def limit(self, memory: int, tasks: int) -> None:
        """Cap memory (bytes, swap included where accounted) and tasks (processes and threads)."""
        memory_dir, pids_dir = self.dirs[0], self.dirs[-1]
        if self.kind == "v2":
            _write(memory_dir / "memory.max", memory)
            if (memory_dir / "memory.swap.max").exists():
                _write(memory_dir / "memory.swap.max", 0)
        else:
            _write(memory_dir / "memory.limit_in_bytes", memory)
            if (memory_dir / "memory.memsw.limit_in_bytes").exists():
                _write(memory_dir / "memory.memsw.limit_in_bytes", memory)
        _write(pids_dir / "pids.max", tasks)

    def oom_kills(self) -> int:
        """Processes the kernel has killed in this cgroup for going over the memory limit."""
        memory_dir = self.dirs[0]
        name = "memory.events" if self.kind == "v2" else "memory.oom_control"
        try:
            text = (memory_dir / name).read_text()
        except OSError:
            return 0
        found = re.search(r"^oom_kill (\d+)$", text, re.MULTILINE)
        return int(found.group(1)) if found else 0

    def memory_peak(self) -> int:
        """The most memory the session has used at once (bytes; 0 when the kernel does not say)."""
        name = "memory.peak" if self.kind == "v2" else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs[0] / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def pids(self) -> list[int]:
        """The processes in the cgroup now."""
        found: set[int] = set()
        for procs in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in procs.read_text().split())
        return sorted(found)

    def kill(self) -> None:
        """Kill every process in the cgroup (they may be forking: repeat until it is empty)."""
        if self.kind == "v2" and (self.dirs[0] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.dirs[0] / "cgroup.kill", 1)
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        """Kill what is left and delete the directories."""
        self.kill()
        for directory in self.dirs:
            _rmdir(directory)


class Cgroups:
    """Creates session cgroups under one parent per pool (see the module docstring)."""

    def __init__(self, kind: Kind, parents: tuple[Path, ...]) -> None:
        self.kind = kind
        self.parents = parents

    def session(self, name: str) -> SessionCgroup:
        """A new, empty cgroup for one session."""
        dirs = tuple(parent / f"{name}-{uuid.uuid4().hex[:8]}" for parent in self.parents)
        for directory in dirs:
            directory.mkdir()
        return SessionCgroup(self.kind, dirs)

    def close(self) -> None:
        """Remove the pool's parent cgroups (sessions must be removed first)."""
        for parent in self.parents:
            for child in _children(parent):
                SessionCgroup(self.kind, (child,)).remove()
            _rmdir(parent)


def _write(path: Path, value: int) -> None:
    path.write_text(f"{value}\n")


def _rmdir(directory: Path) -> None:
    for _ in range(50):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while the last killed task is exiting
            time.sleep(0.02)


def _children(directory: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return [p for p in directory.iterdir() if p.is_dir()]
    return []


def _own_cgroup(hierarchy: str) -> str | None:
    """This process's cgroup path in one hierarchy (``"0::"`` for v2, ``"memory"`` etc. for v1)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if hierarchy == "0::" and number == "0" and controllers == "":
            return path
        if hierarchy in controllers.split(","):
            return path
    return None


def _reap_stale(base: Path) -> None:
    """Remove pool cgroups of processes that no longer exist (a ``kill -9``-ed host process)."""
    for parent in _children(base):
        found = re.fullmatch(rf"{PREFIX}(\d+)-[0-9a-f]+", parent.name)
        if found is None or Path(f"/proc/{found.group(1)}").exists():
            continue
        for child in _children(parent):
            SessionCgroup("v1", (child,)).remove()
        _rmdir(parent)


def _v2(pool_name: str) -> Cgroups | None:
    own = _own_cgroup("0::")
    base = CGROUP_ROOT / (own or "/").lstrip("/")
    try:
        controllers = (base / "cgroup.controllers").read_text().split()
    except OSError:
        return None
    if not {"memory", "pids"} <= set(controllers) or not os.access(base, os.W_OK):
        return None
    parent = base / pool_name
    try:
        _reap_stale(base)
        parent.mkdir()
        if not {"memory", "pids"} <= set((parent / "cgroup.controllers").read_text().split()):
            (base / "cgroup.subtree_control").write_text("+memory +pids\n")  # EBUSY if base has processes
        (parent / "cgroup.subtree_control").write_text("+memory +pids\n")
    except OSError:
        _rmdir(parent)
        return None
    return Cgroups("v2", (parent,))


def _v1(pool_name: str) -> Cgroups | None:
    parents: list[Path] = []
    for controller in ("memory", "pids"):
        own = _own_cgroup(controller)
        base = CGROUP_ROOT / controller / (own or "/").lstrip("/")
        if own is None or not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
            break
        try:
            _reap_stale(base)
            (base / pool_name).mkdir()
        except OSError:
            break
        parents.append(base / pool_name)
    if len(parents) != 2:
        for parent in parents:
            _rmdir(parent)
        return None
    return Cgroups("v1", tuple(parents))


def detect() -> Cgroups | None:
    """Cgroups for a new sandbox pool: v2, else v1, else ``None`` (see the module docstring)."""
    if os.environ.get("QWENGRAPH_SANDBOX_CGROUPS", "1") == "0":  # opt out (and how tests cover the fallback)
        return None
    name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return _v2(name) or _v1(name)
