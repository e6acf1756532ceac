"""Generation speed of the Transformers engine against llama.cpp on the same GGUF file.

Run: ``python tests/bench/transformers_speed.py [PATH.gguf] [--tokens N] [--rounds R]`` (needs both
extras: ``make setup-local setup-transformers``). Both engines get the same rendered prompt with
greedy decoding and a fixed token count; the rounds alternate between them so that load from other
processes on a shared machine falls on both alike. Prints tokens/s per round and the medians, and
the one-time load times (Transformers' first load of a GGUF file converts it; later loads read the
cached conversion).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from graphs.models.transports.engine import Engine
from graphs.models.transports.llama import LlamaEngine
from graphs.models.transports.transformers_engine import TransformersEngine

DEFAULT = Path.home() / ".local" / "share" / "qwengraph" / "models" / "qwen2.5-coder-0.5b.gguf"
PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Write a Python function that checks whether a string is a palindrome, with a docstring "
    "and three tests.<|im_end|>\n<|im_start|>assistant\n"
)


def tokens_per_second(engine: Engine, tokens: int) -> tuple[float, int]:
    started = time.perf_counter()
    pieces = list(engine.complete(PROMPT, {"temperature": 0, "max_tokens": tokens}))
    elapsed = time.perf_counter() - started
    produced = pieces[-1].completion_tokens
    return produced / elapsed, produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engines: dict[str, Engine] = {}
    for name, make in (("llama.cpp", lambda: LlamaEngine(args.gguf)), ("transformers", None)):
        started = time.perf_counter()
        if make is None:
            engine = TransformersEngine(str(args.gguf))
            engine.loaded  # noqa: B018 - load now, not inside the first timed round
        else:
            engine = make()
            engine.llama  # noqa: B018
        engines[name] = engine
        print(f"{name}: loaded in {time.perf_counter() - started:.1f} s")
    rates: dict[str, list[float]] = {name: [] for name in engines}
    for round_ in range(1, args.rounds + 1):
        for name, engine in engines.items():
            rate, produced = tokens_per_second(engine, args.tokens)
            rates[name].append(rate)
            print(f"round {round_}: {name}: {produced} tokens, {rate:.1f} tok/s")
    threads = os.environ.get("QWENGRAPH_THREADS") or os.cpu_count()
    print(f"threads: {threads}; load average: {os.getloadavg()}")
    for name, values in rates.items():
        print(f"{name}: median {statistics.median(values):.1f} tok/s")
    ratio = statistics.median(rates["transformers"]) / statistics.median(rates["llama.cpp"])
    print(f"transformers / llama.cpp: {ratio:.2f}")


if __name__ == "__main__":
    main()
