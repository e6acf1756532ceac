"""One exit-code table: the README states it, the code uses it, and each storage failure has its code."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from servers import CALC_ANSWER, OllamaServer
from typer.testing import CliRunner

import agents.agent_run
from agents.cli import app, main
from graphs.errors import (
    CassetteError,
    ConfigError,
    GraphError,
    MemoryError_,
    MemoryURIError,
    ModelError,
    ModelInstallError,
    RateLimited,
    StreamInterrupted,
    ThreadBusy,
    TraceNotFound,
)
from graphs.exit_codes import MEANINGS, ExitCode

README = Path(__file__).resolve().parents[1] / "README.md"
PROMPT = "What is 17*23? Use the calculator."


def cli(*args: str, **env: str):
    return CliRunner(env=env or None).invoke(app, list(args), catch_exceptions=False)


def assert_one_line(result, code: int, *phrases: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert "Traceback" not in err
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    for phrase in phrases:
        assert phrase in err, err
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readme_table_is_the_code_table() -> None:
    text = README.read_text()
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\d+)` \| (.+) \|$", section, re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == [(int(c), m) for c, m in MEANINGS.items()]
    assert set(MEANINGS) == set(ExitCode)


def test_error_classes_carry_codes_from_the_table() -> None:
    assert ConfigError.exit_code == ExitCode.USAGE == 2
    assert ModelError.exit_code == StreamInterrupted.exit_code == ExitCode.MODEL
    assert CassetteError.exit_code == ExitCode.CASSETTE
    assert ModelInstallError.exit_code == ExitCode.INSTALL
    assert MemoryError_.exit_code == ExitCode.STORAGE
    assert MemoryURIError.exit_code == TraceNotFound.exit_code == GraphError.exit_code == ExitCode.USAGE
    assert ThreadBusy.exit_code == ExitCode.BUSY
    assert RateLimited.exit_code == ExitCode.RATE_LIMITED
    assert ExitCode.STOPPED == 1  # nothing but a stopped run exits 1


def test_bad_memory_uri_is_usage() -> None:
    assert_one_line(cli("threads", "list", "--memory", "foo:bar"), 2, "unsupported memory URI")
    assert_one_line(cli("run", PROMPT, "--thread", "t", "--memory", "mysql://x"), 2, "accepted forms")


def test_threads_db_that_is_a_directory_is_storage(tmp_path: Path) -> None:
    folder = tmp_path / "threads.db"
    folder.mkdir()
    err = assert_one_line(cli("threads", "list", "--memory", f"sqlite:///{folder}"), 7, "is a directory")
    assert str(folder) in err


def test_corrupted_threads_db_is_storage(tmp_path: Path, ollama_server: OllamaServer) -> None:
    db = tmp_path / "threads.db"
    db.write_bytes(b"this is not a database\n" * 100)
    assert_one_line(
        cli("threads", "list", "--memory", f"sqlite:///{db}"), 7, "not a database", "move it away"
    )
    args = ["--model", "ollama:qwen3:8b", "--base-url", ollama_server.url, "--memory", f"sqlite:///{db}"]
    assert_one_line(cli("run", PROMPT, "--thread", "t", *args), 7, "not a database")
    assert ollama_server.chat_requests == [], "no model call before the thread store opened"


def test_unreachable_postgres_is_storage() -> None:
    uri = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    assert_one_line(cli("threads", "list", "--memory", uri), 7, "cannot connect to PostgreSQL at 127.0.0.1")


def test_failed_trace_write_is_a_warning_not_a_failure(ollama_server: OllamaServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "traces.db").mkdir(parents=True)  # the trace cannot be written there
    args = ["run", PROMPT, "--model", "ollama:qwen3:8b", "--base-url", ollama_server.url]
    result = CliRunner(env={"QWENGRAPH_HOME": str(home)}).invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert CALC_ANSWER in result.stdout
    warning = result.stderr.strip()
    assert warning.startswith("warning: the run's trace was not written"), warning
    assert len(warning.splitlines()) == 1 and "Traceback" not in warning


def test_record_to_an_unwritable_path_fails_before_the_run(
    ollama_server: OllamaServer, tmp_path: Path
) -> None:
    args = ["--model", "ollama:qwen3:8b", "--base-url", ollama_server.url]
    for target in ("/proc/qwengraph-cassette.json", str(tmp_path)):  # a read-only file system; a directory
        err = assert_one_line(cli("run", PROMPT, *args, "--record", target), 4, "cannot write cassette")
        assert ".tmp" not in err and "qwengraph-write-check" not in err
    assert ollama_server.chat_requests == []


def test_unexpected_error_is_one_line_with_code_70(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(agents.agent_run, "plan_run", broken)  # `run` imports it when it runs
    err = assert_one_line(cli("run", PROMPT), 70, "internal error (ZeroDivisionError: division by zero)")
    assert "QWENGRAPH_DEBUG=1" in err
    monkeypatch.setenv("QWENGRAPH_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("run", PROMPT)


def test_real_process_exit_codes(tmp_path: Path) -> None:
    """The console script as a shell sees it: code and one line, with non-UTF-8 bytes in argv."""
    env = {"PATH": "/usr/bin:/bin", "QWENGRAPH_HOME": str(tmp_path), "LANG": "C.UTF-8"}
    cases = [
        ([b"run", b"caf\xe9 au lait"], 2, "not valid UTF-8 (0xe9 at character 4)"),
        ([b"run", b"hi", b"--base-url", b"http://[::1", b"-m", b"ollama:q"], 2, "unbalanced"),
        ([b"threads", b"list", b"--memory", b"foo:bar"], 2, "unsupported memory URI"),
        ([b"run", b"hi", b"--no-such-flag"], 2, "No such option: --no-such-flag"),
    ]
    for argv, code, phrase in cases:
        proc = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"agents", *argv],
            capture_output=True,
            timeout=120,
            env=env,
            check=False,
        )
        err = proc.stderr.decode("utf-8", "replace").strip()
        assert proc.returncode == code, err
        assert "Traceback" not in err and len(err.splitlines()) == 1 and phrase in err, err


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["indexes", "--db", "x"], "No such option: --db (see `qwengraph indexes --help`)"),
        (["run"], "Missing argument 'PROMPT' (see `qwengraph run --help`)"),
        (["run", "hi", "--max-steps", "abc"], "Invalid value for '--max-steps'"),
        (["threads", "nosuch"], "No such command 'nosuch' (see `qwengraph threads --help`)"),
        (["search", "caf\udce9"], "the query is not valid UTF-8 (0xe9 at character 4)"),
    ],
    ids=["unknown-option", "missing-argument", "bad-value", "unknown-command", "undecodable-query"],
)
def test_what_click_refuses_is_one_line_with_code_2(
    argv: list[str], phrase: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script's entry point: click's framed usage box becomes the one-line form."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == ExitCode.USAGE
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and phrase in err, err
    assert captured.out == ""


def test_the_entry_point_passes_the_command_exit_code_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["threads", "list", "--memory", f"sqlite:///{tmp_path}/t.db"])
    assert exited.value.code == ExitCode.OK
    with pytest.raises(SystemExit) as exited:
        main(["threads", "list", "--memory", f"sqlite:///{tmp_path}"])  # a directory
    assert exited.value.code == ExitCode.STORAGE
    assert capsys.readouterr().err.startswith("error: ")
