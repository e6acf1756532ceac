"""The Transformers engine for real, on the installed Qwen2.5-Coder-0.5B GGUF file (``live``).

Needs ``make setup-transformers`` and the model (``qwengraph models install qwen2.5-coder-0.5b``,
found in the default home, or ``QWENGRAPH_TEST_GGUF``); skipped otherwise. The first load converts
the GGUF file once (minutes on two cores) and caches the result under ``$QWENGRAPH_HOME``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from typer.testing import CliRunner

from agents.cli import app
from graphs.models.budget import EARLY_STOP, THINK_OPEN
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text
from graphs.models.transports.engine import STOP, Piece
from graphs.models.transports.local import LocalTransport
from graphs.models.transports.transformers_engine import TransformersEngine
from tools import calculator

GGUF = Path(
    os.environ.get("QWENGRAPH_TEST_GGUF")
    or Path(platformdirs.user_data_dir("qwengraph")) / "models" / "qwen2.5-coder-0.5b.gguf"
)
PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+3? Reply with the number only.<|im_end|>\n<|im_start|>assistant\n"
)
pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(not GGUF.is_file(), reason=f"no GGUF file at {GGUF}"),
]


@pytest.fixture(scope="module")
def engine() -> TransformersEngine:
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    return TransformersEngine(str(GGUF))


def test_one_piece_per_token_and_the_counts(engine: TransformersEngine) -> None:
    pieces = list(engine.complete(PROMPT, {"temperature": 0, "max_tokens": 32}))
    tokenizer = engine.loaded.tokenizer
    *body, last = pieces
    text = "".join(p.text for p in pieces)
    assert text.strip() == "5" and not any(s in text for s in STOP)
    assert last.finish_reason == "stop"
    assert pieces[0].prompt_tokens == last.prompt_tokens == len(tokenizer(PROMPT)["input_ids"])
    assert last.completion_tokens == len(pieces)  # every token a piece; the last is <|im_end|>
    assert tokenizer.decode(tokenizer.encode(text)) == text
    again = "".join(p.text for p in engine.complete(PROMPT, {"temperature": 0, "max_tokens": 32}))
    assert again == text, "greedy decoding is deterministic"


def test_length_limit_and_stop_strings(engine: TransformersEngine) -> None:
    story = PROMPT.replace("What is 2+3? Reply with the number only.", "Count from 1 to 30, one per line.")
    short = list(engine.complete(story, {"temperature": 0, "max_tokens": 5}))
    assert short[-1].finish_reason == "length" and short[-1].completion_tokens == 5 == len(short) - 1
    cut = list(engine.complete(story, {"temperature": 0, "max_tokens": 200, "stop": ["\n4"]}))
    text = "".join(p.text for p in cut)
    assert cut[-1].finish_reason == "stop" and text.rstrip().endswith("3") and "4" not in text


def test_closing_the_stream_stops_generation(engine: TransformersEngine) -> None:
    story = PROMPT.replace("What is 2+3? Reply with the number only.", "Write a long story about a fox.")
    stream = engine.complete(story, {"temperature": 0, "max_tokens": 1000})
    taken = [next(stream) for _ in range(3)]
    started = time.monotonic()
    stream.close()
    assert time.monotonic() - started < 30, "generation ended at the next token, not after 1000"
    assert len(taken) == 3
    assert not [t for t in threading.enumerate() if t.name == "qwengraph-transformers"]
    follow_up = list(engine.complete(PROMPT, {"temperature": 0, "max_tokens": 16}))  # the lock is free
    assert "".join(p.text for p in follow_up).strip() == "5"


def test_chatqwen_streams_and_forces_a_real_tool_call(engine: TransformersEngine) -> None:
    model = ChatQwen(
        model=f"transformers:{GGUF}",
        transport=LocalTransport(f"transformers:{GGUF}", engine=engine, family="qwen2.5"),
        temperature=0,
    )
    chunks = list(model.stream([HumanMessage("Count from 1 to 5, separated by commas.")]))
    assert len(chunks) > 5 and "1, 2, 3, 4, 5" in "".join(c.text for c in chunks)
    message = model.bind_tools([calculator], tool_choice="required").invoke(
        "A shirt costs $45 and is discounted by 20%. What is the sale price?"
    )
    (call,) = message.tool_calls
    assert call["name"] == "calculator" and "45" in call["args"]["expression"]
    assert message.response_metadata["finish_reason"] == "tool_calls"


def test_qwengraph_run_answers_with_the_calculator(engine: TransformersEngine) -> None:
    """The issue's check: ``qwengraph run --model transformers:<0.5B GGUF>`` using the calculator
    (the command ``tests/bench/record_transformers.py`` records for the replay tests)."""
    prompt = "What is 17*23? Use the calculator."
    args = ["run", prompt, "--model", f"transformers:{GGUF}", "--graph", "react", "--json", "--no-trace"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert any(c["name"] == "calculator" and c["result"] == "391" for c in out["tool_calls"])
    assert "391" in out["answer"]


def test_thinking_budget_cuts_real_thinking_and_continues_after_the_early_stop(
    engine: TransformersEngine,
) -> None:
    """The budget path on this engine: the transport stops the stream at N thinking tokens (the
    engine must end generation there) and runs a second completion after Qwen's early-stop sentence.

    No Qwen3 weights are reachable, so the 0.5B Qwen2.5 model is asked to think in ``<think>`` tags
    and handled with Qwen3's rules (``family="qwen3"``); what it writes is real model output.
    """
    prompts: list[str] = []

    class Spy:
        def complete(self, prompt: str, sampling: dict) -> Iterator[Piece]:
            prompts.append(prompt)
            yield from engine.complete(prompt, sampling)

    transport = LocalTransport(f"transformers:{GGUF}", engine=Spy(), family="qwen3")
    model = ChatQwen(model=f"transformers:{GGUF}", transport=transport, temperature=0, think=True)
    system = SystemMessage("Before you answer, reason step by step inside <think> and </think> tags.")
    message = model.invoke([system, HumanMessage("What is 17*23?")], thinking_budget=12)
    assert message.response_metadata.get("thinking_budget_hit") is True
    assert len(prompts) == 2 and prompts[1].endswith(EARLY_STOP)
    assert prompts[1].startswith(prompts[0] + THINK_OPEN)
    assert reasoning_text(message) and message.text.strip()
