"""Record the README examples that run on the real local model (``<!-- test: replay FILE -->``).

Runs each such example on the installed local engine inside ``record(FILE)``, so the docs test can
replay it offline. Usage: ``python tests/bench/record_docs.py [FILE-NAME ...]`` (only the examples
whose cassette name is given, default all; needs ``make setup-local`` and the installed
Qwen2.5-Coder models; takes minutes on 2 cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_docs import EXAMPLES  # noqa: E402 - after the path is set

from graphs.models.cassette import record  # noqa: E402


def main() -> None:
    wanted = set(sys.argv[1:])
    for example in (e for e in EXAMPLES if e.mode == "replay"):
        path = ROOT / example.arg
        if wanted and path.name not in wanted:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with record(path, meta={"example": example.id}):
            exec(compile(example.code, example.id, "exec"), {"__name__": "__readme__"})
        print(f"{example.id} -> {path.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
