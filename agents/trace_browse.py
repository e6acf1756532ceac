"""``qwengraph trace browse``: the traces database in Datasette, read-only, with canned queries.

Datasette reads sqlite-utils databases as they are: every table can be browsed, filtered, faceted
and queried with SQL, and the canned queries of :mod:`graphs.memory.trace_views` (slowest calls,
tokens per second by model, tool failures, thinking tokens per run) are one click away. With
``datasette-vega`` (in the same extra) any result can be charted. Queries run on read-only
connections and no write plugin is enabled, so browsing never changes the file; runs recorded
while it is open show up on reload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphs.errors import ConfigError
from graphs.memory.trace_views import datasette_metadata

INSTALL_HINT = "pip install 'qwengraph[traces]' (Datasette)"


def make_app(db_path: Path) -> Any:
    """The Datasette ASGI app over ``db_path`` (which must exist)."""
    if not db_path.is_file():
        raise ConfigError(f"no traces at {db_path}: run `qwengraph run ...` first (or pass --db)")
    try:
        from datasette.app import Datasette  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ConfigError(f"trace browse needs Datasette: {INSTALL_HINT}") from None
    datasette = Datasette(
        [str(db_path)],
        metadata=datasette_metadata(db_path.stem),
        settings={"default_page_size": 50, "sql_time_limit_ms": 5000},
    )
    return datasette.app()


def serve(db_path: Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the traces at ``http://host:port/`` until interrupted."""
    import uvicorn  # noqa: PLC0415 - installed with Datasette

    uvicorn.run(make_app(db_path), host=host, port=port, log_level="warning")
