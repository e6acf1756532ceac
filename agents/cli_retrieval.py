"""``qwengraph ingest`` and ``qwengraph search``: build and query the local retrieval index.

The work is done by :class:`tools.retrieval.Index`; these commands add a progress bar, a summary
table and JSON output. Errors (a missing path, a missing or corrupt index) are one line on stderr
and a non-zero exit code, never a traceback. :func:`register` mounts both commands on the main app.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.cli_common import clean_errors
from tools.retrieval import Index, IngestStats
from tools.retrieval.index import default_db_path
from tools.retrieval.tool import MAX_K, format_hits

__all__ = ["ingest_command", "register", "search_command"]

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="The index file (default: $QWENGRAPH_HOME/retrieval.db).", dir_okay=False),
]


def _summary(stats: IngestStats, index: Index) -> Table:
    documents, chunks = index.counts()
    table = Table(title=f"ingested into {index.path}")
    table.add_column("files", justify="left")
    table.add_column("count", justify="right")
    for label, value in (
        ("added", stats.added),
        ("updated", stats.updated),
        ("unchanged", stats.unchanged),
        ("removed", stats.removed),
        ("skipped", stats.skipped),
    ):
        table.add_row(label, str(value))
    table.add_section()
    table.add_row("chunks written", str(stats.chunks))
    size = f"{stats.bytes / 1e6:.1f} MB" if stats.bytes >= 1e6 else f"{stats.bytes / 1e3:.1f} KB"
    table.add_row("text indexed", f"{size} in {stats.seconds:.2f} s")
    table.add_row("index now holds", f"{documents} files, {chunks} chunks")
    return table


def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to index.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Index files into the local search database (incremental: unchanged files cost nothing)."""
    with clean_errors():
        console = Console(stderr=True)
        with Index(db) as index:
            with Progress(
                TextColumn("[bold]ingest"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=True,
                disable=not console.is_terminal,
            ) as bar:
                task = bar.add_task("", total=None)

                def progress(done: int, total: int, path: str) -> None:
                    bar.update(task, completed=done, total=total, description=Path(path).name)

                stats = index.ingest(paths, progress=progress)
            out = Console()
            if not out.is_terminal:
                out.width = 200
            out.print(_summary(stats, index))
        for error in stats.errors:
            typer.echo(f"warning: {error}", err=True)


def search_command(
    query: Annotated[str, typer.Argument(help="Keywords or a question.", show_default=False)],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=MAX_K, help="Number of results.")] = 5,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as a JSON list.")] = False,
) -> None:
    """Search the indexed documents (BM25) and print the best passages with path:lines citations."""
    with clean_errors():
        with Index(db if db is not None else default_db_path(), create=False) as index:
            hits = index.search(query, k)
        if as_json:
            typer.echo(json.dumps([asdict(hit) | {"citation": hit.citation()} for hit in hits], indent=2))
        else:
            typer.echo(format_hits(query, hits, Path.cwd()))


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``search`` to the main ``qwengraph`` app."""
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
