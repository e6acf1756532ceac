"""The one place where command-line input is decoded and validated, before anything runs.

Python hands command-line arguments over as text, decoding bytes that are not UTF-8 into lone
surrogates (``surrogateescape``); such text cannot be sent to a server, stored in SQLite or printed,
so it is refused here with the position of the bad byte. Files named on the command line are read
as bytes and decoded strictly; a binary file is refused by name. Standard input (``qwengraph chat``)
is decoded line by line the same way. Every problem is a :class:`~graphs.errors.ConfigError`: one
line on stderr and exit code 2 (``graphs.exit_codes.ExitCode.USAGE``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from graphs.errors import ConfigError, MemoryURIError
from graphs.memory.backends import parse_uri
from graphs.models.uri import check_base_url

__all__ = ["base_url", "memory_uri", "name", "prompt", "read_line", "text", "text_file"]

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest text file a command reads (workflow files are a few kilobytes)."""


def text(value: str, what: str) -> str:
    """``value`` when it is valid UTF-8 without NUL characters, else a :class:`ConfigError`."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raw = value[err.start : err.end].encode("utf-8", "surrogateescape")
        byte = f"0x{raw[0]:02x}" if raw else "a byte"
        raise ConfigError(
            f"{what} is not valid UTF-8 ({byte} at character {err.start + 1}); "
            "check the terminal's encoding or the file it came from"
        ) from None
    if "\x00" in value:
        raise ConfigError(f"{what} contains a NUL character (at character {value.index(chr(0)) + 1})")
    return value


def prompt(value: str) -> str:
    """A prompt: valid text, not blank."""
    text(value, "the prompt")
    if not value.strip():
        raise ConfigError("the prompt is empty")
    return value


def name(value: str | None, what: str) -> str | None:
    """A thread, user or run name: valid text, not blank, no control characters."""
    if value is None:
        return None
    text(value, what)
    if not value.strip():
        raise ConfigError(f"{what} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(f"{what} {value!r} contains control characters")
    return value


def base_url(value: str | None) -> str | None:
    """``--base-url`` (else ``QWENGRAPH_BASE_URL``) checked as a URL; ``None`` when neither is set."""
    chosen = value or os.environ.get("QWENGRAPH_BASE_URL") or None
    if chosen is None:
        return value
    source = "--base-url" if value else "QWENGRAPH_BASE_URL"
    text(chosen, source)
    try:
        check_base_url(chosen)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return value


def memory_uri(value: str | None) -> str | None:
    """``--memory`` (else ``QWENGRAPH_MEMORY``) checked against the accepted URI forms."""
    chosen = value or os.environ.get("QWENGRAPH_MEMORY") or None
    if chosen is not None:
        source = "--memory" if value else "QWENGRAPH_MEMORY"
        text(chosen, source)
        try:
            parse_uri(chosen)
        except MemoryURIError as err:
            raise MemoryURIError(f"{source}: {err}") from None
    return value


def text_file(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``: unreadable, binary, over-large or non-UTF-8 files are refused.

    Messages start with the path (``flow.yaml:3: not UTF-8 text``), as compilers and linters write
    them; ``what`` names the file's role for the rest.
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ConfigError(f"{file}: cannot read: it is a directory, not a {what}") from None
    except OSError as err:
        raise ConfigError(f"{file}: cannot read: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{file}: larger than {MAX_FILE_BYTES // 2**20} MiB, too large for a {what}")
    if b"\x00" in data:
        raise ConfigError(f"{file}: a binary file, not a {what} (text)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(f"{file}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x})") from None


def read_line(stream: BinaryIO) -> str | None:
    """One line of standard input, decoded strictly; ``None`` at the end of input."""
    raw = stream.readline()
    if not raw:
        return None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"the input line is not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1})"
        ) from None
    return text(line.rstrip("\n"), "the input line")
