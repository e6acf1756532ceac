"""Run settings resolved from flags, environment and defaults, in that order.

Environment: ``QWENGRAPH_MODEL`` (model URI), ``QWENGRAPH_BASE_URL`` (server URL),
``QWENGRAPH_HOME`` (where everything qwengraph writes lives), ``QWENGRAPH_API_KEY``.
"""

from __future__ import annotations

import os

from graphs.models.uri import parse_model_uri

DEFAULT_LOCAL_MODEL = "local:qwen2.5-coder-1.5b"


def resolve_model(flag: str | None) -> str:
    """The model URI to use: ``--model``, else ``QWENGRAPH_MODEL``, else the embedded local model.

    Raises :class:`graphs.errors.ConfigError` for a malformed URI.
    """
    uri = flag or os.environ.get("QWENGRAPH_MODEL") or DEFAULT_LOCAL_MODEL
    return str(parse_model_uri(uri))
