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
    model: str,
    categories: list[str],
    sample: int,
    seed: int,
    record: Path | None,
    outputs: bool = False,
    harness: bool = True,
    **settings: object,
) -> dict:
    """Run the sample (recording it, and keeping its decoded outputs, when asked); the report as JSON.

    ``settings``: more :class:`BfclOptions` fields (``tool_guide``, ``max_tokens``).
    """
    from rich.console import Console

    from agents.eval.bfcl_data import BfclData
    from agents.eval.bfcl_run import READINGS, BfclOptions, BfclRunner, pick_cases, run_cases
    from agents.eval.recording import eval_cassette
    from agents.eval.report import build_report, report_table
    from agents.eval.store import EvalStore
    from graphs.models.cassette import Cassette

    options = BfclOptions(
        model=model, categories=categories, sample=sample, seed=seed, harness=harness, **settings
    )
    readings = READINGS if harness else READINGS[:1]
    cases = pick_cases(options, BfclData.pinned())
    with tempfile.TemporaryDirectory() as tmp:
        store = EvalStore(Path(tmp) / "evals.db")
        run = store.create_run("bfcl", model, options.config(), len(cases) * len(readings))
        if record is not None:
            record.mkdir(parents=True, exist_ok=True)
            for old in record.glob("*.json"):
                old.unlink()
        started = time.perf_counter()
        with eval_cassette(record, None, run.id, "bfcl", options.config()):
            asyncio.run(
                run_cases(BfclRunner(options), cases, store, run.id, readings=readings, on_result=_dot)
            )
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
        _write_outputs(model, results)
    return data


def merge(parts: list[Path], target: Path, outputs: bool = True) -> dict:
    """One recording from part runs over disjoint categories (same model, sample and seed): their
    cassettes joined, the settings' categories united in BFCL's order, and the scores computed by
    replaying the joined cassette offline, as the test suite will."""
    from agents.eval.bfcl_data import CATEGORIES
    from agents.eval.recording import META_KEY, load_folder
    from graphs.models.cassette import Cassette

    loaded = [load_folder(part) for part in parts]
    configs = [c.meta[META_KEY]["config"] for c in loaded]
    first = dict(configs[0])
    for config in configs[1:]:
        same = {k: v for k, v in config.items() if k != "categories"} == {
            k: v for k, v in first.items() if k != "categories"
        }
        assert same, f"part settings differ: {config} vs {first}"
    names = {name for config in configs for name in config["categories"]}
    first["categories"] = [name for name in CATEGORIES if name in names]
    meta = {**loaded[0].meta, META_KEY: {**loaded[0].meta[META_KEY], "config": first}}
    meta.pop("result", None)
    joined = Cassette(meta=meta, interactions=[i for c in loaded for i in c.interactions])
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.json"):
        old.unlink()
    path = joined.save(target / f"{meta[META_KEY]['run']}.json")
    data, results = _replay(target, first)
    saved = Cassette.load(path)
    saved.meta["result"] = data
    saved.save()
    if outputs:
        _write_outputs(first["model"], results)
    return data


def _replay(folder: Path, config: dict) -> tuple[dict, list]:
    from rich.console import Console

    from agents.eval.bfcl_data import BfclData
    from agents.eval.bfcl_run import READINGS, BfclOptions, BfclRunner, pick_cases, run_cases
    from agents.eval.recording import eval_cassette
    from agents.eval.report import build_report, report_table
    from agents.eval.store import EvalStore

    options = BfclOptions.from_config(config)
    readings = READINGS if options.harness else READINGS[:1]
    cases = pick_cases(options, BfclData.pinned())
    with tempfile.TemporaryDirectory() as tmp:
        store = EvalStore(Path(tmp) / "evals.db")
        run = store.create_run("bfcl", options.model, options.config(), len(cases) * len(readings))
        with eval_cassette(None, folder, run.id, "bfcl", options.config()):
            asyncio.run(run_cases(BfclRunner(options), cases, store, run.id, readings=readings))
        results = store.cases(run.id)
    report = build_report(results)
    Console(width=200).print(report_table(report, f"{options.model}: {len(cases)} BFCL cases (replayed)"))
    return report.to_json(), results


def _write_outputs(model: str, results: list) -> None:
    kept = json.loads(OUTPUTS.read_text()) if OUTPUTS.exists() else []
    rows = [o for o in kept if o["model"] != model] + [
        {"id": r.case_id, "category": r.category, "reading": r.reading, "model": model, "decoded": r.decoded}
        for r in results
    ]
    OUTPUTS.parent.mkdir(parents=True, exist_ok=True)
    OUTPUTS.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


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
    parser.add_argument("--no-harness", action="store_true", help="only qwengraph's reading")
    parser.add_argument("--tool-guide", action="store_true", help="the local transport's tool guide on")
    parser.add_argument("--max-tokens", type=int, default=512, help="tokens per answer")
    parser.add_argument(
        "--merge", type=Path, nargs="+", default=None, help="join recorded part folders into --record"
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.record or CASSETTES)
        return 0
    categories = parse_categories(args.categories)
    evaluate(
        args.model,
        categories,
        args.sample,
        args.seed,
        args.record,
        args.outputs,
        not args.no_harness,
        tool_guide=args.tool_guide,
        max_tokens=args.max_tokens,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
