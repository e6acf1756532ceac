"""What every qwengraph command shares: one-line errors, the streaming display, approvals."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from graphs.errors import QwenGraphError

if TYPE_CHECKING:
    from agents.cli_progress import StatusLine
    from agents.runner import Event

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile", help="The model's Qwen profile (qwen3, qwen3.5, …); default: detected.", metavar="NAME"
    ),
]
"""``--profile NAME`` (see graphs.models.profiles), shared by run, chat and resume."""


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn every expected failure into one ``error: ...`` line on stderr and its exit code.

    qwengraph errors carry their own code; bad tool input (a missing path, a malformed argument) is
    2; other tool failures (no sandbox) 6; database and file system errors 1; Ctrl-C 130.
    """
    import prompts  # noqa: PLC0415 - imported when a command runs, not for --help
    from tools.errors import ToolError, ToolInputError, ToolLimitError  # noqa: PLC0415

    try:
        yield
    except QwenGraphError as err:
        raise fail(str(err), err.exit_code) from None
    except (ToolInputError, ToolLimitError) as err:
        raise fail(str(err), 2) from None
    except ToolError as err:
        raise fail(f"tool: {err}", 6) from None
    except prompts.PromptError as err:
        raise fail(str(err), 2) from None
    except (sqlite3.Error, OSError) as err:
        raise fail(str(err), 1) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


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
        self.console.print(text, style=style, end=end, highlight=False, markup=False)
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
        self.console.print(
            f"[yellow]approve[/] {request.get('name')}({args})? [a]pprove / [r]eject / [e]dit: ", end=""
        )
        answer = sys.stdin.readline()
        if not answer:
            self.console.print()
            return {"action": "reject", "reason": "no answer: standard input is closed"}
        choice = answer.strip().lower()
        if choice in {"a", "approve", "y", "yes"}:
            return {"action": "approve"}
        if choice in {"e", "edit"}:
            self.console.print("new arguments as a JSON object: ", end="")
            try:
                edited = json.loads(sys.stdin.readline() or "null")
            except ValueError:
                edited = None
            if isinstance(edited, dict):
                return {"action": "edit", "args": edited}
            self.console.print("[red]not a JSON object: the call is rejected[/]")
            return {"action": "reject", "reason": "the edited arguments were not a JSON object"}
        return {"action": "reject", "reason": "rejected by the user"}
