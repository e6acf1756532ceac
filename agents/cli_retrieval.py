"""``qwengraph ingest``, ``search`` and ``indexes``: build, query and list the local retrieval indexes.

The work is done by :class:`tools.retrieval.Index`; these commands add a progress bar, a summary
table and JSON output. Errors (a missing path, a missing or corrupt index, a dead embedding server)
are one line on stderr and a non-zero exit code, never a traceback. :func:`register` mounts the
commands on the main app; :data:`DbOption` and :data:`IndexOption` are the index choice that
``run`` and ``chat`` share.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, cast, get_args

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.cli_common import clean_errors
from agents.cli_options import DbOption, IndexOption
from tools.errors import ToolInputError
from tools.retrieval import Index, IngestStats, named_indexes, resolve_index
from tools.retrieval.index import Mode
from tools.retrieval.tool import MAX_K, format_hits

__all__ = ["DbOption", "IndexOption", "indexes_command", "ingest_command", "register", "search_command"]

MODES = get_args(Mode)
EmbedderOption = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="Vectors from: wordllama (default, bundled), none, ollama:MODEL[@URL], openai:MODEL@URL, "
        "fastembed:MODEL[@DIR], sentence-transformers:NAME (default: what the index used).",
    ),
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
    if stats.vectors:
        table.add_row("vectors made", f"{stats.vectors} in {stats.vector_seconds:.2f} s")
    embedder = index.embedder.spec if index.embedder is not None else "none"
    table.add_row("index now holds", f"{documents} files, {chunks} chunks (vectors: {embedder})")
    return table


def ingest_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to index.", show_default=False)],
    db: DbOption = None,
    index_name: IndexOption = None,
    embedder: EmbedderOption = None,
) -> None:
    """Index files into the local search database (incremental: unchanged files cost nothing)."""
    with clean_errors():
        console = Console(stderr=True)
        with Index(resolve_index(db, index_name), embedder=embedder) as index:
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
                    name = "making vectors" if path == "(vectors)" else Path(path).name
                    bar.update(task, completed=done, total=total, description=name)

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
    index_name: IndexOption = None,
    mode: Annotated[
        str, typer.Option("--mode", help="hybrid (BM25 + vectors), bm25, vector, or auto (hybrid if any).")
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as a JSON list.")] = False,
) -> None:
    """Search the indexed documents and print the best passages with path:lines citations."""
    with clean_errors():
        if mode not in MODES:
            raise ToolInputError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
        with Index(resolve_index(db, index_name), create=False) as index:
            hits = index.search(query, k, mode=cast(Mode, mode))
        if as_json:
            typer.echo(json.dumps([asdict(hit) | {"citation": hit.citation()} for hit in hits], indent=2))
        else:
            typer.echo(format_hits(query, hits, Path.cwd()))


def indexes_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List the indexes under $QWENGRAPH_HOME: name, files, chunks, vectors and embedder."""
    with clean_errors():
        rows = []
        for name, path in named_indexes().items():
            with Index(path, create=False) as index:
                rows.append({"name": name, **index.describe()})
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            typer.echo("no index yet: run `qwengraph ingest PATH...` (add --index NAME for a named one)")
            return
        table = Table()
        for column in ("name", "files", "chunks", "vectors", "embedder", "path"):
            table.add_column(column, justify="right" if column in {"files", "chunks", "vectors"} else "left")
        for row in rows:
            table.add_row(*(str(row[c]) for c in ("name", "files", "chunks", "vectors", "embedder", "path")))
        out = Console()
        if not out.is_terminal:
            out.width = 200
        out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``search`` and ``indexes`` to the main ``qwengraph`` app."""
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
    app.command("indexes")(indexes_command)
