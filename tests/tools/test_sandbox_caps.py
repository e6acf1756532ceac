"""Probes for the caps of a whole sandbox session: memory, processes, /workspace, wall time, output.

Each probe tries to go over one cap with every process of the session together, and checks the cap
held, the session survives, and what the model is told is what holds. The session caps need cgroups
(root here, as in CI); without them the probes check the documented per-process fallback instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.code_runner import Limits
from tools.code_runner.base import MIB
from tools.code_runner.bwrap import BwrapSandbox, bwrap_usable
from tools.code_runner.cgroups import detect
from tools.run_python import describe

REASON = bwrap_usable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"bubblewrap is not usable here: {REASON}")

LIMITS = Limits(wall_seconds=15, cpu_seconds=10, memory=256 * MIB, address_space=256 * MIB, processes=16,
                workspace_bytes=32 * MIB, file_size=24 * MIB, output_bytes=64 * 1024)  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BwrapSandbox]:
    box = BwrapSandbox(LIMITS)
    yield box
    box.close()


def needs_cgroups(sandbox: BwrapSandbox) -> None:
    if sandbox.pool.cgroups is None:
        pytest.skip("no cgroup controllers usable here: the per-process fallback applies")


def test_memory_of_all_processes_together_stays_under_the_session_cap(sandbox: BwrapSandbox) -> None:
    needs_cgroups(sandbox)
    code = (
        "import subprocess, sys\n"
        "grab = 'x = bytearray(100 * 1024 * 1024); import time; time.sleep(2)'\n"
        "kids = [subprocess.Popen([sys.executable, '-c', grab]) for _ in range(4)]\n"
        "print(sorted(k.wait() for k in kids))\n"
    )
    result = sandbox.run(code, "mem-total")
    codes = eval(result.stdout.strip())
    assert codes.count(-9) >= 2, result  # 4 x 100 MB does not fit in 256 MiB: some were killed
    assert result.exit_reason == "memory"
    assert "memory limit of 256 MiB for the session" in (result.exception or "")
    cgroup = sandbox.pool.get("mem-total").cgroup
    assert cgroup is not None
    assert 0 < cgroup.memory_peak() <= LIMITS.memory
    assert sandbox.run("print('alive')", "mem-total").stdout == "alive\n"


def test_the_stated_memory_is_really_available_to_one_process(sandbox: BwrapSandbox) -> None:
    result = sandbox.run("x = bytearray(200 * 1024 * 1024)\nprint(len(x) // 2**20)", "mem-one")
    assert (result.exit_reason, result.stdout) == ("ok", "200\n"), result


def test_one_allocation_over_the_cap_is_a_memory_error_and_the_session_lives(sandbox: BwrapSandbox) -> None:
    sandbox.run("kept = 42", "mem-over")
    result = sandbox.run("x = bytearray(300 * 1024 * 1024)", "mem-over")
    assert result.exit_reason == "memory" and not result.state_lost, result
    assert sandbox.run("print(kept)", "mem-over").stdout == "42\n"


def test_workspace_files_count_against_its_size(sandbox: BwrapSandbox) -> None:
    code = (
        "import os\n"
        "written = 0\n"
        "try:\n"
        "    for n in range(10):\n"
        "        with open(f'f{n}.bin', 'wb') as f:\n"
        "            for _ in range(8):\n"
        "                f.write(b'x' * 2**20)\n"
        "                written += 1\n"
        "except OSError as e:\n"
        "    print('stopped', written, e.errno)\n"
        "st = os.statvfs('/workspace')\n"
        "print(st.f_blocks * st.f_frsize // 2**20)\n"
    )
    result = sandbox.run(code, "disk")
    first, second = result.stdout.splitlines()
    words = first.split()
    assert words[0] == "stopped" and words[2] == "28", result  # ENOSPC
    assert int(words[1]) <= LIMITS.workspace_bytes // MIB
    assert int(second) == LIMITS.workspace_bytes // MIB


def test_processes_are_capped_for_the_session(sandbox: BwrapSandbox) -> None:
    code = (
        "import os, time\n"
        "count = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        count += 1\n"
        "except OSError as error:\n"
        "    print('stopped', count, error.errno)\n"
    )
    result = sandbox.run(code, "procs")
    words = result.stdout.split()
    assert words[0] == "stopped", result
    assert int(words[1]) < LIMITS.processes
    session = sandbox.pool.get("procs")
    if session.cgroup is not None:
        assert len(session.cgroup.pids()) == 3  # after the call: bwrap's two processes and the worker


def test_no_host_path_is_visible_in_command_lines_or_environment(sandbox: BwrapSandbox) -> None:
    code = (
        "import os\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    try:\n"
        "        print(open(f'/proc/{pid}/cmdline').read().replace(chr(0), ' '))\n"
        "    except OSError:\n"
        "        pass\n"
        "print(sorted(os.environ.values()))\n"
        "import sys\n"
        "print(sys.executable, os.getcwd())\n"
    )
    result = sandbox.run(code, "paths")
    assert "bwrap --args" in result.stdout and "/qwengraph/worker.py" in result.stdout
    for host_path in {str(Path.cwd()), str(Path(__file__).parents[2]), "/tmp/qwengraph", str(Path.home())}:
        assert host_path not in result.stdout, host_path


def test_the_model_is_told_the_limits_that_hold(sandbox: BwrapSandbox) -> None:
    text = describe(sandbox)
    enforced = sandbox.enforced()
    if enforced.memory is not None:
        assert "256 MiB of memory in total" in text
        assert "16 processes and threads at once" in text
    assert "32 MiB" in text and "/workspace" in text
    assert "15 s wall time" in text and "64 KiB of output" in text


def test_without_cgroups_the_fallback_is_stated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_SANDBOX_CGROUPS", "0")
    box = BwrapSandbox(LIMITS)
    try:
        assert box.pool.cgroups is None and box.enforced().memory is None
        text = describe(box)
        assert "256 MiB per process" in text
        result = box.run("x = bytearray(300 * 1024 * 1024)", "fallback")
        assert result.exit_reason == "memory"
    finally:
        box.close()


def test_session_cgroups_are_removed_and_stale_ones_reaped(tmp_path: Path) -> None:
    box = BwrapSandbox(LIMITS)
    if box.pool.cgroups is None:
        box.close()
        pytest.skip("no cgroups here")
    box.run("print(1)", "gone")
    cgroup = box.pool.get("gone").cgroup
    assert cgroup is not None and all(d.exists() for d in cgroup.dirs)
    parents = box.pool.cgroups.parents
    box.close()
    assert not any(d.exists() for d in cgroup.dirs) and not any(p.exists() for p in parents)
    stale = [p.parent / "qwengraph-999999999-deadbeef" for p in parents]  # no such pid
    for directory in stale:
        (directory / "s0-0").mkdir(parents=True)
    fresh = detect()
    assert fresh is not None
    try:
        assert not any(d.exists() for d in stale)
    finally:
        fresh.close()


def test_files_live_in_the_sandbox_only(sandbox: BwrapSandbox) -> None:
    sandbox.put_file("files", "in/data.txt", b"payload")
    assert sandbox.run("print(open('in/data.txt').read())", "files").stdout == "payload\n"
    assert sandbox.get_file("files", "in/data.txt") == b"payload"
    workdir = sandbox.pool.get("files").workdir
    assert not any(workdir.rglob("*")), "nothing of /workspace is on the host's disk"
    assert os.path.isdir(workdir)
