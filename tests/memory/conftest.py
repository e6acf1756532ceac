"""A real PostgreSQL server for the memory conformance suite, started once per test session.

The server binaries come from the ``postgresql`` apt package (``/usr/lib/postgresql/*/bin``; CI
installs it in ``.ci/run``). PostgreSQL refuses to run as root, so when the suite runs as root the
cluster is initialised and started as the ``postgres`` system user (created by the apt package)
through ``runuser``. The server listens on 127.0.0.1 at a random free port with its unix socket in
the same temporary directory, trusts local connections, and is stopped and deleted at the end.

The network guard in ``tests/conftest.py`` lets loopback through, and libpq opens its sockets in C
anyway, so the guard does not interfere. When the server cannot start, every Postgres test is
skipped with the reason (shown by ``pytest -rs`` and repeated in the terminal summary).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DB_NAME = "qwengraph_test"
_skip_reason: list[str] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class _Cluster:
    """One throwaway PostgreSQL cluster in a temporary directory."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="qwengraph-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' system user") from None
            self.user = "postgres"
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            runuser = shutil.which("runuser")
            cmd = (
                [runuser, "-u", self.user, "--", *cmd]
                if runuser
                else ["su", self.user, "-s", "/bin/sh", "-c", " ".join(cmd)]
            )
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            log = self.log.read_text(errors="replace").strip().splitlines()[-3:] if self.log.exists() else []
            raise RuntimeError(f"{args[0]} failed: {' | '.join(detail[-3:] + log)}")

    def start(self) -> str:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c fsync=off "
            "-c full_page_writes=off -c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DB_NAME)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    """``postgresql://…`` of a fresh database on a real server on loopback (skips if it cannot start)."""
    if _skip_reason:
        pytest.skip(_skip_reason[0])
    bindir = _bindir()
    if bindir is None:
        _skip_reason.append("PostgreSQL server not installed (apt-get install postgresql): no pg_ctl found")
        pytest.skip(_skip_reason[0])
    try:
        cluster = _Cluster(bindir)
    except (OSError, RuntimeError) as err:
        _skip_reason.append(f"PostgreSQL server cannot start: {err}")
        pytest.skip(_skip_reason[0])
    try:
        uri = cluster.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        cluster.stop()
        _skip_reason.append(f"PostgreSQL server cannot start: {err}")
        print(_skip_reason[0])
        pytest.skip(_skip_reason[0])
    try:
        yield uri
    finally:
        cluster.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why the Postgres tests were skipped even when ``-rs`` was not given."""
    if _skip_reason:
        terminalreporter.write_line(f"memory suite: PostgreSQL tests skipped: {_skip_reason[0]}", yellow=True)
