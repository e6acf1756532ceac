"""Where qwengraph keeps its files on this machine.

Everything lives under one directory, ``QWENGRAPH_HOME`` when that environment variable is set,
else the user's data directory (``platformdirs.user_data_dir("qwengraph")``). Both functions read
the environment at call time, so tests and users can redirect them without reimporting anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "QWENGRAPH_HOME"


def home() -> Path:
    """Return the qwengraph home directory (not created here)."""
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("qwengraph"))


def models_dir() -> Path:
    """Return the directory holding installed GGUF model files (not created here)."""
    return home() / "models"
