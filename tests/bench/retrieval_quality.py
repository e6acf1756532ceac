"""Retrieval quality: recall@5 and MRR of BM25, vectors and hybrid, and the researcher's accuracy.

Run: ``python tests/bench/retrieval_quality.py [--embedder SPEC] [--researcher] [--model URI]``.
Ingests ``tests/fixtures/handbook`` (a fixed, made-up company handbook) into a temporary index and
asks the questions of ``retrieval_questions.py``: a hit is relevant when it comes from the question's
file and contains its evidence phrase. With ``--researcher`` it also runs the researcher agent on
each question (default model ``local:qwen2.5-coder-1.5b``); an answer is correct when it matches the
question's answer patterns *and* its citations were verified against the index and name the right
file. Results go to ``--out`` as JSON lines, so an interrupted run resumes where it stopped.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval_questions import QUESTIONS, Question

from tools.retrieval import Index
from tools.retrieval.fusion import terms

HANDBOOK = Path(__file__).resolve().parents[1] / "fixtures" / "handbook"
MODES = ("bm25", "vector", "hybrid")


def relevant(hit_path: str, text: str, question: Question, root: Path) -> bool:
    """A hit from the question's file that holds its evidence phrase."""
    flat = " ".join(text.split())
    return hit_path == str(root / question.file) and question.evidence in flat


def retrieval_table(index: Index, root: Path, k: int) -> None:
    """Print recall@k and MRR per mode and question kind."""
    rows: dict[tuple[str, str], list[float]] = {}
    for question in QUESTIONS:
        for mode in MODES:
            hits = index.search(question.question, k, mode=mode)  # type: ignore[arg-type]
            ranks = [n for n, h in enumerate(hits, 1) if relevant(h.path, h.text, question, root)]
            rows.setdefault((mode, question.kind), []).append(1.0 / ranks[0] if ranks else 0.0)
            rows.setdefault((mode, "all"), []).append(1.0 / ranks[0] if ranks else 0.0)
    counts = {kind: sum(1 for q in QUESTIONS if q.kind == kind) for kind in ("lexical", "paraphrase")}
    counts["all"] = len(QUESTIONS)
    print(f"\n| mode | questions | recall@{k} | MRR |\n|---|---|---|---|")
    for kind in ("lexical", "paraphrase", "all"):
        for mode in MODES:
            scores = rows[(mode, kind)]
            recall = 100 * sum(1 for s in scores if s > 0) / len(scores)
            print(f"| {mode} | {kind} ({counts[kind]}) | {recall:.1f}% | {statistics.mean(scores):.3f} |")


def overlap_report(index: Index, root: Path) -> None:
    """How many content words each paraphrased question shares with its evidence chunk."""
    shared = []
    for question in QUESTIONS:
        if question.kind != "paraphrase":
            continue
        chunks = index.chunks_of(str(root / question.file))
        chunk = next(c for c in chunks if question.evidence in " ".join(c.text.split()))
        words = {w[:5] for w in terms(question.question)} & {
            w[:5] for w in terms(chunk.title + " " + chunk.text)
        }
        shared.append(len(words))
    print(
        f"paraphrased questions: content words (5-letter stems) shared with the passage: mean"
        f" {statistics.mean(shared):.2f}, none for {shared.count(0)}/{len(shared)}"
    )


def correct(result: dict, question: Question) -> tuple[bool, bool]:
    """(answer right, citation valid and pointing at the right file)."""
    answer = result.get("answer", "")
    right = all(re.search(p, answer, re.IGNORECASE) for p in question.answer)
    citations = result.get("citations") or {}
    cited_ok = bool(citations.get("verified")) and any(
        question.file in c["citation"] for c in citations.get("checks", []) if c.get("ok")
    )
    return right, cited_ok


def researcher(index_path: Path, root: Path, model: str, out: Path, limit: int | None) -> None:
    """Run the researcher on each question (resuming from ``out``) and print its accuracy."""
    from agents.agent_run import run_agent

    done = {}
    if out.exists():
        for line in out.read_text().splitlines():
            item = json.loads(line)
            done[item["question"]] = item
    lexical = [q for q in QUESTIONS if q.kind == "lexical"]
    paraphrased = [q for q in QUESTIONS if q.kind == "paraphrase"]
    mixed = [q for pair in zip(lexical, paraphrased, strict=False) for q in pair]  # both kinds early
    mixed += [q for q in QUESTIONS if q not in mixed]
    questions = mixed[:limit] if limit else mixed
    with out.open("a") as sink:
        for number, question in enumerate(questions, 1):
            if question.question in done:
                continue
            began = time.perf_counter()
            summary = run_agent("researcher", question.question, model=model, db=index_path, trace=False)
            result = summary.to_json()
            item = {
                "question": question.question,
                "kind": question.kind,
                "seconds": time.perf_counter() - began,
                "answer": result["answer"],
                "citations": result.get("citations"),
            }
            done[question.question] = item
            sink.write(json.dumps(item) + "\n")
            sink.flush()
            right, cited = correct(item, question)
            print(f"[{number}/{len(questions)}] {'OK ' if right and cited else 'BAD'} {question.question!r}"
                  f" -> {item['answer'][:120]!r} ({item['seconds']:.0f} s)", flush=True)  # fmt: skip
    by_kind: dict[str, list[tuple[bool, bool]]] = {}
    for question in questions:
        if question.question in done:
            verdict = correct(done[question.question], question)
            by_kind.setdefault(question.kind, []).append(verdict)
            by_kind.setdefault("all", []).append(verdict)
    print(f"\n| researcher ({model}) | questions | correct answer | + valid citation |\n|---|---|---|---|")
    for kind, verdicts in by_kind.items():
        right = sum(1 for r, _ in verdicts if r)
        both = sum(1 for r, c in verdicts if r and c)
        print(
            f"| {kind} | {len(verdicts)} | {100 * right / len(verdicts):.1f}%"
            f" | {100 * both / len(verdicts):.1f}% |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--embedder", default="wordllama", help="embedder spec (see tools.retrieval.embedders)"
    )
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--researcher", action="store_true", help="also run the researcher agent")
    parser.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    parser.add_argument("--limit", type=int, default=None, help="researcher: only the first N questions")
    parser.add_argument("--out", type=Path, default=Path("researcher-results.jsonl"))
    args = parser.parse_args()
    print(
        f"{len(QUESTIONS)} questions over {HANDBOOK.relative_to(HANDBOOK.parents[2])};"
        f" embedder {args.embedder}"
    )
    with tempfile.TemporaryDirectory(prefix="qwengraph-quality-") as tmp:
        root = Path(tmp) / "handbook"
        shutil.copytree(HANDBOOK, root)
        with Index(Path(tmp) / "index.db", embedder=args.embedder) as index:
            stats = index.ingest([root])
            print(f"ingested {stats.added} files, {stats.chunks} chunks in {stats.seconds:.2f} s")
            overlap_report(index, root)
            retrieval_table(index, root, args.k)
        if args.researcher:
            os.chdir(tmp)  # citations are shown relative to it: handbook/guide/leave.md:3-5
            researcher(Path(tmp) / "index.db", root, args.model, args.out.resolve(), args.limit)


if __name__ == "__main__":
    main()
