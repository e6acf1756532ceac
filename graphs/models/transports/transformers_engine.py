"""Hugging Face Transformers as an in-process :class:`~graphs.models.transports.engine.Engine`.

``transformers:<hub id | local dir | path.gguf | catalogue name>`` models run through the same
:class:`~graphs.models.transports.local.LocalTransport` as llama.cpp: qwengraph renders Qwen's
ChatML prompt, so prefill, forced tool calls, stop strings, the thinking split and the thinking
budget (a cut at N thinking tokens, then a second completion after Qwen's early-stop sentence) and
cassettes work exactly as on ``local:``. This module only turns a prompt into streamed tokens:

- ``model.generate`` runs in a worker thread and hands each new token id to a streamer (a queue),
  which this generator decodes incrementally into one :class:`Piece` per token (the thinking meter
  counts pieces as tokens). Characters split across tokens are held until complete.
- Qwen's end-of-turn tokens (``<|im_end|>``, ``<|endoftext|>``) and ``</tool_call>`` are
  generation's end tokens; any other stop string is cut from the text as it streams.
- Closing the generator (the transport does at a stop string, a finished forced call or the
  thinking budget) sets a flag a stopping criterion reads, so generation ends at the next token.

Loading (weights, GGUF conversion, device, threads) lives in
:mod:`graphs.models.transports.transformers_load`; nothing here imports torch until a completion
runs, so replaying a cassette needs neither torch nor the weights.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphs.errors import ModelError
from graphs.models.catalog import ChatFamily
from graphs.models.transports.engine import DEFAULT_MAX_TOKENS, STOP, Piece
from graphs.models.transports.stops import StopScanner
from graphs.models.transports.transformers_load import Loaded, detect_family, load

_END = object()  # the streamer's end-of-generation sentinel


class TransformersEngine:
    """Raw completion on a Transformers causal LM, loaded once per (source, dtype, device) per process.

    Args:
        source: a Hugging Face hub id (``Qwen/Qwen3-8B``), a local model directory, a ``.gguf``
            file (dequantized by Transformers; converted once and cached), or a catalogue name
            (its installed GGUF file).
        dtype: torch dtype name (``float32``, ``bfloat16``, ``float16``, ``auto``); default
            ``QWENGRAPH_TORCH_DTYPE``, else ``float32`` on the CPU and ``auto`` on a GPU.
        device: ``cpu``, ``cuda``, ``cuda:1``, ``mps``…; default ``QWENGRAPH_TORCH_DEVICE``, else
            ``cuda`` when torch sees a GPU, else ``cpu``.
    """

    def __init__(
        self, source: str, *, threads: int | None = None, dtype: str | None = None, device: str | None = None
    ) -> None:
        self.source = source
        self.threads = threads
        self.dtype = dtype
        self.device = device

    @property
    def family(self) -> ChatFamily:
        """The Qwen chat family, from the name or the model directory's ``config.json`` (no weights read).

        The hook for profile detection: it sees the source the user named before anything loads.
        """
        return detect_family(self.source)

    @property
    def loaded(self) -> Loaded:
        """The model and tokenizer (loaded on first use)."""
        return self.load()

    def load(self, on_stage: Callable[[str], None] | None = None) -> Loaded:
        """Load the model now (the transport's ``warm``); ``on_stage`` hears what takes time."""
        return load(
            self.source, dtype=self.dtype, device=self.device, threads=self.threads, on_stage=on_stage
        )

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        """Stream the completion of ``prompt``: one piece per generated token, the last one with
        the finish reason (``stop`` or ``length``) and the token counts. Completions on one loaded
        model take turns."""
        loaded = self.loaded
        with loaded.lock:
            yield from _Generation(loaded, prompt, sampling).run()


class _Generation:
    """One ``generate`` call in a worker thread, read back token by token."""

    def __init__(self, loaded: Loaded, prompt: str, sampling: dict[str, Any]) -> None:
        self.loaded = loaded
        self.tokens: queue.Queue[Any] = queue.Queue()
        self.cancel = threading.Event()
        self.failure: BaseException | None = None
        tokenizer = loaded.tokenizer
        self.inputs = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(loaded.device)
        self.prompt_tokens = int(self.inputs["input_ids"].shape[1])
        stops = list(dict.fromkeys([*STOP, *(sampling.get("stop") or [])]))
        self.end_ids = _single_token_ids(tokenizer, stops)
        self.scanner = StopScanner(s for s in stops if s not in self.end_ids)
        self.max_tokens = int(sampling.get("max_tokens") or DEFAULT_MAX_TOKENS)
        self.settings = generation_settings(sampling, self.max_tokens)
        self.seed = sampling.get("seed")

    def run(self) -> Iterator[Piece]:
        worker = threading.Thread(target=self._generate, name="qwengraph-transformers", daemon=True)
        worker.start()
        try:
            yield from self._read()
        finally:
            self.cancel.set()  # a reader that stopped early ends generation at the next token
            worker.join()

    def _generate(self) -> None:
        loaded = self.loaded
        torch = loaded.torch
        streamer, stopper = _hooks()
        end_ids = sorted(self.end_ids.values())
        pad = loaded.tokenizer.pad_token_id
        try:
            if self.seed is not None:
                torch.manual_seed(int(self.seed))
            with torch.inference_mode():
                loaded.model.generate(
                    **self.inputs,
                    **self.settings,
                    eos_token_id=end_ids,
                    pad_token_id=pad if pad is not None else end_ids[0],
                    streamer=streamer(self.tokens),
                    stopping_criteria=[stopper(self.cancel)],
                )
        except BaseException as err:  # noqa: BLE001 - handed to the reading side, which raises it
            self.failure = err
        finally:
            self.tokens.put(_END)

    def _read(self) -> Iterator[Piece]:
        tokenizer = self.loaded.tokenizer
        ids: list[int] = []
        generated = 0  # tokens generated, the end token included (as servers count them)
        shown = ""  # decoded text already handed to the stop scanner
        end_ids = set(self.end_ids.values())
        finish: str | None = None
        while (token := self.tokens.get()) is not _END:
            generated += 1
            if token in end_ids:
                finish = "stop"  # the end token is not text (llama.cpp drops it the same way)
                continue
            ids.append(token)
            text = tokenizer.decode(ids, skip_special_tokens=False)
            fresh = "" if text.endswith("\ufffd") else text[len(shown) :]  # wait for a split character
            shown += fresh
            out = self.scanner.feed(fresh)
            yield Piece(text=out, prompt_tokens=self.prompt_tokens if generated == 1 else 0)
            if self.scanner.hit is not None:
                finish = "stop"
                self.cancel.set()
                break
        if self.failure is not None:
            raise ModelError(f"Transformers generation failed: {self.failure}") from self.failure
        yield Piece(
            text=self.scanner.flush() if self.scanner.hit is None else "",
            finish_reason=finish or ("length" if generated >= self.max_tokens else "stop"),
            prompt_tokens=self.prompt_tokens,
            completion_tokens=generated,
        )


@lru_cache(maxsize=1)
def _hooks() -> tuple[Any, Any]:
    """The streamer and stopping-criterion classes, built on Transformers' bases when it is loaded."""
    from transformers.generation.stopping_criteria import StoppingCriteria  # noqa: PLC0415
    from transformers.generation.streamers import BaseStreamer  # noqa: PLC0415

    class QueueStreamer(BaseStreamer):  # type: ignore[misc]
        """New token ids go into a queue; ``generate`` puts the prompt first, which is skipped."""

        def __init__(self, tokens: queue.Queue[Any]) -> None:
            self.tokens = tokens
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            for token in value.reshape(-1).tolist():
                self.tokens.put(int(token))

        def end(self) -> None:
            """Nothing: the worker thread marks the end once ``generate`` has returned."""

    class Cancelled(StoppingCriteria):  # type: ignore[misc]
        """True once the reader has stopped listening."""

        def __init__(self, flag: threading.Event) -> None:
            self.flag = flag

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch  # noqa: PLC0415 - loaded by now

            return torch.full(
                (input_ids.shape[0],), self.flag.is_set(), dtype=torch.bool, device=input_ids.device
            )

    return QueueStreamer, Cancelled


def _single_token_ids(tokenizer: Any, stops: list[str]) -> dict[str, int]:
    """The stop strings that are one token in this vocabulary (Qwen's ``<|im_end|>`` …), with their ids."""
    found: dict[str, int] = {}
    for stop in stops:
        ids = tokenizer.encode(stop, add_special_tokens=False)
        if len(ids) == 1:
            found[stop] = int(ids[0])
    return found


LLAMA_CPP_DEFAULTS = {"temperature": 0.8, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0}
"""What llama-cpp-python's ``create_completion`` uses for a setting the request leaves out: the same
here, so ``local:`` and ``transformers:`` sample alike (and a hub model's ``generation_config.json``
does not slip in a different repetition penalty)."""


def generation_settings(sampling: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    """``generate`` arguments for qwengraph's sampling settings (llama.cpp's names and defaults).

    Temperature 0 is greedy decoding.
    """
    merged = {**LLAMA_CPP_DEFAULTS, **{k: v for k, v in sampling.items() if v is not None}}
    settings: dict[str, Any] = {
        "max_new_tokens": max_tokens,
        "repetition_penalty": float(merged["repeat_penalty"]),
    }
    if float(merged["temperature"]) <= 0.0:
        return {**settings, "do_sample": False}
    return {
        **settings,
        "do_sample": True,
        "temperature": float(merged["temperature"]),
        "top_p": float(merged["top_p"]),
        "top_k": int(merged["top_k"]),
        "min_p": float(merged["min_p"]) if merged["min_p"] else None,
    }
