"""The in-sandbox worker: a tiny notebook kernel that runs code sent over a pipe.

Runs as ``python _worker.py CONFIG_JSON`` inside the sandbox, with the standard library only (it must
not import qwengraph). On start it applies the resource limits, drops to the slot's uid when one is
given, then loops: read a length-prefixed JSON request from stdin, execute the code in one persistent
namespace, answer with a length-prefixed JSON result on the original stdout. The code's own stdout
and stderr (Python-level and fd-level, children included) go to internal pipes drained by threads,
each capped, so a 200 MB flood costs almost nothing and never reaches the host.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import linecache
import os
import resource
import signal
import stat
import struct
import sys
import threading
import traceback
from typing import Any

_HEADER = struct.Struct(">I")
_TRACEBACK_CHARS = 8000
_CAPTURE_STACK = 256 * 1024  # the capture threads need little; the default 8 MiB counts against RLIMIT_AS
CPU_EXIT_STATUS = 152
"""Exit status of a worker that used up its CPU time (the host reports ``timeout``)."""


class _Capture:
    """Drains one pipe, keeping at most ``cap`` bytes per call and watching for the end-of-call marker."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd, self.cap = fd, cap
        self.data = bytearray()
        self.dropped = 0
        self.marker = b""
        self.pending = b""
        self.seen = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

    def reset(self, marker: bytes) -> None:
        with self.lock:
            self.data, self.dropped, self.marker, self.pending = bytearray(), 0, marker, b""
            self.seen.clear()

    def _commit(self, chunk: bytes) -> None:
        room = max(self.cap - len(self.data), 0)
        self.data += chunk[:room]
        self.dropped += max(len(chunk) - room, 0)

    def _drain(self) -> None:
        while chunk := os.read(self.fd, 65536):
            with self.lock:
                if not self.marker:
                    self._commit(chunk)
                    continue
                window = self.pending + chunk
                index = window.find(self.marker)
                if index >= 0:
                    self._commit(window[:index])
                    self.marker, self.pending = b"", b""
                    self.seen.set()
                    continue
                keep = len(self.marker) - 1
                self._commit(window[: len(window) - keep])
                self.pending = window[len(window) - keep :]


class _CappedFd(io.RawIOBase):
    """A raw writer on an fd that silently drops bytes beyond a per-call budget (fast floods)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd, self.budget = fd, 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        keep = view[: max(self.budget, 0)]
        self.budget -= len(view)
        while keep:
            keep = keep[os.write(self.fd, keep) :]
        return len(view)


def _apply_limits(config: dict[str, Any]) -> None:
    limits = config["limits"]
    pairs = [
        (resource.RLIMIT_AS, limits["address_space"]),
        (resource.RLIMIT_FSIZE, limits["file_size"]),
        (resource.RLIMIT_NOFILE, limits["open_files"]),
        (resource.RLIMIT_CPU, limits["session_cpu_seconds"]),
        (resource.RLIMIT_CORE, 0),
    ]
    if config["limit_processes"]:  # the code's processes and threads, plus the two capture threads
        pairs.append((resource.RLIMIT_NPROC, limits["processes"] + 2))
    for which, value in pairs:
        resource.setrlimit(which, (value, value))
    ids = config.get("ids")
    if ids is not None and os.getuid() != ids[0]:
        uid, gid = ids
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        if os.getuid() != uid:
            raise SystemExit("could not drop privileges")


def _arm_cpu(seconds: int) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + seconds
    resource.setrlimit(resource.RLIMIT_CPU, (min(soft, hard), hard))


def _reap_children() -> None:
    """Collect the killed children so no zombie keeps counting against the process limit."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _compile(code: str, name: str) -> tuple[Any, Any]:
    """Compile a cell; a trailing expression is compiled separately so its value can be shown."""
    tree = ast.parse(code, name, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        expression = tree.body.pop()
        assert isinstance(expression, ast.Expr)
        last = compile(ast.Expression(expression.value), name, "eval")
    return compile(tree, name, "exec"), last


def _format_error(error: BaseException) -> tuple[str, str]:
    frames = traceback.extract_tb(error.__traceback__)
    keep = [frame for frame in frames if frame.filename != __file__]
    head = "".join(traceback.format_exception_only(type(error), error)).strip()
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(keep)) + head + "\n"
    if len(text) > _TRACEBACK_CHARS:
        text = (
            text[: _TRACEBACK_CHARS // 2] + "\n[... traceback trimmed ...]\n" + text[-_TRACEBACK_CHARS // 2 :]
        )
    return head, text


def _send(channel: int, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    payload = _HEADER.pack(len(body)) + body
    while payload:
        payload = payload[os.write(channel, payload) :]


def _read_exact(channel: int, size: int) -> bytes:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = os.read(channel, size - len(buffer))
        if not chunk:
            raise EOFError
        buffer += chunk
    return bytes(buffer)


def _setup(config: dict[str, Any]) -> tuple[int, int, list[_Capture], list[_CappedFd]]:
    """Apply limits, keep the protocol pipes private, and route fds 1 and 2 into capped captures."""
    null = os.open(os.devnull, os.O_RDONLY)  # before the uid drop (gVisor's /dev/null is root-only)
    _apply_limits(config)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises OSError (EFBIG) instead
    signal.signal(signal.SIGXCPU, lambda _signum, _frame: os._exit(CPU_EXIT_STATUS))
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(null, 0)
    cap = int(config["limits"]["output_bytes"])
    captures = []
    threading.stack_size(_CAPTURE_STACK)
    for target in (1, 2):
        read_end, write_end = os.pipe()
        os.dup2(write_end, target)
        os.close(write_end)
        captures.append(_Capture(read_end, cap))
    threading.stack_size(0)  # the code's own threads get the default
    raws = [_CappedFd(1), _CappedFd(2)]
    sys.stdout = io.TextIOWrapper(raws[0], encoding="utf-8", errors="replace", write_through=True)
    sys.stderr = io.TextIOWrapper(raws[1], encoding="utf-8", errors="replace", write_through=True)
    return requests, replies, captures, raws


def _execute(code: str, name: str, namespace: dict[str, Any], reply: dict[str, Any]) -> None:
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    try:
        body, last = _compile(code, name)
        exec(body, namespace)  # noqa: S102 - running untrusted code is the point; the sandbox confines it
        if last is not None:
            value = eval(last, namespace)  # noqa: S307 - same
            if value is not None:
                print(repr(value))
    except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too: the kernel lives on
        reply["exception"], reply["traceback"] = _format_error(error)
        reply["memory"] = isinstance(error, MemoryError)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _collect(captures: list[_Capture], marker: bytes, reply: dict[str, Any]) -> None:
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.write(fd, marker)
    for capture, key in zip(captures, ("stdout", "stderr"), strict=True):
        complete = capture.seen.wait(1.0)
        with capture.lock:
            reply[key] = capture.data.decode("utf-8", "replace")
            reply[key + "_truncated"] = capture.dropped > 0 or not complete
            capture.marker = b""


def _open_parent(parts: list[str], create: bool) -> int:
    """The directory holding ``parts[-1]`` under the working directory, never through a symlink."""
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _file(request: dict[str, Any], limit: int) -> dict[str, Any]:
    """Write (``put``) or read (``get``) one file of the working directory for the host."""
    parts = [str(p) for p in request["parts"]]
    try:
        dir_fd = _open_parent(parts, create=request["op"] == "put")
        try:
            if request["op"] == "put":
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                fd = os.open(parts[-1], flags, 0o644, dir_fd=dir_fd)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(base64.b64decode(request["data"]))
                return {"ok": True}
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as error:
        return {"error": f"cannot {'write' if request['op'] == 'put' else 'read'} ({error.strerror})"}
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return {"error": "is not a regular file"}
        if info.st_size > limit:
            return {"error": f"is larger than the {limit} byte limit", "limit": True}
        return {"data": base64.b64encode(handle.read(limit + 1)).decode()}


def main() -> None:
    """Set up, then serve requests until stdin closes."""
    config: dict[str, Any] = json.loads(sys.argv[1])
    requests, replies, captures, raws = _setup(config)
    cap = int(config["limits"]["output_bytes"])
    file_limit = int(config["limits"]["file_size"])
    max_request = 2 * file_limit + 16 * 1024 * 1024  # a base64 file, or code
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    _send(replies, {"ready": True})
    counter = 0
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exact(requests, _HEADER.size))
            if size > max_request:
                return
            request = json.loads(_read_exact(requests, size))
        except EOFError:
            return
        if request.get("op") in ("put", "get"):
            _send(replies, _file(request, file_limit))
            continue
        counter += 1
        marker = request["marker"].encode()
        for capture in captures:
            capture.reset(marker)
        for raw in raws:
            raw.budget = cap + 1
        reply: dict[str, Any] = {"exception": None, "traceback": None, "memory": False}
        _arm_cpu(int(request["cpu_seconds"]))
        _execute(request["code"], f"<cell {counter}>", namespace, reply)
        if config["reap_strays"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)  # every other process of this sandbox (pid namespace)
            _reap_children()
        _collect(captures, marker, reply)
        _send(replies, reply)


if __name__ == "__main__":
    main()
