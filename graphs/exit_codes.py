"""The exit codes of the ``qwengraph`` command: one table, shared by the code, the README and a test.

Every error class carries its code (``QwenGraphError.exit_code``); the CLI maps the tool library's
errors and the few non-qwengraph failures it expects onto the same table. ``tests/test_exit_codes.py``
checks that the README's "Exit codes" table lists exactly these codes with these meanings.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``qwengraph`` exit status means (see :data:`MEANINGS`)."""

    OK = 0
    STOPPED = 1
    USAGE = 2
    MODEL = 3
    CASSETTE = 4
    INSTALL = 5
    TOOL = 6
    STORAGE = 7
    BUSY = 8
    RATE_LIMITED = 9
    INTERNAL = 70
    INTERRUPTED = 130


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success: the answer is printed",
    ExitCode.STOPPED: "the run stopped before a finished answer (step limit, replan limit, unusable plan); "
    "what it had is printed",
    ExitCode.USAGE: "bad input: a flag, model URI, memory URI, prompt, file or setting",
    ExitCode.MODEL: "model server or reply problem: unreachable, timed out, HTTP error, rate limited "
    "past its retries, unknown model, unreadable reply, stream cut mid-answer",
    ExitCode.CASSETTE: "record/replay: drift from the recording, unplayed interactions, unwritable or "
    "unreadable cassette",
    ExitCode.INSTALL: "local model install: unknown name, no disk space, download or checksum failure",
    ExitCode.TOOL: "a tool or program cannot run here (no usable code sandbox; Graphviz missing or failing "
    "for a drawing)",
    ExitCode.STORAGE: "a database or file cannot be opened or written: threads, memory, an output file "
    "(corrupted, a directory, unreachable PostgreSQL, disk full)",
    ExitCode.BUSY: "the thread is in use by another run and `--no-wait` was given",
    ExitCode.RATE_LIMITED: "a user is over the rate limit (`agents.safety.RateLimiter`)",
    ExitCode.INTERNAL: "an unexpected internal error (a bug: please report it; `QWENGRAPH_DEBUG=1` "
    "shows the traceback)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
"""One line per code, as the README's table states it."""
