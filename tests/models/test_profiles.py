"""Profiles: detection from names, real templates, GGUF metadata and Ollama /api/show; what they change."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_writer import write_gguf
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.gguf import GGUFError, describe, read_metadata
from graphs.models.install import DEFAULT_CATALOG, Installer
from graphs.models.profile_detect import detect, from_name, from_ollama_show, from_template
from graphs.models.profile_request import plan_thinking
from graphs.models.profiles import PROFILES, QWEN3, QWEN25, QWEN36, get_profile
from graphs.models.testing import ScriptedTransport, turn

TEMPLATES = Path(__file__).resolve().parent.parent / "fixtures" / "chat_templates"
INSTALLED = Path.home() / ".local" / "share" / "qwengraph" / "models"


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen2.5-coder:1.5b", "qwen2.5"),
        ("Qwen/Qwen2.5-Math-7B-Instruct", "qwen2.5"),
        ("qwen3:8b", "qwen3"),
        ("Qwen/Qwen3-14B", "qwen3"),
        ("qwen3:4b", "qwen3-thinking-2507"),
        ("qwen3:30b", "qwen3-thinking-2507"),
        ("Qwen/Qwen3-4B-Thinking-2507", "qwen3-thinking-2507"),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-instruct-2507"),
        ("qwen3-coder:30b", "qwen3-coder"),
        ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder"),
        ("qwen3.5:9b", "qwen3.5"),
        ("Qwen/Qwen3.5-35B-A3B", "qwen3.5"),
        ("qwen3.6:27b", "qwen3.6"),
        ("Qwen/Qwen3.6-35B-A3B", "qwen3.6"),
        ("qwq:32b", "qwq"),
        ("deepseek-r1:14b", "r1-distill"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "r1-distill"),
    ],
)
def test_every_family_from_its_name(name: str, expected: str) -> None:
    found = from_name(name)
    assert found is not None and found.profile.name == expected
    assert (found.source == "name" and name in found.reason) or "Ollama" in found.reason


def test_unknown_names_fall_back_to_the_default_with_a_reason() -> None:
    assert from_name("llama3.2:3b") is None
    found = detect("ollama:my-agent")
    assert found.profile is QWEN3 and found.source == "default" and "assuming Qwen3" in found.reason


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("qwen2.5-coder-0.5b-instruct.jinja", "qwen2.5"),
        ("qwen2.5-coder-1.5b-instruct.jinja", "qwen2.5"),
        ("qwen3.jinja", "qwen3"),
        ("qwen3.5-35b-a3b.jinja", "qwen3.5"),
        ("qwen3.6-35b-a3b-unsloth.jinja", "qwen3.6"),
        ("qwen3-coder.jinja", "qwen3-coder"),
        ("qwq-32b.jinja", "qwq"),
        ("deepseek-r1-distill-qwen-32b.jinja", "r1-distill"),
    ],
)
def test_real_templates_name_their_generation(file: str, expected: str) -> None:
    found = from_template(template(file), where="test")
    assert found is not None and found.profile.name == expected


@pytest.mark.parametrize(
    ("arch", "file", "name", "expected"),
    [
        ("qwen2", "qwen2.5-coder-1.5b-instruct.jinja", "Qwen2.5 Coder 1.5B", "qwen2.5"),
        ("qwen3", "qwen3.jinja", "Qwen3 8B", "qwen3"),
        ("qwen35moe", "qwen3.5-35b-a3b.jinja", "Qwen3.5-35B-A3B", "qwen3.5"),
        ("qwen35moe", "qwen3.6-35b-a3b-unsloth.jinja", "Qwen3.6-35B-A3B", "qwen3.6"),
        ("qwen3moe", "qwen3-coder.jinja", "Qwen3 Coder 30B A3B Instruct", "qwen3-coder"),
        ("qwen2", "qwq-32b.jinja", "QwQ 32B", "qwq"),
        ("qwen2", "deepseek-r1-distill-qwen-32b.jinja", "DeepSeek R1 Distill Qwen 32B", "r1-distill"),
    ],
)
def test_models_profile_from_gguf_metadata_not_the_file_name(
    tmp_path: Path, arch: str, file: str, name: str, expected: str
) -> None:
    """The file is called model.gguf: only its own metadata can say what it is."""
    path = write_gguf(
        tmp_path / "model.gguf",
        {
            "general.architecture": arch,
            "general.name": name,
            "tokenizer.ggml.tokens": ["a"] * 100,  # a long array that is skipped, not loaded
            "tokenizer.chat_template": template(file),
        },
    )
    found = detect(f"local:{path}")
    assert found.profile.name == expected
    assert found.source == "gguf" and "GGUF metadata of model.gguf" in found.reason


def test_gguf_architecture_alone_and_a_template_without_a_switch(tmp_path: Path) -> None:
    bare = write_gguf(tmp_path / "a.gguf", {"general.architecture": "qwen35"})
    assert detect(f"local:{bare}").profile.name == "qwen3.5"
    instruct = write_gguf(
        tmp_path / "b.gguf",
        {"general.architecture": "qwen3moe", "tokenizer.chat_template": "<|im_start|>{{ m }}<tool_call>"},
    )
    found = detect(f"local:{instruct}")
    assert found.profile.name == "qwen3-instruct-2507" and "no thinking switch" in found.reason


def test_broken_gguf_files_give_a_clear_error(tmp_path: Path) -> None:
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        detect(f"local:{not_gguf}")
    cut = write_gguf(tmp_path / "y.gguf", {"general.architecture": "qwen3"})
    cut.write_bytes(cut.read_bytes()[:-3])
    with pytest.raises(GGUFError, match="ends early"):
        read_metadata(cut)


@pytest.mark.skipif(not (INSTALLED / "qwen2.5-coder-1.5b.gguf").is_file(), reason="model not installed here")
def test_the_real_qwen25_coder_gguf_files() -> None:
    installer = Installer(models_dir=INSTALLED)
    for entry in DEFAULT_CATALOG:
        path = installer.path_for(entry)
        facts = describe(read_metadata(path))
        assert facts["architecture"] == "qwen2"
        assert facts["chat_template"] == template(f"{entry.name}-instruct.jinja")
        found = detect(f"local:{entry.name}", installer=installer)
        assert found.profile is QWEN25 and found.source == "gguf"


def test_catalogue_entry_when_the_file_is_not_installed() -> None:
    found = detect("local:qwen2.5-coder-1.5b")  # the test home has no models
    assert found.profile is QWEN25 and "catalogue entry" in found.reason


def test_ollama_show_decides_for_names_that_say_nothing() -> None:
    show = {
        "template": "{{ if .Thinking }}...{{ end }}<function=...>",
        "model_info": {"general.architecture": "qwen35", "general.name": "Qwen3.6 27B"},
        "capabilities": ["completion", "tools", "thinking", "vision"],
    }
    found = from_ollama_show(show, model="agent:latest")
    assert found is not None and found.profile is QWEN36
    plain = {
        "template": "{{ .Prompt }}",
        "model_info": {"general.architecture": "qwen3"},
        "capabilities": ["tools"],
    }
    found = from_ollama_show(plain, model="x")
    assert found is not None and found.profile.name == "qwen3-instruct-2507"


def test_explicit_profile_wins_and_unknown_names_are_refused() -> None:
    assert detect("ollama:qwen3:8b", explicit="qwen3.5").profile.name == "qwen3.5"
    with pytest.raises(ConfigError, match=r"unknown profile 'qwen9'.*qwen2\.5, qwen3"):
        get_profile("qwen9")
    assert get_profile("Qwen2.5-Coder") is QWEN25


def test_profiles_are_explicit_and_complete() -> None:
    names = [p.name for p in PROFILES]
    assert len(names) == len(set(names)) == 9
    for profile in PROFILES:
        assert profile.sampling(True) and profile.sampling(False)
        assert set(profile.summary()) >= {"profile", "chat template", "tool calls", "thinking switch"}
    assert [p.name for p in PROFILES if p.soft_switch] == ["qwen3"]
    assert [p.name for p in PROFILES if p.preserve_thinking] == ["qwen3.6"]
    assert {p.name for p in PROFILES if p.vision} == {"qwen3.5", "qwen3.6"}
    assert {p.name for p in PROFILES if "xml" in p.tool_calls} == {"qwen3-coder", "qwen3.5", "qwen3.6"}


@pytest.mark.parametrize(
    ("profile", "asked", "think", "forced"),
    [
        ("qwen3", None, True, False),
        ("qwen3", False, False, False),
        ("qwen3.5", None, True, False),
        ("qwen3-thinking-2507", False, True, True),
        ("qwq", None, True, False),
        ("qwen2.5", True, False, False),
        ("qwen3-coder", True, False, False),
    ],
)
def test_thinking_switch_by_profile(profile: str, asked: bool | None, think: bool, forced: bool) -> None:
    plan = plan_thinking(get_profile(profile), asked)
    assert (plan.think, plan.forced) == (think, forced)


def model(profile: str, name: str = "openai:some-model", **kw: object) -> ChatQwen:
    return ChatQwen(model=name, profile=profile, transport=ScriptedTransport([turn("ok")]), **kw)


def test_requests_follow_the_profile() -> None:
    q35 = model("qwen3.5").build_request([HumanMessage("hi")], None, stream=False, think=True)
    assert q35.sampling == {"temperature": 1.0, "top_p": 0.95, "top_k": 20, "presence_penalty": 1.5}
    assert q35.think is True and q35.opens_thinking
    q36 = model("qwen3.6", preserve_thinking=True).build_request([HumanMessage("hi")], None, stream=False)
    assert q36.template_kwargs == {"preserve_thinking": True} and "presence_penalty" not in q36.sampling
    forced = model("qwen3-thinking-2507").build_request([HumanMessage("hi")], None, stream=False, think=False)
    assert forced.think is True and forced.thinking_forced and forced.sampling["temperature"] == 0.6
    coder = model("qwen3-coder").build_request([HumanMessage("hi")], None, stream=False, think=True)
    assert coder.think is False and coder.sampling == {"temperature": 0.7, "top_p": 0.8, "top_k": 20}


def test_what_a_profile_cannot_do_is_refused_clearly() -> None:
    image = HumanMessage(
        content=[{"type": "text", "text": "what is this?"}, {"type": "image", "url": "http://x/y.png"}]
    )
    with pytest.raises(ConfigError, match=r"cannot see images \(profile qwen3"):
        model("qwen3").invoke([image])
    with pytest.raises(ConfigError, match="no /think /no_think soft switch"):
        model("qwen3.5", think_switch="soft_switch").invoke("hi")
    with pytest.raises(ConfigError, match=r"preserve_thinking needs a Qwen3\.6"):
        model("qwen3", preserve_thinking=True).invoke("hi")


def test_profile_argument_and_langchain_capabilities() -> None:
    llm = ChatQwen(model="ollama:qwen3.5:9b")
    assert llm.profile is not None and llm.profile["image_inputs"] is True
    named = ChatQwen(model="ollama:whatever", profile="qwen2.5")
    assert named.qwen_profile == "qwen2.5" and named.profile is not None
    assert named.profile["reasoning_output"] is False
    assert named.profile_detection().reason == "named by the user"


def test_reasoning_scope_follows_the_profile() -> None:
    history = [
        HumanMessage("first"),
        AIMessage(content=[{"type": "reasoning", "reasoning": "old"}, {"type": "text", "text": "A"}]),
        HumanMessage("second"),
        AIMessage(
            content=[{"type": "reasoning", "reasoning": "plan"}],
            tool_calls=[{"name": "f", "args": {}, "id": "1"}],
        ),
        ToolMessage("42", tool_call_id="1"),
    ]

    def sent(llm: ChatQwen) -> list[str | None]:
        request = llm.build_request(history, None, stream=False)
        return [m.get("reasoning_content") for m in request.messages if m["role"] == "assistant"]

    assert sent(model("qwen3")) == [None, "plan"]
    assert sent(model("qwen3.6", preserve_thinking=True)) == ["old", "plan"]
    assert sent(model("qwq")) == [None, None]
