"""Warm worker processes for the ``symbolic`` tool, killed when an operation overruns its deadline.

Why processes, and why these: sympy calls on small inputs can run for minutes (``integrate`` of a
hard integrand, ``factor`` of a huge polynomial) and a Python thread cannot be stopped, so the
work runs in a separate process that is killed (``SIGKILL`` to its session) at the deadline.
``multiprocessing`` is not used: ``fork`` from a threaded host (LangGraph runs tools in thread
pools) can deadlock the child, and ``spawn``/``forkserver`` re-import the caller's ``__main__``.
Instead a worker is a plain ``subprocess`` started once (importing sympy takes about a second) and
kept warm: requests and replies are single JSON lines on its stdin and stdout, so a call costs
milliseconds plus the sympy work. The worker limits its own address space (``RLIMIT_AS``), runs
in its own session (a Ctrl-C in the terminal does not reach it) and exits when its stdin closes,
so it never outlives the caller. POSIX only (``select`` on pipes).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.errors import ToolError, ToolInputError, ToolLimitError

if TYPE_CHECKING:
    from tools.symbolic_parse import SymbolicSettings

__all__ = ["run_in_worker", "serve", "shutdown"]

_STARTUP_SECONDS = 60.0
_MAX_REPLY = 1 << 20
_ROOT = str(Path(__file__).resolve().parent.parent)
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from tools.symbolic_worker import serve; serve()"


class _Worker:
    """One worker process and its half-read reply buffer."""

    def __init__(self, memory_mb: int) -> None:
        self.buffer = b""
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and fixed code)
            [sys.executable, "-c", _BOOT, str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            start_new_session=True,
        )
        if self.read_line(time.monotonic() + _STARTUP_SECONDS) != "ready":
            self.kill()
            raise ToolLimitError("the symbolic math worker did not start (is sympy installed?)")

    def ask(self, request: str, timeout: float) -> str | None:
        """Send one request line; the reply line, or None when ``timeout`` passed first."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(request.encode() + b"\n")
        stdin.flush()
        return self.read_line(time.monotonic() + timeout)

    def read_line(self, deadline: float) -> str | None:
        stdout = self.process.stdout
        assert stdout is not None
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdout], [], [], remaining)[0]:
                return None
            chunk = os.read(stdout.fileno(), 65536)
            if not chunk or len(self.buffer) > _MAX_REPLY:
                self.kill()
                raise ToolLimitError(
                    "the symbolic math worker stopped (out of memory?); try something smaller"
                )
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class _Pool:
    """Idle warm workers; at most ``max_workers`` busy at once (further calls wait)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.slots: threading.BoundedSemaphore | None = None

    def run(self, request: dict[str, Any], settings: SymbolicSettings) -> str:
        with self.lock:
            if self.slots is None:
                self.slots = threading.BoundedSemaphore(settings.max_workers)
            slots = self.slots
        with slots:
            with self.lock:
                worker = self.idle.pop() if self.idle else None
            if worker is None:
                worker = _Worker(settings.memory_mb)
            try:
                try:
                    line = worker.ask(json.dumps(request), settings.timeout)
                except BrokenPipeError:  # an idle worker died (killed from outside): use a fresh one
                    worker.kill()
                    worker = _Worker(settings.memory_mb)
                    line = worker.ask(json.dumps(request), settings.timeout)
            except BaseException:
                worker.kill()
                raise
            if line is None:
                worker.kill()
                self._replace(settings)
                raise ToolLimitError(
                    f"the computation took longer than {settings.timeout:g} s and was stopped; "
                    "try a simpler expression or another operation"
                )
            reply = json.loads(line)
            if reply.get("exit"):
                worker.kill()
            else:
                with self.lock:
                    self.idle.append(worker)
        if "ok" in reply:
            return str(reply["ok"])
        error = ToolLimitError if reply.get("error") == "limit" else ToolInputError
        raise error(str(reply.get("message", "the symbolic math worker failed")))

    def _replace(self, settings: SymbolicSettings) -> None:
        """Start a warm replacement in the background, so the next call does not wait for sympy's import."""

        def start() -> None:
            with contextlib.suppress(ToolError, OSError):
                worker = _Worker(settings.memory_mb)
                with self.lock:
                    self.idle.append(worker)

        threading.Thread(target=start, name="symbolic-worker-start", daemon=True).start()

    def close(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.kill()


_POOL = _Pool()
atexit.register(_POOL.close)


def run_in_worker(request: dict[str, Any], settings: SymbolicSettings) -> str:
    """Run one request (the keyword arguments of :func:`tools.symbolic.prepare`) in a warm worker.

    Raises:
        ToolInputError: the worker refused the request or sympy could not do it.
        ToolLimitError: a bound was exceeded, the deadline passed or the worker died.
    """
    return _POOL.run(request, settings)


def shutdown() -> None:
    """Stop the idle workers (they also stop by themselves when this process exits)."""
    _POOL.close()


# --- inside the worker ------------------------------------------------------------------------------


def _limit_memory(extra_mb: int) -> None:
    """Cap the address space at its size after start-up plus ``extra_mb`` (Linux; elsewhere skipped)."""
    try:
        import resource  # noqa: PLC0415  (POSIX only)

        status = Path("/proc/self/status").read_text()
        size_kb = int(status.split("VmSize:")[1].split()[0])
    except (ImportError, OSError, IndexError, ValueError):
        return
    limit = (size_kb * 1024) + extra_mb * (1 << 20)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    from tools.symbolic_ops import compute  # noqa: PLC0415

    try:
        return {"ok": compute(request)}
    except ToolLimitError as error:
        return {"error": "limit", "message": str(error)}
    except ToolError as error:
        return {"error": "input", "message": str(error)}
    except MemoryError:
        return {
            "error": "limit",
            "message": "the computation ran out of memory; try something smaller",
            "exit": 1,
        }
    except RecursionError:
        return {"error": "limit", "message": "the expression is too deeply nested for sympy; simplify it"}
    except NotImplementedError as error:
        return {"error": "input", "message": f"sympy cannot do this: {str(error)[:300]}"}
    except Exception as error:  # noqa: BLE001  (sympy raises many types on odd input; the model can rephrase)
        detail = str(error)[:300]
        return {"error": "input", "message": f"sympy could not do this ({type(error).__name__}: {detail})"}


def serve() -> None:
    """The worker's main loop: JSON request lines on stdin, JSON reply lines on stdout."""
    import tools.symbolic_ops  # noqa: F401, PLC0415  (import sympy before announcing readiness)

    _limit_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the protocol
    sys.stdout = sys.stderr
    replies.write("ready\n")
    replies.flush()
    for line in sys.stdin:
        reply = _answer(json.loads(line))
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
        if reply.get("exit"):
            return
