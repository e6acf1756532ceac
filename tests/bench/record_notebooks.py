"""Record the cassettes the notebooks replay (``notebooks/cassettes/``).

Run: ``python tests/bench/record_notebooks.py [NAME ...]`` (default: all; ``--list`` names them).

Two kinds of recordings:

- ``wire_*``: real Qwen3 server responses from the public recordings in ``tests/fixtures/wire``
  (each names its source repository, commit and licence), served byte for byte by a loopback server
  (``tests/servers``) while qwengraph's own request is recorded. The cassette so holds exactly the
  request qwengraph sends and the response a real server gave; ``meta.source`` names the recording.
  Needs nothing but this repository.
- everything else: real runs of the embedded local model (Qwen2.5-Coder-1.5B on llama.cpp; needs
  ``make setup-local`` and the installed model). They run in a scratch ``QWENGRAPH_HOME`` (the
  installed models linked in), with the notebooks folder as the working directory so citations are
  relative; when all of them are recorded (no NAME given), the traces of these live runs are exported
  to ``notebooks/data/live_traces.json`` for the traces notebook.

Re-record after changing anything that alters a request (prompts, tool descriptions, request
building); a notebook whose cassette drifted fails in the test suite with the diff.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from servers import OllamaServer, VLLMServer  # noqa: E402
from servers.base import _Handler  # noqa: E402

from graphs.models.cassette import Cassette, record  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
CASSETTES = NOTEBOOKS / "cassettes"
WIRE = ROOT / "tests" / "fixtures" / "wire"
MODEL = "local:qwen2.5-coder-1.5b"
DEMO = (
    "A company's revenue grows 15% a year from $2M in 2020. Will it reach $5M by 2025? "
    "If not, what yearly growth rate would it need?"
)


# --------------------------------------------------------------------------- verbatim servers


class _Verbatim:
    """Answers the n-th chat request with the n-th recorded response body, unchanged."""

    bodies: list[dict[str, Any]]

    def _chat(self, h: _Handler, body: dict[str, Any]) -> None:
        response = self.bodies.pop(0)
        if "json" in response:
            h.send_json(response.get("status", 200), response["json"])
        elif "ndjson_lines" in response:
            h.send_stream(
                "application/x-ndjson", [(line + "\n").encode() for line in response["ndjson_lines"]]
            )
        else:
            h.send_stream(
                "text/event-stream", [(event + "\n\n").encode() for event in response["sse_events"]]
            )


class VerbatimOllama(_Verbatim, OllamaServer):
    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        OllamaServer.__init__(self, models=["qwen3:32b"])
        self.bodies = bodies


class VerbatimOpenAI(_Verbatim, VLLMServer):
    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        VLLMServer.__init__(self, models=["qwen/qwen3-32b"])
        self.bodies = bodies


def wire(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WIRE / name).read_text(encoding="utf-8"))
    return data


def _source(recording: dict[str, Any], name: str) -> dict[str, Any]:
    return {"file": f"tests/fixtures/wire/{name}", **recording["source"], "kind": recording["kind"]}


def record_wire(path: Path, server: Any, sources: list[dict[str, Any]], call: Callable[[str], Any]) -> Any:
    with server, record(path, meta={"by": "tests/bench/record_notebooks.py", "source": sources}):
        result = call(server.url if isinstance(server, VerbatimOllama) else server.base_url)
    cassette = Cassette.load(path)
    cassette.meta["base_url"] = "http://127.0.0.1:PORT"
    cassette.save()
    return result


# --------------------------------------------------------------------------- wire recordings


def wire_split(name: str, recording_name: str, think: bool) -> Callable[[], Any]:
    def go() -> Any:
        from graphs.models.chat import ChatQwen

        recording = wire(recording_name)
        server = VerbatimOpenAI([recording["response"]])
        return record_wire(
            CASSETTES / f"{name}.json",
            server,
            [_source(recording, recording_name)],
            lambda url: ChatQwen(model="openai:qwen/qwen3-32b", base_url=url, think=think).invoke(
                "What is 2+2? Reply with just the number."
            ),
        )

    return go


def wire_length_stop() -> Any:
    from graphs.models.chat import ChatQwen

    name = "ollama-chat_qwen3-32b_nonstream_thinking_default.json"
    recording = wire(name)
    model = "ollama:qwen3:32b"
    return record_wire(
        CASSETTES / "wire_ollama_length_stop.json",
        VerbatimOllama([recording["response"]]),
        [_source(recording, name)],
        lambda url: ChatQwen(model=model, base_url=url, max_tokens=20, no_answer="off").invoke(
            "What is 2+2? Reply in one word."
        ),
    )


def wire_recovery() -> Any:
    from graphs.models.chat import ChatQwen

    name = "ollama-chat_qwen3-32b_nonstream_think-true-vs-false_abridged.json"
    recording = wire(name)
    bodies = recording["response"]["json"]
    responses = [{"json": bodies["think_true"]}, {"json": bodies["think_false"]}]
    return record_wire(
        CASSETTES / "wire_ollama_recovery.json",
        VerbatimOllama(responses),
        [_source(recording, name)],
        lambda url: ChatQwen(model="ollama:qwen3:32b", base_url=url, think=True, max_tokens=100).invoke(
            "What is 15 * 7?"
        ),
    )


def get_weather(location: str) -> str:
    """Get weather for a location

    Args:
        location: City name
    """
    return "18 °C, light rain"  # the thinking notebook's stand-in tool, with the same docstring


def wire_tool_call() -> Any:
    from langchain_core.tools import tool

    from graphs.models.chat import ChatQwen

    name = "ollama-chat_qwen3-32b_nonstream_tool-call_thinking_abridged.json"
    recording = wire(name)
    return record_wire(
        CASSETTES / "wire_ollama_tool_call.json",
        VerbatimOllama([recording["response"]]),
        [_source(recording, name)],
        lambda url: (
            ChatQwen(model="ollama:qwen3:32b", base_url=url, think=True, max_tokens=100)
            .bind_tools([tool(get_weather)])
            .invoke("What's the weather in Paris?")
        ),
    )


# --------------------------------------------------------------------------- local-model runs


@contextmanager
def scratch_home() -> Iterator[Path]:
    """A fresh QWENGRAPH_HOME with the installed models linked in; the notebooks folder as cwd."""
    import platformdirs

    installed = Path(platformdirs.user_data_dir("qwengraph")) / "models"
    old_home, old_cwd = os.environ.get("QWENGRAPH_HOME"), Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "models").symlink_to(installed)
        os.environ["QWENGRAPH_HOME"] = str(home)
        os.chdir(NOTEBOOKS)
        try:
            yield home
        finally:
            os.chdir(old_cwd)
            if old_home is None:
                os.environ.pop("QWENGRAPH_HOME", None)
            else:
                os.environ["QWENGRAPH_HOME"] = old_home


TRACED: dict[str, str] = {}  # run id -> recording name, for the exported traces


def local(name: str, call: Callable[[], Any]) -> Callable[[], Any]:
    def go() -> Any:
        from graphs.memory.trace_query import list_runs

        path = CASSETTES / f"{name}.json"
        with record(path, meta={"by": "tests/bench/record_notebooks.py", "model": MODEL}):
            result = call()
        for run in list_runs(limit=5):
            TRACED.setdefault(run["run_id"], name)
        cassette = Cassette.load(path)
        if hasattr(result, "to_json"):
            cassette.meta["result"] = result.to_json()  # what the live run produced
        cassette.save()
        return result

    return go


def _run(prompt: str, **options: Any) -> Callable[[], Any]:
    def go() -> Any:
        from agents.runner import run

        return run(prompt, model=MODEL, display=False, **options)

    return go


def _agent(agent: str, prompt: str, **options: Any) -> Callable[[], Any]:
    def go() -> Any:
        from agents.agent_run import run_agent

        return run_agent(agent, prompt, model=MODEL, display=False, **options)

    return go


def _react(prompt: str) -> Callable[[], Any]:
    def go() -> Any:
        from agents.runner import run
        from graphs.build import NamedGraph

        return run(prompt, model=MODEL, spec=NamedGraph("react"), display=False)

    return go


def _stream() -> Any:
    from graphs.models.chat import ChatQwen

    return [c.text for c in ChatQwen(model=MODEL).stream("Name three prime numbers, separated by commas.")]


def _langgraph() -> Any:
    from graphs.build import NamedGraph, build_graph
    from graphs.models.chat import ChatQwen
    from tools import calculator

    graph = build_graph(NamedGraph("react"), ChatQwen(model=MODEL), [calculator], force_tool=True)
    inputs = {"messages": [("user", "What is 12*34? Use the calculator.")], "steps": 0}
    return list(graph.stream(inputs, stream_mode=["messages", "values"]))


def _approved() -> Any:
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.runner import run
    from tools.code_runner import make_sandbox
    from tools.run_python import make_run_python

    sandbox = make_sandbox()
    try:
        run_python = make_run_python(sandbox, "approvals")
        return run(
            "Use Python to compute the sum of the squares of the numbers 1 to 10.",
            model=MODEL,
            tools=[run_python],
            approve=["run_python"],
            approver=lambda request: {"action": "approve"},
            checkpointer=InMemorySaver(),
            display=False,
        )
    finally:
        sandbox.close()


def _researcher(question: str) -> Callable[[], Any]:
    def go() -> Any:
        from agents.agent_run import run_agent
        from tools.retrieval import Index, default_db_path

        with Index(default_db_path()) as index:
            index.ingest(["docs"])
        return run_agent("researcher", question, model=MODEL, display=False)

    return go


def _workflow() -> Any:
    from graphs.models.chat import ChatQwen
    from graphs.workflow import load_workflow, run_workflow
    from tools import calculator

    spec = load_workflow("workflows/invoice_total.yaml")
    return run_workflow(
        spec, {"amounts": [120.5, 250, 399]}, {"calculator": calculator}, ChatQwen(model=MODEL)
    )


RUNS: dict[str, Callable[[], Any]] = {
    "wire_groq_inline": wire_split("wire_groq_inline", "groq_qwen3-32b_nonstream_inline-think.json", True),
    "wire_groq_parsed": wire_split(
        "wire_groq_parsed", "groq_qwen3-32b_nonstream_reasoning-parsed.json", True
    ),
    "wire_groq_no_think": wire_split("wire_groq_no_think", "groq_qwen3-32b_nonstream_no-think.json", False),
    "wire_ollama_length_stop": wire_length_stop,
    "wire_ollama_recovery": wire_recovery,
    "wire_ollama_tool_call": wire_tool_call,
    "quickstart_demo": local("quickstart_demo", _run(DEMO)),
    "quickstart_react": local("quickstart_react", _react("What is 17*23? Use the calculator.")),
    "quickstart_stream": local("quickstart_stream", _stream),
    "quickstart_langgraph": local("quickstart_langgraph", _langgraph),
    "math_tutor_critical": local(
        "math_tutor_critical",
        _agent("math-tutor", "Find the derivative of f(x) = x^3 + 2x^2 - 5x + 3 and its critical points"),
    ),
    "math_tutor_hint": local("math_tutor_hint", _agent("math-tutor", "Solve x^2 - 5x + 6 = 0", mode="hint")),
    "coding_palindrome": local(
        "coding_palindrome",
        _agent(
            "coding-assistant",
            "Write a Python function is_palindrome(s) that ignores case and non-letters, with tests.",
        ),
    ),
    "coding_approved": local("coding_approved", _approved),
    "researcher_refund": local(
        "researcher_refund", _researcher("What is the refund policy for clearance items?")
    ),
    "workflow_invoice": local("workflow_invoice", _workflow),
}


def export_traces(home: Path) -> None:
    """The live runs' traces (content hashed), for the traces notebook."""
    from graphs.memory.trace_query import get_run, list_runs

    runs = [
        {"name": TRACED.get(r["run_id"], ""), **get_run(r["run_id"]).to_json()}
        for r in reversed(list_runs(limit=1000))
    ]
    out = NOTEBOOKS / "data" / "live_traces.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"by": "tests/bench/record_notebooks.py", "runs": runs}, indent=1) + "\n")
    print(f"{out.relative_to(ROOT)}: {len(runs)} runs")


def main(names: list[str]) -> int:
    if names == ["--list"]:
        print("\n".join(RUNS))
        return 0
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        print(f"unknown recording(s) {', '.join(unknown)}: choose from {', '.join(RUNS)}", file=sys.stderr)
        return 2
    CASSETTES.mkdir(parents=True, exist_ok=True)
    chosen = [n for n in RUNS if not names or n in names]
    with scratch_home() as home:
        for name in chosen:
            result = RUNS[name]()
            shown = result.answer if hasattr(result, "answer") else result
            print(f"{name}: {str(shown)[:120]!r}")
        if not names:  # the traces notebook plots one whole recording session
            export_traces(home)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
