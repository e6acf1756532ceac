"""The CLI's input layer: undecodable text, bad URLs and names, binary files, stdin, approval prompt."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from servers import OllamaServer, Turn, message_text
from typer.testing import CliRunner

from agents import cli_input
from agents.cli import app
from agents.cli_common import TerminalApprover
from graphs.errors import ConfigError
from graphs.models.uri import check_base_url

PROMPT = "What is 17*23? Use the calculator."


def cli(*args: str, stdin: bytes | str = b""):
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def one_line(result, code: int, *phrases: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert "Traceback" not in err and err.startswith("error:") and len(err.splitlines()) == 1, err
    for phrase in phrases:
        assert phrase in err, err
    return err


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://[::1", "unbalanced '[' ']'"),
        ("http://[::1]:99999", "out of range"),
        ("http://", "names no host"),
        ("http://a b:1", "blanks or control characters"),
        ("localhost:11434", "must start with http"),
        ("http://h:abc", "port"),
        ("http://h\udcff:1", "not valid UTF-8 (0xff at character 9)"),
    ],
)
def test_bad_base_urls_are_refused_before_anything_runs(url: str, phrase: str) -> None:
    with OllamaServer() as server:
        result = cli("run", PROMPT, "--model", "ollama:qwen3:8b", "--base-url", url)
        assert server.requests == []
    one_line(result, 2, phrase)


def test_good_base_urls_pass() -> None:
    assert check_base_url("http://[::1]:11434/") == "http://[::1]:11434"
    assert check_base_url(" https://example.org/v1 ") == "https://example.org/v1"


def test_base_url_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_BASE_URL", "http://[::1")
    one_line(cli("run", PROMPT, "--model", "ollama:qwen3:8b"), 2, "QWENGRAPH_BASE_URL")


def test_undecodable_prompt_names_the_byte() -> None:
    err = one_line(cli("run", "caf\udce9 au lait", "--model", "ollama:q"), 2, "the prompt is not valid UTF-8")
    assert "0xe9 at character 4" in err


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["run", "hi\x00there"], "NUL character"),
        (["run", "hi", "--thread", "a\nb"], "control characters"),
        (["run", "hi", "--thread", "  "], "--thread is empty"),
        (["run", "   "], "the prompt is empty"),
        (["threads", "show", "x\udcff"], "not valid UTF-8"),
    ],
)
def test_bad_text_arguments(args: list[str], phrase: str) -> None:
    one_line(cli(*args), 2, phrase)


def test_workflow_validate_refuses_binary_and_non_utf8_files(tmp_path: Path) -> None:
    binary = tmp_path / "flow.yaml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    one_line(cli("workflow", "validate", str(binary)), 2, f"{binary}: a binary file")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: demo\nsteps:\n  - id: caf\xe9\n")
    one_line(cli("workflow", "validate", str(latin)), 2, f"{latin}:3: not UTF-8 text (byte 0xe9)")
    one_line(cli("workflow", "validate", str(tmp_path)), 2, "is a directory")
    control = tmp_path / "control.yaml"
    control.write_text("name: demo\x07\nsteps: []\n")
    one_line(cli("workflow", "validate", str(control)), 2, "invalid YAML")


def test_text_file_reads_utf8(tmp_path: Path) -> None:
    good = tmp_path / "ok.yaml"
    good.write_text("name: café\n", encoding="utf-8")
    assert cli_input.text_file(good) == "name: café\n"


def test_read_line_decodes_strictly() -> None:
    stream = io.BytesIO("héllo\n".encode() + b"bad \xff\n")
    assert cli_input.read_line(stream) == "héllo"
    with pytest.raises(ConfigError, match=r"0xff at byte 5"):
        cli_input.read_line(stream)
    assert cli_input.read_line(stream) is None


def echo(body: dict) -> Turn:
    users = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "user"]
    return Turn(content=f"seen: {' | '.join(users)}")


def test_chat_reports_a_bad_line_and_goes_on() -> None:
    with OllamaServer(echo) as server:
        args = ["chat", "--thread", "t", "--model", "ollama:qwen3:8b", "--base-url", server.url]
        result = cli(*args, stdin=b"caf\xe9\nhello\n")
        assert len(server.chat_requests) == 1
    assert result.exit_code == 0, result.stderr
    assert "error: the input line is not valid UTF-8 (byte 0xe9 at byte 4)" in result.stderr
    assert "seen: hello" in result.stdout


def test_approval_prompt_shows_its_keys_and_no_markup() -> None:
    out = io.StringIO()
    from rich.console import Console

    approver = TerminalApprover(Console(file=out, width=200, highlight=False))
    import sys

    stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b"a\n"))
    try:
        decision = approver({"name": "run_python", "args": {"code": "print('[bold]x[/]')"}, "id": "1"})
    finally:
        sys.stdin = stdin
    text = out.getvalue()
    assert decision == {"action": "approve"}
    assert "[a]pprove / [r]eject / [e]dit" in text
    assert "print('[bold]x[/]')" in text  # model-written brackets are shown, not interpreted
