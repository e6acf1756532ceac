"""Record real runs of the embedded local model as cassettes for the offline test suite.

Run: ``python tests/bench/record_local.py`` (needs the ``local`` extra and
``qwengraph models install qwen2.5-coder-1.5b``). Writes ``tests/cassettes/local/*.json``; the
replay tests in ``tests/test_local_replay.py`` read them. Re-record after changing anything that
alters the rendered prompt (system prompt, tool descriptions, ChatML rendering, sampling): replay
compares the prompt exactly and reports drift with a diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agents.runner import run
from graphs.models.cassette import Cassette, record

HERE = Path(__file__).resolve().parents[1] / "cassettes" / "local"
MODEL = "local:qwen2.5-coder-1.5b"
RUNS = {
    "calc_17x23": "What is 17*23? Use the calculator.",
    "shirt_discount": "A shirt costs $45 and is discounted by 20%. What is the sale price?",
    "revenue_2025": "A company's revenue grows 15% a year from $2M in 2020. What is its revenue in 2025?",
}


def main() -> int:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, prompt in RUNS.items():
        for stream in (True, False):
            path = HERE / f"{name}_{'stream' if stream else 'nostream'}.json"
            meta = {"prompt": prompt, "model": MODEL, "stream": stream, "by": "tests/bench/record_local.py"}
            with record(path, meta=meta):
                result = run(prompt, model=MODEL, stream=stream)
            cassette = Cassette.load(path)
            cassette.meta["result"] = result.to_json()  # what the live run produced, for the replay tests
            cassette.save()
            print(f"{path.name}: {result.answer[:100]!r} tools={[c.args for c in result.tool_calls]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
