"""``qwengraph doctor``: each check against real files, a real child probe and loopback servers."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents import doctor
from agents.cli import app
from agents.doctor import Check, check_engine, check_memory, check_server, healthy
from graphs.models.transports import llama_probe
from graphs.models.transports.llama_probe import EngineProbe
from graphs.models.uri import parse_model_uri
from tests.models.test_llama_probe import fake_command

runner = CliRunner()


@pytest.fixture
def fake_engine(tmp_path, monkeypatch):
    """The fake crashing child of test_llama_probe, as the default probe command."""
    log = tmp_path / "children.log"
    log.touch()
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))
    monkeypatch.setattr(llama_probe, "child_command", fake_command)
    monkeypatch.setattr(doctor.metadata, "version", _versions)
    return monkeypatch


def _versions(name: str) -> str:
    return "0.3.36" if name == "llama-cpp-python" else "1.0"


def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "my-model.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    return path


def test_healthy_only_fails_on_required_checks() -> None:
    assert healthy([Check("a", "ok", ""), Check("b", "fail", "", required=False)])
    assert not healthy([Check("a", "fail", "", required=True)])


def test_missing_model_fails_with_the_install_command(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    result = runner.invoke(app, ["doctor", "--json", "--model", "local:qwen2.5-coder-0.5b"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    model = next(c for c in report["checks"] if c["name"] == "model")
    assert model["status"] == "fail" and model["required"] is True
    assert model["fix"] == "qwengraph models install qwen2.5-coder-0.5b"


def test_a_crashing_engine_is_explained_in_one_line(tmp_path, fake_engine) -> None:
    fake_engine.setenv("QWENGRAPH_HOME", str(tmp_path))
    fake_engine.setenv("FAKE_ENGINE_MODE", "segv")
    result = runner.invoke(app, ["doctor", "--json", "--model", f"local:{gguf(tmp_path)}"])
    assert result.exit_code == 1
    engine = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "engine")
    assert engine["status"] == "fail"
    assert engine["detail"].startswith("the local engine crashed (SIGSEGV) in a test decode of my-model.gguf")
    assert "\n" not in engine["detail"]


def test_a_working_engine_reports_the_probe_and_caches_it(tmp_path, fake_engine) -> None:
    fake_engine.setenv("QWENGRAPH_HOME", str(tmp_path))
    fake_engine.setenv("FAKE_ENGINE_MODE", "ok")
    model = gguf(tmp_path)
    first = runner.invoke(app, ["doctor", "--json", "--model", f"local:{model}"])
    assert first.exit_code == 0, first.output
    engine = next(c for c in json.loads(first.stdout)["checks"] if c["name"] == "engine")
    assert engine["status"] == "ok" and "probed now" in engine["detail"]
    assert engine["data"]["probe"]["system_info"] == "FAKE = 1"
    second = runner.invoke(app, ["doctor", "--json", "--model", f"local:{model}"])
    engine = next(c for c in json.loads(second.stdout)["checks"] if c["name"] == "engine")
    assert "cached verdict" in engine["detail"]
    again = runner.invoke(app, ["doctor", "--json", "--reprobe", "--model", f"local:{model}"])
    engine = next(c for c in json.loads(again.stdout)["checks"] if c["name"] == "engine")
    assert "probed now" in engine["detail"]


def test_the_table_names_what_to_fix(tmp_path, fake_engine) -> None:
    fake_engine.setenv("QWENGRAPH_HOME", str(tmp_path))
    fake_engine.setenv("FAKE_ENGINE_MODE", "sigill")
    result = runner.invoke(app, ["doctor", "--model", f"local:{gguf(tmp_path)}"])
    assert result.exit_code == 1
    assert "not ready: engine" in result.stdout
    assert "SIGILL" in result.stdout


def test_engine_without_llama_cpp_is_a_failure_only_for_local_models(tmp_path, monkeypatch) -> None:
    def missing(name: str) -> str:
        raise doctor.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(doctor.metadata, "version", missing)
    probe = EngineProbe(cache=tmp_path / "p.json", command=fake_command)
    needed = check_engine(gguf(tmp_path), probe, reprobe=False, required=True)
    assert needed.status == "fail" and "pip install 'qwengraph[local]'" in needed.fix
    assert check_engine(None, probe, reprobe=False, required=False).status == "skip"


def test_server_check_lists_models_and_fails_on_a_missing_one(ollama_server) -> None:
    served = check_server(parse_model_uri("ollama:qwen3:8b"), ollama_server.url, required=True)
    assert served.status == "ok" and "qwen3:8b" in served.detail
    missing = check_server(parse_model_uri("ollama:qwen3:32b"), ollama_server.url, required=True)
    assert missing.status == "fail" and missing.fix == "ollama pull qwen3:32b"


def test_server_check_on_vllm(vllm_server) -> None:
    served = check_server(parse_model_uri("openai:Qwen/Qwen3-8B"), vllm_server.base_url, required=True)
    assert served.status == "ok", served.detail


def test_dead_server_is_a_failure_with_a_fix() -> None:
    dead = check_server(parse_model_uri("ollama:qwen3:8b"), "http://127.0.0.1:9", required=True)
    assert dead.status == "fail" and "does not answer" in dead.detail and "ollama serve" in dead.fix


def test_corrupt_thread_database_is_a_warning(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    (tmp_path / "threads.db").write_bytes(b"this is not a database" * 100)
    check = check_memory()
    assert check.status == "warn" and "threads.db" in check.detail and not check.required


def test_doctor_never_imports_llama_cpp(tmp_path, fake_engine) -> None:
    fake_engine.setenv("QWENGRAPH_HOME", str(tmp_path))
    fake_engine.setenv("FAKE_ENGINE_MODE", "ok")
    sys.modules.pop("llama_cpp", None)
    runner.invoke(app, ["doctor", "--json", "--model", f"local:{gguf(tmp_path)}"])
    assert "llama_cpp" not in sys.modules
