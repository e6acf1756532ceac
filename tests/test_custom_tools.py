"""Your own tools everywhere: AgentSpec objects, ``--tools module:attribute``, the ``qwengraph.tools``
entry point group, async tools; the same approval and tracing as the built-ins."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool, tool
from servers import OllamaServer, Turn, message_text
from typer.testing import CliRunner

from agents.agent_run import run_agent
from agents.cli import app
from agents.runner import run
from agents.spec import AgentSpec, builtin_agents
from agents.tool_refs import installed_tools, load_reference
from agents.toolbox import open_tools, parse_tool_names
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen

PLUGINS = Path(__file__).parent / "fixtures" / "plugins"


@pytest.fixture
def mypkg(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The test package ``mypkg`` importable and installed (its dist-info offers tools by name)."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    import mypkg.tools

    mypkg.tools.CALLS.clear()
    return mypkg.tools


def weather_script(body: dict[str, Any]) -> Turn:
    """Calls whichever of weather/forecast is offered, then answers with the tool's result."""
    results = [message_text(m.get("content")) for m in body["messages"] if m["role"] == "tool"]
    if results:
        return Turn(thinking="The tool answered.", content=f"Here you go: {results[-1]}")
    names = [t["function"]["name"] for t in body.get("tools") or []]
    name = "forecast" if "forecast" in names else "weather"
    return Turn(thinking=f"I should use {name}.", tool_calls=[(name, {"city": "Paris"})])


def llm(server: OllamaServer) -> ChatQwen:
    return ChatQwen(model="ollama:qwen3:8b", base_url=server.url)


def test_an_agent_spec_takes_tool_objects_beside_names(mypkg: Any) -> None:
    def local_time(city: str) -> str:
        """The local time in a city."""
        return "12:00"

    spec = AgentSpec(
        name="traveller", description="d", tools=("calculator", mypkg.weather, local_time), prompt="react"
    )
    assert spec.tools[0] == "calculator" and spec.tools[1] is mypkg.weather
    assert isinstance(spec.tools[2], BaseTool) and spec.tools[2].name == "local_time"
    assert spec.tool_names() == ["calculator", "local_time", "weather"]
    with open_tools(spec.tools) as opened:
        assert [t.name for t in opened] == ["calculator", "weather", "local_time"]
    with pytest.raises(ConfigError, match=r"agent 'bad': .*is not a tool"):
        AgentSpec(name="bad", description="d", tools=(42,), prompt="react")


def test_a_preset_agent_runs_with_a_users_own_tool_from_python(mypkg: Any) -> None:
    with OllamaServer(weather_script) as server:
        math_tutor = builtin_agents(has_index=False).get("math-tutor")
        result = run_agent(math_tutor.with_tools(mypkg.weather), "Weather in Paris?", chat_model=llm(server))
        sent = server.chat_requests[0]
    assert [t["function"]["name"] for t in sent["tools"]] == ["calculator", "symbolic", "weather"]
    assert "Tools available: calculator, symbolic, weather" in sent["messages"][0]["content"]
    assert mypkg.CALLS == ["weather:Paris"]
    assert result.tool_calls[0].result == "Sunny, 21 C in Paris"
    assert result.answer == "Here you go: Sunny, 21 C in Paris"


def test_an_async_only_tool_runs_on_the_sync_path(mypkg: Any) -> None:
    """It used to return ``NotImplementedError: StructuredTool does not support sync invocation``."""
    with OllamaServer(weather_script) as server:
        result = run("Forecast for Paris?", chat_model=llm(server), tools=[mypkg.forecast], trace=False)
    assert result.tool_calls[0].result == "3 more sunny days in Paris"
    assert mypkg.CALLS == ["forecast:Paris:3"]


@pytest.mark.parametrize(
    ("reference", "names"),
    [
        ("mypkg.tools:weather", ["weather"]),
        ("mypkg.tools:forecast", ["forecast"]),
        ("mypkg.tools:travel_tools", ["weather", "forecast"]),
    ],
)
def test_references_name_a_tool_a_function_or_a_factory(mypkg: Any, reference: str, names: list[str]) -> None:
    assert [t.name for t in load_reference(reference)] == names


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("nopkg.tools:weather", "cannot import 'nopkg.tools'"),
        ("mypkg.tools:rain", "has no attribute 'rain'"),
        ("mypkg.tools:NUMBER", "is a int, not a tool"),
        ("mypkg.tools:not_a_tool", "returned str, not tools"),
    ],
)
def test_bad_references_are_one_line_config_errors(mypkg: Any, reference: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_reference(reference)


def test_installed_packages_offer_tools_by_name(mypkg: Any) -> None:
    assert {"weather", "travel", "broken"} <= set(installed_tools())
    assert parse_tool_names("calculator, weather,travel") == ["calculator", "weather", "travel"]
    with open_tools(["weather", "travel"]) as opened:  # the same weather tool twice counts once
        assert [t.name for t in opened] == ["weather", "forecast"]
    with pytest.raises(ConfigError, match=r"tool 'broken' .*failed to load"), open_tools(["broken"]):
        pass
    with pytest.raises(ConfigError, match=r"unknown tool rain: choose from calculator.*weather"):
        parse_tool_names("rain")


def test_two_different_tools_with_one_name_are_refused(mypkg: Any) -> None:
    @tool("weather")
    def other(city: str) -> str:
        """Another weather."""
        return "rain"

    with (
        pytest.raises(ConfigError, match="two tools are named 'weather'"),
        open_tools([mypkg.weather, other]),
    ):
        pass


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_cli_runs_a_preset_agent_with_tools_from_a_reference(mypkg: Any) -> None:
    with OllamaServer(weather_script) as server:
        result = cli(
            "run", "Weather in Paris?", "--agent", "automation", "--json", "--model", "ollama:qwen3:8b",
            "--base-url", server.url, "--tools", "calculator,mypkg.tools:weather",
        )  # fmt: skip
        sent = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["tool_calls"] == [
        {"name": "weather", "args": {"city": "Paris"}, "result": "Sunny, 21 C in Paris"}
    ]
    assert [t["function"]["name"] for t in sent["tools"]] == ["calculator", "weather"]
    assert "calculator, weather" in sent["messages"][0]["content"]  # the automation prompt lists them


def test_cli_takes_installed_names_and_reports_bad_references(mypkg: Any) -> None:
    with OllamaServer(weather_script) as server:
        ok = cli("run", "Forecast?", "--json", "--model", "ollama:qwen3:8b", "--base-url", server.url,
                 "--tools", "travel")  # fmt: skip
        assert ok.exit_code == 0, ok.stderr
        assert json.loads(ok.stdout)["tool_calls"][0]["name"] == "forecast"
        bad = cli(
            "run", "x", "--model", "ollama:qwen3:8b", "--base-url", server.url, "--tools", "mypkg.tools:rain"
        )
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --tools mypkg.tools:rain: mypkg.tools has no attribute 'rain'"
    ]


def test_approval_and_tracing_apply_to_custom_tools(mypkg: Any, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    decisions: list[dict[str, Any]] = []

    def approver(request: dict[str, Any]) -> dict[str, Any]:
        decisions.append(request)
        return {"action": "edit", "args": {"city": "Lyon"}}

    with OllamaServer(weather_script) as server:
        result = run(
            "Weather?",
            chat_model=llm(server),
            tools=load_reference("mypkg.tools:weather"),
            approve=["weather"],
            approver=approver,
            trace_content=True,
        )
    assert [(d["name"], d["args"]) for d in decisions] == [("weather", {"city": "Paris"})]
    assert mypkg.CALLS == ["weather:Lyon"] and result.tool_calls[0].result == "Sunny, 21 C in Lyon"
    with sqlite3.connect(tmp_path / "traces.db") as db:
        rows = db.execute("select name, result from tool_calls").fetchall()
    assert rows == [("weather", "Sunny, 21 C in Lyon")]
    not_offered = pytest.raises(ConfigError, match="no tool named rain is offered")
    with not_offered, OllamaServer(weather_script) as server:
        run("x", chat_model=llm(server), tools=[mypkg.weather], approve=["rain"], trace=False)
