"""llama.cpp through llama-cpp-python (extra ``local``): the default in-process :class:`Engine`."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphs.errors import ConfigError, ModelError
from graphs.models.transports.engine import DEFAULT_MAX_TOKENS, STOP, Piece


class LlamaEngine:
    """llama.cpp through llama-cpp-python, loaded once per (path, threads, context) per process."""

    def __init__(self, path: Path, *, n_threads: int | None = None, n_ctx: int = 8192) -> None:
        self.path = path
        self.n_threads = n_threads or default_threads()
        self.n_ctx = n_ctx
        self._lock = threading.Lock()

    @property
    def llama(self) -> Any:
        """The loaded model (loads on first use)."""
        return _load(str(self.path), self.n_threads, self.n_ctx)

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        """Stream tokens; one completion at a time per engine (llama.cpp contexts are not shared)."""
        llama = self.llama
        args = {k: v for k, v in sampling.items() if k in _LLAMA_ARGS and v is not None}
        args.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        args["stop"] = list(dict.fromkeys([*STOP, *(args.get("stop") or [])]))
        prompt_tokens = len(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        count = 0
        with self._lock:
            for chunk in llama.create_completion(prompt, stream=True, **args):
                choice = chunk["choices"][0]
                count += 1
                finish = choice.get("finish_reason")
                yield Piece(
                    text=choice.get("text") or "",
                    finish_reason=finish,
                    prompt_tokens=prompt_tokens if finish or count == 1 else 0,
                    completion_tokens=count if finish else 0,
                )


_LLAMA_ARGS = {"temperature", "top_p", "top_k", "min_p", "max_tokens", "stop", "seed", "repeat_penalty"}


def default_threads() -> int:
    """``QWENGRAPH_THREADS`` if set, else every core (2 threads collapse if another process holds a core)."""
    env = os.environ.get("QWENGRAPH_THREADS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ConfigError(f"QWENGRAPH_THREADS must be a positive integer, not {env!r}")
        return int(env)
    return os.cpu_count() or 1


@lru_cache(maxsize=4)
def _load(path: str, n_threads: int, n_ctx: int) -> Any:
    try:
        import llama_cpp  # noqa: PLC0415 - optional extra, imported only when a local model runs
    except ImportError:
        raise ConfigError(
            "local models need llama-cpp-python: pip install 'qwengraph[local]' (or `make setup-local`)"
        ) from None
    if not Path(path).is_file():
        raise ConfigError(f"no GGUF file at {path}")
    try:
        return llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    except ValueError as err:
        raise ModelError(f"llama.cpp could not load {path}: {err}") from None
