"""``qwengraph mcp serve``: our tools inside an MCP client (the ``mcp`` SDK's own ``Client``),
over stdio and over streamable HTTP, with one sandbox session per MCP session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from servers.processes import free_port, python, serve
from typer.testing import CliRunner

from agents.cli import app
from tools.code_runner import Limits
from tools.code_runner.bwrap import bwrap_usable

pytestmark = pytest.mark.slow  # the server is a subprocess importing the SDK and the tools

DOCS = Path(__file__).parent / "fixtures" / "docs"
needs_sandbox = pytest.mark.skipif(bwrap_usable() is not None, reason=f"bubblewrap: {bwrap_usable()}")


def text(result) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


@pytest.fixture
def indexed_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A qwengraph home with the fixture documents ingested."""
    home = tmp_path / "home"
    monkeypatch.setenv("QWENGRAPH_HOME", str(home))
    assert CliRunner().invoke(app, ["ingest", str(DOCS)]).exit_code == 0
    return home


def stdio_params(home: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=python(), args=["-m", "agents", "mcp", "serve", *extra], env={"QWENGRAPH_HOME": str(home)}
    )


@needs_sandbox
async def test_stdio_offers_our_tools_with_their_real_limits(indexed_home: Path) -> None:
    async with Client(stdio_params(indexed_home)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert list(tools) == ["calculator", "symbolic", "run_python", "search"]
        limits = Limits()
        run_python = tools["run_python"].description or ""
        assert f"{limits.wall_seconds:g} s wall time" in run_python and "Sandbox: bwrap" in run_python
        assert "factorial up to 1,000!" in (tools["calculator"].description or "")
        assert "10 s per operation" in (tools["symbolic"].description or "")
        assert "Index: 5 files" in (tools["search"].description or "")
        assert tools["calculator"].input_schema["required"] == ["expression"]

        assert text(await client.call_tool("calculator", {"expression": "2,480 + $2,500"})) == "4980"
        bad = await client.call_tool("calculator", {"expression": "17*"})
        assert bad.is_error and text(bad).startswith("Error: could not parse")
        derivative = await client.call_tool("symbolic", {"operation": "differentiate", "expression": "x^3"})
        assert text(derivative) == "3*x^2"
        found = text(await client.call_tool("search", {"query": "refund policy"}))
        assert found.startswith("[1] ") and "billing.py:" in found
        # one stdio connection = one sandbox session: variables persist
        assert "no output" in text(await client.call_tool("run_python", {"code": "x = 41"}))
        assert text(await client.call_tool("run_python", {"code": "print(x + 1)"})) == "stdout:\n42"
        escape = text(await client.call_tool("run_python", {"code": "open('/etc/shadow').read()"}))
        assert "PermissionError" in escape or "FileNotFoundError" in escape


def test_a_tool_named_explicitly_that_cannot_work_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["mcp", "serve", "--tools", "search", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no document index at" in result.stderr
    named = CliRunner().invoke(app, ["mcp", "serve", "--tools", "search", "--index", "nowhere"])
    assert named.exit_code == 2 and "no document index at" in named.stderr and "nowhere.db" in named.stderr


def test_serve_rejects_an_unknown_transport() -> None:
    result = CliRunner().invoke(app, ["mcp", "serve", "--transport", "carrier-pigeon"])
    assert result.exit_code == 2 and "--transport must be stdio or http" in result.stderr


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("mcp-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    argv = [
        python(),
        "-m",
        "agents",
        "mcp",
        "serve",
        "--transport",
        "http",
        "--port",
        str(port),
        "--tools",
        "calculator,run_python",
    ]
    with serve(argv, url, env={"QWENGRAPH_HOME": str(home)}):
        yield url


@needs_sandbox
async def test_http_sessions_keep_variables_apart(http_server: str) -> None:
    # MCP up to 2025-11-25: the transport's Mcp-Session-Id is the sandbox session
    async with Client(http_server, mode="legacy") as first, Client(http_server, mode="legacy") as second:
        assert [t.name for t in (await first.list_tools()).tools] == ["calculator", "run_python"]
        await first.call_tool("run_python", {"code": "secret = 'first'"})
        await second.call_tool("run_python", {"code": "secret = 'second'"})
        assert text(await first.call_tool("run_python", {"code": "print(secret)"})) == "stdout:\nfirst"
        assert text(await second.call_tool("run_python", {"code": "print(secret)"})) == "stdout:\nsecond"
        assert text(await first.call_tool("calculator", {"expression": "1/3"})).endswith("(exactly 1/3)")


@needs_sandbox
async def test_http_without_protocol_sessions_hands_out_a_session_handle(http_server: str) -> None:
    # MCP 2026-07-28 has no protocol sessions: the result carries a handle to pass back
    async with Client(http_server) as client:
        assert client.protocol_version == "2026-07-28"
        first = text(await client.call_tool("run_python", {"code": "total = 40"}))
        assert first.splitlines()[-1].startswith("[session: ")
        handle = first.splitlines()[-1].removeprefix("[session: ").rstrip("]")
        again = await client.call_tool("run_python", {"code": "print(total + 2)", "session": handle})
        assert text(again) == "stdout:\n42"
        fresh = text(await client.call_tool("run_python", {"code": "print('total' in dir())"}))
        assert fresh.startswith("stdout:\nFalse")
        unknown = await client.call_tool("run_python", {"code": "1", "session": "not-a-handle"})
        assert unknown.is_error and "unknown or expired session" in text(unknown)
