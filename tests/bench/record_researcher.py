"""Record the researcher agent answering from ``tests/fixtures/docs`` on the embedded local model.

Run: ``python tests/bench/record_researcher.py`` (needs the ``local`` extra and
``qwengraph models install qwen2.5-coder-1.5b``). Copies the fixture documents to a temporary
``docs/`` folder, ingests them (default embedder), and records ``run --agent researcher`` on each
question of :data:`RUNS`, streamed and not, to ``tests/cassettes/researcher/*.json`` with the live
result in ``meta.result``; ``tests/test_researcher_replay.py`` replays them offline. Re-record after
changing the researcher's prompt, the search tool's output or the ChatML rendering.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from agents.agent_run import run_agent
from graphs.models.cassette import Cassette, record
from tools.retrieval import Index

TESTS = Path(__file__).resolve().parents[1]
HERE = TESTS / "cassettes" / "researcher"
DOCS = TESTS / "fixtures" / "docs"
MODEL = "local:qwen2.5-coder-1.5b"
RUNS = {"refund": "What is the refund policy?"}


def main(names: list[str]) -> int:
    HERE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qwengraph-rec-") as tmp:
        shutil.copytree(DOCS, Path(tmp) / "docs")
        os.chdir(tmp)  # citations are shown relative to the working directory: docs/billing.py:19-28
        with Index(Path(tmp) / "index.db") as index:
            index.ingest([Path(tmp) / "docs"])
        for name, prompt in RUNS.items():
            if names and name not in names:
                continue
            for stream in (True, False):
                path = HERE / f"{name}_{'stream' if stream else 'nostream'}.json"
                meta = {"prompt": prompt, "model": MODEL, "stream": stream, "agent": "researcher",
                        "docs": "tests/fixtures/docs", "by": "tests/bench/record_researcher.py"}  # fmt: skip
                with record(path, meta=meta):
                    result = run_agent(
                        "researcher",
                        prompt,
                        model=MODEL,
                        stream=stream,
                        db=Path(tmp) / "index.db",
                        trace=False,
                    )
                cassette = Cassette.load(path)
                cassette.meta["result"] = result.to_json()
                cassette.save()
                print(f"{path.name}: {result.answer!r} citations={result.citations}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
