"""The cassette file format: loading, validating, saving, and encoding HTTP exchanges.

A cassette is ``{"meta": {...}, "interactions": [{"request": ..., "response": ...}]}``:

- ``request``: ``method``, ``path`` (URL path plus query, never the host, so a replay works whatever
  the base URL) and ``json`` (the parsed body, ``null`` when empty; a body that is not JSON is kept as
  a string under ``text`` instead). Headers are never recorded, so API keys stay out of cassettes.
- ``response``: ``status`` and exactly one body, chosen by the response content type:
  ``json`` (``application/json`` or ``*+json``: the parsed body), ``ndjson`` (``application/x-ndjson``:
  one parsed object per line, Ollama's native stream), ``sse`` (``text/event-stream``: one entry per
  event's ``data:`` payload; objects and arrays are stored parsed for readability, anything else such
  as ``[DONE]`` stays the string it was) or ``text`` (any other type, or a body that does not parse as
  its type claims, e.g. a stream closed mid-line; its ``content_type`` is kept beside it). An optional
  ``error`` (``{"type": "ReadTimeout", "message": ...}``) is an httpx transport error raised after the
  body shown, or, without ``status``, instead of any response (e.g. a refused connection).
- ``meta``: ``format``, ``created`` (UTC), ``qwengraph`` version, ``models`` (every request ``model``
  seen) and whatever the caller adds.

Bodies are stored decoded (gzip/deflate undone), so a replay serves them without content encoding.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from graphs.errors import CassetteError

FORMAT_VERSION = 1
BODY_KEYS = ("json", "ndjson", "sse", "text")
StrPath = str | os.PathLike[str]
_MISSING = object()


@dataclass
class Cassette:
    """A loaded or recorded cassette: ``meta`` plus ``interactions`` in request order."""

    meta: dict[str, Any] = field(default_factory=dict)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @classmethod
    def load(cls, path: StrPath) -> Cassette:
        """Read and validate a cassette file; any problem is a CassetteError naming the file."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CassetteError(f"cassette {p} does not exist (record it first)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"cassette {p} cannot be read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise CassetteError(f"cassette {p} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, source=str(p), path=p)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<cassette>", path: Path | None = None) -> Cassette:
        """Validate a decoded cassette document and wrap it."""
        validate(data, source)
        return cls(meta=dict(data.get("meta") or {}), interactions=list(data["interactions"]), path=path)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written to disk."""
        return {"meta": self.meta, "interactions": self.interactions}

    def save(self, path: StrPath | None = None) -> Path:
        """Write the cassette atomically (temporary file in the same folder, then rename).

        Raises:
            CassetteError: the file cannot be written (the message names it and the reason).
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise CassetteError("cassette has no path to save to")
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as err:
            raise CassetteError(f"cannot write cassette {target}: {err.strerror or err}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600; cassettes are meant to be committed and shared
            os.replace(tmp, target)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise CassetteError(f"cannot write cassette {target}: {err.strerror or err}") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def check_writable(target: Path) -> None:
    """Raise :class:`CassetteError` now if a cassette could not be saved at ``target`` later.

    Checked before recording starts, so a run does not spend its model calls and then fail to save.
    """
    if target.is_dir():
        raise CassetteError(f"cannot write cassette {target}: it is a directory")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise CassetteError(f"cannot write cassette {target}: {folder} is not a directory")
    try:  # a real write: access() says yes to root, also on read-only or virtual file systems
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".qwengraph-write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CassetteError(f"cannot write cassette {target}: {err.strerror or err} in {folder}") from None


def validate(data: Any, source: str = "<cassette>") -> None:
    """Raise CassetteError (naming ``source`` and the interaction) unless ``data`` is a valid cassette."""

    def bad(why: str) -> CassetteError:
        return CassetteError(f"cassette {source} is invalid: {why}")

    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise bad('expected an object with an "interactions" list')
    if not isinstance(data.get("meta", {}), dict):
        raise bad('"meta" must be an object')
    for i, item in enumerate(data["interactions"]):
        req = item.get("request") if isinstance(item, dict) else None
        resp = item.get("response") if isinstance(item, dict) else None
        if not isinstance(req, dict) or not isinstance(resp, dict):
            raise bad(f"interaction {i} needs a request and a response object")
        if not isinstance(req.get("method"), str) or not str(req.get("path", "")).startswith("/"):
            raise bad(f'interaction {i}: request needs a "method" and a "path" starting with "/"')
        bodies = [k for k in BODY_KEYS if k in resp]
        if "status" in resp:
            if not isinstance(resp["status"], int) or len(bodies) != 1:
                raise bad(f"interaction {i}: response needs an integer status and one of {BODY_KEYS}")
            if bodies[0] in ("ndjson", "sse") and not isinstance(resp[bodies[0]], list):
                raise bad(f'interaction {i}: response "{bodies[0]}" must be a list')
        elif not isinstance(resp.get("error"), dict):
            raise bad(f'interaction {i}: response needs a "status" or an "error"')


def qwengraph_version() -> str:
    """The installed qwengraph version, for cassette metadata."""
    try:
        return metadata.version("qwengraph")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------- encoding (recording)


def encode_request(request: httpx.Request) -> dict[str, Any]:
    """The recorded and compared form of a request: method, path with query, parsed JSON body."""
    record: dict[str, Any] = {"method": request.method, "path": request.url.raw_path.decode("ascii")}
    body = request.content
    if not body:
        record["json"] = None
        return record
    try:
        record["json"] = json.loads(body)
    except ValueError:
        record["text"] = body.decode("utf-8", errors="replace")
    return record


def decompress(data: bytes, encoding: str) -> bytes:
    """Undo a gzip or deflate content encoding (what httpx asks servers for without extras)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    if encoding == "deflate":
        try:
            return zlib.decompressobj().decompress(data)
        except zlib.error:
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data)
    raise CassetteError(f"cannot record a body with content-encoding {encoding!r} (gzip/deflate only)")


def _parse_sse(text: str) -> list[Any] | None:
    text = text.replace("\r\n", "\n")
    if text and not text.endswith("\n\n"):
        return None  # cut off mid-event: keep it as text
    events: list[Any] = []
    for block in text.split("\n\n"):
        data = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            if not line.startswith("data:"):
                return None  # event:/id:/retry: fields are not representable; keep the text
            data.append(line[5:].removeprefix(" "))
        if data:
            payload = "\n".join(data)
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
            events.append(parsed if isinstance(parsed, dict | list) else payload)
    return events


def encode_body(content_type: str, text: str) -> dict[str, Any]:
    """The response body entry (``json``/``ndjson``/``sse``/``text``) for a decoded body."""
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    try:
        if kind == "application/x-ndjson":
            return {"ndjson": [json.loads(line) for line in text.split("\n") if line.strip()]}
        if kind == "application/json" or kind.endswith("+json"):
            return {"json": json.loads(text)}
    except ValueError:
        pass
    if kind == "text/event-stream":
        events = _parse_sse(text)
        if events is not None:
            return {"sse": events}
    return {"text": text, "content_type": content_type}


def encode_error(exc: BaseException) -> dict[str, str]:
    """The recorded form of a transport error."""
    return {"type": type(exc).__name__, "message": str(exc)}


# --------------------------------------------------------------------------- decoding (replay)


def decode_error(error: dict[str, Any], request: httpx.Request) -> httpx.TransportError:
    """The httpx exception a recorded error stands for (``TransportError`` if the name is unknown)."""
    cls = getattr(httpx, str(error.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, httpx.TransportError)):
        cls = httpx.TransportError
    return cls(str(error.get("message", "")), request=request)


class ReplayStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Serves recorded chunks one at a time, then raises the recorded mid-stream error, if any."""

    def __init__(self, chunks: list[bytes], error: httpx.TransportError | None = None) -> None:
        self._chunks, self._error = chunks, error

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        if self._error is not None:
            raise self._error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk
        if self._error is not None:
            raise self._error


def decode_response(request: httpx.Request, recorded: dict[str, Any]) -> httpx.Response:
    """A streaming httpx response for a recorded one: NDJSON lines, SSE events or one JSON body."""
    if "status" not in recorded:
        raise decode_error(recorded["error"], request)
    if "ndjson" in recorded:
        ctype = "application/x-ndjson"
        chunks = [json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in recorded["ndjson"]]
    elif "sse" in recorded:
        ctype = "text/event-stream"
        chunks = [
            f"data: {e if isinstance(e, str) else json.dumps(e, ensure_ascii=False)}\n\n".encode()
            for e in recorded["sse"]
        ]
    elif "json" in recorded:
        ctype, chunks = "application/json", [json.dumps(recorded["json"], ensure_ascii=False).encode()]
    else:
        ctype = recorded.get("content_type") or "text/plain; charset=utf-8"
        chunks = [str(recorded["text"]).encode()]
    error = decode_error(recorded["error"], request) if "error" in recorded else None
    stream = ReplayStream(chunks, error)
    return httpx.Response(recorded["status"], headers={"content-type": ctype}, stream=stream, request=request)


# --------------------------------------------------------------------------- drift reports


def pretty_lines(value: Any) -> list[str]:
    """Pretty-printed, key-sorted JSON lines, for diffs."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def drift_paths(recorded: Any, actual: Any, where: str = "") -> list[str]:
    """Dotted paths (``json.messages[1].content``) where two decoded JSON values differ."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        paths: list[str] = []
        for key in sorted(set(recorded) | set(actual), key=str):
            sub = f"{where}.{key}" if where else str(key)
            paths += drift_paths(recorded.get(key, _MISSING), actual.get(key, _MISSING), sub)
        return paths
    if isinstance(recorded, list) and isinstance(actual, list) and len(recorded) == len(actual):
        return [
            path
            for i, (a, b) in enumerate(zip(recorded, actual, strict=True))
            for path in drift_paths(a, b, f"{where}[{i}]")
        ]
    return [] if recorded == actual else [where or "<root>"]
