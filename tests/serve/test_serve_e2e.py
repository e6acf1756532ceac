"""``qwengraph serve`` as a real server process on loopback, driven by the official ``openai`` client:
streaming with reasoning, per-key rate limits, input limits, concurrent clients, a client that goes
away mid-answer, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from serve_support import ALICE, BOB, MODEL, script
from servers import VLLMServer

pytestmark = pytest.mark.slow

START_TIMEOUT = 120  # seconds: imports and agent start-up on a loaded 2-core machine


class Served:
    """A ``qwengraph serve`` child process and what it printed."""

    def __init__(self, proc: subprocess.Popen[str], url: str, lines: queue.Queue[str]) -> None:
        self.proc = proc
        self.url = url
        self.lines = lines

    def client(self, key: str, **options: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **options)

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        found = [line for line in text.splitlines() if line.startswith(name + " ")]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    def stderr(self) -> str:
        out = []
        while not self.lines.empty():
            out.append(self.lines.get_nowait())
        return "".join(out)


@pytest.fixture(scope="module")
def model_server() -> Iterator[VLLMServer]:
    with VLLMServer(script) as srv:
        yield srv


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve") / "requests.jsonl"


@pytest.fixture(scope="module")
def served(model_server: VLLMServer, log_path: Path) -> Iterator[Served]:
    """One server for the module (start-up takes seconds here); the tests use deltas, and the
    Ctrl-C test comes last."""
    keys = log_path.parent / "keys.txt"
    keys.write_text(f"# key name rate\n{ALICE} alice\n{BOB} bob 1/min\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "agents", "serve",
        "--agent", "math-tutor",
        "--model", MODEL,
        "--base-url", model_server.base_url,
        "--port", "0",
        "--api-keys", str(keys),
        "--rate", "600",
        "--burst", "20",
        "--max-input-chars", "500",
        "--request-log", str(log_path),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    url = None
    deadline = time.monotonic() + START_TIMEOUT
    seen = []
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        match = re.search(r"on (http://127\.0\.0\.1:\d+)/v1 \(2 API key\(s\)", line)
        url = match.group(1) if match else None
    if url is None:
        proc.kill()
        pytest.fail(f"qwengraph serve did not start: {''.join(seen)}")
    yield Served(proc, url, lines)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_openai_client_streams_an_agents_answer_with_its_reasoning(served: Served, log_path: Path) -> None:
    client = served.client(ALICE)
    assert [m.id for m in client.models.list()] == ["math-tutor"]
    stream = client.chat.completions.create(
        model="math-tutor",
        messages=[{"role": "user", "content": "calc: What is 17*23?"}],
        stream=True,
        stream_options={"include_usage": True},
        user="student-7",
    )
    content, reasoning, activity, usage = [], [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content.append(delta.content or "")
        extra = delta.model_extra or {}
        reasoning.append(extra.get("reasoning") or "")
        if "qwengraph" in extra:
            activity.append(extra["qwengraph"]["type"])
    assert "".join(content) == "17 × 23 = 391."  # said only once the calculator really returned 391
    assert "".join(reasoning).startswith("The user wants 17 times 23.")
    assert activity == ["tool_call", "tool_result"]
    assert usage is not None and usage.completion_tokens > 0

    whole = client.chat.completions.create(
        model="math-tutor", messages=[{"role": "user", "content": "hello"}]
    )
    assert whole.choices[0].message.content == "answer to hello"
    assert (whole.choices[0].message.model_extra or {})["reasoning"] == "Thinking about hello."
    lines = log_lines(log_path)[-2:]
    assert [(line["key"], line["outcome"]) for line in lines] == [("alice", "ok"), ("alice", "ok")]
    assert "student-7" not in json.dumps(lines) and lines[0]["user"].startswith("h:")


def test_rate_and_input_limits_are_enforced(served: Served) -> None:
    bob = served.client(BOB)  # 1 request a minute (its line in the key file), a burst of 20
    for n in range(20):
        bob.chat.completions.create(model="math-tutor", messages=[{"role": "user", "content": f"q{n}"}])
    with pytest.raises(openai.RateLimitError) as refused:
        bob.chat.completions.create(model="math-tutor", messages=[{"role": "user", "content": "one more"}])
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert "rate limit" in refused.value.message
    # Alice has her own bucket.
    alice = served.client(ALICE)
    ok = alice.chat.completions.create(model="math-tutor", messages=[{"role": "user", "content": "mine"}])
    assert ok.choices[0].message.content == "answer to mine"

    with pytest.raises(openai.BadRequestError) as too_long:
        alice.chat.completions.create(model="math-tutor", messages=[{"role": "user", "content": "x" * 501}])
    assert too_long.value.code == "input_too_long"
    with pytest.raises(openai.AuthenticationError):
        served.client("sk-nobody-0123456789").models.list()
    with pytest.raises(openai.NotFoundError):
        alice.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert served.metric('qwengraph_requests_total{agent="-",outcome="rate_limited"}') == 1


def test_concurrent_streaming_clients_each_get_their_own_answer(served: Served) -> None:
    client = served.client(ALICE)

    def ask(n: int) -> str:
        stream = client.chat.completions.create(
            model="math-tutor", messages=[{"role": "user", "content": f"question {n}"}], stream=True
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    before = served.metric('qwengraph_requests_total{agent="math-tutor",outcome="ok"}')
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(16)))
    assert answers == [f"answer to question {n}" for n in range(16)]
    assert served.metric('qwengraph_requests_total{agent="math-tutor",outcome="ok"}') == before + 16
    assert served.metric('qwengraph_requests_in_progress{agent="math-tutor"}') == 0


def test_a_client_that_goes_away_cancels_its_run(
    served: Served, model_server: VLLMServer, log_path: Path
) -> None:
    asked = len(model_server.chat_requests)
    model_server.chunk_delay = 0.25  # the first model turn streams for several seconds
    client = served.client(ALICE)
    stream = client.chat.completions.create(
        model="math-tutor", messages=[{"role": "user", "content": "calc: What is 17*23?"}], stream=True
    )
    seen = 0
    for chunk in stream:
        seen += bool(chunk.choices and (chunk.choices[0].delta.model_extra or {}).get("reasoning"))
        if seen == 2:
            break
    stream.close()  # hang up mid-thinking
    deadline = time.monotonic() + 30
    while served.metric('qwengraph_requests_total{agent="math-tutor",outcome="cancelled"}') < 1:
        assert time.monotonic() < deadline, "the abandoned request was never counted as cancelled"
        time.sleep(0.2)
    model_server.chunk_delay = 0
    time.sleep(1.5)
    # The run stopped: the calculator never ran, so the model was never asked a second time.
    assert len(model_server.chat_requests) == asked + 1
    assert served.metric('qwengraph_requests_in_progress{agent="math-tutor"}') == 0
    line = log_lines(log_path)[-1]
    assert (line["outcome"], line["tool_calls"], line["error_type"]) == ("cancelled", 0, "RunCancelled")
    # The server still answers.
    again = client.chat.completions.create(
        model="math-tutor", messages=[{"role": "user", "content": "still there?"}]
    )
    assert again.choices[0].message.content == "answer to still there?"


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_stops_the_server_cleanly(served: Served, log_path: Path, sig: signal.Signals) -> None:
    """SIGTERM (what a service manager or a container stop sends; Ctrl-C takes the same path)."""
    served.proc.send_signal(sig)
    code = served.proc.wait(30)
    time.sleep(0.2)
    err = served.stderr()
    assert "Traceback" not in err, err
    assert (code, err.strip().splitlines()[-1]) == (0, "stopped")
