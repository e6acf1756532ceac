"""Record real ``qwengraph run --model transformers:<0.5B GGUF>`` runs as cassettes for the offline suite.

Run: ``python tests/bench/record_transformers.py [NAME ...]`` (needs ``make setup-transformers`` and
``qwengraph models install qwen2.5-coder-0.5b``). Each run is the real CLI in a subprocess, exactly
as a user types it, with ``--record``; the JSON it printed is kept in the cassette's
``meta.result`` and ``tests/test_transformers_replay.py`` replays the same command with
``--replay`` and compares. Re-record after changing anything that alters the rendered prompt.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from graphs.models.cassette import Cassette

HERE = Path(__file__).resolve().parents[1] / "cassettes" / "transformers"
GGUF = Path.home() / ".local" / "share" / "qwengraph" / "models" / "qwen2.5-coder-0.5b.gguf"
SHIRT = "A shirt costs $45 and is discounted by 20%. What is the sale price?"
RUNS = {  # name: (prompt, --graph or None for the default, streamed and/or not)
    "shirt_discount_default": (SHIRT, None, (True,)),
    "calc_17x23_react": ("What is 17*23? Use the calculator.", "react", (True,)),
}


def command(
    prompt: str, model: str, *, graph: str | None, stream: bool, cassette: Path, replay: bool = False
) -> list[str]:
    """The ``qwengraph run`` arguments for one recording (or its replay)."""
    flags = ["--replay" if replay else "--record", str(cassette), "--json", "--no-trace"]
    flags += ["--graph", graph] if graph else []
    return ["run", prompt, "--model", model, *flags, *([] if stream else ["--no-stream"])]


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        print(f"unknown run(s) {', '.join(unknown)}: choose from {', '.join(RUNS)}", file=sys.stderr)
        return 2
    HERE.mkdir(parents=True, exist_ok=True)
    model = f"transformers:{GGUF}"
    for name, (prompt, graph, streams) in RUNS.items():
        if names and name not in names:
            continue
        for stream in streams:
            path = HERE / f"{name}_{'stream' if stream else 'nostream'}.json"
            started = time.monotonic()
            args = [
                sys.executable,
                "-m",
                "agents",
                *command(prompt, model, graph=graph, stream=stream, cassette=path),
            ]
            done = subprocess.run(args, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{path.name}: exit {done.returncode}: {done.stderr.strip()[-500:]}", file=sys.stderr)
                return 1
            result = json.loads(done.stdout)
            cassette = Cassette.load(path)
            cassette.meta.update(
                prompt=prompt,
                model=model,
                stream=stream,
                graph=graph,
                by="tests/bench/record_transformers.py",
                seconds=round(time.monotonic() - started, 1),
                result=result,
            )
            cassette.save()
            print(f"{path.name}: {result['answer'][:100]!r} tools={result['tool_calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
