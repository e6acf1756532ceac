"""Keys, exposure, hashing and the CLI's one-line errors of ``qwengraph serve`` (no server runs)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli import app
from agents.serve.guard import (
    ApiKey,
    Guard,
    check_exposure,
    hashed,
    key_name,
    load_keys,
    load_salt,
    parse_keys,
)
from graphs.errors import ConfigError
from graphs.paths import home


def test_key_files_name_keys_and_give_them_their_own_rates(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# comment\n\nsk-alice-0123456789 alice 30/min\nsk-anon-0123456789   # no name\n")
    keys = load_keys(path, ["sk-flag-0123456789 ci"])
    assert keys == {
        "sk-alice-0123456789": ApiKey("alice", 30.0),
        "sk-anon-0123456789": ApiKey(key_name("sk-anon-0123456789")),
        "sk-flag-0123456789": ApiKey("ci"),
    }
    assert key_name("sk-anon-0123456789").startswith("key-") and "anon" not in key_name("sk-anon-0123456789")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("short", "8+ characters"),
        ("sk-0123456789 a 5/min extra", "KEY [NAME] [RATE/min]"),
        ("sk-0123456789 a fast", "not a number"),
        ("sk-0123456789 a 0", "must be positive"),
    ],
)
def test_bad_key_lines_are_named(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        parse_keys(["# fine", line], source="keys.txt")
    assert str(err.value).startswith("keys.txt:2:")
    with pytest.raises(ConfigError, match="twice"):
        parse_keys(["sk-0123456789", "sk-0123456789"], source="keys.txt")


def test_guard_identifies_bearer_keys_in_constant_time_and_limits_each_key() -> None:
    guard = Guard(
        {"sk-alice-0123456789": ApiKey("alice"), "sk-bob-0123456789": ApiKey("bob", 6000)}, rate=1, burst=1
    )
    assert guard.identify("Bearer sk-alice-0123456789") == "alice"
    assert guard.identify("bearer sk-bob-0123456789 ") == "bob"
    assert guard.identify("Bearer sk-alice") is None and guard.identify(None) is None
    assert guard.identify("Basic sk-alice-0123456789") is None
    assert guard.wait("alice") == 0 and 55 < guard.wait("alice") <= 60  # one a minute, burst 1
    assert guard.wait("bob") == 0 and 0 < guard.wait("bob") <= 0.01  # its own 6000 a minute
    assert Guard({}).identify(None) == "anonymous"


def test_serving_without_keys_is_refused_beyond_loopback() -> None:
    check_exposure("127.0.0.1", {}, allow_open=False)
    check_exposure("::1", {}, allow_open=False)
    check_exposure("0.0.0.0", {"sk-0123456789": ApiKey("k")}, allow_open=False)
    check_exposure("0.0.0.0", {}, allow_open=True)
    with pytest.raises(ConfigError, match="without API keys"):
        check_exposure("0.0.0.0", {}, allow_open=False)


def test_hashed_ids_are_stable_per_salt_and_the_salt_is_private() -> None:
    salt = load_salt()
    assert load_salt() == salt and len(salt) == 32
    assert (home() / "serve-salt").stat().st_mode & 0o077 == 0
    assert hashed(salt, "user-1") == hashed(salt, "user-1") != hashed(salt, "user-2")
    assert hashed(b"other", "user-1") != hashed(salt, "user-1")
    assert hashed(salt, None) is None and "user-1" not in str(hashed(salt, "user-1"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["serve", *args])
    return result.exit_code, result.output


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    code, out = run("--host", "0.0.0.0", "--agent", "math-tutor")
    assert code == 2 and "refusing to serve on 0.0.0.0 without API keys" in out
    code, out = run("--api-keys", str(tmp_path / "missing"))
    assert code == 2 and "--api-keys: cannot read" in out
    code, out = run("--api-key", "short")
    assert code == 2 and "8+ characters" in out
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, out = run("--port", str(taken.getsockname()[1]), "--agent", "math-tutor")
    assert code == 2 and "cannot listen on 127.0.0.1" in out
    assert "Traceback" not in out
