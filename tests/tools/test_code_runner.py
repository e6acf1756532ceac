"""The code runner: sessions, files, backend choice (fail closed), result formatting and the tool."""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Iterator

import pytest

import tools.code_runner as code_runner
from tools.code_runner import Limits, RunResult, make_sandbox
from tools.code_runner.bwrap import BwrapSandbox, bwrap_usable
from tools.code_runner.gvisor import gvisor_usable
from tools.code_runner.local_unsafe import UnsafeSubprocessSandbox
from tools.errors import SandboxUnavailable, ToolError, ToolInputError
from tools.run_python import format_result, make_run_python

REASON = bwrap_usable()
needs_bwrap = pytest.mark.skipif(REASON is not None, reason=f"bubblewrap is not usable here: {REASON}")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BwrapSandbox]:
    if REASON is not None:
        pytest.skip(f"bubblewrap is not usable here: {REASON}")
    box = BwrapSandbox(Limits(wall_seconds=8, cpu_seconds=3))
    yield box
    box.close()


def _result(**changes: object) -> RunResult:
    base = {
        "stdout": "",
        "stderr": "",
        "exception": None,
        "traceback": None,
        "stdout_truncated": False,
        "stderr_truncated": False,
        "duration": 0.01,
        "exit_reason": "ok",
    }
    return RunResult(**(base | changes))  # type: ignore[arg-type]


def test_state_persists_between_calls(sandbox: BwrapSandbox) -> None:
    sandbox.run("import math\nvalue = math.factorial(5)", "nb")
    result = sandbox.run("value + 1", "nb")
    assert result.stdout == "121\n"
    assert result.exit_reason == "ok"
    assert not result.state_lost


def test_sessions_are_isolated(sandbox: BwrapSandbox) -> None:
    sandbox.run("secret = 42\n_ = open('mine.txt', 'w').write('a')", "alice")
    result = sandbox.run("import os\nprint('secret' in globals(), os.listdir('.'))", "bob")
    assert result.stdout == "False []\n"


def test_exception_comes_back_with_a_user_level_traceback(sandbox: BwrapSandbox) -> None:
    result = sandbox.run("def f():\n    return 1 / 0\nf()", "tb")
    assert result.exit_reason == "error"
    assert result.exception == "ZeroDivisionError: division by zero"
    assert result.traceback is not None
    assert "return 1 / 0" in result.traceback
    assert "_worker.py" not in result.traceback


def test_stdout_and_stderr_are_separate(sandbox: BwrapSandbox) -> None:
    result = sandbox.run("import sys\nprint('out')\nprint('err', file=sys.stderr)", "streams")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_put_and_get_files(sandbox: BwrapSandbox) -> None:
    sandbox.put_file("files", "data/in.csv", b"a,b\n1,2\n")
    code = "rows = open('data/in.csv').read().split()\n_ = open('out.txt', 'w').write(str(len(rows)))"
    assert sandbox.run(code, "files").exit_reason == "ok"
    assert sandbox.get_file("files", "out.txt") == b"2"


def test_get_file_never_follows_a_planted_symlink(sandbox: BwrapSandbox) -> None:
    sandbox.run("import os\nos.symlink('/etc/passwd', 'link')", "links")
    with pytest.raises(ToolInputError):
        sandbox.get_file("links", "link")
    with pytest.raises(ToolInputError):
        sandbox.get_file("links", "../../etc/passwd")


def test_fortieth_fibonacci_number(sandbox: BwrapSandbox) -> None:
    code = "a, b = 0, 1\nfor _ in range(40):\n    a, b = b, a + b\nprint(a)"
    assert sandbox.run(code, "fib").stdout.strip() == "102334155"


@needs_bwrap
def test_idle_sessions_are_closed() -> None:
    box = BwrapSandbox(Limits(idle_seconds=0.3))
    try:
        box.run("x = 1", "idle")
        assert box.pool.session_ids() == ["idle"]
        deadline = time.monotonic() + 5
        while box.pool.session_ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert box.pool.session_ids() == []
        assert box.run("print('x' in globals())", "idle").stdout == "False\n"
    finally:
        box.close()


def test_run_python_tool_through_langchain(sandbox: BwrapSandbox) -> None:
    run_python = make_run_python(sandbox, "tool")
    assert run_python.name == "run_python"
    assert "persist" in run_python.description
    assert "No network" in run_python.description
    assert run_python.invoke({"code": "print(40*2)"}) == "stdout:\n80"
    assert "ZeroDivisionError" in run_python.invoke({"code": "1/0"})


def test_tool_turns_runner_errors_into_error_text() -> None:
    class Broken:
        name = "broken"
        limits = Limits()

        def run(self, code: str, session_id: str = "default") -> RunResult:
            raise SandboxUnavailable("no sandbox here")

        def put_file(self, session_id: str, path: str, data: bytes) -> None: ...

        def get_file(self, session_id: str, path: str) -> bytes:
            return b""

        def close_session(self, session_id: str) -> None: ...

        def close(self) -> None: ...

    tool = make_run_python(Broken())
    assert tool.invoke({"code": "1"}) == "Error: no sandbox here"
    assert tool.invoke({}).startswith("Error: run_python takes one argument")


def test_format_result_notes_limits() -> None:
    timeout = format_result(_result(exit_reason="timeout", exception="wall-clock limit of 10 s exceeded"))
    assert "Timed out" in timeout
    assert "variables are lost" in timeout
    truncated = format_result(_result(stdout="x" * 10, stdout_truncated=True, exit_reason="output_limit"))
    assert "[stdout truncated" in truncated
    assert "Memory limit" in format_result(_result(exit_reason="memory", exception="MemoryError"))
    assert format_result(_result()) == "(no output; print() what you want to see)"
    assert "restarted" in format_result(_result(stdout="1", state_lost=True))


def test_auto_fails_closed_without_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_runner, "bwrap_usable", lambda: "bwrap was not found")
    monkeypatch.setattr(code_runner, "gvisor_usable", lambda: "runsc was not found")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # never silently falls back to the unsafe backend
        with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap") as caught:
            make_sandbox()
    assert isinstance(caught.value, ToolError)
    with pytest.raises(SandboxUnavailable):
        make_sandbox("bwrap")


@needs_bwrap
def test_auto_picks_bwrap() -> None:
    box = make_sandbox()
    try:
        assert box.name == "bwrap"
    finally:
        box.close()


def test_unsafe_backend_warns_and_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_TEST_SECRET", "sk-unsafe")
    with pytest.warns(UserWarning, match="WITHOUT isolation"):
        box = make_sandbox("unsafe-subprocess", Limits(wall_seconds=5))
    assert isinstance(box, UnsafeSubprocessSandbox)
    try:
        box.run("n = 6", "s")
        result = box.run("import os\nprint(n * 7, os.environ.get('QWENGRAPH_TEST_SECRET'))", "s")
        assert result.stdout == "42 None\n"
    finally:
        box.close()


@pytest.mark.skipif(shutil.which("runsc") is None, reason="gVisor (runsc) is not installed here")
def test_gvisor_backend_runs_code() -> None:
    reason = gvisor_usable()
    if reason is not None:
        pytest.skip(f"runsc is installed but cannot run here: {reason}")
    box = make_sandbox("gvisor")
    try:
        assert box.run("x = 2", "g").exit_reason == "ok"
        assert box.run("print(x ** 10)", "g").stdout == "1024\n"
        assert "root:" not in box.run("print(open('/etc/passwd').read())", "g").stdout
    finally:
        box.close()


def test_closed_sandbox_refuses_work() -> None:
    with pytest.warns(UserWarning, match="WITHOUT isolation"):
        box = UnsafeSubprocessSandbox()
    box.close()
    with pytest.raises(ToolError):
        box.run("1", "late")
    assert os.path.isdir("/") and not os.path.exists(str(box.pool._root))
