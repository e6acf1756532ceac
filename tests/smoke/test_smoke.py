"""The real-engine smoke: the main job through the CLI on the real local model (``make smoke``).

Marked ``live``: not in the default run. CI runs it after the offline suite, on the 0.5B model
(``QWENGRAPH_SMOKE_MODEL``). Every run goes through the ``qwengraph`` console script in a child
process, as a user runs it, so an engine crash (a segfault, an abort) fails the test with the
signal's name instead of taking the test runner down. The answers are checked, not just the exit
codes: a word problem the calculator must solve, streamed and as ``--json``, and a ReAct run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

MODEL = os.environ.get("QWENGRAPH_SMOKE_MODEL", "local:qwen2.5-coder-0.5b")
CLI = [sys.executable, "-m", "agents"]
TIMEOUT = 900


def qwengraph(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI on the smoke model; a signal death fails with its name and the output so far."""
    started = time.monotonic()
    done = subprocess.run(
        [*CLI, *args, "--model", MODEL],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    took = time.monotonic() - started
    sys.stderr.write(f"qwengraph {' '.join(args)[:60]}…: exit {done.returncode} in {took:.1f} s\n")
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        pytest.fail(f"the engine crashed the CLI ({name}); stderr: {done.stderr[-2000:]}")
    return done


def test_word_problem_as_json_uses_the_calculator_and_is_right() -> None:
    done = qwengraph("run", "A box holds 24 pencils. How many pencils are in 17 boxes?", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "408" in result["answer"]
    assert any(c["name"] == "calculator" and c["result"] == "408" for c in result["tool_calls"]), result


def test_streamed_word_problem_is_right() -> None:
    done = qwengraph("run", "A shop sells 36 boxes of apples at $15 per box. How much money does it take in?")
    assert done.returncode == 0, done.stderr
    assert "540" in done.stdout


def test_react_run_calls_the_tool_and_answers() -> None:
    done = qwengraph("run", "What is 17*23? Use the calculator.", "--graph", "react", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert any(c["name"] == "calculator" and c["result"] == "391" for c in result["tool_calls"]), result
    assert "391" in result["answer"]


def test_a_prompt_over_the_context_window_is_one_clear_line() -> None:
    long_prompt = "Add up these numbers: " + " + ".join(str(n) for n in range(1, 700))
    done = qwengraph("run", long_prompt, "--ctx", "512", "--graph", "react")
    assert done.returncode == 3, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: the prompt is ")
    assert "context window is 512" in lines[-1]
    assert "Traceback" not in done.stderr


def test_concurrent_calls_on_one_local_model_queue_instead_of_aborting() -> None:
    from graphs.models.chat import ChatQwen

    model = ChatQwen(model=MODEL, max_tokens=8, temperature=0.0)
    prompts = ["Say A.", "Say B.", "Say C."]
    answers = model.batch(prompts)
    assert len(answers) == 3 and all(isinstance(a.text, str) and a.text for a in answers)
    again = asyncio.run(model.abatch(prompts))
    assert [a.text for a in again] == [a.text for a in answers]  # greedy: the same text, one at a time
