"""llama.cpp through llama-cpp-python (extra ``local``): the default in-process engine.

A model loads once per process for each (file, settings) and is shared by every engine that asks
for it; one lock per loaded model serialises completions on it, so concurrent calls
(``model.batch``, ``abatch``, several threads) queue instead of corrupting llama.cpp's context
(which aborts the process). Before the first load in a new environment the
:mod:`~graphs.models.transports.llama_probe` runs a test decode in a child process, so a crashing
build or CPU feature becomes a clear error, or a retry with safe settings, instead of a segfault.
Settings come from :mod:`~graphs.models.transports.llama_settings`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphs.errors import ConfigError, ContextOverflow, ModelError
from graphs.models.transports.engine import DEFAULT_MAX_TOKENS, STOP, Piece
from graphs.models.transports.grammar import grammar_for
from graphs.models.transports.llama_probe import EngineProbe, probe_enabled
from graphs.models.transports.llama_settings import CTX_ENV, EngineSettings, resolve_settings

_LLAMA_ARGS = {"temperature", "top_p", "top_k", "min_p", "max_tokens", "stop", "seed", "repeat_penalty"}


@dataclass
class Loaded:
    """A loaded model, the settings it runs with, and the lock its completions take turns on."""

    llama: Any
    settings: EngineSettings
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def n_ctx_train(self) -> int | None:
        """The context length the model was trained on (GGUF metadata), if known."""
        return trained_context(self.llama)


def trained_context(llama: Any) -> int | None:
    """``<arch>.context_length`` from a loaded model's GGUF metadata, if present."""
    for key, value in (getattr(llama, "metadata", None) or {}).items():
        if key.endswith(".context_length") and str(value).isdigit():
            return int(value)
    return None


_LOADED: dict[tuple[str, EngineSettings], Loaded] = {}
_LOADING = threading.Lock()


class LlamaEngine:
    """llama.cpp on one GGUF file with the given (else resolved) settings.

    Args:
        path: the GGUF file.
        settings: engine settings (default: :func:`resolve_settings` from the environment and CPU).
        probe: the crash probe (default: one with the cache under ``$QWENGRAPH_HOME``); it runs
            unless ``QWENGRAPH_ENGINE_PROBE=off``.
    """

    def __init__(
        self, path: Path, *, settings: EngineSettings | None = None, probe: EngineProbe | None = None
    ) -> None:
        self.path = path
        self.requested = settings if settings is not None else resolve_settings()
        self._probe = probe
        self._loaded: Loaded | None = None

    @property
    def settings(self) -> EngineSettings:
        """The settings the model runs with (after the probe's fallback, once loaded)."""
        return self._loaded.settings if self._loaded is not None else self.requested

    @property
    def llama(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (probes and loads on first use)."""
        return self.load().llama

    def load(self, on_stage: Callable[[str], None] | None = None) -> Loaded:
        """Probe (once per environment) and load the model, or return the model already loaded.

        ``on_stage`` hears what takes time (``"testing …"``, ``"loading …"``), for a display.
        """
        say = on_stage or (lambda _: None)
        if self._loaded is None:
            with _LOADING:
                settings = self.requested
                if probe_enabled():
                    if not self.path.is_file():
                        raise ConfigError(f"no GGUF file at {self.path}")
                    probe = self._probe or EngineProbe()
                    if probe.cached(self.path, settings) is None:
                        say(f"testing the local engine with {self.path.name} on this CPU (once per machine)")
                    settings = probe.ensure(self.path, settings)
                key = (str(self.path), settings)
                if key not in _LOADED:
                    say(f"loading {self.path.name}")
                    _LOADED[key] = Loaded(load_llama(self.path, settings), settings)
                self._loaded = _LOADED[key]
        return self._loaded

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        """Stream tokens; completions on one loaded model take turns.

        Raises:
            ContextOverflow: the prompt does not fit the context window (the message has the numbers).
        """
        loaded = self.load()
        llama = loaded.llama
        args = {k: v for k, v in sampling.items() if k in _LLAMA_ARGS and v is not None}
        args.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        args["stop"] = list(dict.fromkeys([*STOP, *(args.get("stop") or [])]))
        grammar = grammar_for(sampling)  # structured output: a grammar from sampling["json_schema"]
        if grammar is not None:
            args["grammar"] = grammar
        count = 0
        with loaded.lock:
            prompt_tokens = len(llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
            _check_fits(prompt_tokens, loaded)
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


def _check_fits(prompt_tokens: int, loaded: Loaded) -> None:
    limit = loaded.settings.n_ctx
    if prompt_tokens < limit:
        return
    trained = loaded.n_ctx_train
    room = f" (the model was trained on {trained:,})" if trained and trained > limit else ""
    raise ContextOverflow(
        f"the prompt is {prompt_tokens:,} tokens but the local model's context window is {limit:,}: "
        f"shorten the conversation, or raise the window with --ctx or {CTX_ENV}{room}",
        tokens=prompt_tokens,
        limit=limit,
    )


def load_llama(path: Path, settings: EngineSettings) -> Any:
    """Load ``path`` with ``settings`` in this process (no probe: :class:`LlamaEngine` probes first).

    Raises:
        ConfigError: llama-cpp-python is not installed, the file is missing, or the build cannot
            turn extra buffer types off.
        ModelError: llama.cpp refused the file.
    """
    try:
        import llama_cpp  # noqa: PLC0415 - optional extra, imported only when a local model runs
        import llama_cpp.llama_cpp as low  # noqa: PLC0415
    except ImportError:
        raise ConfigError(
            "local models need llama-cpp-python: pip install 'qwengraph[local]' (or `make setup-local`)"
        ) from None
    if not path.is_file():
        raise ConfigError(f"no GGUF file at {path}")
    patch = contextlib.nullcontext() if settings.extra_bufts else _no_extra_bufts(low)
    try:
        with patch:
            return llama_cpp.Llama(model_path=str(path), verbose=False, **settings.load_args())
    except ValueError as err:
        raise ModelError(f"llama.cpp could not load {path}: {err}") from None


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_extra_bufts(low: Any) -> Iterator[None]:
    """Make ``llama_cpp.Llama`` build its model params with ``use_extra_bufts = False``.

    llama-cpp-python's ``Llama`` takes no argument for it; it reads the defaults from
    ``llama_model_default_params()`` when it builds the model params, so that function is wrapped
    for the duration of one load.
    """
    original = low.llama_model_default_params
    if not hasattr(original(), "use_extra_bufts"):
        raise ConfigError(
            "this llama-cpp-python build cannot turn extra buffer types off (too old): "
            "install the tested release with pip install 'qwengraph[local]'"
        )

    def safe_defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    with _PATCH_LOCK:
        low.llama_model_default_params = safe_defaults
        try:
            yield
        finally:
            low.llama_model_default_params = original
