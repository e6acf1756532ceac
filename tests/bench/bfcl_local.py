"""Live BFCL sample on the embedded local model, recorded for the offline test suite.

Run: ``nice python tests/bench/bfcl_local.py [--model local:qwen2.5-coder-1.5b] [--sample 6]
[--seed 13] [--categories ...] [--record tests/cassettes/bfcl]`` or
``pytest -m live tests/bench/bfcl_local.py``. Needs the ``local`` extra and the installed model.
Prints the per-category table (qwengraph's reading beside the leaderboard harness's) and the time
taken; with ``--record`` the folder is emptied first, the run's cassette written there with the
live scores in its metadata (``meta["result"]``), and ``tests/fixtures/bfcl/real_outputs.json``
refreshed with this model's decoded outputs (other models' are kept; the checker-agreement test
reads them all). Replayed offline by ``tests/eval/test_bfcl_recorded.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "tests" / "cassettes" / "bfcl"
OUTPUTS = ROOT / "tests" / "fixtures" / "bfcl" / "real_outputs.json"


def evaluate(
    model: str, categories: list[str], sample: int, seed: int, record: Path | None, outputs: bool = False
) -> dict:
    """Run the sample (recording it, and keeping its decoded outputs, when asked); the report as JSON."""
    from rich.console import Console

    from agents.eval.bfcl_data import BfclData
    from agents.eval.bfcl_run import READINGS, BfclOptions, BfclRunner, pick_cases, run_cases
    from agents.eval.recording import eval_cassette
    from agents.eval.report import build_report, report_table
    from agents.eval.store import EvalStore
    from graphs.models.cassette import Cassette

    options = BfclOptions(model=model, categories=categories, sample=sample, seed=seed)
    cases = pick_cases(options, BfclData.pinned())
    with tempfile.TemporaryDirectory() as tmp:
        store = EvalStore(Path(tmp) / "evals.db")
        run = store.create_run("bfcl", model, options.config(), len(cases) * len(READINGS))
        if record is not None:
            record.mkdir(parents=True, exist_ok=True)
            for old in record.glob("*.json"):
                old.unlink()
        started = time.perf_counter()
        with eval_cassette(record, None, run.id, "bfcl", options.config()):
            asyncio.run(run_cases(BfclRunner(options), cases, store, run.id, on_result=_dot))
        seconds = time.perf_counter() - started
        results = store.cases(run.id)
    report = build_report(results)
    print()
    Console(width=200).print(report_table(report, f"{model}: {len(cases)} BFCL cases in {seconds:.0f} s"))
    data = report.to_json()
    if record is not None:
        path = next(record.glob("*.json"))
        cassette = Cassette.load(path)
        cassette.meta["result"] = data
        cassette.meta["by"] = "tests/bench/bfcl_local.py"
        cassette.save()
    if record is not None or outputs:
        kept = json.loads(OUTPUTS.read_text()) if OUTPUTS.exists() else []
        rows = [o for o in kept if o["model"] != model] + [
            {
                "id": r.case_id,
                "category": r.category,
                "reading": r.reading,
                "model": model,
                "decoded": r.decoded,
            }
            for r in results
        ]
        OUTPUTS.parent.mkdir(parents=True, exist_ok=True)
        OUTPUTS.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    return data


def _dot(result: object) -> None:
    print("." if getattr(result, "valid", False) else "x", end="", flush=True)


def test_bfcl_local() -> None:
    """pytest -m live tests/bench/bfcl_local.py: a small sample, printed (asserts only that it ran)."""
    data = evaluate("local:qwen2.5-coder-1.5b", ["simple_python", "irrelevance"], 2, 13, None)
    assert {c["category"] for c in data["categories"]} == {"simple_python", "irrelevance"}


def main() -> int:
    from agents.eval.bfcl_data import parse_categories

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    parser.add_argument("--categories", default=None, help="comma-separated (default: the eight named)")
    parser.add_argument("--sample", type=int, default=6, help="cases per category")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--record", type=Path, default=None, help=f"cassette folder, e.g. {CASSETTES}")
    parser.add_argument("--outputs", action="store_true", help=f"keep decoded outputs in {OUTPUTS.name}")
    args = parser.parse_args()
    categories = parse_categories(args.categories)
    evaluate(args.model, categories, args.sample, args.seed, args.record, args.outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
