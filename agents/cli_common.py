"""What every qwengraph command shares: one-line errors, the streaming display, approvals."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import click
import typer
from rich.color import ColorSystem
from rich.console import Console
from rich.markup import escape
from rich.style import Style

from graphs.errors import QwenGraphError, QwenGraphWarning
from graphs.exit_codes import ExitCode

if TYPE_CHECKING:
    from agents.cli_progress import StatusLine
    from agents.runner import Event
    from graphs.memory.locks import Holder

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile", help="The model's Qwen profile (qwen3, qwen3.5, …); default: detected.", metavar="NAME"
    ),
]
"""``--profile NAME`` (see graphs.models.profiles), shared by run, chat and resume."""

NO_WAIT_HELP = "Refuse (exit 8) instead of waiting when another run is using the thread."
DEBUG_ENV = "QWENGRAPH_DEBUG"
"""Set to 1 to let unexpected errors show their traceback."""


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    """Print ``warning: message`` on stderr (the run goes on; the exit code does not change)."""
    Console(stderr=True).print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn every failure into one ``error: ...`` line on stderr and its exit code (never a traceback).

    The codes are :class:`graphs.exit_codes.ExitCode`: qwengraph errors carry their own; bad tool
    input (a missing path, a malformed argument) is USAGE; other tool failures (no sandbox) TOOL;
    database and file system errors STORAGE; Ctrl-C INTERRUPTED; anything unexpected INTERNAL (set
    ``QWENGRAPH_DEBUG=1`` to see its traceback). qwengraph warnings print as ``warning: ...`` lines.
    """
    import prompts  # noqa: PLC0415 - imported when a command runs, not for --help
    from tools.errors import ToolError, ToolInputError, ToolLimitError  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("always", QwenGraphWarning)
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, QwenGraphWarning):
                warn(str(message))
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        try:
            yield
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except QwenGraphError as err:
            raise fail(str(err), err.exit_code) from None
        except (ToolInputError, ToolLimitError) as err:
            raise fail(str(err), ExitCode.USAGE) from None
        except ToolError as err:
            raise fail(f"tool: {err}", ExitCode.TOOL) from None
        except prompts.PromptError as err:
            raise fail(str(err), ExitCode.USAGE) from None
        except sqlite3.Error as err:
            raise fail(f"database error: {err}", ExitCode.STORAGE) from None
        except OSError as err:
            where = f" ({err.filename})" if err.filename else ""
            raise fail(f"{err.strerror or err}{where}", ExitCode.STORAGE) from None
        except KeyboardInterrupt:
            raise fail("interrupted", ExitCode.INTERRUPTED) from None
        except UnicodeEncodeError as err:  # lone surrogates: undecodable bytes from the command line
            if "surrogates" not in str(err):
                raise fail(internal_message(err), ExitCode.INTERNAL) from None
            raise fail(
                f"an argument is not valid UTF-8 ({err.object[err.start : err.end]!r})", ExitCode.USAGE
            ) from None
        except Exception as err:
            if os.environ.get(DEBUG_ENV):
                raise
            raise fail(internal_message(err), ExitCode.INTERNAL) from None


def waiting_note(thread: str) -> Callable[[Holder], None]:
    """The ``on_wait`` callback of a CLI run: one line on stderr saying what the run waits for."""

    def note(holder: Holder) -> None:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"waiting: thread {thread!r} is in use by another run ({holder.describe()}); "
            "this run starts when it ends (Ctrl-C to give up, --no-wait to refuse instead)",
            style="yellow",
            markup=False,
        )

    return note


def internal_message(err: BaseException) -> str:
    """The one line for an unexpected error: its type and first line, and how to see more."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    detail = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return f"internal error ({detail}); please report it (set {DEBUG_ENV}=1 to see the traceback)"


def stdin_line(stream: TextIO | None = None) -> str | None:
    """One line from standard input, decoded strictly (see :func:`agents.cli_input.read_line`)."""
    from agents import cli_input  # noqa: PLC0415

    source = stream or sys.stdin
    return cli_input.read_line(source.buffer)


def write_text(console: Console, text: str, style: str | None = None) -> None:
    """Write model text as it is: no markup, no wrapping, no measuring (``Console.print`` costs about
    a second per megabyte; this is linear and fast, so a 10 MB answer shows at once). ``style`` is
    applied with ANSI codes when the console has colour."""
    if style and console.color_system and not console.no_color:
        text = Style.parse(style).render(text, color_system=ColorSystem.STANDARD)
    console.file.write(text)
    console.file.flush()


class Display:
    """Streams thinking (dimmed), answer text, tool results and progress lines to the terminal.

    With a :class:`~agents.cli_progress.StatusLine`, the live status line is erased before each
    print and told what was printed, so it only ever appears while the screen is idle.
    """

    def __init__(self, console: Console, status: StatusLine | None = None) -> None:
        self.console = console
        self.status = status
        self.last: str | None = None

    def _out(self, text: str, *, end: str = "\n", style: str | None = None) -> None:
        if self.status is not None:
            self.status.clear()
        write_text(self.console, text + end, style)  # linear: a 10 MB answer shows at once
        if self.status is not None:
            self.status.printed(text + end)

    def __call__(self, event: Event) -> None:
        if event.kind in ("tool_call", "summary"):  # shown with its result; the summary is the end
            return
        if event.kind == "value" and self.last in ("text", None):  # a checked value inside the answer
            self._out(event.text, style="cyan", end="")
            self.last = "text"
            return
        if event.kind != self.last and self.last is not None:
            self._out("")
        if event.kind == "thinking":
            self._out(event.text, style="dim", end="")
        elif event.kind == "text":
            self._out(event.text, end="")
        elif event.kind == "progress":
            self._out(event.text, style="magenta")
            self.last = None
            return
        else:
            args = json.dumps(event.args or {}, ensure_ascii=False)
            self._out(f"→ {event.name}({args}) = {event.text}", style="cyan")
            self.last = None
            return
        self.last = event.kind


class TerminalApprover:
    """Asks on the terminal before an approved-only tool runs: approve, reject or edit.

    Questions go to stderr so ``--json`` output stays clean. Answers are read from stdin; when it is
    closed (no terminal, CI) the call is rejected rather than the run hanging.
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        args = json.dumps(request.get("args") or {}, ensure_ascii=False)
        call = escape(f"{request.get('name')}({args})")  # model-written text: never markup
        self.console.print(f"[yellow]approve[/] {call}? {escape('[a]pprove / [r]eject / [e]dit')}: ", end="")
        answer = self._line()
        if answer is None:
            self.console.print()
            return {"action": "reject", "reason": "no answer: standard input is closed"}
        choice = answer.strip().lower()
        if choice in {"a", "approve", "y", "yes"}:
            return {"action": "approve"}
        if choice in {"e", "edit"}:
            self.console.print("new arguments as a JSON object: ", end="")
            try:
                edited = json.loads(self._line() or "null")
            except ValueError:
                edited = None
            if isinstance(edited, dict):
                return {"action": "edit", "args": edited}
            self.console.print("[red]not a JSON object: the call is rejected[/]")
            return {"action": "reject", "reason": "the edited arguments were not a JSON object"}
        return {"action": "reject", "reason": "rejected by the user"}

    def _line(self) -> str | None:
        try:
            return stdin_line()
        except QwenGraphError:  # not UTF-8: an answer we cannot read is no approval
            return ""
