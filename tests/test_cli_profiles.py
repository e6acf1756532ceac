"""``qwengraph models profile``, ``run --profile``, ``run --image`` and thinking switches that hold."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from servers import OllamaServer, Turn, VLLMServer
from typer.testing import CliRunner

from agents.cli import app

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TEMPLATES = Path(__file__).resolve().parent / "fixtures" / "chat_templates"


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


# --- models profile -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "profile", "why"),
    [
        ("ollama:qwen3:4b", "qwen3-thinking-2507", "ollama/ollama#12438"),
        ("openai:Qwen/Qwen3.6-35B-A3B", "qwen3.6", "names Qwen3.6 or later"),
        ("ollama:qwen3-coder:30b", "qwen3-coder", "names Qwen3-Coder"),
        ("openai:Qwen/QwQ-32B", "qwq", "names QwQ"),
        ("local:qwen2.5-coder-0.5b", "qwen2.5", "catalogue entry"),
    ],
)
def test_models_profile_names_the_profile_and_why(uri: str, profile: str, why: str) -> None:
    result = cli("models", "profile", uri)
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert f"profile {profile} (" in out and why in out


def test_models_profile_reads_a_gguf_files_own_metadata(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "models"))
    from gguf_writer import write_gguf

    path = write_gguf(
        tmp_path / "weights.gguf",
        {
            "general.architecture": "qwen35",
            "general.name": "Qwen3.5 9B",
            "tokenizer.chat_template": (TEMPLATES / "qwen3.5-35b-a3b.jinja").read_text(encoding="utf-8"),
        },
    )
    result = cli("models", "profile", f"local:{path}")
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "profile qwen3.5 (Qwen3.5)" in out and "picked from gguf" in out
    assert "GGUF metadata of weights.gguf" in out and "images yes" in out


def test_models_profile_asks_ollama_when_the_name_says_nothing() -> None:
    with OllamaServer([], models=["my-agent:latest"]) as server:
        result = cli("models", "profile", "ollama:my-agent", "--base-url", server.url)
        asked = [r.path for r in server.requests]
    assert result.exit_code == 0, result.stderr
    assert asked == ["/api/show"]
    out = " ".join(result.stdout.split())
    assert "Ollama /api/show for my-agent" in out and "architecture 'qwen3'" in out


def test_models_profile_errors_are_one_line() -> None:
    result = cli("models", "profile", "ollama:x", "--profile", "qwen9")
    assert result.exit_code == 2 and "unknown profile 'qwen9'" in result.stderr


# --- run --profile and thinking switches ------------------------------------------------------------


def test_run_profile_changes_what_is_sent() -> None:
    with VLLMServer([Turn(thinking="hm", content="Hello.")], models=["served-name"]) as server:
        result = cli(
            "run", "hi", "--json", "--model", "openai:served-name", "--base-url", server.base_url,
            "--profile", "qwen3.5", "--tools", "calculator", "--graph", "react",
        )  # fmt: skip
        body = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["temperature"] == 1.0 and body["presence_penalty"] == 1.5


def test_thinking_only_model_asked_not_to_think_is_marked_and_said_once() -> None:
    """Ollama's qwen3:4b is a thinking-only 2507 model: --no-think cannot hold (ollama#12438)."""
    script = [
        Turn(thinking="I must think anyway.", tool_calls=[("calculator", {"expression": "2+2"})]),
        Turn(thinking="It is 4.", content="2+2 = 4."),
    ]
    with OllamaServer(script, models=["qwen3:4b"]) as server:
        result = cli(
            "run", "What is 2+2?", "--model", "ollama:qwen3:4b", "--base-url", server.url, "--no-think"
        )
        requests = server.chat_requests
    assert result.exit_code == 0, result.stderr
    assert all(r["think"] is True and r["options"]["temperature"] == 0.6 for r in requests)
    assert result.stdout.count("thinks even with thinking off") == 1
    assert "2+2 = 4." in result.stdout and "I must think anyway." in result.stdout
    home = Path(__import__("os").environ["QWENGRAPH_HOME"])
    with sqlite3.connect(home / "traces.db") as db:
        notes = [n for (n,) in db.execute("select notes from model_calls order by seq")]
    assert notes == ["think_ignored", "think_ignored"]


def test_hybrid_model_that_thinks_anyway_is_caught_at_run_time() -> None:
    with OllamaServer([Turn(thinking="thinking regardless", content="Hi!")]) as server:
        result = cli(
            "run", "hello", "--json", "--model", "ollama:qwen3:8b", "--base-url", server.url, "--no-think",
            "--tools", "calculator", "--graph", "react",
        )  # fmt: skip
        body = server.chat_requests[0]
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert body["think"] is False
    assert out["answer"] == "Hi!" and out["thinking"] == ["thinking regardless"]


# --- images -----------------------------------------------------------------------------------------


def test_image_reaches_ollama_as_images(tmp_path: Path) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    with OllamaServer([Turn(content="A single dot.")], models=["qwen3.5:9b"]) as server:
        out = cli(
            "run", "What is in this picture?", "--json", "--image", str(image),
            "--model", "ollama:qwen3.5:9b", "--base-url", server.url,
            "--tools", "calculator", "--graph", "react",
        )  # fmt: skip
        body = server.chat_requests[0]
    assert out.exit_code == 0, out.stderr
    user = body["messages"][-1]
    assert user["content"] == "What is in this picture?"
    assert user["images"] == [base64.b64encode(PNG).decode()]


def test_image_reaches_openai_servers_as_a_data_uri(tmp_path: Path) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    with VLLMServer([Turn(content="A dot.")], models=["Qwen/Qwen3.5-9B"]) as server:
        out = cli(
            "run", "Describe it.", "--json", "--image", str(image), "--model", "openai:Qwen/Qwen3.5-9B",
            "--base-url", server.base_url, "--tools", "calculator", "--graph", "react",
        )  # fmt: skip
        user = server.chat_requests[0]["messages"][-1]
    assert out.exit_code == 0, out.stderr
    assert user["content"] == [
        {"type": "text", "text": "Describe it."},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        },
    ]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("ollama:qwen3:8b", "cannot see images (profile qwen3"),
        ("local:qwen2.5-coder-1.5b", "cannot see images (profile qwen2.5"),
    ],
)
def test_images_are_refused_never_dropped(tmp_path: Path, model: str, message: str) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    result = cli("run", "What is this?", "--image", str(image), "--model", model, "--graph", "react")
    assert result.exit_code == 2 and message in result.stderr


def test_bad_image_files_are_one_line_errors(tmp_path: Path) -> None:
    missing = cli("run", "x", "--image", str(tmp_path / "nope.png"), "--model", "ollama:qwen3.5:9b")
    assert missing.exit_code == 2 and "cannot read image" in missing.stderr
    text = tmp_path / "notes.txt"
    text.write_text("hi")
    wrong = cli("run", "x", "--image", str(text), "--model", "ollama:qwen3.5:9b")
    assert wrong.exit_code == 2 and "not an image file" in wrong.stderr


def test_local_models_refuse_images_before_loading_anything(tmp_path: Path) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    args = ["run", "What is this?", "--image", str(image), "--model", "local:/nowhere/q.gguf"]
    result = cli(*args, "--profile", "qwen3.5", "--graph", "react")
    assert result.exit_code == 2 and "cannot take images" in result.stderr
