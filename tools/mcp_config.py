"""MCP server configurations: the ``mcpServers`` JSON that Claude Desktop, Cursor and Qwen-Agent use.

::

    {"mcpServers": {
        "files":  {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."],
                   "env": {"DEBUG": "0"}, "cwd": "/tmp"},
        "remote": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "off":    {"command": "x", "disabled": true}
    }}

A server is either a command (stdio: the client starts it and talks over its stdin/stdout) or a URL
(streamable HTTP). ``type`` may say so explicitly (``stdio``, ``http``, ``streamable-http``,
``streamableHttp``); ``sse`` is refused with a clear message (deprecated by MCP 2026-07-28, and not
what servers deploy today). ``timeout`` is the seconds one tool call may take (default 60),
``disabled: true`` skips a server, ``${VAR}`` in a string is replaced from the environment (a
missing variable is an error, not an empty string). Keys this module does not know (``autoApprove``
and the like, from other clients) are ignored. ``"servers"`` is accepted for ``"mcpServers"``
(VS Code's spelling).

Errors are :class:`~tools.errors.ToolInputError` naming the file and server, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.errors import ToolInputError

__all__ = ["DEFAULT_TIMEOUT", "McpServerConfig", "load_mcp_config", "parse_mcp_config"]

DEFAULT_TIMEOUT = 60.0
"""Seconds one MCP tool call may take unless the server's ``timeout`` says otherwise."""

_HTTP_TYPES = {"http", "streamable-http", "streamable_http", "streamableHttp"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server: how to start or reach it.

    Attributes:
        name: the key in ``mcpServers``.
        command: the executable for a stdio server (``None`` for HTTP).
        args: its arguments.
        env: extra environment variables for the stdio process (merged over a minimal safe set).
        cwd: working directory of the stdio process.
        url: the streamable HTTP endpoint (``None`` for stdio).
        headers: HTTP headers sent with every request (e.g. ``Authorization``).
        timeout: seconds one tool call may take.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def transport(self) -> str:
        """``"stdio"`` or ``"http"``."""
        return "stdio" if self.command is not None else "http"

    @classmethod
    def http(cls, name: str, url: str, **options: Any) -> McpServerConfig:
        """A streamable HTTP server at ``url``."""
        return parse_server(name, {"url": url, **options}, where="")

    @classmethod
    def stdio(cls, name: str, command: str, *args: str, **options: Any) -> McpServerConfig:
        """A stdio server started as ``command args...``."""
        return parse_server(name, {"command": command, "args": list(args), **options}, where="")


def load_mcp_config(path: str | Path) -> dict[str, McpServerConfig]:
    """Read an ``mcpServers`` JSON file; disabled servers are left out.

    Raises:
        ToolInputError: the file is missing, not JSON, or a server entry is malformed.
    """
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolInputError(f"no MCP config at {source}") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ToolInputError(f"MCP config {source} is not readable JSON: {err}") from None
    return parse_mcp_config(data, where=f"{source}: ")


def parse_mcp_config(data: Any, *, where: str = "") -> dict[str, McpServerConfig]:
    """The enabled servers of an ``{"mcpServers": {...}}`` mapping (see the module docstring)."""
    if not isinstance(data, Mapping):
        raise ToolInputError(f'{where}an MCP config is a JSON object with "mcpServers"')
    servers = data.get("mcpServers", data.get("servers"))
    if not isinstance(servers, Mapping):
        raise ToolInputError(f'{where}an MCP config needs "mcpServers": {{"name": {{...}}, ...}}')
    found: dict[str, McpServerConfig] = {}
    for name, entry in servers.items():
        if not isinstance(entry, Mapping):
            raise ToolInputError(
                f"{where}MCP server {name!r}: expected an object, got {type(entry).__name__}"
            )
        if entry.get("disabled") is True:
            continue
        found[str(name)] = parse_server(str(name), entry, where=where)
    return found


def parse_server(name: str, entry: Mapping[str, Any], *, where: str) -> McpServerConfig:
    """One server entry, checked; raises :class:`ToolInputError` saying what is wrong."""
    label = f"{where}MCP server {name!r}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ToolInputError(f"{label}: a server name uses letters, digits, '_', '-' and '.' only")
    kind = entry.get("type", entry.get("transport"))
    command, url = entry.get("command"), entry.get("url")
    if kind == "sse":
        raise ToolInputError(
            f"{label}: the SSE transport is not supported (MCP 2026-07-28 deprecates it); "
            "use the server's streamable HTTP endpoint (usually .../mcp)"
        )
    if kind is not None and kind != "stdio" and kind not in _HTTP_TYPES:
        raise ToolInputError(f"{label}: unknown type {kind!r}: use stdio or http")
    if (command is None) == (url is None):
        raise ToolInputError(f'{label}: give either "command" (stdio) or "url" (streamable HTTP)')
    if (kind == "stdio" and command is None) or (kind in _HTTP_TYPES and url is None):
        raise ToolInputError(f"{label}: type {kind!r} does not match the entry's command/url")
    timeout = entry.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolInputError(f"{label}: timeout must be a positive number of seconds")
    if url is not None:
        text = _expand(_string(url, label, "url"), label)
        if not text.startswith(("http://", "https://")):
            raise ToolInputError(f"{label}: url must start with http:// or https://, not {text!r}")
        return McpServerConfig(
            name=name, url=text, headers=_strings(entry.get("headers"), label, "headers"), timeout=timeout
        )
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ToolInputError(f"{label}: args must be a list of strings")
    cwd = entry.get("cwd")
    return McpServerConfig(
        name=name,
        command=_expand(_string(command, label, "command"), label),
        args=tuple(_expand(a, label) for a in args),
        env=_strings(entry.get("env"), label, "env"),
        cwd=_expand(_string(cwd, label, "cwd"), label) if cwd is not None else None,
        timeout=timeout,
    )


def _string(value: Any, label: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ToolInputError(f"{label}: {key} must be a non-empty string")
    return value


def _strings(value: Any, label: str, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ToolInputError(f"{label}: {key} must be an object of strings")
    return {str(k): _expand(v, label) for k, v in value.items()}


def _expand(text: str, label: str) -> str:
    """Replace ``${VAR}`` from the environment; a missing variable is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ToolInputError(f"{label}: environment variable {name} is not set")
        return os.environ[name]

    return _VAR.sub(value, text)
