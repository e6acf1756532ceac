"""Reading files for ingest: which files to walk, which to skip, and one file read, hashed and chunked."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import ToolInputError
from tools.retrieval.chunking import PDF, Chunk, chunk_document

__all__ = ["DEFAULT_MAX_FILE_BYTES", "IngestStats", "Pending", "collect", "prepare", "under", "walk"]

DEFAULT_MAX_FILE_BYTES = 20_000_000
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})
_BINARY_SUFFIXES = frozenset(
    str.split(
        ".png .jpg .jpeg .gif .webp .ico .bmp .tif .tiff .zip .gz .tgz .bz2 .xz .zst .7z .tar .whl .jar "
        ".so .dylib .dll .exe .bin .o .a .pyc .pyo .class .db .sqlite .sqlite3 .gguf .safetensors .pt "
        ".onnx .npy .npz .parquet .mp3 .mp4 .wav .ogg .mov .avi .woff .woff2 .ttf .otf .docx .xlsx .pptx"
    )
)


@dataclass(slots=True)
class IngestStats:
    """What one :meth:`~tools.retrieval.index.Index.ingest` call did (files counted by outcome)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks: int = 0
    bytes: int = 0
    seconds: float = 0.0
    vectors: int = 0
    vector_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def mb_per_second(self) -> float:
        """Megabytes of new or changed content chunked and indexed per second (embedding included)."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class Pending:
    """A file read and chunked, waiting to be written."""

    path: Path
    digest: str
    mtime: float
    size: int
    chunks: list[Chunk]
    doc_id: int | None


def is_binary(path: Path, data: bytes) -> bool:
    """Whether a file is binary (by suffix or a NUL byte); a PDF only if it lacks the PDF header."""
    if path.suffix.lower() in PDF:
        return not data.startswith(b"%PDF")
    return path.suffix.lower() in _BINARY_SUFFIXES or b"\0" in data[:8192]


def walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` in a stable order, skipping hidden ones and dependency/cache folders."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def under(path: str, root: Path) -> bool:
    """Whether ``path`` is ``root`` or inside it."""
    return path == str(root) or path.startswith(str(root).rstrip(os.sep) + os.sep)


def collect(
    paths: Iterable[Path | str], known: dict[str, tuple[int, str]], db_path: Path
) -> tuple[list[Path], list[Path]]:
    """The files to read under ``paths`` (the index's own files excluded) and the directories walked.

    A missing path is a directory to sweep when indexed files lie under it.

    Raises:
        ToolInputError: a path does not exist and nothing indexed lies under it.
    """
    own = {str(db_path.resolve()) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    files: dict[str, Path] = {}
    roots: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            roots.append(path)
            files.update((str(f), f) for f in walk(path))
        elif path.is_file():
            files[str(path)] = path
        elif any(under(p, path) for p in known):
            roots.append(path)
        else:
            raise ToolInputError(f"no such file or directory: {raw}")
    return [f for key, f in files.items() if key not in own], roots


def prepare(
    file: Path,
    known: tuple[int, str] | None,
    stats: IngestStats,
    dropped: list[str],
    *,
    max_file_bytes: int,
    chunk_chars: int,
    overlap_chars: int,
) -> Pending | None:
    """Read, hash and chunk one file; ``None`` when there is nothing to write.

    ``known`` is the file's ``(document id, hash)`` in the index; files that are skipped now (too
    large, unreadable, binary) are appended to ``dropped`` so their old chunks are removed.
    """
    try:
        info = file.stat()
        if info.st_size > max_file_bytes:
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
    if is_binary(file, data):
        stats.skipped += 1
        dropped.append(str(file))
        return None
    try:
        chunks = chunk_document(file.name, data, max_chars=chunk_chars, overlap=overlap_chars)
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
    return Pending(file, digest, info.st_mtime, info.st_size, chunks, None if known is None else known[0])
