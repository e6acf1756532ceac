"""Settings of the in-process llama.cpp engine, resolved from arguments, the environment and the CPU.

Each setting comes from, in order: an explicit argument (a ``run``/``chat`` flag, ``ChatQwen``'s
``engine``), its environment variable, then a default. ``extra_bufts`` (llama.cpp's extra buffer
types, used to repack weights for faster matrix products) defaults to *auto*: on, except on CPUs
where a feature is known to make llama.cpp crash with them (:data:`KNOWN_BREAKAGES`). The resolved
:class:`EngineSettings` says why each automatic choice was made, so ``qwengraph doctor`` can print it.

================================  =========================  ===============================
setting                           environment variable       default
================================  =========================  ===============================
context window (tokens)           ``QWENGRAPH_CTX``          8,192
threads                           ``QWENGRAPH_THREADS``      every core
batch size (prompt tokens/step)   ``QWENGRAPH_BATCH``        512
extra buffer types                ``QWENGRAPH_EXTRA_BUFTS``  ``auto`` (``on``/``off``)
================================  =========================  ===============================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from graphs.errors import ConfigError

CTX_ENV, THREADS_ENV, BATCH_ENV, EXTRA_BUFTS_ENV = (
    "QWENGRAPH_CTX",
    "QWENGRAPH_THREADS",
    "QWENGRAPH_BATCH",
    "QWENGRAPH_EXTRA_BUFTS",
)
DEFAULT_CTX = 8192
DEFAULT_BATCH = 512
MIN_CTX = 512
MAX_CTX = 1 << 20
CPUINFO = Path("/proc/cpuinfo")

ExtraBufts = bool | Literal["auto"]

RELEVANT_FLAGS = ("avx", "avx2", "f16c", "fma", "avx512f", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16")
"""CPU flags that decide which llama.cpp kernels run (shown by ``qwengraph doctor``)."""


@dataclass(frozen=True)
class Breakage:
    """A CPU feature with which a llama.cpp setting is known to crash, and the safe value."""

    flags: frozenset[str]
    """Any of these CPU flags triggers it."""
    reason: str


KNOWN_BREAKAGES: tuple[Breakage, ...] = (
    Breakage(
        flags=frozenset({"amx_tile", "amx_int8", "amx_bf16"}),
        reason="llama.cpp's AMX repack buffers crash in decode on this CPU (ggml-org/llama.cpp#20824)",
    ),
)
"""Where extra buffer types must be off. Each entry is a fact measured on a real machine."""


@dataclass(frozen=True)
class EngineSettings:
    """Concrete llama.cpp settings for one model load, with the reasons for automatic choices."""

    n_ctx: int = DEFAULT_CTX
    n_threads: int = 1
    n_batch: int = DEFAULT_BATCH
    extra_bufts: bool = True
    extra_bufts_explicit: bool = False
    """Whether the user chose ``extra_bufts`` (then a crash is reported, never worked around)."""
    notes: tuple[str, ...] = field(default=(), compare=False)

    def load_args(self) -> dict[str, Any]:
        """Keyword arguments for ``llama_cpp.Llama`` (``extra_bufts`` is set on the model params)."""
        return {"n_ctx": self.n_ctx, "n_threads": self.n_threads, "n_batch": min(self.n_batch, self.n_ctx)}

    def without_extra_bufts(self, reason: str) -> EngineSettings:
        """These settings with extra buffer types off, noting why."""
        return replace(self, extra_bufts=False, notes=(*self.notes, reason))

    def describe(self) -> dict[str, object]:
        """A JSON-able view for ``doctor`` and probe records."""
        return {
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_batch": self.n_batch,
            "extra_bufts": self.extra_bufts,
            "notes": list(self.notes),
        }


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where that file does not exist)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def resolve_settings(
    *,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    n_batch: int | None = None,
    extra_bufts: ExtraBufts | None = None,
    env: Mapping[str, str] | None = None,
    flags: frozenset[str] | None = None,
) -> EngineSettings:
    """Settings from explicit values, else the environment, else defaults and the CPU's known breakages.

    Raises:
        ConfigError: a value (argument or environment variable) is out of range or unreadable.
    """
    env = os.environ if env is None else env
    ctx = _int(n_ctx, env, CTX_ENV, DEFAULT_CTX, low=MIN_CTX, high=MAX_CTX)
    threads = _int(n_threads, env, THREADS_ENV, os.cpu_count() or 1, low=1, high=1024)
    batch = _int(n_batch, env, BATCH_ENV, DEFAULT_BATCH, low=1, high=MAX_CTX)
    choice = extra_bufts if extra_bufts is not None else _extra_bufts_env(env)
    if choice != "auto":
        return EngineSettings(ctx, threads, batch, extra_bufts=bool(choice), extra_bufts_explicit=True)
    flags = cpu_flags() if flags is None else flags
    for breakage in KNOWN_BREAKAGES:
        if breakage.flags & flags:
            note = f"extra buffer types off: {breakage.reason}; {EXTRA_BUFTS_ENV}=on overrides"
            return EngineSettings(ctx, threads, batch, extra_bufts=False, notes=(note,))
    return EngineSettings(ctx, threads, batch, extra_bufts=True)


ENGINE_KEYS = ("n_ctx", "n_threads", "n_batch", "extra_bufts")


def settings_from(options: Mapping[str, Any] | None) -> EngineSettings:
    """:func:`resolve_settings` from a mapping such as ``ChatQwen(engine={"n_ctx": 16384})``."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(ENGINE_KEYS))
    if unknown:
        raise ConfigError(f"unknown engine setting(s) {', '.join(unknown)}: use {', '.join(ENGINE_KEYS)}")
    bufts = options.get("extra_bufts")
    if isinstance(bufts, str):
        options["extra_bufts"] = parse_extra_bufts(bufts)
    for key in ("n_ctx", "n_threads", "n_batch"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"engine setting {key} must be an integer, not {value!r}")
    return resolve_settings(**options)


def parse_extra_bufts(value: str) -> ExtraBufts:
    """``on``/``off``/``auto`` (also ``1``/``0``, ``true``/``false``) as a setting."""
    word = value.strip().lower()
    if word in ("auto", ""):
        return "auto"
    if word in ("on", "1", "true", "yes"):
        return True
    if word in ("off", "0", "false", "no"):
        return False
    raise ConfigError(f"extra buffer types must be on, off or auto, not {value!r}")


def _extra_bufts_env(env: Mapping[str, str]) -> ExtraBufts:
    value = env.get(EXTRA_BUFTS_ENV)
    if value is None:
        return "auto"
    try:
        return parse_extra_bufts(value)
    except ConfigError:
        raise ConfigError(f"{EXTRA_BUFTS_ENV} must be on, off or auto, not {value!r}") from None


def _int(value: int | None, env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    source = "" if value is not None else name
    if value is None:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit():
            raise ConfigError(f"{name} must be a positive integer, not {raw!r}")
        value = int(raw)
    if not low <= value <= high:
        what = source or _FLAG_NAMES.get(name, name)
        raise ConfigError(f"{what} must be between {low:,} and {high:,}, not {value:,}")
    return value


_FLAG_NAMES = {CTX_ENV: "--ctx", THREADS_ENV: "--threads", BATCH_ENV: "--batch"}
