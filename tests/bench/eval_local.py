"""Live evaluation on the embedded local model: word problems that need the calculator.

Run: ``python tests/bench/eval_local.py [--model local:qwen2.5-coder-1.5b] [--limit N] [--graph G]`` or
``pytest -m live tests/bench/eval_local.py``. Needs the ``local`` extra and an installed model
(``qwengraph models install qwen2.5-coder-1.5b``). Prints, per task: success, steps, tokens and
wall time; then generation tokens/s through qwengraph next to raw llama-cpp-python on the same
prompt. It asserts nothing about speed (benchmarks print figures; tests never assert timings).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agents.eval.tasks import Task, load_tasks, run_checks
from graphs.summary import RunSummary

pytestmark = [pytest.mark.live, pytest.mark.slow]

TASK_FILE = Path(__file__).resolve().parents[2] / "agents" / "eval" / "examples" / "word_problems.jsonl"
TASKS = load_tasks(TASK_FILE)
"""The word problems, shared with ``qwengraph eval tasks`` (the last is the README's demo question,
which needs both of its numbers)."""


def is_correct(summary: RunSummary, task: Task) -> bool:
    """True when the run's answer passes every check of the task (see :mod:`agents.eval.tasks`)."""
    return run_checks(task, summary).passed


def evaluate(model_uri: str, limit: int | None = None, graph: str | None = None) -> list[dict[str, Any]]:
    """Run the tasks on ``graph`` (``None``: the default for the model) and print one line per task."""
    from agents.runner import run
    from graphs.build import NamedGraph

    rows = []
    print(f"{'#':>2}  {'ok':<3} {'tool':<4} {'steps':>5} {'tokens':>6} {'secs':>6}  task")
    for i, task in enumerate(TASKS[:limit], 1):
        started = time.perf_counter()
        try:
            result = run(task.prompt, model=model_uri, think=False, spec=NamedGraph(graph) if graph else None)
            answer, steps, tokens = result.answer, result.steps, result.usage.get("output_tokens", 0)
            used_tool = bool(result.tool_calls)
        except Exception as err:
            result = RunSummary(answer=f"error: {err}")
            answer, steps, tokens, used_tool = result.answer, 0, 0, False
        seconds = time.perf_counter() - started
        ok = is_correct(result, task)
        rows.append({"ok": ok, "tool": used_tool, "steps": steps, "tokens": tokens, "seconds": seconds})
        flag = "yes" if ok else "NO"
        tool = "yes" if used_tool else "no"
        print(f"{i:>2}  {flag:<3} {tool:<4} {steps:>5} {tokens:>6} {seconds:>6.1f}  {task.prompt[:60]}")
        if not ok:
            print(f"      answer: {answer[:160]!r}")
    solved = sum(r["ok"] for r in rows)
    print(
        f"\nsuccess: {solved}/{len(rows)} = {solved / max(1, len(rows)):.0%}; "
        f"tool used: {sum(r['tool'] for r in rows)}/{len(rows)}; "
        f"total time {sum(r['seconds'] for r in rows):.0f} s"
    )
    return rows


def throughput(model_uri: str, max_tokens: int = 128) -> tuple[float, float]:
    """Generation tokens/s through ChatQwen and raw llama-cpp-python, same prompt and settings."""
    from graphs.models.chat import ChatQwen
    from graphs.models.transports.base import ChatRequest
    from graphs.models.transports.llama import LlamaEngine
    from graphs.models.transports.local import LocalTransport

    spec = model_uri.removeprefix("local:")
    transport = LocalTransport(spec)
    prompt_text = "Write a Python function that checks whether a number is prime, with a docstring."
    sampling = {"temperature": 0.0, "top_k": 1, "max_tokens": max_tokens, "seed": 1}
    prompt = transport.prompt(ChatRequest(model=spec, messages=[{"role": "user", "content": prompt_text}]))
    engine = transport.engine
    assert isinstance(engine, LlamaEngine)
    llama = engine.llama

    # Both sides are timed from the call to the last token, on the same warm model and prompt (so
    # llama.cpp's prefix cache treats them alike): timing from the first *shown* piece would favour
    # qwengraph, whose stream splitter may hold text back (a leading code fence, say).
    def raw() -> float:
        started = time.perf_counter()
        count = sum(1 for _ in llama.create_completion(prompt, stream=True, stop=["<|im_end|>"], **sampling))
        return count / (time.perf_counter() - started)

    model = ChatQwen(
        model=model_uri, transport=transport, temperature=0.0, top_k=1, max_tokens=max_tokens, seed=1
    )

    def ours() -> float:
        started = time.perf_counter()
        tokens = 0
        for chunk in model.stream(prompt_text, think=False):
            if chunk.usage_metadata:
                tokens = chunk.usage_metadata["output_tokens"]
        return tokens / (time.perf_counter() - started)

    raw()  # warm-up
    raw_rate = max(raw() for _ in range(3))
    our_rate = max(ours() for _ in range(3))
    print(
        f"\ngeneration tokens/s on the same prompt: raw llama-cpp-python {raw_rate:.1f}, "
        f"qwengraph {our_rate:.1f} ({our_rate / raw_rate:.0%} of raw)"
    )
    return raw_rate, our_rate


def test_eval_local() -> None:
    """pytest -m live tests/bench/eval_local.py: prints the table (asserts only that it ran)."""
    rows = evaluate("local:qwen2.5-coder-1.5b", limit=None)
    assert len(rows) == len(TASKS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    parser.add_argument("--limit", type=int, default=None, help="run only the first N tasks")
    parser.add_argument("--no-throughput", action="store_true", help="skip the tokens/s comparison")
    parser.add_argument("--graph", default=None, help="react or worked (default: as qwengraph run picks)")
    args = parser.parse_args()
    evaluate(args.model, args.limit, args.graph)
    if not args.no_throughput and args.model.startswith("local:"):
        throughput(args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
