"""Record real runs of the embedded local model as cassettes for the offline test suite.

Run: ``python tests/bench/record_local.py [NAME ...]`` (needs the ``local`` extra and
``qwengraph models install qwen2.5-coder-1.5b``); names pick runs from :data:`RUNS` (default:
all). Writes ``tests/cassettes/local/*.json``; the replay tests in ``tests/test_local_replay.py``
read them. Re-record after changing anything that alters the rendered prompt (system prompt, tool
descriptions, ChatML rendering, sampling): replay compares the prompt exactly and reports drift
with a diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agents.agent_run import run_agent
from agents.runner import run
from graphs.build import NamedGraph
from graphs.models.cassette import Cassette, record

HERE = Path(__file__).resolve().parents[1] / "cassettes" / "local"
MODEL = "local:qwen2.5-coder-1.5b"
DEMO = (
    "A company's revenue grows 15% a year from $2M in 2020. Will it reach $5M by 2025? "
    "If not, what yearly growth rate would it need?"
)
RUNS = {  # name: (prompt, graph or "agent:NAME")
    "calc_17x23": ("What is 17*23? Use the calculator.", "react"),
    "shirt_discount": ("A shirt costs $45 and is discounted by 20%. What is the sale price?", "react"),
    "revenue_2025": (
        "A company's revenue grows 15% a year from $2M in 2020. What is its revenue in 2025?",
        "react",
    ),
    "demo_worked": (DEMO, "worked"),  # the README's main job, on the default graph for local models
    # an agent: its graph is chosen per run ("auto": the worked graph here), its code really runs
    "math_tutor_critical": (
        "Find the derivative of f(x) = x^3 + 2x^2 - 5x + 3 and its critical points",
        "agent:math-tutor",
    ),
    "coding_palindrome": (
        "Write a Python function is_palindrome(s) that ignores case and non-letters, with tests.",
        "agent:coding-assistant",
    ),
}


def main(names: list[str]) -> int:
    HERE.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        print(f"unknown run(s) {', '.join(unknown)}: choose from {', '.join(RUNS)}", file=sys.stderr)
        return 2
    for name, (prompt, graph) in RUNS.items():
        if names and name not in names:
            continue
        for stream in (True, False):
            path = HERE / f"{name}_{'stream' if stream else 'nostream'}.json"
            meta = {
                "prompt": prompt,
                "model": MODEL,
                "stream": stream,
                "graph": graph,
                "by": "tests/bench/record_local.py",
            }
            with record(path, meta=meta):
                if graph.startswith("agent:"):
                    result = run_agent(graph.removeprefix("agent:"), prompt, model=MODEL, stream=stream)
                else:
                    result = run(prompt, model=MODEL, stream=stream, spec=NamedGraph(graph))
            cassette = Cassette.load(path)
            cassette.meta["result"] = result.to_json()  # what the live run produced, for the replay tests
            cassette.save()
            print(f"{path.name}: {result.answer[:100]!r} tools={[c.args for c in result.tool_calls]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
