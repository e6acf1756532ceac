"""A retrieval index in one SQLite file: documents, chunks, BM25 (FTS5) and vectors, searched hybrid.

Tables (written with sqlite-utils):

- ``documents``: one row per ingested file (absolute path, SHA-256 of its content, mtime, size,
  chunk count).
- ``chunks``: the document's chunks with their line (or PDF page) range and heading title, and
  ``chunks_fts``, an external-content FTS5 table over the chunk text, title and file name (Porter
  stemming), kept in sync by triggers.
- ``chunk_vectors`` and ``meta``: one embedding per chunk and the embedder that made them
  (:mod:`tools.retrieval.vectors`).

Search is *hybrid* when the index has vectors: the BM25 ranking and the vector ranking are fused
by reciprocal rank (:func:`tools.retrieval.fusion.rrf`), so a question that shares no word with
its passage is still found, and one that does keeps BM25's precision.

Ingestion is incremental by content hash: an unchanged file costs a read and a hash, a changed file
has its chunks (and their vectors) replaced, and a file that disappeared from under an ingested
directory is removed. Chunks without a vector (an index made before vectors, or after the embedder
changed) get one at the next ingest. Writes happen in transactions of a few megabytes, so an
interrupted ingest keeps what it finished. An :class:`Index` may be shared between threads (one
connection behind a lock).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import sqlite_utils

from tools.errors import ToolInputError
from tools.retrieval.embedders import DEFAULT_EMBEDDER, SIMILARITY_FLOORS, Embedder, make_embedder
from tools.retrieval.files import DEFAULT_MAX_FILE_BYTES, IngestStats, Pending, collect, prepare, under
from tools.retrieval.fusion import rrf
from tools.retrieval.hits import Hit
from tools.retrieval.paths import default_db_path
from tools.retrieval.query import fts_query
from tools.retrieval.vectors import VectorTable, embed_chunks

__all__ = ["DEFAULT_MAX_FILE_BYTES", "Hit", "Index", "IngestStats", "Mode", "ProgressCallback"]

_BATCH_BYTES = 8_000_000
_EMBED_BATCH = 256
CANDIDATES = 50
"""How deep each ranking goes before fusion."""

Mode = Literal["auto", "hybrid", "bm25", "vector"]
ProgressCallback = Callable[[int, int, str], None]
"""Called after each file: ``(files done, files in total, path)``; while vectors are made for
chunks that lack one, ``(chunks done, chunks in total, "(vectors)")``."""

_CHUNK_COLUMNS = 'c.id, c.path, c.start, c."end", c.unit, c.title, c.text'


class Index:
    """A document index in one SQLite file: ingest files, then search them (BM25, vectors, hybrid).

    Args:
        db_path: The SQLite file; ``None`` means :func:`~tools.retrieval.paths.default_db_path`.
        create: Create the file (and its directory) when missing; if ``False`` a missing file
            raises :class:`~tools.errors.ToolInputError`.
        embedder: What makes the vectors: an :class:`~tools.retrieval.embedders.Embedder` or a spec
            (``"wordllama"``, ``"none"``, ``"ollama:MODEL"``...). ``None``: the one the index
            recorded, else the default. Giving another one than recorded re-embeds every chunk at
            the next ingest.
        min_similarity: Chunks whose cosine similarity to the query is below this are not found by
            their vector (``None``: the embedder's floor in
            :data:`~tools.retrieval.embedders.SIMILARITY_FLOORS`, else 0).
        max_file_bytes: Files larger than this are skipped.
        chunk_chars: Upper bound on a chunk's length in characters.
        overlap_chars: About this many characters are repeated between consecutive chunks.
    """

    def __init__(
        self,
        db_path: Path | str | None = None,
        *,
        create: bool = True,
        embedder: Embedder | str | None = None,
        min_similarity: float | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        chunk_chars: int = 1200,
        overlap_chars: int = 150,
    ) -> None:
        self.path = Path(db_path).expanduser() if db_path is not None else default_db_path()
        if not self.path.exists():
            if not create:
                raise ToolInputError(f"no retrieval index at {self.path}; run `qwengraph ingest PATH` first")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self.chunk_chars = chunk_chars
        self.overlap_chars = overlap_chars
        self._lock = threading.RLock()
        try:
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db = sqlite_utils.Database(conn)
            self._db.enable_wal()
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._ensure_schema()
            self.vectors = VectorTable(conn)
        except sqlite3.DatabaseError as err:
            raise ToolInputError(f"cannot open retrieval index {self.path}: {err}") from None
        recorded, _ = self.vectors.recorded()
        if isinstance(embedder, str) or embedder is None:
            embedder = make_embedder(embedder or recorded or DEFAULT_EMBEDDER)
        self.embedder: Embedder | None = embedder
        floor = SIMILARITY_FLOORS.get(embedder.spec, 0.0) if embedder is not None else 0.0
        self.min_similarity = floor if min_similarity is None else min_similarity

    # --- lifecycle ---

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _ensure_schema(self) -> None:
        db = self._db
        with db.atomic():
            if not db.table("documents").exists():
                db.table("documents").create(
                    {"id": int, "path": str, "hash": str, "mtime": float, "size": int, "chunks": int},
                    pk="id",
                )
                db.table("documents").create_index(["path"], unique=True)
            if not db.table("chunks").exists():
                db.table("chunks").create(
                    {"id": int, "doc_id": int, "seq": int, "path": str, "name": str, "start": int,
                     "end": int, "unit": str, "title": str, "text": str},
                    pk="id",
                    foreign_keys=[("doc_id", "documents", "id")],
                )  # fmt: skip
                db.table("chunks").create_index(["doc_id"])
                db.table("chunks").enable_fts(
                    ["text", "title", "name"], tokenize="porter", create_triggers=True
                )
                # text counts once, the section title twice, the file name once; FTS5 sorts by it
                db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 2.0, 1.0)')")

    # --- queries ---

    def counts(self) -> tuple[int, int]:
        """Return ``(documents, chunks)`` in the index."""
        with self._lock:
            return self._db.table("documents").count, self._db.table("chunks").count

    def documents(self) -> list[dict[str, Any]]:
        """Every indexed document: path, hash, mtime, size and chunk count, sorted by path."""
        with self._lock:
            return list(self._db.table("documents").rows_where(order_by="path"))

    def describe(self) -> dict[str, Any]:
        """Files, chunks, vectors and the embedder that made them (for listings)."""
        with self._lock:
            documents, chunks = self.counts()
            spec, dims = self.vectors.recorded()
            return {"path": str(self.path), "files": documents, "chunks": chunks,
                    "vectors": self.vectors.count(), "embedder": spec or "none", "dims": dims}  # fmt: skip

    def has_vectors(self) -> bool:
        """Whether vector (and so hybrid) search can run: an embedder and vectors made by it."""
        with self._lock:
            spec, _ = self.vectors.recorded()
            return self.embedder is not None and spec == self.embedder.spec and self.vectors.count() > 0

    def search(self, query: str, k: int = 5, *, mode: Mode = "auto") -> list[Hit]:
        """Return the ``k`` chunks that best match ``query``, best first.

        ``mode``: ``"bm25"`` (words), ``"vector"`` (meaning), ``"hybrid"`` (both, fused by
        reciprocal rank), or ``"auto"``: hybrid when the index has vectors, else BM25.

        Raises:
            ToolInputError: ``k`` is not positive, or vectors were asked for and there are none.
            EmbedderError: the query could not be embedded (e.g. the embedding server is down).
        """
        if k < 1:
            raise ToolInputError(f"k must be at least 1, not {k}")
        if not query.strip():
            return []
        depth = max(CANDIDATES, k)
        with self._lock:
            if mode == "auto":
                mode = "hybrid" if self.has_vectors() else "bm25"
            if mode in ("vector", "hybrid") and not self.has_vectors():
                raise ToolInputError(f"{self.path} has no vectors: run `qwengraph ingest` with an embedder")
            match = fts_query(query)
            if mode == "bm25":
                return self._bm25_hits(match, k) if match else []
            words = self._bm25(match, depth) if mode == "hybrid" and match else []
            assert self.embedder is not None  # has_vectors() checked it
            found = self.vectors.nearest(self.embedder.embed([query])[0], depth if mode == "hybrid" else k)
            meaning = [(cid, score) for cid, score in found if score >= self.min_similarity]
            if mode == "vector":
                return self._hits([cid for cid, _ in meaning], dict(meaning), match)
            fused = rrf([[cid for cid, _ in words], [cid for cid, _ in meaning]])[:k]
            return self._hits([cid for cid, _ in fused], dict(fused), match)

    def _bm25(self, match: str, limit: int) -> list[tuple[int, float]]:
        sql = "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?"
        return [(int(rowid), -float(rank)) for rowid, rank in self._db.execute(sql, [match, limit])]

    def _bm25_hits(self, match: str, k: int) -> list[Hit]:
        """The best ``k`` chunks by BM25 in one query (chunk, score and snippet together)."""
        sql = f"""
            SELECT {_CHUNK_COLUMNS}, chunks_fts.rank, snippet(chunks_fts, 0, '', '', ' … ', 48)
            FROM chunks_fts JOIN chunks AS c ON c.id = chunks_fts.rowid
            WHERE chunks_fts MATCH ? ORDER BY chunks_fts.rank LIMIT ?
        """  # noqa: S608 - constant column list
        return [
            Hit(
                path=p,
                start=s,
                end=e,
                unit=u,
                title=t,
                score=-rank,
                snippet=snip.strip(),
                text=text,
                chunk_id=cid,
            )
            for cid, p, s, e, u, t, text, rank, snip in self._db.execute(sql, [match, k])
        ]

    def _hits(self, ids: list[int], scores: dict[int, float], match: str) -> list[Hit]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = {r[0]: r for r in self._db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks AS c WHERE c.id IN ({marks})", ids)}  # fmt: skip # noqa: S608, E501
        snippets: dict[int, str] = {}
        if match:
            sql = (
                "SELECT rowid, snippet(chunks_fts, 0, '', '', ' … ', 48) FROM chunks_fts "  # noqa: S608
                f"WHERE chunks_fts MATCH ? AND rowid IN ({marks})"
            )
            snippets = {int(rowid): snip for rowid, snip in self._db.execute(sql, [match, *ids])}
        return [
            Hit(path=p, start=s, end=e, unit=u, title=t, score=scores[cid],
                snippet=snippets.get(cid, "").strip(), text=text, chunk_id=cid)
            for cid in ids if cid in rows
            for _, p, s, e, u, t, text in [rows[cid]]
        ]  # fmt: skip

    def chunks_of(self, path: str) -> list[Hit]:
        """Every chunk of one indexed document, in order (for checking citations)."""
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks AS c WHERE c.path = ? ORDER BY c.seq"  # noqa: S608
        with self._lock:
            rows = self._db.execute(sql, [path]).fetchall()
        return [Hit(p, s, e, u, t, 0.0, "", text, cid) for cid, p, s, e, u, t, text in rows]

    # --- ingestion ---

    def ingest(self, paths: Iterable[Path | str], progress: ProgressCallback | None = None) -> IngestStats:
        """Index files and directories (recursively; hidden directories and binaries are skipped).

        Unchanged files are not re-chunked, changed ones have their chunks replaced, and indexed
        files that are gone from an ingested directory (or a missing path given here) are removed.
        Every chunk gets a vector from the index's embedder (none with ``embedder="none"``).

        Raises:
            ToolInputError: a path does not exist and nothing was indexed under it.
            EmbedderError: the embedder failed (what was written before stays).
        """
        began = time.perf_counter()
        stats = IngestStats()
        with self._lock:
            self._sync_embedder()
            known = {
                row[0]: (row[1], row[2]) for row in self._db.execute("SELECT path, id, hash FROM documents")
            }
            files, roots = collect(paths, known, self.path)
            batch: list[Pending] = []
            batch_bytes = 0
            seen: set[str] = set()
            dropped: list[str] = []  # indexed before, skipped now (too large, binary, unreadable)
            for done, file in enumerate(files, 1):
                seen.add(str(file))
                pending = prepare(
                    file, known.get(str(file)), stats, dropped, max_file_bytes=self.max_file_bytes,
                    chunk_chars=self.chunk_chars, overlap_chars=self.overlap_chars,
                )  # fmt: skip
                if pending is not None:
                    batch.append(pending)
                    batch_bytes += pending.size
                if batch_bytes >= _BATCH_BYTES:
                    self._write(batch, stats)
                    batch, batch_bytes = [], 0
                if progress is not None:
                    progress(done, len(files), str(file))
            self._write(batch, stats)
            gone = [p for p in known if p not in seen and any(under(p, root) for root in roots)]
            stale = [*gone, *(p for p in dropped if p in known)]
            self._remove(stale)
            stats.removed += len(stale)
            self._backfill(stats, progress)
        stats.seconds = time.perf_counter() - began
        return stats

    def _sync_embedder(self) -> None:
        """Forget vectors made by another embedder than this index's (they are rebuilt by backfill)."""
        spec, _ = self.vectors.recorded()
        wanted = self.embedder.spec if self.embedder is not None else "none"
        if spec != wanted:
            with self._db.atomic():
                self.vectors.clear()
                self.vectors.record(wanted, 0)

    def _write(self, batch: list[Pending], stats: IngestStats) -> None:
        if not batch:
            return
        vectors = None
        if self.embedder is not None:  # embed first: a failing embedder leaves this batch unwritten
            began = time.perf_counter()
            chunks = [c for item in batch for c in item.chunks]
            vectors = embed_chunks(self.embedder, [c.title for c in chunks], [c.text for c in chunks])
            stats.vector_seconds += time.perf_counter() - began
        db = self._db
        ids: list[int] = []
        with db.atomic():
            for item in batch:
                row = {"path": str(item.path), "hash": item.digest, "mtime": item.mtime,
                       "size": item.size, "chunks": len(item.chunks)}  # fmt: skip
                if item.doc_id is None:
                    doc_id = db.table("documents").insert(row).last_pk
                else:
                    doc_id = item.doc_id
                    db.execute("DELETE FROM chunks WHERE doc_id = ?", [doc_id])
                    db.table("documents").update(doc_id, row)
                db.conn.executemany(
                    'INSERT INTO chunks (doc_id, seq, path, name, start, "end", unit, title, text)'
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(doc_id, seq, str(item.path), item.path.name, c.start, c.end, c.unit, c.title, c.text)
                     for seq, c in enumerate(item.chunks)],
                )  # fmt: skip
                written = db.execute("SELECT id FROM chunks WHERE doc_id = ? ORDER BY seq", [doc_id])
                ids.extend(row[0] for row in written)
            if vectors is not None and self.embedder is not None:
                self.vectors.write(ids, vectors)
                self.vectors.record(self.embedder.spec, int(vectors.shape[1]) if ids else 0)
                stats.vectors += len(ids)

    def _backfill(self, stats: IngestStats, progress: ProgressCallback | None) -> None:
        """Give every chunk that lacks one a vector (old indexes, a changed embedder)."""
        if self.embedder is None:
            return
        total = self._db.table("chunks").count - self.vectors.count()
        done = 0
        while rows := self.vectors.missing(_EMBED_BATCH):
            began = time.perf_counter()
            vectors = embed_chunks(self.embedder, [r[1] for r in rows], [r[2] for r in rows])
            stats.vector_seconds += time.perf_counter() - began
            with self._db.atomic():
                self.vectors.write([r[0] for r in rows], vectors)
                self.vectors.record(self.embedder.spec, int(vectors.shape[1]))
            done += len(rows)
            stats.vectors += len(rows)
            if progress is not None:
                progress(done, total, "(vectors)")

    def _remove(self, paths: list[str]) -> None:
        if not paths:
            return
        with self._db.atomic():
            for path in paths:
                self._db.execute(
                    "DELETE FROM chunks WHERE doc_id IN (SELECT id FROM documents WHERE path = ?)", [path]
                )
                self._db.execute("DELETE FROM documents WHERE path = ?", [path])
