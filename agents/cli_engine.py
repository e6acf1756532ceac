"""The local engine's flags, shared by ``run``, ``chat`` and ``resume``: context, threads, batch, buffers.

Each flag beats its environment variable (``QWENGRAPH_CTX``, ``QWENGRAPH_THREADS``,
``QWENGRAPH_BATCH``, ``QWENGRAPH_EXTRA_BUFTS``); unset flags leave the choice to it and then to the
defaults (see :mod:`graphs.models.transports.llama_settings`). Servers ignore them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from graphs.models.transports.llama_settings import parse_extra_bufts, settings_from

CtxOpt = Annotated[
    int | None,
    typer.Option("--ctx", help="Local models: context window in tokens (default 8192; QWENGRAPH_CTX)."),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option("--threads", help="Local models: CPU threads (default: every core; QWENGRAPH_THREADS)."),
]
BatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch", help="Local models: prompt tokens per decode step (default 512; QWENGRAPH_BATCH)."
    ),
]
ExtraBuftsOpt = Annotated[
    str | None,
    typer.Option(
        "--extra-bufts",
        help="Local models: llama.cpp extra buffer types on, off or auto (default auto: off on AMX CPUs).",
    ),
]


def engine_options(
    ctx: int | None, threads: int | None, batch: int | None, extra_bufts: str | None
) -> dict[str, Any] | None:
    """The ``ChatQwen(engine=...)`` settings the flags name (checked now), or ``None`` when none is set."""
    options: dict[str, Any] = {
        key: value
        for key, value in (("n_ctx", ctx), ("n_threads", threads), ("n_batch", batch))
        if value is not None
    }
    if extra_bufts is not None:
        options["extra_bufts"] = parse_extra_bufts(extra_bufts)
    if not options:
        return None
    settings_from(options)  # bad values fail here, as one line, before anything runs
    return options
