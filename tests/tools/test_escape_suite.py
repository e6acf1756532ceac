"""Escape suite for the bubblewrap sandbox: every attempt must be blocked or bounded.

Each case runs under tight limits (a few seconds of wall/CPU time, 512 MiB of address space), so a
regression shows up as a failed assertion, not a hung or exhausted test machine.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.code_runner import Limits
from tools.code_runner.bwrap import BwrapSandbox, bwrap_usable
from tools.errors import ToolInputError

REASON = bwrap_usable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"bubblewrap is not usable here: {REASON}")

LIMITS = Limits(wall_seconds=8, cpu_seconds=3)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BwrapSandbox]:
    box = BwrapSandbox(LIMITS)
    yield box
    box.close()


def _uid_processes(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def test_etc_passwd_is_not_visible(sandbox: BwrapSandbox) -> None:
    result = sandbox.run("open('/etc/passwd').read()", "passwd")
    assert result.exit_reason == "error"
    assert result.exception is not None
    assert result.exception.startswith(("FileNotFoundError", "PermissionError"))
    assert "root:" not in result.stdout


def test_secret_files_outside_the_workdir_are_not_visible(sandbox: BwrapSandbox, tmp_path: Path) -> None:
    in_tmp = tmp_path / "secret.txt"
    in_tmp.write_text("TMP-SECRET-123")
    in_home = Path.home() / ".qwengraph-escape-test-secret"
    in_home.write_text("HOME-SECRET-456")
    try:
        code = (
            "import os\n"
            f"for path in ({str(in_tmp)!r}, {str(in_home)!r}):\n"
            "    print(path, os.path.exists(path))\n"
            "    try:\n"
            "        print(open(path).read())\n"
            "    except OSError as error:\n"
            "        print(type(error).__name__)\n"
        )
        result = sandbox.run(code, "secrets")
    finally:
        in_home.unlink()
    assert "SECRET" not in result.stdout
    assert result.stdout.count(" False") == 2


def test_writes_outside_the_workdir_fail(sandbox: BwrapSandbox) -> None:
    code = (
        "failed = []\n"
        "for path in ('/x', '/usr/x', '/tmp/x', '/etc/x', '/work/x', '/proc/x', '/dev/shm/x'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "    except OSError:\n"
        "        failed.append(path)\n"
        "print(len(failed))\n"
        "_ = open('inside.txt', 'w').write('ok')\n"
    )
    result = sandbox.run(code, "writes")
    assert result.stdout.strip() == "7", result
    assert sandbox.get_file("writes", "inside.txt") == b"ok"
    assert not Path("/usr/x").exists()


def test_no_network_even_to_loopback(sandbox: BwrapSandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('connected')\n"
            "except OSError as error:\n"
            "    print('blocked', type(error).__name__)\n"
        )
        result = sandbox.run(code, "net")
        assert result.stdout.startswith("blocked"), result
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_host_environment_does_not_leak(sandbox: BwrapSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_TEST_SECRET", "sk-leak-me-789")
    result = sandbox.run("import os\nprint(sorted(os.environ.items()))", "env-fresh")
    assert "sk-leak-me-789" not in result.stdout
    assert "QWENGRAPH_TEST_SECRET" not in result.stdout
    assert "'HOME', '/workspace'" in result.stdout


def test_subprocess_runs_confined(sandbox: BwrapSandbox) -> None:
    """Decision: subprocesses are allowed but see the same jail (no /etc, no network, slot uid)."""
    code = (
        "import os, subprocess\n"
        "print(subprocess.run(['cat', '/etc/passwd'], capture_output=True).returncode)\n"
        "print(os.system('echo pwned > /usr/pwned 2>/dev/null') != 0)\n"
        "print(subprocess.run(['id', '-u'], capture_output=True, text=True).stdout.strip())\n"
    )
    result = sandbox.run(code, "subprocess")
    lines = result.stdout.split()
    assert lines[0] != "0"
    assert lines[1] == "True"
    assert lines[2] != "0" if os.geteuid() == 0 else True
    assert not Path("/usr/pwned").exists()


def test_root_privileges_are_dropped(sandbox: BwrapSandbox) -> None:
    code = (
        "import os\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]\n"
        "print(int(caps, 16))\n"
        "try:\n"
        "    os.setuid(0)\n"
        "    print('root')\n"
        "except PermissionError:\n"
        "    print('denied')\n"
    )
    result = sandbox.run(code, "caps")
    assert result.stdout.split() == ["0", "denied"]


def test_fork_bomb_is_bounded(sandbox: BwrapSandbox) -> None:
    code = (
        "import os, time\n"
        "count = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        count += 1\n"
        "except OSError as error:\n"
        "    print('stopped', count, error.errno)\n"
    )
    result = sandbox.run(code, "forkbomb")
    words = result.stdout.split()
    assert words[0] == "stopped", result
    assert int(words[1]) < LIMITS.processes
    session = sandbox.pool.get("forkbomb")
    if session.cgroup is not None:  # only the sandbox's own processes are left: bwrap's two, the worker
        assert len(session.cgroup.pids()) == 3
    elif os.geteuid() == 0:  # the slot's uid owns only the warm worker once the call is over
        uid = sandbox.pool.launcher.slot_ids(session.slot)
        assert uid is not None
        assert _uid_processes(uid[0]) == 1
    assert sandbox.run("print('alive')", "forkbomb").stdout == "alive\n"


def test_setsid_daemon_does_not_outlive_the_run(sandbox: BwrapSandbox) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(1.0)\n"
        "        open('/workspace/daemon.txt', 'w').write('survived')\n"
        "    os._exit(0)\n"
        "print('spawned')\n"
    )
    assert sandbox.run(code, "daemon").stdout == "spawned\n"
    time.sleep(2.0)
    with pytest.raises(ToolInputError):
        sandbox.get_file("daemon", "daemon.txt")


def test_infinite_loop_times_out_and_the_session_recovers(sandbox: BwrapSandbox) -> None:
    sandbox.run("kept = 1", "loop")
    result = sandbox.run("while True:\n    pass", "loop")
    assert result.exit_reason == "timeout"
    assert result.state_lost
    after = sandbox.run("print('kept' in globals())", "loop")
    assert after.stdout == "False\n"
    assert after.state_lost


def test_sleeping_past_the_wall_clock_times_out() -> None:
    box = BwrapSandbox(Limits(wall_seconds=1))
    try:
        result = box.run("import time\ntime.sleep(30)", "sleep")
    finally:
        box.close()
    assert result.exit_reason == "timeout"
    assert "wall-clock" in (result.exception or "")


@pytest.mark.parametrize(
    "code",
    ["x = bytearray(2 * 1024**3)", "chunks = []\nwhile True:\n    chunks.append(bytearray(10 * 1024**2))"],
)
def test_memory_bomb_hits_the_memory_limit(sandbox: BwrapSandbox, code: str) -> None:
    result = sandbox.run(code, "memory")
    assert result.exit_reason == "memory", result
    assert sandbox.run("print(1)", "memory").stdout == "1\n"


def test_stdout_flood_is_truncated(sandbox: BwrapSandbox) -> None:
    code = "import sys\nchunk = 'x' * 2**20\nfor _ in range(200):\n    sys.stdout.write(chunk)\n"
    result = sandbox.run(code, "flood")
    assert result.exit_reason == "output_limit"
    assert result.stdout_truncated
    assert len(result.stdout) == LIMITS.output_bytes


def test_fd_level_flood_from_a_child_is_truncated(sandbox: BwrapSandbox) -> None:
    code = "import subprocess\nsubprocess.run(['head', '-c', '209715200', '/dev/zero'])\n"
    result = sandbox.run(code, "flood-fd")
    assert result.stdout_truncated
    assert len(result.stdout) == LIMITS.output_bytes


def test_one_gigabyte_file_hits_the_file_size_limit(sandbox: BwrapSandbox) -> None:
    code = (
        "chunk = b'x' * 2**20\n"
        "with open('big.bin', 'wb') as handle:\n"
        "    for _ in range(1024):\n"
        "        handle.write(chunk)\n"
    )
    result = sandbox.run(code, "bigfile")
    assert result.exit_reason == "error"
    assert "File too large" in (result.exception or ""), result
    size = sandbox.run("import os\nprint(os.path.getsize('big.bin'))", "bigfile").stdout
    assert 0 < int(size) <= LIMITS.file_size
