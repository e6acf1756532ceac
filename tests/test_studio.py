"""LangGraph Studio: ``langgraph dev`` (the in-memory server) serves every agent's graph from
``langgraph.json``, and a run through ``langgraph-sdk`` reaches our model and tools.

The model is a loopback vLLM server in this process (the calculator demo script: it answers 391
only after the calculator tool really returned it).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import CALC_ANSWER, VLLMServer
from servers.processes import ROOT, free_port, serve

pytestmark = pytest.mark.slow  # the in-memory LangGraph server takes several seconds to start

langgraph_cli = shutil.which("langgraph", path=str(Path(__import__("sys").executable).parent))


def test_langgraph_json_names_every_built_in_agent() -> None:
    from agents.spec import builtin_agents

    config = json.loads((ROOT / "langgraph.json").read_text())
    assert set(config["graphs"]) == {"react", *builtin_agents(has_index=False).names()}
    import agents.studio

    for target in config["graphs"].values():
        module, _, attr = target.partition(":")
        assert module == "agents.studio" and callable(getattr(agents.studio, attr))


def text_of(content: str | list) -> str:
    """A message's text: a string, or the text blocks of a content list (reasoning blocks aside)."""
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, VLLMServer]]:
    if langgraph_cli is None:
        pytest.fail("langgraph-cli[inmem] is not installed: it is part of the dev extra (make setup)")
    model = VLLMServer().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = tmp_path_factory.mktemp("studio")
    env = {
        "QWENGRAPH_HOME": str(work / "home"),
        "QWENGRAPH_MODEL": "openai:Qwen/Qwen3-8B",
        "QWENGRAPH_BASE_URL": model.base_url,
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    argv = [
        langgraph_cli,
        "dev",
        "--config",
        str(ROOT / "langgraph.json"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
    ]
    try:
        with serve(argv, f"{url}/ok", env=env, cwd=work):
            yield url, model
    finally:
        model.stop()


def test_langgraph_dev_serves_the_graphs_and_runs_one(studio: tuple[str, VLLMServer]) -> None:
    from langgraph_sdk import get_sync_client

    url, model = studio
    client = get_sync_client(url=url)
    graphs = {a["graph_id"] for a in client.assistants.search(limit=50)}
    assert {"react", "math-tutor", "coding-assistant", "researcher", "automation", "planner"} <= graphs

    thread = client.threads.create()
    state = client.runs.wait(
        thread["thread_id"],
        "react",
        input={"messages": [{"role": "user", "content": "What is 17*23? Use the calculator."}], "steps": 0},
    )
    messages = state["messages"]
    assert text_of(messages[-1]["content"]) == CALC_ANSWER
    tool = [m for m in messages if m["type"] == "tool"]
    assert tool and tool[0]["name"] == "calculator" and tool[0]["content"] == "391"
    assert len(model.chat_requests) == 2 and model.chat_requests[0]["model"] == "Qwen/Qwen3-8B"
    saved = client.threads.get_state(thread["thread_id"])
    assert text_of(saved["values"]["messages"][-1]["content"]) == CALC_ANSWER
