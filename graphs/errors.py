"""The qwengraph error tree (everything above ``tools/``).

::

    QwenGraphError                 root: the CLI prints ``str(err)`` as one line, exit code ``err.exit_code``
    ├── ConfigError                bad model URI, flag, setting or environment value
    │   └── InputTooLong           the user's input is over the configured maximum length
    ├── ModelError                 anything between us and a model server
    │   ├── ServerUnavailable      connection refused / DNS / timeouts, after bounded retries
    │   ├── ServerError            HTTP 5xx after retries, or an unexpected 4xx (carries status and body)
    │   ├── ModelNotFound          the server does not know the model (Ollama 404: suggest ``ollama pull``)
    │   ├── ResponseFormatError    a response we cannot read as any known Qwen dialect
    │   ├── EngineCrash            the local engine crashed in its probe (a child process): cause + workaround
    │   └── ContextOverflow        a prompt longer than the local engine's context window (with the numbers)
    ├── ModelInstallError          local GGUF install: unknown name, no disk space, pip/network, bad hash
    ├── CassetteError              record/replay: drift from the recording, unplayed interactions, bad file
    ├── GraphError                 graph construction or run problems (unknown graph name, bad spec)
    │   └── DrawError              a graph drawing could not be rendered or written (no Graphviz)
    ├── MemoryError_               checkpointer / store problems (named with a trailing underscore so
    │   │                          the builtin ``MemoryError`` is never shadowed)
    │   └── TraceNotFound          no recorded run with that id (or the id prefix is ambiguous)
    ├── RateLimited                a user sent requests faster than allowed (carries ``retry_after``)
    └── EvalError                  an evaluation cannot run or be read back (``qwengraph eval``)
        ├── EvalDataError          benchmark data could not be fetched or failed its SHA-256 check
        └── EvalRunNotFound        no stored eval run with that id (or the id prefix is ambiguous)

Exceptions carry data in attributes and never log. ``tools/`` has its own ``ToolError`` family so it
stays usable on its own; the CLI maps both trees to one clear line on stderr.
"""

from __future__ import annotations


class QwenGraphError(Exception):
    """Root of every error qwengraph raises on purpose."""

    exit_code: int = 1


class ConfigError(QwenGraphError):
    """A model URI, CLI flag, setting or environment variable is invalid."""

    exit_code = 2


class ModelError(QwenGraphError):
    """A problem talking to a model server or reading its answer."""

    exit_code = 3


class ServerUnavailable(ModelError):
    """The server could not be reached (refused, unresolvable, timed out) after retries."""

    def __init__(self, message: str, *, url: str, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts


class ServerError(ModelError):
    """The server answered with an HTTP error (5xx after retries, or an unexpected 4xx)."""

    def __init__(self, message: str, *, url: str, status: int, body: str) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body


class ModelNotFound(ModelError):
    """The server does not serve the requested model."""

    def __init__(self, message: str, *, model: str, url: str) -> None:
        super().__init__(message)
        self.model = model
        self.url = url


class ResponseFormatError(ModelError):
    """The server answered with something that is not any known chat dialect."""


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

    exit_code = 5

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model


class CassetteError(QwenGraphError):
    """Record/replay failure: request drift, unplayed interactions, unreadable cassette."""

    exit_code = 4


class GraphError(QwenGraphError):
    """A graph could not be built or run as specified."""


class DrawError(GraphError):
    """A graph drawing could not be rendered (Graphviz missing or failing) or written."""


class MemoryError_(QwenGraphError):  # noqa: N801 - trailing underscore avoids shadowing the builtin
    """A checkpointer or store failed."""


class TraceNotFound(MemoryError_):
    """No recorded run trace has this id (or an abbreviated id matches several runs)."""

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

    exit_code = 6

    def __init__(self, message: str, *, user_id: str, retry_after: float) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.retry_after = retry_after


class EvalError(QwenGraphError):
    """An evaluation could not run or be read back."""


class EvalDataError(EvalError):
    """Benchmark data could not be fetched, or its bytes are not the pinned release's."""

    exit_code = 5


class EvalRunNotFound(EvalError):
    """No stored eval run has this id (or an abbreviated id matches several runs)."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id
