"""A retrieval index in one SQLite file: documents, chunks and an FTS5 full-text index ranked by BM25.

Tables (written with sqlite-utils):

- ``documents``: one row per ingested file (absolute path, SHA-256 of its content, mtime, size,
  chunk count).
- ``chunks``: the document's chunks with their line (or PDF page) range and heading title, and
  ``chunks_fts``, an external-content FTS5 table over the chunk text, title and file name (Porter
  stemming), kept in sync by triggers.

Ingestion is incremental by content hash: an unchanged file costs a read and a hash, a changed file
has its chunks replaced, and a file that disappeared from under an ingested directory is removed.
Writes happen in transactions of a few megabytes, so an interrupted ingest keeps what it finished.
An :class:`Index` may be shared between threads (one connection behind a lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs
import sqlite_utils

from tools.errors import ToolInputError
from tools.retrieval.chunking import PDF, Chunk, chunk_document
from tools.retrieval.query import fts_query

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "Hit",
    "Index",
    "IngestStats",
    "ProgressCallback",
    "default_db_path",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


HOME_ENV = "QWENGRAPH_HOME"
DB_NAME = "retrieval.db"
DEFAULT_MAX_FILE_BYTES = 20_000_000
_BATCH_BYTES = 8_000_000
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})
_BINARY_SUFFIXES = _words(
    ".png .jpg .jpeg .gif .webp .ico .bmp .tif .tiff .zip .gz .tgz .bz2 .xz .zst .7z .tar .whl .jar "
    ".so .dylib .dll .exe .bin .o .a .pyc .pyo .class .db .sqlite .sqlite3 .gguf .safetensors .pt "
    ".onnx .npy .npz .parquet .mp3 .mp4 .wav .ogg .mov .avi .woff .woff2 .ttf .otf .docx .xlsx .pptx"
)

ProgressCallback = Callable[[int, int, str], None]
"""Called after each file: ``(files done, files in total, path)``."""


def default_db_path() -> Path:
    """``$QWENGRAPH_HOME/retrieval.db``, else the file in the user's data directory (not created)."""
    override = os.environ.get(HOME_ENV, "").strip()
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir("qwengraph"))
    return home / DB_NAME


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    Attributes:
        path: Absolute path of the file.
        start: First line (or PDF page) of the chunk.
        end: Last line (or page), inclusive.
        unit: ``"line"`` or ``"page"``.
        title: Heading, section title or ``def``/``class`` name of the chunk.
        score: BM25 relevance, higher is better.
        snippet: The most relevant part of the chunk (FTS5 ``snippet()``).
        text: The whole chunk.
    """

    path: str
    start: int
    end: int
    unit: str
    title: str
    score: float
    snippet: str
    text: str

    def citation(self, relative_to: Path | None = None) -> str:
        """``path:12-40`` (``path:p3`` for PDF pages), the path relative to ``relative_to`` if inside it."""
        path = self.path
        if relative_to is not None:
            with contextlib.suppress(ValueError):
                path = str(Path(self.path).relative_to(relative_to))
        span = str(self.start) if self.start == self.end else f"{self.start}-{self.end}"
        return f"{path}:{'p' if self.unit == 'page' else ''}{span}"


@dataclass(slots=True)
class IngestStats:
    """What one :meth:`Index.ingest` call did (files counted by outcome)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def mb_per_second(self) -> float:
        """Megabytes of new or changed content chunked and indexed per second."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class _Pending:
    path: Path
    digest: str
    mtime: float
    size: int
    chunks: list[Chunk]
    doc_id: int | None


def _is_binary(path: Path, data: bytes) -> bool:
    if path.suffix.lower() in PDF:
        return not data.startswith(b"%PDF")
    return path.suffix.lower() in _BINARY_SUFFIXES or b"\0" in data[:8192]


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _under(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(str(root).rstrip(os.sep) + os.sep)


class Index:
    """A document index in one SQLite file: ingest files, then search them with BM25.

    Args:
        db_path: The SQLite file; ``None`` means :func:`default_db_path`.
        create: Create the file (and its directory) when missing; if ``False`` a missing file
            raises :class:`~tools.errors.ToolInputError`.
        max_file_bytes: Files larger than this are skipped.
        chunk_chars: Upper bound on a chunk's length in characters.
        overlap_chars: About this many characters are repeated between consecutive chunks.
    """

    def __init__(
        self,
        db_path: Path | str | None = None,
        *,
        create: bool = True,
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
        except sqlite3.DatabaseError as err:
            raise ToolInputError(f"cannot open retrieval index {self.path}: {err}") from None

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

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """Return the ``k`` chunks that best match ``query`` (BM25), best first.

        Raises:
            ToolInputError: ``k`` is not positive.
        """
        if k < 1:
            raise ToolInputError(f"k must be at least 1, not {k}")
        match = fts_query(query)
        if not match:
            return []
        sql = """
            SELECT c.path, c.start, c."end", c.unit, c.title, c.text, chunks_fts.rank,
                   snippet(chunks_fts, 0, '', '', ' … ', 48)
            FROM chunks_fts JOIN chunks AS c ON c.id = chunks_fts.rowid
            WHERE chunks_fts MATCH ? ORDER BY chunks_fts.rank LIMIT ?
        """
        with self._lock:
            rows = self._db.execute(sql, [match, k]).fetchall()
        return [
            Hit(path=p, start=s, end=e, unit=u, title=t, score=-rank, snippet=snip.strip(), text=text)
            for p, s, e, u, t, text, rank, snip in rows
        ]

    # --- ingestion ---

    def ingest(self, paths: Iterable[Path | str], progress: ProgressCallback | None = None) -> IngestStats:
        """Index files and directories (recursively; hidden directories and binaries are skipped).

        Unchanged files are not re-chunked, changed ones have their chunks replaced, and indexed
        files that are gone from an ingested directory (or a missing path given here) are removed.

        Raises:
            ToolInputError: a path does not exist and nothing was indexed under it.
        """
        began = time.perf_counter()
        stats = IngestStats()
        with self._lock:
            known = {
                row[0]: (row[1], row[2]) for row in self._db.execute("SELECT path, id, hash FROM documents")
            }
            files, roots = self._collect(paths, known)
            batch: list[_Pending] = []
            batch_bytes = 0
            seen: set[str] = set()
            dropped: list[str] = []  # indexed before, skipped now (too large, binary, unreadable)
            for done, file in enumerate(files, 1):
                seen.add(str(file))
                pending = self._prepare(file, known.get(str(file)), stats, dropped)
                if pending is not None:
                    batch.append(pending)
                    batch_bytes += pending.size
                if batch_bytes >= _BATCH_BYTES:
                    self._write(batch)
                    batch, batch_bytes = [], 0
                if progress is not None:
                    progress(done, len(files), str(file))
            self._write(batch)
            gone = [p for p in known if p not in seen and any(_under(p, root) for root in roots)]
            stale = [*gone, *(p for p in dropped if p in known)]
            self._remove(stale)
            stats.removed += len(stale)
        stats.seconds = time.perf_counter() - began
        return stats

    def _collect(
        self, paths: Iterable[Path | str], known: dict[str, tuple[int, str]]
    ) -> tuple[list[Path], list[Path]]:
        own = {str(self.path.resolve()) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
        files: dict[str, Path] = {}
        roots: list[Path] = []
        for raw in paths:
            path = Path(raw).expanduser().resolve()
            if path.is_dir():
                roots.append(path)
                files.update((str(f), f) for f in _walk(path))
            elif path.is_file():
                files[str(path)] = path
            elif any(_under(p, path) for p in known):
                roots.append(path)
            else:
                raise ToolInputError(f"no such file or directory: {raw}")
        return [f for key, f in files.items() if key not in own], roots

    def _prepare(
        self, file: Path, known: tuple[int, str] | None, stats: IngestStats, dropped: list[str]
    ) -> _Pending | None:
        """Read, hash and chunk one file; ``None`` when there is nothing to write."""
        try:
            info = file.stat()
            if info.st_size > self.max_file_bytes:
                stats.skipped += 1
                dropped.append(str(file))
                return None
            data = file.read_bytes()
        except OSError as err:
            stats.errors.append(f"{file}: {err.strerror or err}")
            stats.skipped += 1
            dropped.append(str(file))
            return None
        digest = hashlib.sha256(data).hexdigest()
        if known is not None and known[1] == digest:
            stats.unchanged += 1
            return None
        if _is_binary(file, data):
            stats.skipped += 1
            dropped.append(str(file))
            return None
        try:
            chunks = chunk_document(file.name, data, max_chars=self.chunk_chars, overlap=self.overlap_chars)
        except Exception as err:  # noqa: BLE001 - a corrupt PDF must not stop the ingest
            stats.errors.append(f"{file}: cannot read ({type(err).__name__}: {err})")
            stats.skipped += 1
            dropped.append(str(file))
            return None
        if known is None:
            stats.added += 1
        else:
            stats.updated += 1
        stats.chunks += len(chunks)
        stats.bytes += len(data)
        return _Pending(
            file, digest, info.st_mtime, info.st_size, chunks, None if known is None else known[0]
        )

    def _write(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        db = self._db
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
                db.table("chunks").insert_all(
                    (
                        {
                            "doc_id": doc_id,
                            "seq": seq,
                            "path": str(item.path),
                            "name": item.path.name,
                            "start": c.start,
                            "end": c.end,
                            "unit": c.unit,
                            "title": c.title,
                            "text": c.text,
                        }
                        for seq, c in enumerate(item.chunks)
                    ),
                    batch_size=500,
                )

    def _remove(self, paths: list[str]) -> None:
        if not paths:
            return
        with self._db.atomic():
            for path in paths:
                self._db.execute(
                    "DELETE FROM chunks WHERE doc_id IN (SELECT id FROM documents WHERE path = ?)", [path]
                )
                self._db.execute("DELETE FROM documents WHERE path = ?", [path])
