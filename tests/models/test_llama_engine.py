"""LlamaEngine around a fake ``llama_cpp.Llama``: context overflow and completions taking turns."""

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from graphs.errors import ContextOverflow
from graphs.models.transports.llama import LlamaEngine, Loaded
from graphs.models.transports.llama_settings import EngineSettings


class FakeLlama:
    """Tokenizes by characters; fails loudly if two completions ever overlap (llama.cpp aborts)."""

    metadata: ClassVar[dict[str, str]] = {"qwen2.context_length": "32768"}

    def __init__(self) -> None:
        self.active = 0
        self.overlaps = 0
        self.calls: list[dict[str, Any]] = []

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        if self.active:
            self.overlaps += 1
        return list(data)

    def create_completion(self, prompt: str, stream: bool = True, **args: Any):
        self.active += 1
        if self.active > 1:
            self.overlaps += 1
        self.calls.append(args)
        try:
            for i, piece in enumerate(["O", "K", "!"]):
                time.sleep(0.01)
                yield {"choices": [{"text": piece, "finish_reason": "stop" if i == 2 else None}]}
        finally:
            self.active -= 1


def engine_on(loaded: Loaded) -> LlamaEngine:
    engine = LlamaEngine(Path("/models/fake.gguf"), settings=loaded.settings)
    engine._loaded = loaded
    return engine


def test_a_prompt_over_the_window_is_a_clear_error_with_the_numbers() -> None:
    loaded = Loaded(FakeLlama(), EngineSettings(n_ctx=512, n_threads=1))
    with pytest.raises(ContextOverflow) as caught:
        list(engine_on(loaded).complete("x" * 600, {}))
    assert caught.value.tokens == 600 and caught.value.limit == 512
    assert str(caught.value) == (
        "the prompt is 600 tokens but the local model's context window is 512: shorten the "
        "conversation, or raise the window with --ctx or QWENGRAPH_CTX (the model was trained on 32,768)"
    )


def test_completions_on_one_model_take_turns_across_threads_and_engines() -> None:
    fake = FakeLlama()
    loaded = Loaded(fake, EngineSettings(n_ctx=512, n_threads=1))
    engines = [engine_on(loaded), engine_on(loaded)]  # two transports sharing one loaded model
    results: list[str] = []

    def work(engine: LlamaEngine) -> None:
        results.append("".join(p.text for p in engine.complete("hello", {"temperature": 0.0})))

    threads = [threading.Thread(target=work, args=(engines[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["OK!"] * 6
    assert fake.overlaps == 0
    assert all(call["temperature"] == 0.0 and "<|im_end|>" in call["stop"] for call in fake.calls)


def test_pieces_carry_prompt_and_completion_token_counts() -> None:
    loaded = Loaded(FakeLlama(), EngineSettings(n_ctx=512, n_threads=1))
    pieces = list(engine_on(loaded).complete("hello", {}))
    assert [p.prompt_tokens for p in pieces] == [5, 0, 5]
    assert pieces[-1].completion_tokens == 3 and pieces[-1].finish_reason == "stop"
