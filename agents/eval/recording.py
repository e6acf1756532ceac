"""Cassettes for eval runs: ``--record DIR`` and ``--replay DIR``.

One cassette per run session, ``DIR/<run id>.json`` (a resumed run adds ``<run id>-2.json``...),
whose metadata holds the eval kind and settings (``meta["qwengraph_eval"]``). Cases run
concurrently, so a replay serves every cassette of the folder by exact request match rather than
in order; a request that was never recorded fails with the cassette's drift message, and recorded
exchanges left unplayed fail the replay.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from graphs.errors import CassetteError, ConfigError
from graphs.models.cassette import Cassette, record, replay

META_KEY = "qwengraph_eval"
BFCL_SOURCE = "BFCL v4 cases from the bfcl-eval 2026.3.23 wheel on PyPI (Apache-2.0)"


def _cassettes(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"--replay: no cassette folder at {folder}")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ConfigError(f"--replay: {folder} holds no cassettes (*.json)")
    return files


def load_folder(folder: Path) -> Cassette:
    """Every cassette in ``folder`` as one (interactions concatenated, first file's metadata)."""
    loaded = [Cassette.load(path) for path in _cassettes(folder)]
    merged = Cassette(meta=dict(loaded[0].meta), interactions=[], path=folder)
    for cassette in loaded:
        merged.interactions.extend(cassette.interactions)
    return merged


def recorded_settings(folder: Path) -> tuple[str, dict[str, Any]]:
    """The eval kind and settings a recorded folder was made with."""
    meta = load_folder(folder).meta.get(META_KEY)
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise CassetteError(f"{folder} was not recorded by `qwengraph eval` (no {META_KEY} metadata)")
    return str(meta.get("kind")), dict(meta["config"])


def eval_cassette(
    record_to: Path | None, replay_from: Path | None, run_id: str, kind: str, config: dict[str, Any]
) -> AbstractContextManager[Any]:
    """The record or replay context for a run session (neither: a no-op)."""
    if record_to is not None and replay_from is not None:
        raise ConfigError("--record and --replay cannot be used together")
    if replay_from is not None:
        return replay(load_folder(replay_from), ordered=False)
    if record_to is None:
        return nullcontext()
    if record_to.exists() and not record_to.is_dir():
        raise ConfigError(f"--record: {record_to} is a file, not a folder")
    path = record_to / f"{run_id}.json"
    number = 2
    while path.exists():
        path = record_to / f"{run_id}-{number}.json"
        number += 1
    meta: dict[str, Any] = {META_KEY: {"kind": kind, "run": run_id, "config": config}}
    if kind == "bfcl":
        meta["source"] = BFCL_SOURCE
    return record(path, meta=meta)
