"""Fault injection: every way a model server can misbehave, in both dialects, streamed and not.

Each case runs ``qwengraph run --json --thread S`` against a loopback server that damages or
replaces its answer on the wire (``servers.faults``), on a thread that already holds a turn, and
checks: the exit code from the table, a one-line message (or none) without a traceback, the thread's
earlier turn intact and nothing half-written saved, how many requests the server saw (retries) and
how long the client waited between them (``Retry-After``; the waits are recorded, not slept).
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from servers import CALC_ANSWER, Fault, OllamaServer, Turn, VLLMServer, calculator_script, hang, status
from typer.testing import CliRunner

import graphs.models.transports.retry as retry
from agents.cli import app
from agents.runner import run
from graphs.memory import open_checkpointer
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn

HUGE = ("x" * 9_999 + " ") * 1_000  # 10 MB
MID_ERROR = {
    "ollama": [Fault("cut", chunks=3, then=b'{"error":"model runner crashed"}\n')],
    "vllm": [
        Fault("cut", chunks=3, then=b'data: {"error": {"message": "model runner crashed", "code": 500}}\n\n')
    ],
}
HALF_LINE = {  # three whole lines or events, then half of the next one, then the stream ends
    "ollama-stream": [Fault("cut", chunks=3, then=b'{"model":"qwen3:8b","message":{"role":"assis')],
    "vllm-stream": [Fault("cut", chunks=3, then=b'data: {"id":"chatcmpl-1","choices":[{"delta":{"reas')],
    "whole": [Fault("cut", after=200)],
}


def bad_arguments(body: bytes) -> bytes:
    """Tool-call arguments of the wrong type: a string where Ollama sends an object, a number
    where OpenAI sends a JSON string."""
    body = body.replace(b'"arguments":{"expression":"17*23"}', b'"arguments":"17*23"')
    body = body.replace(b'"arguments":"{\\"exp"', b'"arguments":17')  # the first streamed fragment
    return body.replace(b'"arguments":"{\\"expression\\": \\"17*23\\"}"', b'"arguments":17')


@dataclass(frozen=True)
class Case:
    """One fault and what must come of it (``None``: the same for every variant)."""

    faults: list[Fault] | dict[str, list[Fault]] | None = None
    script: list[Turn] | None = None
    code: int | dict[str, int] = 0
    phrases: tuple[str, ...] | dict[str, tuple[str, ...]] = ()
    requests: int | dict[str, int] = 2
    waits: list[float] | dict[str, list[float]] = field(default_factory=list)
    args: tuple[str, ...] = ()
    dead: bool = False
    streamed_only: bool = False


def pick(value: Any, kind: str, stream: bool) -> Any:
    """A case's expectation for one variant: keys are ``ollama``/``vllm``, ``stream``/``whole``,
    or both (``ollama-stream``)."""
    if not isinstance(value, dict):
        return value
    mode = "stream" if stream else "whole"
    for key in (f"{kind}-{mode}", kind, mode):
        if key in value:
            return value[key]
    raise KeyError(f"no expectation for {kind}-{mode}")


CASES: dict[str, Case] = {
    "malformed JSON body": Case(
        faults=[Fault("body", body=b'{"message": oops}')], code=3, phrases=("not JSON",), requests=1
    ),
    "stream truncated mid-JSON line": Case(
        faults=HALF_LINE,
        code={"stream": 3, "whole": 0},
        phrases={"ollama-stream": ("broke off inside its JSON",), "vllm-stream": ("cut inside an event",),
                 "whole": ()},
        requests={"stream": 1, "whole": 3},  # a whole body cut short: nothing was shown, so retried
        waits={"stream": [], "whole": [0.5]},
    ),
    "connection cut mid-answer": Case(
        faults={"stream": [Fault("cut", chunks=3, drop=True)], "whole": [Fault("cut", after=200, drop=True)]},
        code={"stream": 3, "whole": 0},
        phrases={"stream": ("broke mid-answer, after",), "whole": ()},
        requests={"stream": 1, "whole": 3},
        waits={"stream": [], "whole": [0.5]},
    ),
    "wrong-typed tool-call arguments": Case(
        faults=[Fault("rewrite", fn=bad_arguments)],
        code={"ollama": 3, "vllm": 0},  # OpenAI: a bad call the model is told about; Ollama's client refuses
        phrases={"ollama": ("not in Ollama's chat format (message.tool_calls.0.function.arguments",),
                 "vllm": ()},
        requests={"ollama": 1, "vllm": 3},  # vLLM: the bad call, the corrected call, the answer
    ),
    "429 with Retry-After": Case(faults=[status(429, Retry_After="1")], requests=3, waits=[1.0]),
    "429 asking for an hour": Case(
        faults=[status(429, Retry_After="3600")],
        code=3,
        phrases=("HTTP 429", "asks to retry after 3600 s"),
        requests=1,
    ),
    "refused connection": Case(
        dead=True, code=3, phrases=("cannot reach", "gave up after 3 attempts"), requests=0, waits=[0.5, 1.0]
    ),
    "5xx burst": Case(faults=[status(503), status(502)], requests=4, waits=[0.5, 1.0]),
    "5xx until it gives up": Case(
        faults=[status(500)] * 3, code=3, phrases=("HTTP 500", "gave up after 3 attempts"), requests=3,
        waits=[0.5, 1.0],
    ),
    "slow first byte": Case(faults=[Fault("delay", seconds=0.3)]),
    "never-answering server": Case(
        faults=[hang()] * 3, args=("--timeout", "0.3"), code=3, requests=3, waits=[0.5, 1.0],
        phrases=("timed out", "gave up after 3 attempts"),
    ),
    "empty reply": Case(faults=[Fault("body", body=b"")], requests=3, waits=[0.5]),
    "empty answer": Case(
        script=[Turn(), Turn()], code=1, phrases=("stopped:",), requests=2
    ),
    "thinking-only reply": Case(script=[Turn(thinking="hmm " * 20), Turn(content="It is 391.")]),
    "error reported mid-stream": Case(
        faults=MID_ERROR,
        code=3, phrases=("reported an error mid-answer, after", "model runner crashed"), requests=1,
        streamed_only=True,
    ),
    "10 MB reply": Case(script=[Turn(content=HUGE)], requests=1),
}  # fmt: skip


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's waits between attempts, recorded instead of slept."""
    recorded: list[float] = []
    fake = SimpleNamespace(sleep=recorded.append, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(retry, "time", fake)
    return recorded


def seed_thread(home: Any) -> list[Any]:
    """A thread S with one finished turn, written through the API (no server)."""
    with open_checkpointer(None) as saver:
        model = ChatQwen(model="ollama:qwen3:8b", transport=ScriptedTransport([turn("Hello, Ada.")]))
        run("My name is Ada.", chat_model=model, thread="S", checkpointer=saver, trace=False)
        return thread_messages(saver)


def thread_messages(saver: Any) -> list[Any]:
    saved = saver.get_tuple({"configurable": {"thread_id": "S"}})
    return list(saved.checkpoint["channel_values"]["messages"]) if saved else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("kind", ["ollama", "vllm"])
@pytest.mark.parametrize("name", list(CASES))
def test_fault(name: str, kind: str, stream: bool, waits: list[float], tmp_path: Any) -> None:
    case = CASES[name]
    if case.streamed_only and not stream:
        pytest.skip("a whole (non-streamed) reply has no middle")
    before = seed_thread(tmp_path)
    server = OllamaServer() if kind == "ollama" else VLLMServer()
    server.script = case.script or calculator_script
    with server:
        server.inject(*(pick(case.faults, kind, stream) or []))
        url = server.url if kind == "ollama" else server.base_url
        if case.dead:
            url = url.replace(str(server.port), str(free_port()))
        model = "ollama:qwen3:8b" if kind == "ollama" else "openai:Qwen/Qwen3-8B"
        args = ["run", "What is 17*23?", "--model", model, "--base-url", url, "--json", "--thread", "S"]
        args += [*case.args] + ([] if stream else ["--no-stream"])
        result = CliRunner().invoke(app, args)
        requests = len(server.chat_requests)
    code = pick(case.code, kind, stream)
    assert result.exit_code == code, (result.stdout[-300:], result.stderr)
    err = result.stderr.strip()
    assert ("Traceback" not in err and result.exception is None) or isinstance(result.exception, SystemExit)
    assert len(err.splitlines()) <= 1, err
    for phrase in pick(case.phrases, kind, stream):
        assert phrase in err, err
    if code == 0:
        assert err == "", err
        answer = json.loads(result.stdout)["answer"]
        if name == "10 MB reply":
            assert answer == HUGE.strip()
        elif name == "thinking-only reply":
            assert answer == "It is 391."
        else:  # the calculator script: its answer only comes after the tool really returned 391
            assert case.script is None and answer == CALC_ANSWER, answer
    else:
        assert err.startswith("error:" if code != 1 else "stopped:"), err
    assert requests == pick(case.requests, kind, stream), requests
    assert waits == pick(case.waits, kind, stream)
    with open_checkpointer(None) as saver:
        after = thread_messages(saver)
    assert after[: len(before)] == before, "the thread's earlier turn is intact"
    added = after[len(before) :]
    for index, message in enumerate(added):
        assert isinstance(message, HumanMessage | AIMessage) or message.type == "tool"
        if isinstance(message, AIMessage):
            following = added[index + 1] if index + 1 < len(added) else None
            corrected = (
                following is not None and following.additional_kwargs.get("qwengraph") == "tool_call_error"
            )
            assert message.text or message.tool_calls or corrected, "no half-written answer is saved"
