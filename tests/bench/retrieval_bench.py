"""Retrieval speed: ingest MB/s, BM25 and hybrid query latency, next to ``rank_bm25``.

Run: ``python tests/bench/retrieval_bench.py [--chunks 100000] [--queries 200] [--embedder wordllama]``.
Builds a synthetic markdown corpus (Zipf-distributed made-up words, fixed seed) in a temporary
directory, ingests it with :class:`tools.retrieval.Index` without vectors (BM25 ingest speed), then
makes the vectors (``--embedder``; ``none`` skips them), then times the same queries as BM25, as
hybrid (BM25 + vectors fused by reciprocal rank, query embedding included) and on
``rank_bm25.BM25Okapi`` (what Qwen-Agent uses) over the same chunks. Prints figures; asserts nothing.
Goals: at 100k chunks, query p50 <= 5 ms (BM25) and <= 25 ms (hybrid), BM25 >= 10x faster than
rank_bm25; ingest >= 5 MB/s (BM25). Quality figures: ``tests/bench/retrieval_quality.py``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from tools.retrieval import Index

SECTIONS_PER_FILE = 50
WORDS_PER_SECTION = 140  # about 1,000 characters: one chunk per section
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """``size`` distinct made-up words of 2-4 syllables."""
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(words)


def build_corpus(root: Path, chunks: int, rng: random.Random) -> tuple[list[str], int]:
    """Write ``chunks`` sections as markdown files under ``root``; return the vocabulary and bytes."""
    words = vocabulary(rng, 30_000)
    cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
    total = 0
    files = (chunks + SECTIONS_PER_FILE - 1) // SECTIONS_PER_FILE
    for number in range(files):
        parts = []
        for section in range(min(SECTIONS_PER_FILE, chunks - number * SECTIONS_PER_FILE)):
            body = rng.choices(words, cum_weights=cum_weights, k=WORDS_PER_SECTION)
            lines = [" ".join(body[i : i + 14]) for i in range(0, WORDS_PER_SECTION, 14)]
            parts.append(f"## Section {section} {body[0]}\n\n" + "\n".join(lines) + "\n")
        text = f"# Document {number}\n\n" + "\n".join(parts)
        directory = root / f"d{number // 200:03d}"
        directory.mkdir(exist_ok=True)
        (directory / f"doc{number:05d}.md").write_text(text)
        total += len(text.encode())
    return words, total


def make_queries(words: list[str], count: int, rng: random.Random) -> list[str]:
    """Two to four mid-frequency words per query (rank 20 to 5,000)."""
    return [" ".join(rng.sample(words[20:5000], rng.randint(2, 4))) for _ in range(count)]


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(0.95 * (len(ordered) - 1))] * 1e3


def main() -> None:
    """Build, ingest, query, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--embedder", default="wordllama", help="vectors for the hybrid timing ('none': skip)"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="qwengraph-bench-") as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        began = time.perf_counter()
        words, size = build_corpus(root, args.chunks, rng)
        print(f"corpus: {size / 1e6:.1f} MB of markdown, generated in {time.perf_counter() - began:.1f} s")

        index = Index(Path(tmp) / "bench.db", embedder="none")
        cpu = time.process_time()
        stats = index.ingest([root])
        cpu = time.process_time() - cpu
        documents, chunks = index.counts()
        print(
            f"ingest: {documents} files, {chunks} chunks, {stats.bytes / 1e6:.1f} MB in {stats.seconds:.1f} s"
            f" = {stats.mb_per_second:.1f} MB/s (goal >= 5); {stats.bytes / 1e6 / cpu:.1f} MB per CPU-second"
        )
        again = index.ingest([root])
        print(f"re-ingest unchanged corpus: {again.seconds:.2f} s ({again.unchanged} files unchanged)")

        queries = make_queries(words, args.queries, rng)
        for query in queries[:5]:  # warm the page cache
            index.search(query)
        fts_times, fts_cpu, fts_top = [], [], []
        for query in queries:
            start, cpu = time.perf_counter(), time.process_time()
            hits = index.search(query, k=5)
            fts_times.append(time.perf_counter() - start)
            fts_cpu.append(time.process_time() - cpu)
            fts_top.append(hits[0].text if hits else "")
        fts_p50, fts_p95 = percentiles(fts_times)
        print(
            f"FTS5 BM25 query: p50 {fts_p50:.2f} ms, p95 {fts_p95:.2f} ms over {len(queries)} queries"
            f" (goal p50 <= 5); CPU time p50 {percentiles(fts_cpu)[0]:.2f} ms"
        )
        if args.embedder != "none":
            index.close()
            index = Index(Path(tmp) / "bench.db", embedder=args.embedder)
            made = index.ingest([root])  # files unchanged: only the missing vectors are made
            print(
                f"vectors ({args.embedder}): {made.vectors} chunks embedded in {made.vector_seconds:.1f} s"
                f" = {size / 1e6 / max(made.vector_seconds, 1e-9):.2f} MB/s"
            )
            for query in queries[:5]:  # load the vector matrix and the model
                index.search(query, mode="hybrid")
            hybrid_times, hybrid_cpu = [], []
            for query in queries:
                start, cpu = time.perf_counter(), time.process_time()
                index.search(query, k=5, mode="hybrid")
                hybrid_times.append(time.perf_counter() - start)
                hybrid_cpu.append(time.process_time() - cpu)
            hybrid_p50, hybrid_p95 = percentiles(hybrid_times)
            print(
                f"hybrid query: p50 {hybrid_p50:.2f} ms, p95 {hybrid_p95:.2f} ms (goal p50 <= 25);"
                f" CPU time p50 {percentiles(hybrid_cpu)[0]:.2f} ms"
            )

        texts = [row[0] for row in index._db.execute("SELECT text FROM chunks ORDER BY id")]
        index.close()
        token = re.compile(r"\w+")
        start = time.perf_counter()
        bm25 = BM25Okapi([token.findall(text.lower()) for text in texts])
        print(
            f"rank_bm25: BM25Okapi over the same {len(texts)} chunks"
            f" built in {time.perf_counter() - start:.1f} s"
        )
        bm25_times, agree = [], 0
        for query, top in zip(queries, fts_top, strict=True):
            start = time.perf_counter()
            scores = bm25.get_scores(token.findall(query.lower()))
            best = np.argpartition(-scores, 5)[:5]
            best = best[np.argsort(-scores[best])]
            bm25_times.append(time.perf_counter() - start)
            agree += texts[int(best[0])] == top
        bm25_p50, bm25_p95 = percentiles(bm25_times)
        print(f"rank_bm25 query: p50 {bm25_p50:.2f} ms, p95 {bm25_p95:.2f} ms")
        print(
            f"speed-up at p50: {bm25_p50 / fts_p50:.0f}x (goal >= 10x);"
            f" same top hit for {agree}/{len(queries)} queries"
        )


if __name__ == "__main__":
    main()
