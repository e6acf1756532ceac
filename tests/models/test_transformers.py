"""``transformers:`` models: the Transformers engine behind the local transport.

These need neither torch nor weights (model URIs, sources, sampling settings, the error when the
extra is missing); ``test_transformers_live.py`` runs the real engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from graphs.errors import ConfigError, ModelInstallError
from graphs.models.chat import ChatQwen
from graphs.models.transports.local import LocalTransport
from graphs.models.transports.transformers_engine import (
    LLAMA_CPP_DEFAULTS,
    TransformersEngine,
    generation_settings,
)
from graphs.models.transports.transformers_load import detect_family, resolve_source
from graphs.models.uri import in_process, parse_model_uri


def test_the_uri_kind_runs_in_process_on_the_local_transport(tmp_path: Path) -> None:
    uri = parse_model_uri("transformers:Qwen/Qwen3-8B")
    assert (uri.kind, uri.name) == ("transformers", "Qwen/Qwen3-8B")
    assert in_process("transformers:x") and in_process("local:x") and not in_process("openai:x")
    transport = ChatQwen(model="transformers:Qwen/Qwen3-8B").get_transport()
    assert isinstance(transport, LocalTransport) and transport.can_think
    assert isinstance(transport._engine, TransformersEngine)
    assert transport.spec == "transformers:Qwen/Qwen3-8B"  # what cassettes record
    coder = ChatQwen(model="transformers:qwen2.5-coder-0.5b").get_transport()
    assert isinstance(coder, LocalTransport) and not coder.can_think


def test_sources_and_families(tmp_path: Path) -> None:
    gguf = tmp_path / "Qwen3-0.6B-Q8_0.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_source(str(gguf)) == ("gguf", str(gguf.resolve()))
    assert detect_family(str(gguf)) == "qwen3"
    model_dir = tmp_path / "my-finetune"
    model_dir.mkdir()
    with pytest.raises(ConfigError, match=r"has no config\.json"):
        resolve_source(str(model_dir))
    (model_dir / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    assert resolve_source(str(model_dir)) == ("dir", str(model_dir.resolve()))
    assert detect_family(str(model_dir)) == "qwen3"  # from config.json, whatever the folder's name
    assert resolve_source("Qwen/Qwen2.5-Coder-7B-Instruct") == ("hub", "Qwen/Qwen2.5-Coder-7B-Instruct")
    assert detect_family("Qwen/Qwen2.5-Coder-7B-Instruct") == "qwen2.5"
    with pytest.raises(ConfigError, match="no GGUF file at"):
        resolve_source(str(tmp_path / "absent.gguf"))
    with pytest.raises(ConfigError, match="no model directory at"):
        resolve_source("./missing-dir")
    with pytest.raises(ConfigError, match="invalid transformers model 'not a model'"):
        resolve_source("not a model")
    with pytest.raises(ModelInstallError, match=r"qwengraph models install qwen2\.5-coder-0\.5b"):
        resolve_source("qwen2.5-coder-0.5b")  # a fresh QWENGRAPH_HOME: the catalogue file is not there


def test_sampling_maps_to_generate_with_llama_cpp_defaults() -> None:
    settings = generation_settings({"temperature": 0.7, "top_p": 0.8, "top_k": 20}, 64)
    assert settings == {
        "max_new_tokens": 64,
        "repetition_penalty": LLAMA_CPP_DEFAULTS["repeat_penalty"],
        "do_sample": True,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "min_p": 0.05,  # llama-cpp-python's default, which the local: engine applies too
    }
    greedy = generation_settings({"temperature": 0, "repeat_penalty": 1.1}, 8)
    assert greedy == {"max_new_tokens": 8, "repetition_penalty": 1.1, "do_sample": False}


def test_missing_extra_is_one_clear_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'qwengraph\[transformers\]'"):
        ChatQwen(model=f"transformers:{gguf}").invoke("hi")
