"""Live evaluation on the embedded local model: word problems that need the calculator.

Run: ``python tests/bench/eval_local.py [--model local:qwen2.5-coder-1.5b] [--limit N] [--graph G]`` or
``pytest -m live tests/bench/eval_local.py``. Needs the ``local`` extra and an installed model
(``qwengraph models install qwen2.5-coder-1.5b``). Prints, per task: success, steps, tokens and
wall time; then generation tokens/s through qwengraph next to raw llama-cpp-python on the same
prompt. It asserts nothing about speed (benchmarks print figures; tests never assert timings).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = [pytest.mark.live, pytest.mark.slow]


@dataclass(frozen=True)
class Task:
    """A word problem and the numbers that count as a right answer (any one of them; with
    ``all_parts``, every one of them: a question in several parts)."""

    prompt: str
    expected: tuple[float, ...]
    rel_tol: float = 0.005
    all_parts: bool = False


TASKS = [
    Task("What is 17*23?", (391,)),
    Task("A shirt costs $45 and is discounted by 20%. What is the sale price?", (36,)),
    Task(
        "If you invest $1,000 at 5% annual interest compounded yearly, how much do you have after 10 years?",
        (1628.89,),
    ),
    Task(
        "A company's revenue grows 15% a year from $2M in 2020. What is its revenue in 2025?",
        (4.0227, 4022714),
    ),
    Task(
        "Revenue must grow from $2M to $5M in 5 years. What yearly growth rate, in percent, is needed?",
        (20.11, 0.2011),
    ),
    Task("A car travels 342 km on 38 liters of fuel. How many km does it travel per liter?", (9,)),
    Task("What is 15% of 2,480?", (372,)),
    Task("A $2,500 bill is split equally among 8 people. How much does each person pay?", (312.5,)),
    Task("What is the square root of 7,225?", (85,)),
    Task("A rectangle is 12.5 m long and 8.4 m wide. What is its area in square meters?", (105,)),
    Task(
        "A $10,000 loan accrues 6% annual interest compounded monthly. What is owed after 3 years?",
        (11966.81,),
    ),
    Task("Convert 98.6 degrees Fahrenheit to Celsius.", (37,)),
    Task("What is 2 to the power of 20?", (1048576,)),
    Task("A store sells 3 notebooks for $7.50. How much do 14 notebooks cost?", (35,)),
    Task("What is 123456 multiplied by 789?", (97406784,)),
    Task("What is the average of 84, 91, 77, 68 and 95?", (83,)),
    Task(
        "A town of 50,000 people shrinks by 3% each year. What is its population after 4 years?",
        (44264.3, 44264),
    ),
    Task("A price rose from $80 to $92. By what percent did it increase?", (15,)),
    Task("A train covers 450 km in 3 hours 45 minutes. What is its average speed in km/h?", (120,)),
    Task("An item costs $64.99 plus 8.25% sales tax. What is the total price?", (70.35,)),
    Task("How much simple interest does $5,000 earn at 4% a year over 3 years?", (600,)),
    Task("What is 7 factorial divided by 3 factorial?", (840,)),
    Task("How many different 5-card hands can be dealt from a 52-card deck?", (2598960,)),
    Task("A recipe needs 2.75 cups of flour per batch. How many cups are needed for 7 batches?", (19.25,)),
    Task(  # the README's main job: two different calculations, both needed
        "A company's revenue grows 15% a year from $2M in 2020. Will it reach $5M by 2025? "
        "If not, what yearly growth rate would it need?",
        (4.0227, 20.11),
        all_parts=True,
    ),
]

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text`` (thousands separators allowed)."""
    found = []
    for match in NUMBER.findall(text):
        try:
            found.append(float(match.replace(",", "")))
        except ValueError:
            continue
    return found


def is_correct(answer: str, task: Task) -> bool:
    """True when some number in the answer is within the task's tolerance of an expected value
    (of each expected value, for a task in several parts)."""
    numbers = numbers_in(answer)
    found = [any(abs(n - e) <= task.rel_tol * max(1.0, abs(e)) for n in numbers) for e in task.expected]
    return all(found) if task.all_parts else any(found)


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
            answer, steps, tokens, used_tool = f"error: {err}", 0, 0, False
        seconds = time.perf_counter() - started
        ok = is_correct(answer, task)
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
