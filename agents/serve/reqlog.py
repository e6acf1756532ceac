"""The server's request log: one JSON line per request, with no user content in it.

Each line: time, request id, agent, key name, hashed user id and conversation id
(:func:`agents.serve.guard.hashed`), stream or not, outcome and HTTP status, seconds, time to
first token, characters and messages in, tokens, tool calls and failures, the trace id, the error
type; the prompt and the answer as content hashes (:func:`agents.safety.redact`:
``sha256:<12 hex>… (N chars)``), never as text.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from graphs.errors import ConfigError


class RequestLog:
    """Appends request lines to a file (or stderr with ``-``; nowhere with ``None``)."""

    def __init__(self, target: str | Path | None) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._stream: TextIO | None = None
        if target is None:
            return
        if str(target) == "-":
            self._stream = sys.stderr
            return
        path = Path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("a", encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"--request-log: cannot open {path}: {err.strerror or err}") from None

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one line (the time first)."""
        if self._stream is None:
            return
        line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry}
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self._stream.write(text)
            self._stream.flush()

    def close(self) -> None:
        """Close the file (not stderr)."""
        if self._stream is not None and self._stream is not sys.stderr:
            self._stream.close()
        self._stream = None
