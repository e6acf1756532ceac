"""Record and replay model-server HTTP exchanges as JSON cassettes.

``record(path)`` wraps the real httpx transports (``httpx.HTTPTransport.handle_request`` and
``httpx.AsyncHTTPTransport.handle_async_request``, plus ``httpx_aiohttp.AiohttpTransport`` when that
package is installed) for the duration of a ``with`` block, so the official ``ollama`` client, which
builds its own ``httpx.Client``, is recorded as well as our own clients, with nothing injected.
Streams still stream: the byte stream is teed as the caller reads it, and an exchange holds whatever
was read when the stream was closed. The file is written atomically on exit, also when the block
raised (``meta.error`` then says what was raised).

``replay(path)`` serves the interactions in order through a respx router (``assert_all_mocked``, so
nothing reaches the network), streamed chunk by chunk so clients' streaming code really runs, and
raises :class:`~graphs.errors.CassetteError` when a request drifts from the recording (method, path
and JSON body are compared; the message names the interaction, the differing fields and shows a
unified diff), when more requests come than were recorded, and, on a clean exit, when recorded
interactions were left unplayed. A drift error is also re-raised on exit in case the calling code
swallowed it (e.g. a retry loop).

Both are plain context managers and wrap sync and async code alike::

    with record("tests/cassettes/calc.json", meta={"note": "17*23"}):
        agent.invoke(...)
    with replay("tests/cassettes/calc.json"):
        agent.invoke(...)  # no server needed

The file format is described in :mod:`graphs.models.cassette_format`.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
import respx

from graphs.errors import CassetteError
from graphs.models.cassette_format import (
    FORMAT_VERSION,
    Cassette,
    StrPath,
    check_writable,
    decode_response,
    decompress,
    drift_paths,
    encode_body,
    encode_error,
    encode_request,
    pretty_lines,
    qwengraph_version,
)
from graphs.models.transports.aio import AiohttpTransport

__all__ = ["Cassette", "Mode", "Recorder", "Replayer", "active", "cassette", "record", "replay"]

Mode = Literal["replay", "record", "auto"]

# The cassettes open right now, innermost last. Seams without HTTP (the in-process local engine)
# look here; HTTP traffic is caught by the transport patches instead.
_OPEN: list[Recorder | Replayer] = []


def active() -> Recorder | Replayer | None:
    """The innermost open cassette, if any."""
    return _OPEN[-1] if _OPEN else None


class _Finished:
    """An exchange recorded whole at a non-HTTP seam."""

    def __init__(self, interaction: dict[str, Any]) -> None:
        self._interaction = interaction

    def interaction(self) -> dict[str, Any]:
        return self._interaction


class _Capture:
    """One exchange being recorded; the response stream fills it as the caller reads it."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request
        self.status: int | None = None
        self.headers = httpx.Headers()
        self.chunks: list[bytes] = []
        self.error: dict[str, str] | None = None

    def respond(self, response: httpx.Response) -> None:
        self.status, self.headers = response.status_code, response.headers

    def interaction(self) -> dict[str, Any]:
        response: dict[str, Any] = {}
        if self.status is not None:
            raw = decompress(b"".join(self.chunks), self.headers.get("content-encoding", ""))
            text = raw.decode("utf-8", errors="replace")
            response = {"status": self.status, **encode_body(self.headers.get("content-type", ""), text)}
        if self.error is not None:
            response["error"] = self.error
        return {"request": self.request, "response": response}


class _SyncTee(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, capture: _Capture) -> None:
        self._inner, self._capture = inner, capture

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._capture.chunks.append(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._capture.error = encode_error(exc)
            raise

    def close(self) -> None:
        self._inner.close()


class _AsyncTee(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, capture: _Capture) -> None:
        self._inner, self._capture = inner, capture

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                self._capture.chunks.append(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._capture.error = encode_error(exc)
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


def _async_transport_classes() -> list[type[httpx.AsyncBaseTransport]]:
    classes: list[type[httpx.AsyncBaseTransport]] = [httpx.AsyncHTTPTransport, AiohttpTransport]
    with contextlib.suppress(ImportError, AttributeError):  # the httpx-aiohttp package's, if installed
        classes.append(importlib.import_module("httpx_aiohttp").AiohttpTransport)
    return classes


class Recorder:
    """Context manager recording every httpx exchange of the process to a cassette file.

    Args:
        path: where the cassette is written (overwritten) on exit.
        meta: extra metadata merged over the automatic ``format``/``created``/``qwengraph``/``models``.
    """

    def __init__(self, path: StrPath, meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.extra_meta = dict(meta or {})
        self._captures: list[_Capture | _Finished] = []
        self._lock = threading.Lock()
        self._created = ""
        self._patches: list[tuple[type, str, Any]] = []

    def _begin(self, request: httpx.Request) -> _Capture:
        capture = _Capture(encode_request(request))
        with self._lock:
            self._captures.append(capture)
        return capture

    def _drop(self, capture: _Capture) -> None:
        with self._lock:
            self._captures.remove(capture)

    def add(self, interaction: dict[str, Any]) -> None:
        """Record an exchange made at a seam without HTTP (``request``/``response`` as in the file)."""
        with self._lock:
            self._captures.append(_Finished(interaction))

    def _patch(self, cls: type, name: str, new: Callable[..., Any]) -> None:
        self._patches.append((cls, name, cls.__dict__[name]))
        setattr(cls, name, new)

    def _sync_wrapper(self, original: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
        def handle_request(transport: Any, request: httpx.Request) -> httpx.Response:
            request.read()
            capture = self._begin(request)
            try:
                response = original(transport, request)
            except httpx.TransportError as exc:
                capture.error = encode_error(exc)
                raise
            except BaseException:
                self._drop(capture)
                raise
            capture.respond(response)
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _SyncTee(response.stream, capture)
            return response

        return handle_request

    def _async_wrapper(self, original: Callable[..., Any]) -> Callable[..., Any]:
        async def handle_async_request(transport: Any, request: httpx.Request) -> httpx.Response:
            await request.aread()
            capture = self._begin(request)
            try:
                response: httpx.Response = await original(transport, request)
            except httpx.TransportError as exc:
                capture.error = encode_error(exc)
                raise
            except BaseException:
                self._drop(capture)
                raise
            capture.respond(response)
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = _AsyncTee(response.stream, capture)
            return response

        return handle_async_request

    def __enter__(self) -> Recorder:
        check_writable(self.path)
        self._created = datetime.now(UTC).isoformat(timespec="seconds")
        sync_original = httpx.HTTPTransport.handle_request
        self._patch(httpx.HTTPTransport, "handle_request", self._sync_wrapper(sync_original))
        for cls in _async_transport_classes():
            self._patch(cls, "handle_async_request", self._async_wrapper(cls.handle_async_request))
        _OPEN.append(self)
        return self

    def cassette(self) -> Cassette:
        """The cassette recorded so far (streams still open contribute what was read)."""
        with self._lock:
            interactions = [c.interaction() for c in self._captures]
        bodies = [i["request"].get("json") for i in interactions]
        models = sorted({str(b["model"]) for b in bodies if isinstance(b, dict) and b.get("model")})
        meta = {"format": FORMAT_VERSION, "created": self._created, "qwengraph": qwengraph_version()}
        return Cassette({**meta, "models": models, **self.extra_meta}, interactions, self.path)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        while self._patches:
            cls, name, original = self._patches.pop()
            setattr(cls, name, original)
        _OPEN.remove(self)
        recorded = self.cassette()
        if exc is None:
            recorded.save()
            return
        recorded.meta["error"] = f"{type(exc).__name__}: {exc}"
        try:
            recorded.save()
        except CassetteError as err:  # the run's own error stays the one reported
            exc.add_note(f"(the cassette was not saved: {err})")


class Replayer:
    """Context manager serving a cassette's interactions instead of the network, through respx.

    Args:
        source: a cassette file or an already loaded :class:`Cassette`.
        ordered: serve strictly in recorded order (default). With ``False`` a request takes the first
            unplayed interaction whose request matches exactly, for concurrent runs whose order varies.
    """

    def __init__(self, source: StrPath | Cassette, *, ordered: bool = True) -> None:
        self.cassette = source if isinstance(source, Cassette) else Cassette.load(source)
        self.ordered = ordered
        self.played = [False] * len(self.cassette.interactions)
        self.error: CassetteError | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._router: Any = None

    @property
    def name(self) -> str:
        """The cassette's file name, for messages."""
        return str(self.cassette.path or "<cassette>")

    def remaining(self) -> list[dict[str, Any]]:
        """Interactions not played yet."""
        return [i for i, done in zip(self.cassette.interactions, self.played, strict=True) if not done]

    def _fail(self, message: str) -> CassetteError:
        error = CassetteError(message)
        self.error = self.error or error
        return error

    def _serve(self, request: httpx.Request) -> httpx.Response:
        return decode_response(request, self.take(encode_request(request)))

    def take(self, actual: dict[str, Any]) -> dict[str, Any]:
        """The recorded response for request ``actual`` (checked against the recording), marked played."""
        with self._lock:
            self._count += 1
            unplayed = [i for i, done in enumerate(self.played) if not done]
            if not unplayed:
                raise self._fail(
                    f"cassette {self.name}: request #{self._count} {actual['method']} {actual['path']} "
                    f"has no recorded interaction left ({len(self.played)} recorded, all played)"
                )
            index = unplayed[0]
            if not self.ordered:
                interactions = self.cassette.interactions
                index = next((i for i in unplayed if interactions[i]["request"] == actual), index)
            recorded = self.cassette.interactions[index]["request"]
            if recorded != actual:
                fields = ", ".join(drift_paths(recorded, actual)[:8])
                diff = difflib.unified_diff(
                    pretty_lines(recorded), pretty_lines(actual), "recorded", "actual", lineterm=""
                )
                raise self._fail(
                    f"cassette {self.name}: request #{self._count} drifted from the recording "
                    f"(interactions[{index}]) at {fields}\n" + "\n".join(diff)
                )
            self.played[index] = True
        response: dict[str, Any] = self.cassette.interactions[index]["response"]
        return response

    def __enter__(self) -> Replayer:
        self._router = respx.MockRouter(assert_all_mocked=True, assert_all_called=False, using="httpx")
        self._router.route().mock(side_effect=self._serve)
        self._router.start()
        _OPEN.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._router.stop(quiet=True)
        _OPEN.remove(self)
        if exc_type is not None:
            return
        if self.error is not None:
            raise self.error
        left = self.remaining()
        if left:
            paths = ", ".join(f"{i['request']['method']} {i['request']['path']}" for i in left[:5])
            more = ", ..." if len(left) > 5 else ""
            raise CassetteError(
                f"cassette {self.name}: {len(left)} recorded interaction(s) left unplayed: {paths}{more}"
            )


def record(path: StrPath, meta: dict[str, Any] | None = None) -> Recorder:
    """Record every httpx exchange inside the ``with`` block to ``path`` (overwriting it)."""
    return Recorder(path, meta)


def replay(path: StrPath | Cassette, *, ordered: bool = True) -> Replayer:
    """Serve the cassette at ``path`` instead of the network inside the ``with`` block."""
    return Replayer(path, ordered=ordered)


def cassette(path: StrPath, mode: Mode = "replay", meta: dict[str, Any] | None = None) -> Recorder | Replayer:
    """Open a cassette in ``mode``: ``replay``, ``record``, or ``auto`` (record only if the file is missing).

    ``auto`` is handy while writing a test, but a deleted cassette then silently goes to the network,
    so the default is ``replay`` and CI should keep it. ``meta`` is used only when recording.
    """
    if mode == "record" or (mode == "auto" and not Path(path).exists()):
        return record(path, meta)
    if mode in ("replay", "auto"):
        return replay(path)
    raise CassetteError(f"unknown cassette mode {mode!r} (expected replay, record or auto)")
