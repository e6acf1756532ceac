"""Loading ``transformers:`` models: where the weights come from, the device, dtype and threads.

A source is one of:

- a catalogue name (``qwen2.5-coder-0.5b``): its installed GGUF file;
- a ``.gguf`` file: Transformers reads it (``gguf_file=``, needs the ``gguf`` package) and
  dequantizes it. That conversion is slow (minutes on two cores), so its result is saved once as
  safetensors under ``$QWENGRAPH_HOME/transformers/<name>-<key>/`` (key: the file's path, size and
  modification time) and loaded from there afterwards; ``QWENGRAPH_GGUF_CACHE=0`` turns that off;
- a local model directory (``config.json`` and weights, e.g. a ``save_pretrained`` output);
- a Hugging Face hub id (``Qwen/Qwen3-8B``): downloaded by Transformers into its own cache
  (``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` apply).

torch and transformers are the optional extra ``transformers`` and are imported only here, when a
model loads. Problems become :class:`~graphs.errors.ConfigError` (missing extra, bad source) or
:class:`~graphs.errors.ModelError` (the weights would not load) with one clear line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from graphs import paths
from graphs.errors import ConfigError, ModelError
from graphs.models.catalog import DEFAULT_CATALOG, ChatFamily
from graphs.models.install import model_path
from graphs.models.transports.llama_settings import resolve_settings

SourceKind = Literal["gguf", "dir", "hub"]
EXTRA_HINT = "pip install 'qwengraph[transformers]' (CPU torch: `make setup-transformers`)"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_DONE = ".qwengraph-converted"


@dataclass(frozen=True)
class Loaded:
    """A loaded model and its tokenizer, the torch module and device they live on, and the lock
    that makes completions on this model take turns (however many engines share it)."""

    model: Any
    tokenizer: Any
    torch: Any
    device: str
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)


_LOADED: dict[tuple[str, str, str | None, str | None, int], Loaded] = {}
_LOADING = threading.Lock()


def resolve_source(spec: str) -> tuple[SourceKind, str]:
    """What ``spec`` names: a GGUF file, a model directory or a hub id (no weights are read).

    Raises:
        ModelInstallError: a catalogue name that is not installed (says how to install it).
        ConfigError: a missing file or directory, or something that is none of the forms.
    """
    if spec in DEFAULT_CATALOG:
        return "gguf", str(model_path(spec))
    path = Path(spec).expanduser()
    if spec.lower().endswith(".gguf"):
        if not path.is_file():
            raise ConfigError(f"no GGUF file at {path}")
        return "gguf", str(path.resolve())
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} has no config.json: not a Transformers model directory")
        return "dir", str(path.resolve())
    if spec.startswith(("/", ".", "~")) or os.sep + os.sep in spec:
        raise ConfigError(f"no model directory at {path}")
    if _HUB_ID.fullmatch(spec):
        return "hub", spec
    raise ConfigError(
        f"invalid transformers model {spec!r}: use a hub id (transformers:Qwen/Qwen3-8B), a model "
        "directory, a .gguf file or a catalogue name (transformers:qwen2.5-coder-0.5b)"
    )


def detect_family(spec: str) -> ChatFamily:
    """Qwen3 or Qwen2.5 chat rules for ``spec``, without loading weights.

    A catalogue entry knows its family; a model directory says it in ``config.json``
    (``model_type`` ``qwen3``/``qwen3_moe``); otherwise the name decides, as for ``local:`` files.
    """
    if spec in DEFAULT_CATALOG:
        return DEFAULT_CATALOG.get(spec).chat_family
    config = Path(spec).expanduser() / "config.json"
    if config.is_file():
        try:
            model_type = str(json.loads(config.read_text(encoding="utf-8")).get("model_type", ""))
        except (OSError, ValueError):
            model_type = ""
        if model_type:
            return "qwen3" if model_type.startswith("qwen3") else "qwen2.5"
    return "qwen3" if "qwen3" in Path(spec).name.lower() else "qwen2.5"


def load(
    spec: str,
    *,
    dtype: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Loaded:
    """The model and tokenizer for ``spec``, loaded once per process (see the module docstring).

    ``on_stage`` hears what takes time (``"converting …"``, ``"loading …"``), for a display.
    """
    kind, where = resolve_source(spec)
    dtype = dtype or os.environ.get("QWENGRAPH_TORCH_DTYPE") or None
    device = device or os.environ.get("QWENGRAPH_TORCH_DEVICE") or None
    threads = threads or resolve_settings().n_threads
    key = (kind, where, dtype, device, threads)
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = _load(
                kind, where, dtype=dtype, device=device, threads=threads, say=on_stage or (lambda _: None)
            )
        return _LOADED[key]


def _load(
    kind: SourceKind,
    where: str,
    *,
    dtype: str | None,
    device: str | None,
    threads: int,
    say: Callable[[str], None],
) -> Loaded:
    torch, transformers = _import_extra()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        torch.set_num_threads(threads)
    name = dtype or ("float32" if device == "cpu" else "auto")
    torch_dtype = name if name == "auto" else getattr(torch, name, None)
    if torch_dtype is None:
        raise ConfigError(f"unknown torch dtype {name!r}: use float32, bfloat16, float16 or auto")
    try:
        if kind == "gguf":
            model, tokenizer = _from_gguf(transformers, torch, Path(where), torch_dtype, say)
        else:
            say(f"loading {where} with Transformers")
            tokenizer = transformers.AutoTokenizer.from_pretrained(where)
            model = transformers.AutoModelForCausalLM.from_pretrained(where, dtype=torch_dtype)
    except (OSError, ValueError, RuntimeError, ImportError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"Transformers could not load {where}: {first}") from None
    model.to(device)
    model.eval()
    return Loaded(model=model, tokenizer=tokenizer, torch=torch, device=device)


def _import_extra() -> tuple[Any, Any]:
    try:
        import torch  # noqa: PLC0415 - optional extra, imported only when a transformers model loads
        import transformers  # noqa: PLC0415
    except ImportError:
        raise ConfigError(f"transformers: models need torch and transformers: {EXTRA_HINT}") from None
    return torch, transformers


def converted_dir(gguf: Path) -> Path:
    """Where the safetensors conversion of ``gguf`` is kept (keyed by path, size and mtime)."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    return paths.home() / "transformers" / f"{gguf.stem}-{key[:12]}"


def _from_gguf(
    transformers: Any, torch: Any, gguf: Path, torch_dtype: Any, say: Callable[[str], None]
) -> tuple[Any, Any]:
    """Load a GGUF file through Transformers, from the saved conversion when there is one."""
    cache = converted_dir(gguf)
    use_cache = os.environ.get("QWENGRAPH_GGUF_CACHE", "1").strip().lower() not in {"0", "false", "off", "no"}
    if use_cache and (cache / _DONE).is_file():
        say(f"loading {gguf.name} with Transformers (converted copy in {cache})")
        tokenizer = transformers.AutoTokenizer.from_pretrained(cache)
        model = transformers.AutoModelForCausalLM.from_pretrained(cache, dtype=torch_dtype)
        return model, tokenizer
    try:
        import gguf as _gguf  # noqa: F401, PLC0415 - Transformers needs it to read GGUF files
    except ImportError:
        raise ConfigError(
            f"reading GGUF files with Transformers needs the gguf package: {EXTRA_HINT}"
        ) from None
    say(f"converting {gguf.name} with Transformers (once: the result is saved under {cache.parent})")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    if use_cache:
        _save_conversion(model, tokenizer, cache)
    if torch_dtype not in ("auto", torch.float32):
        model = model.to(torch_dtype)
    return model, tokenizer


def _save_conversion(model: Any, tokenizer: Any, cache: Path) -> None:
    """Save the dequantized model beside the others, atomically; skipped when the disk is too full.

    Transformers' ``save_pretrained`` refuses a model loaded from GGUF (its quantizer is marked not
    serializable), but the weights are plain tensors by now: they are written with safetensors, and
    the config without GGUF's quantization entry. Any failure just leaves nothing cached.
    """
    needed = sum(p.numel() * p.element_size() for p in model.parameters()) * 11 // 10
    cache.parent.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(cache.parent).free < needed:
        return  # the model is loaded either way; the next start converts again
    work = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
    try:
        from safetensors.torch import save_model  # noqa: PLC0415 - a dependency of transformers

        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (work / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        save_model(model, str(work / "model.safetensors"), metadata={"format": "pt"})
        model.generation_config.save_pretrained(work)
        tokenizer.save_pretrained(work)
        (work / _DONE).write_text("converted from GGUF by qwengraph\n", encoding="utf-8")
        shutil.rmtree(cache, ignore_errors=True)
        os.replace(work, cache)
    except (OSError, ValueError, RuntimeError, TypeError):
        return
    finally:
        shutil.rmtree(work, ignore_errors=True)
