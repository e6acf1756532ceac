"""The default sandbox: bubblewrap (``bwrap``), Linux namespaces without a daemon.

What the sandboxed code sees: ``/usr`` and the ``/lib*``, ``/bin`` links read-only; the project's
virtualenv read-only at ``/venv`` and Python's installation prefix read-only; the worker script at
``/qwengraph/worker.py``; ``/proc`` of its own pid namespace and a minimal ``/dev``; and one writable
directory, ``/workspace``: a tmpfs of ``Limits.workspace_bytes`` that lives and dies with the
sandbox (its pages count against the session's memory cgroup). Nothing else of the host: no
``/etc``, no ``/home`` or ``/root``, no ``/tmp``. The root is re-mounted read-only. Namespaces: pid,
net (no network at all: only a down loopback), ipc, uts, cgroup. The environment is replaced by
:func:`~tools.code_runner.worker_process.minimal_env`. bwrap reads its options from a pipe
(``--args FD``), so ``/proc/1/cmdline`` inside shows ``bwrap --args N -- /venv/bin/python -I
/qwengraph/worker.py CONFIG`` and no host path. (``/proc/self/mountinfo`` still names the host
directories that are bind-mounted: the virtualenv's and Python's.)

Process limit. ``RLIMIT_NPROC`` never applies to uid 0, so:

- launched as root (containers, CI): bwrap runs without a user namespace and grants the worker only
  ``CAP_SETUID``/``CAP_SETGID``; the worker sets its limits and drops to a per-slot uid
  (``base_uid + slot``), which clears every capability. Each session's processes then count against
  their own uid.
- launched as a normal user: bwrap uses a user namespace; since Linux 5.14 ``RLIMIT_NPROC`` is counted
  per user namespace, so the limit covers only the sandbox's processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from tools.code_runner.base import Limits
from tools.code_runner.session import PooledSandbox
from tools.code_runner.worker_process import WORKER_SCRIPT, minimal_env
from tools.errors import SandboxUnavailable

__all__ = ["INSTALL_HINT", "BwrapLauncher", "BwrapSandbox", "bwrap_usable"]

INSTALL_HINT = (
    "install bubblewrap: `sudo apt-get install -y bubblewrap` (Debian/Ubuntu), "
    "`sudo dnf install bubblewrap` (Fedora) or `sudo pacman -S bubblewrap` (Arch); it needs unprivileged "
    "user namespaces or root (on Ubuntu 24.04+ see kernel.apparmor_restrict_unprivileged_userns)"
)
INNER_WORKDIR = "/workspace"
INNER_VENV = "/venv"
INNER_WORKER = "/qwengraph/worker.py"
DEFAULT_BASE_UID = 1_990_000_000
UID_STRIDE = 256  # slot uids of one process: base + (pid % 100000) * 256 + slot, all below 2**31
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


class BwrapLauncher:
    """Builds the ``bwrap`` command line for one session (see the module docstring)."""

    name = "bwrap"
    inner_workdir = INNER_WORKDIR
    reap_strays = True
    private_workspace = True
    args_fd = True

    def __init__(
        self,
        executable: str | None = None,
        base_uid: int = DEFAULT_BASE_UID,
        workspace_bytes: int = 128 << 20,
    ) -> None:
        found = executable or shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable(f"bubblewrap (bwrap) was not found: {INSTALL_HINT}")
        self.executable = found
        self.base_uid = base_uid
        self.workspace_bytes = workspace_bytes
        self.as_root = os.geteuid() == 0
        self.venv = sys.prefix if sys.prefix != sys.base_prefix else None
        self._static = self._static_args()

    def worker_argv(self, config: str) -> list[str]:
        """``python -I /qwengraph/worker.py CONFIG``, the interpreter at its inner path."""
        python = sys.executable
        if self.venv is not None and _covered(python, [self.venv]):
            python = INNER_VENV + python[len(self.venv.rstrip("/")) :]
        return [python, "-I", INNER_WORKER, config]

    def slot_ids(self, slot: int) -> tuple[int, int] | None:
        """Root: a dedicated uid/gid per slot, also apart from other processes' pools (their slots
        are numbered from 0 too; a shared uid would share ``RLIMIT_NPROC``). Otherwise ``None`` (the
        user namespace confines)."""
        if not self.as_root:
            return None
        uid = self.base_uid + (os.getpid() % 100_000) * UID_STRIDE + slot % UID_STRIDE
        return uid, uid

    def limit_processes(self) -> bool:
        """``RLIMIT_NPROC`` is meaningful in both modes (per-slot uid, or per user namespace)."""
        return True

    def _static_args(self) -> list[str]:
        args: list[str] = []
        system: list[str] = []
        for path in _SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
                system.append(path)
        extra: list[str] = []
        candidates = [sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)]
        if self.venv is None:
            candidates.append(sys.prefix)
        for candidate in candidates:
            real = os.path.realpath(candidate)
            for path in {candidate, real}:
                if not _covered(path, system + extra) and not (self.venv and _covered(path, [self.venv])):
                    extra = [item for item in extra if not _covered(item, [path])] + [path]
        made: set[str] = set()
        binds = [(path, path) for path in sorted(extra)] + [(str(WORKER_SCRIPT), INNER_WORKER)]
        if self.venv is not None:
            binds.append((self.venv, INNER_VENV))
        for source, target in binds:
            for parent in reversed(Path(target).parents):
                name = str(parent)
                if name != "/" and name not in made and not _covered(name, system + extra):
                    args += ["--perms", "0755", "--dir", name]
                    made.add(name)
            args += ["--ro-bind", source, target]
        if os.path.exists("/etc/ld.so.cache"):
            args += ["--perms", "0755", "--dir", "/etc", "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if self.as_root:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args += ["--unshare-user"]
        args += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
        python_bin = str(Path(self.worker_argv("")[0]).parent)
        for key, value in minimal_env(INNER_WORKDIR, python_bin).items():
            args += ["--setenv", key, value]
        args += ["--perms", "01777", "--size", str(self.workspace_bytes), "--tmpfs", INNER_WORKDIR]
        return args

    def argv(self, host_workdir: Path, worker_argv: list[str]) -> list[str]:
        """``bwrap [mounts…] --tmpfs /workspace … -- worker_argv`` (the host directory is not used)."""
        return [
            self.executable,
            *self._static,
            "--chdir",
            INNER_WORKDIR,
            "--remount-ro",
            "/",
            "--",
            *worker_argv,
        ]


@cache
def bwrap_usable() -> str | None:
    """``None`` when bubblewrap can run a sandbox here, else the reason it cannot (checked once)."""
    try:
        launcher = BwrapLauncher()
    except SandboxUnavailable as error:
        return str(error)
    with tempfile.TemporaryDirectory(prefix="qwengraph-bwrap-check-") as workdir:
        argv = launcher.argv(Path(workdir), [launcher.worker_argv("")[0], "-I", "-c", "pass"])
        try:
            done = subprocess.run(argv, capture_output=True, timeout=20, check=False)  # noqa: S603
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap failed to start: {error}"
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()[:300]
        return f"bwrap cannot create a sandbox here ({detail}); {INSTALL_HINT}"
    return None


class BwrapSandbox(PooledSandbox):
    """Sessions of warm workers inside bubblewrap."""

    def __init__(
        self, limits: Limits | None = None, max_sessions: int = 16, base_uid: int = DEFAULT_BASE_UID
    ) -> None:
        limits = limits or Limits()
        launcher = BwrapLauncher(base_uid=base_uid, workspace_bytes=limits.workspace_bytes)
        super().__init__(launcher, limits, max_sessions)
