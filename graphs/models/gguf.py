"""Read the metadata of a GGUF file in pure Python: architecture, name and chat template.

A GGUF file opens with a small header (magic ``GGUF``, format version, tensor and key counts)
followed by typed key/value pairs, all little-endian: a key is a UTF-8 string (``uint64`` length,
then bytes), then a ``uint32`` value type and the value. Strings are length-prefixed; an array is
an element type, a ``uint64`` count and the elements. The format is documented in ggml's
``docs/gguf.md``; only version 2 and 3 files are read (version 1 used 32-bit lengths and is long
gone). Large arrays (the tokenizer's 150,000 tokens and merges) are walked, not loaded: reading
the metadata of Qwen2.5-Coder-1.5B (1.1 GB) takes about 0.4 s here and never touches the
tensors. :func:`read_metadata` caches by path, size and modification time.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from graphs.errors import ConfigError

MAGIC = b"GGUF"
_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_SCALARS.update({10: "<Q", 11: "<q", 12: "<d"})
_STRING, _ARRAY = 8, 9
SMALL_ARRAY = 64
"""Arrays up to this many elements are read; longer ones become ``{"array_length": n}``."""
_U64 = struct.Struct("<Q")
MAX_STRING = 16 * 1024 * 1024  # a chat template is a few KB; anything near this is a broken file


class GGUFError(ConfigError):
    """The file is not a GGUF file this reader understands (message names the file and the problem)."""


def read_metadata(path: str | Path) -> dict[str, Any]:
    """All key/value metadata of the GGUF file at ``path`` (long arrays summarised, see module doc).

    Raises:
        GGUFError: not a GGUF file, an unsupported version, or a truncated/corrupt header.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as err:
        raise GGUFError(f"cannot read {path}: {err.strerror or err}") from None
    return dict(_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=16)
def _cached(path: str, size: int, mtime_ns: int) -> dict[str, Any]:
    del size, mtime_ns  # part of the cache key: a replaced file is read again
    try:
        with open(path, "rb") as f:
            return _Reader(f, Path(path)).metadata()
    except OSError as err:
        raise GGUFError(f"cannot read {path}: {err.strerror or err}") from None


class _Reader:
    """Parses the header from an in-memory window of the file, read in chunks as it is consumed."""

    CHUNK = 4 * 1024 * 1024

    def __init__(self, f: BinaryIO, path: Path) -> None:
        self.f, self.path = f, path
        self.buf = b""
        self.pos = 0

    def metadata(self) -> dict[str, Any]:
        if self.take(4) != MAGIC:
            raise GGUFError(f"{self.path} is not a GGUF file (it does not start with 'GGUF')")
        version = self.scalar("<I")
        if version not in (2, 3):
            raise GGUFError(f"{self.path}: GGUF version {version} is not supported (only 2 and 3)")
        self.scalar("<Q")  # tensor count
        out: dict[str, Any] = {"GGUF.version": version}
        for _ in range(self.scalar("<Q")):
            key = self.string()
            out[key] = self.value(self.scalar("<I"))
        return out

    def need(self, size: int) -> None:
        """Make ``size`` bytes available at ``pos``, reading more of the file when needed."""
        if self.pos + size <= len(self.buf):
            return
        self.buf = self.buf[self.pos :]
        self.pos = 0
        while len(self.buf) < size:
            more = self.f.read(max(self.CHUNK, size - len(self.buf)))
            if not more:
                raise GGUFError(f"{self.path}: the GGUF header ends early (truncated file?)")
            self.buf += more

    def take(self, size: int) -> bytes:
        self.need(size)
        raw = self.buf[self.pos : self.pos + size]
        self.pos += size
        return raw

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def string(self) -> str:
        size = self.scalar("<Q")
        if size > MAX_STRING:
            raise GGUFError(f"{self.path}: a metadata string claims {size} bytes (corrupt header?)")
        return self.take(size).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.scalar(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            element = self.scalar("<I")
            length = self.scalar("<Q")
            if length <= SMALL_ARRAY:
                return [self.value(element) for _ in range(length)]
            self.skip_array(element, length)
            return {"array_length": length}
        raise GGUFError(f"{self.path}: unknown GGUF value type {kind} (corrupt header?)")

    def skip_array(self, element: int, length: int) -> None:
        if element in _SCALARS:
            self.take(struct.calcsize(_SCALARS[element]) * length)
        elif element == _STRING:
            unpack, remaining = _U64.unpack_from, length
            while remaining:  # the hot loop: 150,000 tokens and as many merges in a Qwen file
                buf, pos, end = self.buf, self.pos, len(self.buf)
                while remaining and pos + 8 <= end:
                    size = unpack(buf, pos)[0]
                    if pos + 8 + size > end:
                        break
                    pos += 8 + size
                    remaining -= 1
                self.pos = pos
                if remaining:
                    self.take(self.scalar("<Q"))
                    remaining -= 1
        else:
            for _ in range(length):
                self.value(element)


def describe(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The facts profile detection uses: architecture, name and chat template (missing ones left out)."""
    keys = {
        "architecture": "general.architecture",
        "name": "general.name",
        "basename": "general.basename",
        "finetune": "general.finetune",
        "size_label": "general.size_label",
        "chat_template": "tokenizer.chat_template",
    }
    return {short: str(metadata[key]) for short, key in keys.items() if isinstance(metadata.get(key), str)}
