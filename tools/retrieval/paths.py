"""Where indexes live: the default one and named ones under ``$QWENGRAPH_HOME``.

``$QWENGRAPH_HOME/retrieval.db`` is the default index; ``--index NAME`` is
``$QWENGRAPH_HOME/indexes/NAME.db``. ``QWENGRAPH_HOME`` defaults to the user's data directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

from tools.errors import ToolInputError

__all__ = ["DEFAULT_NAME", "HOME_ENV", "default_db_path", "index_path", "named_indexes", "resolve_index"]

HOME_ENV = "QWENGRAPH_HOME"
DB_NAME = "retrieval.db"
DEFAULT_NAME = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _home() -> Path:
    override = os.environ.get(HOME_ENV, "").strip()
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir("qwengraph"))


def default_db_path() -> Path:
    """``$QWENGRAPH_HOME/retrieval.db``, else the file in the user's data directory (not created)."""
    return _home() / DB_NAME


def index_path(name: str) -> Path:
    """The file of the named index (``default`` is :func:`default_db_path`).

    Raises:
        ToolInputError: the name is not 1-64 letters, digits, ``_``, ``.`` or ``-`` (no paths).
    """
    if name == DEFAULT_NAME:
        return default_db_path()
    if not _NAME.fullmatch(name) or ".." in name or name.endswith(".db"):
        raise ToolInputError(
            f"invalid index name {name!r}: use letters, digits, '_', '.' or '-' (no path, no .db suffix)"
        )
    return _home() / "indexes" / f"{name}.db"


def resolve_index(db: Path | str | None = None, name: str | None = None) -> Path:
    """The index file for ``--db FILE`` or ``--index NAME`` (neither: the default index).

    Raises:
        ToolInputError: both were given, or the name is invalid.
    """
    if db is not None and name is not None:
        raise ToolInputError("give either --db FILE or --index NAME, not both")
    if db is not None:
        return Path(db).expanduser()
    return index_path(name) if name is not None else default_db_path()


def named_indexes() -> dict[str, Path]:
    """Every index that exists under ``$QWENGRAPH_HOME``: ``{name: file}``, the default first."""
    found: dict[str, Path] = {}
    if default_db_path().is_file():
        found[DEFAULT_NAME] = default_db_path()
    folder = _home() / "indexes"
    if folder.is_dir():
        found.update((p.stem, p) for p in sorted(folder.glob("*.db")) if p.is_file())
    return found
