"""One switch for notebooks (and scripts): replay committed cassettes, record new ones, or go live.

Example:
    >>> tape = Tapes("replay", folder="cassettes")  # "live": a real model; "record": live, and save
    >>> with tape("quickstart_calc.json"):  # doctest: +SKIP
    ...     result = run("What is 17*23? Use the calculator.", model="local:qwen2.5-coder-1.5b")
"""

from __future__ import annotations

import os
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Literal

from graphs.errors import CassetteError, ConfigError
from graphs.models.cassette import record, replay

Mode = Literal["replay", "record", "live"]
MODES: tuple[Mode, ...] = ("replay", "record", "live")


class Tapes:
    """Cassettes by name in ``folder``, opened the way ``mode`` says.

    Args:
        mode: ``"replay"`` (offline: serve the recorded exchanges, fail on drift), ``"record"``
            (call the real model and save each cassette), or ``"live"`` (call the real model, save
            nothing).
        folder: where cassette names are resolved (relative to the current directory).
    """

    def __init__(self, mode: str = "replay", folder: str | Path = "cassettes") -> None:
        if mode not in MODES:  # narrowing below: mode is one of MODES
            raise ConfigError(f"unknown mode {mode!r}: choose from {', '.join(MODES)}")
        self.mode: Mode = mode
        self.folder = Path(folder)

    @property
    def offline(self) -> bool:
        """Whether model exchanges are replayed (no model, server or network needed)."""
        return self.mode == "replay"

    def path(self, name: str) -> Path:
        """The file of cassette ``name``."""
        return self.folder / name

    def __call__(self, name: str, **meta: Any) -> AbstractContextManager[Any]:
        """A context in which model calls are replayed from, recorded to, or not touched by ``name``."""
        path = self.path(name)
        if self.mode == "replay":
            if not path.is_file():
                raise CassetteError(
                    f"no cassette {path}: record it once with mode 'record' (needs a live model)"
                )
            return replay(path)
        if self.mode == "record":
            return record(path, meta={"by": "notebook", **meta})
        return nullcontext()

    def __repr__(self) -> str:
        return f"Tapes({self.mode!r}, folder={str(self.folder)!r})"


def scratch_home(link_models: bool = True) -> Path:
    """Point ``QWENGRAPH_HOME`` at a new temporary directory for the rest of this process.

    Traces, threads and document indexes written from here on go there, so a notebook leaves the
    user's own data alone; the installed local models stay usable (linked in), so live mode still
    finds them. Returns the new home.
    """
    from graphs.paths import HOME_ENV, models_dir  # noqa: PLC0415

    installed = models_dir()
    home = Path(tempfile.mkdtemp(prefix="qwengraph-notebook-"))
    if link_models and installed.is_dir():
        (home / "models").symlink_to(installed.resolve(), target_is_directory=True)
    os.environ[HOME_ENV] = str(home)
    return home
