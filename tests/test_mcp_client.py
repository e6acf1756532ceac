"""MCP client: a real MCP server's tools (the SDK's own MCPServer) inside qwengraph runs.

The server is ``tests/servers/mcp_demo.py``, started over stdio by the client itself, or over
streamable HTTP as a subprocess; the model is a loopback vLLM server whose script calls the MCP tool
and answers only with what the tool returned, so a passing answer proves the tool ran.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Turn, VLLMServer, message_text
from servers.processes import MCP_DEMO, free_port, python, serve
from typer.testing import CliRunner

from agents.agent_run import run_agent
from agents.cli import app
from agents.spec import AgentSpec
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from tools.errors import ToolInputError
from tools.mcp_client import McpUnavailable, open_mcp_tools
from tools.mcp_config import McpServerConfig, load_mcp_config, parse_mcp_config

pytestmark = pytest.mark.slow  # each MCP server is a Python process that imports the SDK (~2 s CPU)

STDIO = {"command": python(), "args": [str(MCP_DEMO), "stdio"]}


def order_script(body: dict) -> Turn:
    """Call order_status on A-1001, then answer with the tool's words (or say it failed)."""
    results = [message_text(m.get("content")) for m in body["messages"] if m.get("role") == "tool"]
    if not results:
        return Turn(thinking="I need the order tool.", tool_calls=[("order_status", {"order_id": "A-1001"})])
    return Turn(content=f"Status: {results[-1]}")


def cli(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)


def write_config(tmp_path: Path, servers: dict) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def http_demo() -> Iterator[str]:
    """The demo server over streamable HTTP; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with serve([python(), str(MCP_DEMO), "http", str(port)], url):
        yield url


# --------------------------------------------------------------------------- config


def test_config_reads_stdio_and_http_servers_and_skips_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_TOKEN", "s3cret")
    path = write_config(
        tmp_path,
        {
            "files": {"command": "npx", "args": ["-y", "server"], "env": {"A": "1"}, "timeout": 5},
            "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X": "${DEMO_TOKEN}"}},
            "off": {"command": "nothing", "disabled": True},
        },
    )
    servers = load_mcp_config(path)
    assert sorted(servers) == ["files", "remote"]
    assert servers["files"].transport == "stdio" and servers["files"].args == ("-y", "server")
    assert servers["files"].timeout == 5
    assert servers["remote"].transport == "http" and servers["remote"].headers == {"X": "s3cret"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "http://x/sse", "type": "sse"}, "SSE transport is not supported"),
        ({"command": "a", "url": "http://x"}, 'either "command" (stdio) or "url"'),
        ({}, 'either "command" (stdio) or "url"'),
        ({"command": "a", "type": "websocket"}, "unknown type 'websocket'"),
        ({"url": "ftp://x"}, "url must start with http://"),
        ({"command": "a", "args": "b"}, "args must be a list of strings"),
        ({"command": "a", "timeout": 0}, "timeout must be a positive number"),
        ({"command": "${NO_SUCH_VARIABLE_17}"}, "environment variable NO_SUCH_VARIABLE_17 is not set"),
    ],
)
def test_bad_config_entries_say_what_is_wrong(entry: dict, message: str) -> None:
    with pytest.raises(ToolInputError, match="MCP server 'demo'") as caught:
        parse_mcp_config({"mcpServers": {"demo": entry}})
    assert message in str(caught.value)


def test_a_config_file_that_is_not_json_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "mcp.json"
    bad.write_text("{not json", encoding="utf-8")
    result = cli("run", "hi", "--mcp", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: MCP config") and "not readable JSON" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- tools over stdio


def test_stdio_server_tools_are_langchain_tools_on_one_connection() -> None:
    server = McpServerConfig.stdio("demo", STDIO["command"], *STDIO["args"])
    with open_mcp_tools([server], taken={"add"}) as tools:
        by_name = {t.name: t for t in tools}
        assert set(by_name) == {"order_status", "count", "nap", "refuse", "demo_add"}  # add was taken
        assert by_name["order_status"].args["order_id"]["type"] == "string"
        assert "Look up an order" in by_name["order_status"].description
        assert by_name["order_status"].invoke({"order_id": "A-1002"}) == "order A-1002: in the warehouse"
        assert by_name["demo_add"].invoke({"a": 2, "b": 40}) == "42"
        # one process for the whole run: the server's counter goes on
        assert [by_name["count"].invoke({}) for _ in range(3)] == ["1", "2", "3"]
        failed = by_name["refuse"].invoke({})
        assert failed.startswith("Error") and "this tool always fails" in failed


def test_select_keeps_the_named_tools_and_rejects_unknown_ones() -> None:
    server = McpServerConfig.stdio("demo", STDIO["command"], *STDIO["args"])
    with pytest.raises(McpUnavailable, match="has no tool nope; it offers: add, count, nap"):
        with open_mcp_tools([server], select={"demo": {"nope"}}):
            pass


def test_a_server_that_cannot_start_is_one_clear_error() -> None:
    crash = McpServerConfig.stdio(
        "crash", python(), "-c", "import sys; print('boom: bad key', file=sys.stderr)"
    )
    with pytest.raises(McpUnavailable) as caught:
        with open_mcp_tools([crash]):
            pass
    assert "MCP server 'crash'" in str(caught.value) and "boom: bad key" in str(caught.value)
    missing = McpServerConfig.stdio("gone", "/no/such/mcp-server")
    with pytest.raises(McpUnavailable, match="command not found"):
        with open_mcp_tools([missing]):
            pass


def test_the_cli_reports_an_unreachable_server_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"remote": {"url": f"http://127.0.0.1:{free_port()}/mcp"}})
    with VLLMServer(order_script) as model:
        result = cli(
            "run",
            "Where is A-1001?",
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            model.base_url,
            "--mcp",
            str(config),
        )
        assert model.chat_requests == []  # nothing was asked of the model
    assert result.exit_code == 6
    assert result.stderr.startswith("error: tool: MCP server 'remote'") and "not available" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- inside qwengraph run


def test_run_uses_a_stdio_mcp_tool_and_traces_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"demo": STDIO})
    with VLLMServer(order_script) as model:
        result = cli(
            "run",
            "Where is my order A-1001?",
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            model.base_url,
            "--mcp",
            str(config),
            "--json",
        )
        offered = [t["function"]["name"] for t in model.chat_requests[0]["tools"]]
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (
        out["answer"] == "Status: order A-1001: shipped on 2026-03-02 by DHL, tracking 00340434161234567890"
    )
    assert offered == ["calculator", "order_status", "count", "nap", "refuse", "add"]
    from graphs.memory.trace_store import default_db_path

    with sqlite3.connect(default_db_path()) as db:
        rows = db.execute("SELECT name, outcome FROM tool_calls").fetchall()
    assert rows == [("order_status", "ok")]


def test_run_uses_a_streamable_http_mcp_tool_picked_with_tools(tmp_path: Path, http_demo: str) -> None:
    config = write_config(tmp_path, {"shop": {"type": "http", "url": http_demo}})
    with VLLMServer(order_script) as model:
        result = cli(
            "run",
            "Where is my order A-1001?",
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            model.base_url,
            "--mcp",
            str(config),
            "--tools",
            "calculator,mcp:shop/order_status",
            "--json",
        )
        offered = [t["function"]["name"] for t in model.chat_requests[0]["tools"]]
    assert result.exit_code == 0, result.stderr
    assert offered == ["calculator", "order_status"]
    assert json.loads(result.stdout)["answer"].startswith("Status: order A-1001: shipped on 2026-03-02")


def test_an_mcp_tool_needs_approval_like_ours(tmp_path: Path, http_demo: str) -> None:
    config = write_config(tmp_path, {"shop": {"url": http_demo}})
    with VLLMServer(order_script) as model:
        result = cli(
            "run",
            "Where is my order A-1001?",
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            model.base_url,
            "--mcp",
            str(config),
            "--approve",
            "order_status",
            "--json",
            stdin="r\n",
        )
    assert result.exit_code == 0, result.stderr
    assert "approve order_status" in result.stderr
    answer = json.loads(result.stdout)["answer"]
    assert "rejected" in answer and "shipped" not in answer


def test_approving_a_tool_nobody_offers_is_a_clear_error(tmp_path: Path) -> None:
    with VLLMServer(order_script) as model:
        result = cli(
            "run",
            "hi",
            "--model",
            "openai:Qwen/Qwen3-8B",
            "--base-url",
            model.base_url,
            "--approve",
            "order_status",
        )
    assert result.exit_code == 2
    assert "--approve: no tool named order_status is offered (offered: calculator)" in result.stderr


def test_an_mcp_call_past_the_servers_timeout_is_an_error_result(http_demo: str) -> None:
    server = McpServerConfig.http("shop", http_demo, timeout=1)
    with open_mcp_tools([server], select={"shop": {"nap"}}) as tools:
        text = tools[0].invoke({"seconds": 5})
    assert text.startswith("Error") and "took longer than 1 s" in text


def test_an_agent_spec_names_mcp_tools(http_demo: str) -> None:
    spec = AgentSpec(
        name="shop-helper",
        description="Answers order questions.",
        tools=("mcp:shop/order_status",),
        prompt="react",
        mcp_servers={"shop": {"url": http_demo}},
    )
    with VLLMServer(order_script) as model:
        llm = ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=model.base_url)
        result = run_agent(spec, "Where is A-1001?", chat_model=llm, trace=False)
        offered = [t["function"]["name"] for t in model.chat_requests[0]["tools"]]
    assert offered == ["order_status"]
    assert result.answer.startswith("Status: order A-1001: shipped")


def test_an_agent_naming_an_unconfigured_server_says_where_to_configure_it() -> None:
    spec = AgentSpec(name="x", description="x", tools=("mcp:nowhere",), prompt="react")
    with pytest.raises(ConfigError, match="no MCP server named 'nowhere' is configured"):
        run_agent(
            spec, "hi", chat_model=ChatQwen(model="openai:Qwen/Qwen3-8B", base_url="http://127.0.0.1:9/v1")
        )


def test_malformed_mcp_entries_are_refused_early() -> None:
    with pytest.raises(ConfigError, match="write mcp:SERVER or mcp:SERVER/TOOL"):
        AgentSpec(name="x", description="x", tools=("mcp:a/b/c",), prompt="react")
    with pytest.raises(ConfigError, match="SSE transport"):
        AgentSpec(
            name="x",
            description="x",
            tools=("mcp:a",),
            prompt="react",
            mcp_servers={"a": {"url": "http://x", "type": "sse"}},
        )
