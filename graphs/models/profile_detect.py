"""Which Qwen generation a model is: from a GGUF's metadata, a server's template, or the name.

Evidence is taken in this order, and the :class:`Detection` says which piece decided and why:

1. a profile the user names (``profile=`` / ``--profile``);
2. the chat template and architecture the model itself carries: a GGUF file's
   ``tokenizer.chat_template`` and ``general.architecture`` (never its file name), or what Ollama
   reports in ``/api/show`` (template, ``model_info``, capabilities);
3. the model name (Ollama tag, served model name, Hugging Face id);
4. a default: Qwen3 for servers, Qwen2.5 for GGUF files that say nothing recognisable.

Template markers are facts of the official templates: Qwen3-Coder and Qwen3.5+ write tool calls as
``<function=…>`` XML; only Qwen3.6+ templates mention ``preserve_thinking``; Qwen3's hybrid template
reads ``enable_thinking``; thinking-only templates open ``<think>`` in the generation prompt; QwQ's
template drops past thinking without reading ``reasoning_content``; Qwen2.5 adds the "You are
Qwen, created by Alibaba Cloud" system prompt; the R1 distills use DeepSeek's own template (its
``Assistant`` and ``User`` markers between fullwidth bars).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphs.errors import ConfigError
from graphs.models.gguf import GGUFError, describe, read_metadata
from graphs.models.install import Installer
from graphs.models.profiles import (
    QWEN3,
    QWEN3_CODER,
    QWEN3_INSTRUCT_2507,
    QWEN3_THINKING_2507,
    QWEN25,
    QWEN35,
    QWEN36,
    QWQ,
    R1_DISTILL,
    Profile,
    get_profile,
)
from graphs.models.uri import parse_model_uri

Source = Literal["explicit", "gguf", "server", "name", "default"]


@dataclass(frozen=True)
class Detection:
    """A profile and the evidence for it (``reason`` is one line for people)."""

    profile: Profile
    source: Source
    reason: str


# --------------------------------------------------------------------------- names

_OLLAMA_2507_TAGS = {"qwen3:4b": "Qwen3-4B-Thinking-2507", "qwen3:30b": "Qwen3-30B-A3B-Thinking-2507"}
_NAME_RULES: tuple[tuple[re.Pattern[str], Profile, str], ...] = tuple(
    (re.compile(pattern), profile, why)
    for pattern, profile, why in (
        (r"r1[-_]distill[-_]qwen|^deepseek-r1:(1\.5b|7b|14b|32b)\b", R1_DISTILL, "an R1 distill of Qwen"),
        (r"\bqwq\b|qwq[-_:]", QWQ, "QwQ"),
        (r"qwen3[-_.]?coder", QWEN3_CODER, "Qwen3-Coder"),
        (r"qwen3[._-]?([6-9]|\d\d)\b|qwen3\.([6-9]|\d\d)", QWEN36, "Qwen3.6 or later"),
        (r"qwen3[._]5\b|qwen3\.5|qwen35\b", QWEN35, "Qwen3.5"),
        (r"qwen3.*(thinking[-_]?2507|2507[-_]?thinking)", QWEN3_THINKING_2507, "a Qwen3 Thinking-2507 model"),
        (r"qwen3.*(instruct[-_]?2507|2507[-_]?instruct)", QWEN3_INSTRUCT_2507, "a Qwen3 Instruct-2507 model"),
        (r"qwen3", QWEN3, "Qwen3 (hybrid thinking)"),
        (r"qwen2\.5|qwen2[-_]5|qwen2\b|qwen2[-:_]", QWEN25, "Qwen2.5"),
    )
)  # fmt: skip


def from_name(name: str) -> Detection | None:
    """The profile a model name points at, or ``None`` when it names no known Qwen generation."""
    lowered = name.strip().lower()
    if lowered in _OLLAMA_2507_TAGS:
        return Detection(
            QWEN3_THINKING_2507,
            "name",
            f"Ollama's {lowered} tag now points at {_OLLAMA_2507_TAGS[lowered]}, a thinking-only model "
            "(ollama/ollama#12438)",
        )
    for pattern, profile, why in _NAME_RULES:
        if pattern.search(lowered):
            return Detection(profile, "name", f"the name {name!r} names {why}")
    return None


# --------------------------------------------------------------------------- templates

_DEEPSEEK = ("<｜Assistant｜>", "<｜User｜>")  # noqa: RUF001 - DeepSeek's fullwidth bars, verbatim
_OPENS_THINK = re.compile(r"assistant(\\n|\n)<think>(\\n|\n)['\"]")


def from_template(template: str, *, where: str) -> Detection | None:
    """The profile a chat template (Jinja or Ollama's Go template) belongs to, or ``None``."""

    def found(profile: Profile, why: str) -> Detection:
        return Detection(profile, "gguf" if where.startswith("GGUF") else "server", f"{where}: {why}")

    if any(marker in template for marker in _DEEPSEEK):
        return found(R1_DISTILL, "DeepSeek's <｜Assistant｜> chat template")  # noqa: RUF001
    if "<function=" in template:
        if "preserve_thinking" in template:
            return found(QWEN36, "XML tool calls and preserve_thinking (Qwen3.6+ template)")
        if "think" in template.lower() or "vision_start" in template:
            return found(QWEN35, "XML tool calls with thinking or image slots (Qwen3.5 template)")
        return found(QWEN3_CODER, "XML tool calls without thinking (Qwen3-Coder template)")
    opens = bool(_OPENS_THINK.search(template))
    if "enable_thinking" in template:
        return found(QWEN3, "an enable_thinking switch (Qwen3 hybrid template)")
    if opens and "reasoning_content" in template:
        return found(QWEN3_THINKING_2507, "the generation prompt opens <think> (Thinking-2507 template)")
    if opens:
        return found(QWQ, "the generation prompt opens <think> and past thinking is dropped (QwQ template)")
    if "You are Qwen, created by Alibaba Cloud" in template:
        return found(QWEN25, "Qwen2.5's default system prompt")
    return None


# --------------------------------------------------------------------------- GGUF and Ollama metadata

_ARCHITECTURES: dict[str, tuple[Profile, str]] = {
    "qwen35": (QWEN35, "Qwen3.5"),
    "qwen35moe": (QWEN35, "Qwen3.5 MoE"),
    "qwen3": (QWEN3, "Qwen3"),
    "qwen3moe": (QWEN3, "Qwen3 MoE"),
    "qwen3next": (QWEN3_INSTRUCT_2507, "Qwen3-Next"),
    "qwen2": (QWEN25, "Qwen2/Qwen2.5"),
}


def from_metadata(facts: Mapping[str, str], *, where: str, jinja: bool = True) -> Detection | None:
    """The profile for a model's own metadata: ``chat_template``, ``architecture`` and name fields.

    ``facts`` is :func:`graphs.models.gguf.describe` of a GGUF file, or the same keys from Ollama's
    ``/api/show`` (``jinja=False``: Ollama's Go templates never mention ``enable_thinking``). The
    template decides when it is recognisable; else the name fields (the model's own
    ``general.name``, not a file name); else the architecture.
    """
    template = facts.get("chat_template", "")
    arch = facts.get("architecture", "")
    by_template = from_template(template, where=where) if template else None
    if by_template is not None:
        suffix = f"; architecture {arch!r}" if arch else ""
        if by_template.profile is QWEN35 and "3.6" in _own_name(facts):
            return Detection(
                QWEN36, by_template.source, by_template.reason + suffix + "; general.name says 3.6"
            )
        return Detection(by_template.profile, by_template.source, by_template.reason + suffix)
    own = _own_name(facts)
    by_name = from_name(own) if own else None
    source: Source = "gguf" if where.startswith("GGUF") else "server"
    if by_name is not None:
        why = f"general.name {own!r} names {by_name.profile.title}"
        return Detection(by_name.profile, source, f"{where}: {why}")
    if arch in ("qwen3", "qwen3moe") and template and jinja:
        why = f"architecture {arch!r} with a chat template that has no thinking switch (Instruct-2507)"
        return Detection(QWEN3_INSTRUCT_2507, source, f"{where}: {why}")
    if arch in _ARCHITECTURES:
        profile, label = _ARCHITECTURES[arch]
        return Detection(profile, source, f"{where}: architecture {arch!r} ({label})")
    return None


def _own_name(facts: Mapping[str, str]) -> str:
    return " ".join(facts[k] for k in ("name", "basename", "finetune") if facts.get(k))


def ollama_facts(show: Mapping[str, Any]) -> dict[str, str]:
    """The detection facts in an Ollama ``/api/show`` body (template, architecture, general.name)."""
    info = show.get("model_info") or {}
    facts = {
        "chat_template": str(show.get("template") or ""),
        "architecture": str(info.get("general.architecture") or ""),
        "name": str(info.get("general.name") or ""),
        "basename": str(info.get("general.basename") or ""),
        "finetune": str(info.get("general.finetune") or ""),
    }
    return {k: v for k, v in facts.items() if v}


def from_ollama_show(show: Mapping[str, Any], *, model: str) -> Detection | None:
    """The profile Ollama's ``/api/show`` for ``model`` points at (capabilities refine it)."""
    found = from_metadata(ollama_facts(show), where=f"Ollama /api/show for {model}", jinja=False)
    capabilities = set(show.get("capabilities") or ())
    if found is not None and found.profile is QWEN3 and capabilities and "thinking" not in capabilities:
        return Detection(QWEN3_INSTRUCT_2507, "server", found.reason + "; no 'thinking' capability")
    return found


def default(kind: str) -> Detection:
    """The profile when nothing else says: Qwen3 on servers, Qwen2.5 for GGUF files."""
    if kind == "local":
        return Detection(QWEN25, "default", "nothing in the file's metadata or name was recognised")
    return Detection(QWEN3, "default", "the name names no known Qwen generation; assuming Qwen3")


# --------------------------------------------------------------------------- one model URI

_FAMILY_PROFILES: dict[str, Profile] = {"qwen2.5": QWEN25, "qwen3": QWEN3}


def detect_local(spec: str, *, installer: Installer | None = None) -> Detection:
    """The profile of a ``local:`` model: its GGUF metadata when the file is here, else the
    catalogue's entry, else the name (a recorded run replays without the file), else Qwen2.5."""
    installer = installer or Installer()
    path = _local_file(spec, installer)
    if path is not None:
        try:
            facts = describe(read_metadata(path))
        except GGUFError as err:
            raise ConfigError(f"local:{spec}: {err}") from None
        found = from_metadata(facts, where=f"GGUF metadata of {path.name}")
        if found is not None:
            return found
        return Detection(QWEN25, "default", f"GGUF metadata of {path.name} names no known Qwen generation")
    if spec in installer.catalog:
        entry = installer.catalog.get(spec)
        why = f"catalogue entry {spec!r} ({entry.description}; the file is not installed here)"
        return Detection(_FAMILY_PROFILES[entry.chat_family], "name", why)
    by_name = from_name(Path(spec).name)
    if by_name is not None:
        return Detection(by_name.profile, "name", f"no file at {spec}; {by_name.reason}")
    return Detection(QWEN25, "default", f"no file at {spec} and its name names no Qwen generation")


def _local_file(spec: str, installer: Installer) -> Path | None:
    if spec in installer.catalog:
        path = installer.path_for(installer.catalog.get(spec))
    else:
        path = Path(spec).expanduser()
    return path if path.is_file() else None


def detect(
    uri: str,
    *,
    explicit: str | Profile | None = None,
    show: Mapping[str, Any] | None = None,
    installer: Installer | None = None,
) -> Detection:
    """The profile for a model URI: ``explicit`` wins, then the model's own metadata (a ``local:``
    GGUF file, or Ollama's ``show`` body when given), then the name, then the default."""
    if explicit is not None:
        profile = explicit if isinstance(explicit, Profile) else get_profile(explicit)
        return Detection(profile, "explicit", "named by the user")
    parsed = parse_model_uri(uri)
    if parsed.kind == "local":
        return detect_local(parsed.name, installer=installer)
    if show is not None:
        found = from_ollama_show(show, model=parsed.name)
        if found is not None:
            return found
    return from_name(parsed.name) or default(parsed.kind)
