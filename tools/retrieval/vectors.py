"""Chunk vectors in the index's own SQLite file, searched exactly with numpy.

Table ``chunk_vectors(chunk_id INTEGER PRIMARY KEY, vector BLOB)``: one little-endian float32
array per chunk (sqlite-vec's own vector format, so a build of SQLite that can load sqlite-vec reads
it with ``vec_distance_cosine``), deleted with its chunk by a trigger. The embedder that wrote them
and their size are recorded in the ``meta`` table; vectors of another embedder are never mixed in.

Why not the sqlite-vec extension itself: it is in our dependency tree already (through
langgraph-checkpoint-sqlite), but loading it needs ``sqlite3.Connection.enable_load_extension``,
which many Python builds leave out (pyenv's and python.org's here, and macOS's system Python), and
replacing the SQLite driver under sqlite-utils and LangGraph is a bigger change than the search
needs. An exact dot product over the cached float32 matrix takes a few milliseconds at 100k chunks
(``tests/bench/retrieval_bench.py``); the matrix is reloaded only after the index changed (our own
writes, or another connection's commit seen through ``PRAGMA data_version``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tools.retrieval.embedders import Embedder

__all__ = ["VectorTable"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk_vectors (chunk_id INTEGER PRIMARY KEY, vector BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS chunk_vectors_ad AFTER DELETE ON chunks BEGIN
    DELETE FROM chunk_vectors WHERE chunk_id = old.id;
END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class VectorTable:
    """The vectors of one index: write them for chunk ids, find the nearest chunks to a query."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(SCHEMA)
        self._cached: tuple[tuple[int, int], npt.NDArray[np.int64], npt.NDArray[np.float32]] | None = None
        self._writes = 0

    # --- meta ---

    def recorded(self) -> tuple[str | None, int]:
        """The embedder spec the vectors were made with (``None``: no vectors yet) and their size."""
        rows = dict(self.conn.execute("SELECT key, value FROM meta WHERE key IN ('embedder', 'dims')"))
        return rows.get("embedder"), int(rows.get("dims", 0))

    def record(self, spec: str, dims: int) -> None:
        """Remember which embedder the vectors come from (``"none"``: the index keeps no vectors)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [("embedder", spec), ("dims", dims)]
        )
        self._writes += 1

    # --- writes ---

    def clear(self) -> None:
        """Drop every vector (the embedder changed)."""
        self.conn.execute("DELETE FROM chunk_vectors")
        self._writes += 1

    def write(self, chunk_ids: Sequence[int], vectors: npt.NDArray[np.float32]) -> None:
        """Store one vector per chunk id (replacing any older one)."""
        rows = np.ascontiguousarray(vectors, dtype="<f4")
        self.conn.executemany(
            "INSERT OR REPLACE INTO chunk_vectors(chunk_id, vector) VALUES (?, ?)",
            [(int(cid), row.tobytes()) for cid, row in zip(chunk_ids, rows, strict=True)],
        )
        self._writes += 1

    def missing(self, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` chunks that have no vector yet: ``(id, title, text)``."""
        return list(
            self.conn.execute(
                "SELECT c.id, c.title, c.text FROM chunks AS c LEFT JOIN chunk_vectors AS v"
                " ON v.chunk_id = c.id WHERE v.chunk_id IS NULL ORDER BY c.id LIMIT ?",
                [limit],
            )
        )

    def count(self) -> int:
        """How many chunks have a vector."""
        return int(self.conn.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0])

    # --- search ---

    def _matrix(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        version = (int(self.conn.execute("PRAGMA data_version").fetchone()[0]), self._writes)
        if self._cached is None or self._cached[0] != version:
            sql = "SELECT chunk_id, vector FROM chunk_vectors ORDER BY chunk_id"
            rows = self.conn.execute(sql).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            if rows:
                matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
            else:
                matrix = np.zeros((0, 0), dtype=np.float32)
            self._cached = (version, ids, matrix)
        return self._cached[1], self._cached[2]

    def nearest(self, query: npt.NDArray[np.float32], limit: int) -> list[tuple[int, float]]:
        """The ``limit`` chunk ids most similar to ``query`` (cosine), best first."""
        ids, matrix = self._matrix()
        if not len(ids) or matrix.shape[1] != query.shape[-1]:
            return []
        scores = matrix @ query.reshape(-1)
        take = min(limit, len(ids))
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in best]


def embed_chunks(embedder: Embedder, titles: Sequence[str], texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Vectors for chunks: the section title is embedded with the text (it often names the topic)."""
    pairs = zip(titles, texts, strict=True)
    return embedder.embed([f"{title}\n{text}" if title else text for title, text in pairs])
