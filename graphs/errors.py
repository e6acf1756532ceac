"""The qwengraph error tree (everything above ``tools/``).

::

    QwenGraphError                 root: the CLI prints ``str(err)`` as one line, exit code ``err.exit_code``
    ├── ConfigError                bad model URI, flag, setting or environment value
    │   └── InputTooLong           the user's input is over the configured maximum length
    ├── ModelError                 anything between us and a model server
    │   ├── ServerUnavailable      connection refused / DNS / timeouts, after bounded retries
    │   ├── ServerError            HTTP 5xx or 429 after retries, or an unexpected 4xx (status, body,
    │   │                          ``retry_after``)
    │   ├── ModelNotFound          the server does not know the model (Ollama 404: suggest ``ollama pull``)
    │   ├── ResponseFormatError    a response we cannot read as any known Qwen dialect
    │   ├── StreamInterrupted      the connection broke after part of the answer had arrived
    │   ├── EngineCrash            the local engine crashed in its probe (a child process): cause + workaround
    │   └── ContextOverflow        a prompt longer than the local engine's context window (with the numbers)
    ├── ModelInstallError          local GGUF install: unknown name, no disk space, pip/network, bad hash
    ├── CassetteError              record/replay: drift from the recording, unplayed interactions, bad file
    ├── GraphError                 graph construction or run problems (unknown graph name, bad spec)
    │   └── DrawError              a graph drawing could not be rendered or written (no Graphviz)
    ├── MemoryError_               checkpointer / store / trace database problems (named with a trailing
    │   │                          underscore so the builtin ``MemoryError`` is never shadowed)
    │   ├── MemoryURIError         a memory URI of none of the accepted forms
    │   ├── ThreadBusy             another run holds the thread's lock (and the caller would not wait)
    │   └── TraceNotFound          no recorded run with that id (or the id prefix is ambiguous)
    ├── RateLimited                a user sent requests faster than allowed (carries ``retry_after``)
    ├── RunCancelled               the caller cancelled a run (its client went away, a batch stopped)
    └── EvalError                  an evaluation cannot run or be read back (``qwengraph eval``)
        ├── EvalDataError          benchmark data could not be fetched or failed its SHA-256 check
        └── EvalRunNotFound        no stored eval run with that id (or the id prefix is ambiguous)

Warnings (``QwenGraphWarning``, a ``UserWarning``) report what went wrong without failing the run,
e.g. ``TraceNotWritten``: the answer stands, its trace could not be stored; the CLI prints them as
``warning: ...`` lines.

Exceptions carry data in attributes and never log. ``tools/`` has its own ``ToolError`` family so it
stays usable on its own; the CLI maps both trees to one clear line on stderr. Exit codes come from
one table, :class:`graphs.exit_codes.ExitCode`, which the README's "Exit codes" section states.
"""

from __future__ import annotations

from graphs.exit_codes import ExitCode


class QwenGraphError(Exception):
    """Root of every error qwengraph raises on purpose."""

    exit_code: int = int(ExitCode.INTERNAL)


class ConfigError(QwenGraphError):
    """A model URI, CLI flag, setting or environment variable is invalid."""

    exit_code = ExitCode.USAGE


class ModelError(QwenGraphError):
    """A problem talking to a model server or reading its answer."""

    exit_code = ExitCode.MODEL


class ServerUnavailable(ModelError):
    """The server could not be reached (refused, unresolvable, timed out) after retries."""

    def __init__(self, message: str, *, url: str, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts


class ServerError(ModelError):
    """The server answered with an HTTP error (5xx or 429 after retries, or an unexpected 4xx).

    ``retry_after`` is the wait in seconds the server asked for (its ``Retry-After`` header), if any.
    """

    def __init__(
        self, message: str, *, url: str, status: int, body: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body
        self.retry_after = retry_after


class ModelNotFound(ModelError):
    """The server does not serve the requested model."""

    def __init__(self, message: str, *, model: str, url: str) -> None:
        super().__init__(message)
        self.model = model
        self.url = url


class ResponseFormatError(ModelError):
    """The server answered with something that is not any known chat dialect."""


class StreamInterrupted(ModelError):
    """The connection broke (or the stream ended early) after part of the answer had arrived.

    Not retried: what arrived was already shown. ``received`` counts the characters of thinking and
    answer that had arrived.
    """

    def __init__(self, message: str, *, url: str, received: int) -> None:
        super().__init__(message)
        self.url = url
        self.received = received


class EngineCrash(ModelError):
    """The in-process engine crashed (or failed) in its probe, a test decode in a child process.

    ``signal`` names the signal that killed the child (``SIGSEGV``, ``SIGILL``...) or is ``None``
    when it exited with an error; the message names the cause and the workaround.
    """

    def __init__(self, message: str, *, model: str, signal: str | None) -> None:
        super().__init__(message)
        self.model = model
        self.signal = signal


class ContextOverflow(ModelError):
    """A prompt does not fit the local engine's context window."""

    def __init__(self, message: str, *, tokens: int, limit: int) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.limit = limit


class ModelInstallError(QwenGraphError):
    """A local model could not be installed, found or verified (the message says what to do)."""

    exit_code = ExitCode.INSTALL

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model


class CassetteError(QwenGraphError):
    """Record/replay failure: request drift, unplayed interactions, unreadable cassette."""

    exit_code = ExitCode.CASSETTE


class GraphError(QwenGraphError):
    """A graph could not be built or run as specified."""

    exit_code = ExitCode.USAGE


class DrawError(GraphError):
    """A graph drawing could not be rendered (Graphviz missing or failing) or written."""

    exit_code = ExitCode.TOOL


class MemoryError_(QwenGraphError):  # noqa: N801 - trailing underscore avoids shadowing the builtin
    """A checkpointer, store or trace database could not be opened or written."""

    exit_code = ExitCode.STORAGE


class MemoryURIError(MemoryError_):
    """A memory URI has none of the accepted forms."""

    exit_code = ExitCode.USAGE


class ThreadBusy(MemoryError_):
    """Another run holds the thread's lock; ``holder`` describes it (pid, host, since when)."""

    exit_code = ExitCode.BUSY

    def __init__(self, message: str, *, thread: str, holder: str) -> None:
        super().__init__(message)
        self.thread = thread
        self.holder = holder


class TraceNotFound(MemoryError_):
    """No recorded run trace has this id (or an abbreviated id matches several runs)."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class InputTooLong(ConfigError):
    """The user's input is longer than the configured maximum."""

    def __init__(self, message: str, *, limit: int, length: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.length = length


class RateLimited(QwenGraphError):
    """A user made more requests than the rate limit allows; retry after ``retry_after`` seconds."""

    exit_code = ExitCode.RATE_LIMITED

    def __init__(self, message: str, *, user_id: str, retry_after: float) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.retry_after = retry_after


class RunCancelled(QwenGraphError):
    """The caller cancelled a run before it finished (its client went away, the batch was stopped)."""

    exit_code = ExitCode.INTERRUPTED


class QwenGraphWarning(UserWarning):
    """Something failed that does not change the run's outcome (the CLI prints ``warning: ...``)."""


class TraceNotWritten(QwenGraphWarning):
    """A run's trace could not be written to ``traces.db``; the run itself is unaffected."""


class EvalError(QwenGraphError):
    """An evaluation could not run or be read back."""

    exit_code = ExitCode.USAGE


class EvalDataError(EvalError):
    """Benchmark data could not be fetched, or its bytes are not the pinned release's."""

    exit_code = ExitCode.INSTALL


class EvalRunNotFound(EvalError):
    """No stored eval run has this id (or an abbreviated id matches several runs)."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id
