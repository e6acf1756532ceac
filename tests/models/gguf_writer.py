"""Write small GGUF files (header and metadata only) for profile-detection tests.

The layout is GGUF version 3 as ggml's docs/gguf.md documents it; a real model file's metadata is
read the same way (tests also read the installed Qwen2.5-Coder files when they are present).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any


def _string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _value(value: Any) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return 7, struct.pack("<?", value)
    if isinstance(value, int):
        return 4, struct.pack("<I", value)
    if isinstance(value, float):
        return 6, struct.pack("<f", value)
    if isinstance(value, str):
        return 8, _string(value)
    if isinstance(value, list):
        kinds = {_value(v)[0] for v in value} or {8}
        (kind,) = kinds
        return 9, struct.pack("<IQ", kind, len(value)) + b"".join(_value(v)[1] for v in value)
    raise TypeError(type(value))


def write_gguf(path: Path, metadata: dict[str, Any]) -> Path:
    """A GGUF v3 file with ``metadata`` and no tensors."""
    body = [b"GGUF", struct.pack("<IQQ", 3, 0, len(metadata))]
    for key, value in metadata.items():
        kind, raw = _value(value)
        body += [_string(key), struct.pack("<I", kind), raw]
    path.write_bytes(b"".join(body))
    return path
