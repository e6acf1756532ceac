"""Vector search cost alone: query embedding (bundled WordLlama) + exact top-50 over N x 256 vectors.

Run: ``python tests/bench/vector_search_bench.py [--vectors 100000] [--queries 200]``. Stores random
unit vectors through :class:`tools.retrieval.vectors.VectorTable` in a temporary SQLite file (no
corpus to embed first), then times ``VectorTable.nearest`` with a freshly embedded query, wall and
CPU time. Prints figures; asserts nothing. Hybrid search adds this to a BM25 query of 50
candidates (``retrieval_bench.py``).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tools.retrieval import make_embedder
from tools.retrieval.vectors import VectorTable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((args.vectors, 256)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(str(Path(tmp) / "v.db"))
        conn.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY)")
        table = VectorTable(conn)
        table.write(list(range(1, args.vectors + 1)), matrix)
        conn.commit()
        embedder = make_embedder("wordllama")
        assert embedder is not None
        table.nearest(embedder.embed(["warm up"])[0], 50)  # load the model and the matrix
        wall, cpu = [], []
        for n in range(args.queries):
            start, used = time.perf_counter(), time.process_time()
            table.nearest(embedder.embed([f"question {n} about refunds and travel"])[0], 50)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - used)
        conn.close()
    print(
        f"query embedding + exact top-50 over {args.vectors} x 256: wall p50"
        f" {statistics.median(wall) * 1e3:.2f} ms, CPU time p50 {statistics.median(cpu) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
