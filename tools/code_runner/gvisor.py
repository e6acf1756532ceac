"""The stronger, optional sandbox: gVisor's ``runsc`` (a user-space kernel between the code and Linux).

Each worker runs as an OCI container: ``runsc --network=none --root STATE run --bundle DIR ID``
with a generated ``config.json`` whose root is an empty read-only directory and whose mounts are
the same as the bubblewrap backend's (system dirs, the virtualenv and Python's prefix read-only, the
session's directory read-write at ``/workspace``), an explicit minimal environment, the per-slot
uid, ``noNewPrivileges`` and the OCI ``rlimits``. Only stdio crosses the boundary (the worker
protocol needs nothing else). Costs ~200 ms per cold start; warm calls cost the same as bwrap.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from functools import cache
from pathlib import Path

from tools.code_runner.base import Limits
from tools.code_runner.session import PooledSandbox
from tools.code_runner.worker_process import WORKER_SCRIPT, minimal_env
from tools.errors import SandboxUnavailable

__all__ = ["GVisorLauncher", "GVisorSandbox", "gvisor_usable"]

INNER_WORKDIR = "/workspace"
_INSTALL = "install gVisor: https://gvisor.dev/docs/user_guide/install/ (package `runsc`)"


def _bind(path: str, writable: bool = False) -> dict[str, object]:
    options = ["rbind", "rw" if writable else "ro"]
    return {"destination": path, "type": "bind", "source": path, "options": options}


class GVisorLauncher:
    """Writes an OCI bundle per worker and returns the ``runsc run`` command line."""

    name = "gvisor"
    inner_workdir = INNER_WORKDIR
    reap_strays = True
    private_workspace = False
    args_fd = False

    def worker_argv(self, config: str) -> list[str]:
        """The worker script at its host path (bind-mounted at the same place)."""
        return [sys.executable, "-I", str(WORKER_SCRIPT), config]

    def __init__(self, limits: Limits, executable: str | None = None, base_uid: int = 1_990_000_000) -> None:
        found = executable or shutil.which("runsc")
        if found is None:
            raise SandboxUnavailable(f"runsc was not found: {_INSTALL}")
        self.executable, self.limits, self.base_uid = found, limits, base_uid
        self.state = Path(tempfile.mkdtemp(prefix="qwengraph-runsc-state-"))
        self.empty_root = Path(tempfile.mkdtemp(prefix="qwengraph-runsc-root-"))

    def slot_ids(self, slot: int) -> tuple[int, int] | None:
        """The worker starts as root inside gVisor's kernel and drops to this uid (as with bwrap)."""
        return (self.base_uid + slot, self.base_uid + slot) if os.geteuid() == 0 else None

    def limit_processes(self) -> bool:
        """Processes are counted inside gVisor's own kernel."""
        return True

    def _mounts(self, host_workdir: Path) -> list[dict[str, object]]:
        mounts: list[dict[str, object]] = [
            {"destination": "/proc", "type": "proc", "source": "proc"},
        ]
        for path in ("/usr", "/lib", "/lib64", "/bin"):
            if os.path.exists(path):
                mounts.append(_bind(os.path.realpath(path)) | {"destination": path})
        for path in {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix), str(WORKER_SCRIPT)}:
            mounts.append(_bind(path))
        mounts.append(_bind(str(host_workdir), writable=True) | {"destination": INNER_WORKDIR})
        return mounts

    def argv(self, host_workdir: Path, worker_argv: list[str]) -> list[str]:
        """Write ``config.json`` next to the session directory and return ``runsc … run``."""
        bundle = host_workdir.with_name(host_workdir.name + ".oci")
        bundle.mkdir(exist_ok=True)
        rlimits = {
            "RLIMIT_AS": self.limits.address_space,
            "RLIMIT_NPROC": self.limits.processes,
            "RLIMIT_FSIZE": self.limits.file_size,
            "RLIMIT_NOFILE": self.limits.open_files,
        }
        caps = ["CAP_SETUID", "CAP_SETGID"]  # only to drop to the slot's uid; the drop clears them
        config = {
            "ociVersion": "1.0.2",
            "root": {"path": str(self.empty_root), "readonly": True},
            "hostname": "sandbox",
            "mounts": self._mounts(host_workdir),
            "process": {
                "terminal": False,
                "user": {"uid": 0, "gid": 0},
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "args": worker_argv,
                "env": [f"{key}={value}" for key, value in minimal_env(INNER_WORKDIR).items()],
                "cwd": INNER_WORKDIR,
                "noNewPrivileges": True,
                "rlimits": [{"type": key, "hard": value, "soft": value} for key, value in rlimits.items()],
            },
            "linux": {"namespaces": [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount")]},
        }
        (bundle / "config.json").write_text(json.dumps(config))
        return [
            self.executable,
            "--network=none",
            "--ignore-cgroups",
            f"--root={self.state}",
            "run",
            f"--bundle={bundle}",
            f"qwengraph-{uuid.uuid4().hex[:16]}",
        ]


@cache
def gvisor_usable() -> str | None:
    """``None`` when ``runsc`` can run a container here, else why not (checked once)."""
    try:
        sandbox = GVisorSandbox()
    except SandboxUnavailable as error:
        return str(error)
    try:
        result = sandbox.run("print(1)", "probe")
    except SandboxUnavailable as error:
        return f"runsc is installed but cannot run a container here: {error}"
    finally:
        sandbox.close()
    return None if result.stdout == "1\n" else f"runsc ran but the probe failed: {result}"


class GVisorSandbox(PooledSandbox):
    """Sessions of warm workers inside gVisor containers."""

    def __init__(self, limits: Limits | None = None, max_sessions: int = 16) -> None:
        limits = limits or Limits()
        super().__init__(GVisorLauncher(limits), limits, max_sessions, cgroups=False)  # its own kernel
