"""``qwengraph doctor``'s checks: is everything the main job needs here, and what fixes what isn't.

Each check returns a :class:`Check` with a status, one line of detail and, when something is wrong,
one line saying how to fix it. ``required`` marks what the main job (``qwengraph run`` on the
configured model; the embedded local model by default) cannot do without: the doctor's exit code is
0 only when no required check failed. The engine check never imports llama.cpp into this process:
the probe runs in a child (:mod:`graphs.models.transports.llama_probe`), so a crashing engine is
diagnosed, not suffered.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sqlite3
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import httpx

from graphs import paths
from graphs.errors import QwenGraphError
from graphs.models.install import Installer
from graphs.models.transports.llama_probe import TESTED_VERSIONS, EngineProbe, probe_enabled
from graphs.models.transports.llama_settings import RELEVANT_FLAGS, resolve_settings
from graphs.models.uri import ModelURI, parse_model_uri, resolve_base_url

Status = Literal["ok", "warn", "fail", "skip"]
PACKAGES = ("qwengraph", "langgraph", "langchain-core", "ollama", "httpx", "pydantic", "sqlite-utils")


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return asdict(self)


def healthy(checks: list[Check]) -> bool:
    """True when no check the main job needs has failed."""
    return not any(c.required and c.status == "fail" for c in checks)


def run_checks(
    model: str,
    *,
    base_url: str | None = None,
    verify: bool = False,
    reprobe: bool = False,
    installer: Installer | None = None,
    probe: EngineProbe | None = None,
) -> list[Check]:
    """Every check, in the order the report shows them, for the main job on ``model``."""
    installer = installer or Installer()
    uri = parse_model_uri(model)
    local = uri.kind == "local"
    checks = [check_python(), check_packages(), check_home()]
    path, model_check = check_model(uri, installer, verify=verify, required=local)
    checks.append(model_check)
    checks.append(check_engine(path, probe or EngineProbe(), reprobe=reprobe, required=local))
    checks.append(check_sandbox())
    checks.append(check_memory())
    if not local or base_url or os.environ.get("QWENGRAPH_BASE_URL"):
        checks.append(check_server(uri, base_url, required=not local))
    return checks


def check_python() -> Check:
    """The interpreter (qwengraph installs only on Python 3.11 or newer)."""
    return Check("python", "ok", f"Python {platform.python_version()} ({sys.executable})", required=True)


def check_packages() -> Check:
    """The core packages' versions (all importable is required)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    missing = [name for name, version in versions.items() if version is None]
    detail = ", ".join(f"{n} {v}" for n, v in versions.items() if v)
    if missing:
        fix = f"reinstall qwengraph: pip install -e . (missing: {', '.join(missing)})"
        return Check("packages", "fail", detail, fix, required=True, data=dict(versions))
    return Check("packages", "ok", detail, required=True, data=dict(versions))


def check_home() -> Check:
    """``$QWENGRAPH_HOME`` exists (or can be made) and is writable: traces and threads go there."""
    home = paths.home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".doctor-{os.getpid()}"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as err:
        return Check(
            "home",
            "fail",
            f"{home}: {err.strerror or err}",
            "set QWENGRAPH_HOME to a writable directory",
            True,
        )
    return Check("home", "ok", str(home), required=True)


def check_model(
    uri: ModelURI, installer: Installer, *, verify: bool, required: bool
) -> tuple[Path | None, Check]:
    """The local model file: installed, its SHA-256 against the catalogue (``verify``: re-hash it)."""
    if uri.kind != "local":
        return None, Check("model", "skip", f"{uri} is served, not a local file")
    installed = {s.name: s for s in installer.list_models()}
    listing = {name: s.state for name, s in installed.items()}
    try:
        path = installer.resolve_local(uri.name)
    except QwenGraphError as err:
        return None, Check(
            "model", "fail", str(err), f"qwengraph models install {uri.name}", required, listing
        )
    entry = installed.get(uri.name)
    if entry is None:  # a path to a GGUF file of the user's
        if not _magic(path):
            return path, Check(
                "model", "fail", f"{path} is not a GGUF file", "pass a .gguf model file", required
            )
        return path, Check("model", "ok", f"{path} ({path.stat().st_size:,} bytes)", required=required)
    if verify:
        digest = _sha256(path)
        if digest != entry.entry.sha256:
            fix = f"qwengraph models remove {uri.name} && qwengraph models install {uri.name}"
            return path, Check(
                "model", "fail", f"{path}: SHA-256 {digest[:16]}… does not match", fix, required
            )
        detail = f"{path}: SHA-256 verified now ({digest[:16]}…)"
    else:
        detail = f"{path}: SHA-256 {entry.entry.sha256[:16]}… checked at install (--verify re-hashes)"
    if entry.state != "installed":
        return path, Check(
            "model", "warn", f"{path}: {entry.state}", "run with --verify to check it", required, listing
        )
    return path, Check("model", "ok", detail, required=required, data=listing)


def check_engine(path: Path | None, probe: EngineProbe, *, reprobe: bool, required: bool) -> Check:
    """llama-cpp-python's version, the CPU flags that matter, settings, and the probe's verdict."""
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        fix = "pip install 'qwengraph[local]' (or make setup-local)"
        status: Status = "fail" if required else "skip"
        return Check("engine", status, "llama-cpp-python is not installed", fix, required)
    try:
        settings = resolve_settings()
    except QwenGraphError as err:
        return Check("engine", "fail", str(err), "fix the QWENGRAPH_* engine variable named", required)
    flags = [f for f in RELEVANT_FLAGS if f in probe.flags]
    data: dict[str, Any] = {"version": version, "cpu_flags": flags, "settings": settings.describe()}
    summary = (
        f"llama-cpp-python {version}; CPU {', '.join(flags) or 'without AVX'}; {settings.n_threads} threads, "
        f"context {settings.n_ctx:,}, extra buffers {'on' if settings.extra_bufts else 'off'}"
    )
    untested = (
        "" if version in TESTED_VERSIONS else f" (untested release; tested: {', '.join(TESTED_VERSIONS)})"
    )
    if path is None:
        return Check(
            "engine",
            "skip" if not required else "warn",
            summary + untested,
            "install the model first",
            required,
            data,
        )
    if not probe_enabled():
        return Check("engine", "warn", summary + "; probe off (QWENGRAPH_ENGINE_PROBE)", "", required, data)
    if reprobe:
        probe.forget()
    cached = probe.cached(path, settings) is not None
    try:
        used = probe.ensure(path, settings)
    except QwenGraphError as err:
        return Check("engine", "fail", str(err), "see the workaround above", required, data)
    verdict = probe.cached(path, settings) or {}
    data.update(probe=verdict, effective=used.describe())
    how = "cached verdict" if cached else f"probed now in {verdict.get('seconds', '?')} s"
    notes = "; ".join(used.notes)
    detail = f"{summary}; test decode ok ({how}){'; ' + notes if notes else ''}{untested}"
    return Check("engine", "warn" if untested else "ok", detail, required=required, data=data)


def check_sandbox() -> Check:
    """bubblewrap (the code runner's default sandbox) and gVisor (optional)."""
    from tools.code_runner.bwrap import bwrap_usable  # noqa: PLC0415 - only the doctor needs it
    from tools.code_runner.gvisor import gvisor_usable  # noqa: PLC0415

    bwrap, gvisor = bwrap_usable(), gvisor_usable()
    extra = "gVisor (runsc) available too" if gvisor is None else "gVisor not available (optional)"
    if bwrap is None:
        return Check("sandbox", "ok", f"bubblewrap works; {extra}")
    if gvisor is None:
        return Check("sandbox", "ok", f"gVisor works; bubblewrap: {bwrap}")
    return Check(
        "sandbox", "warn", f"no sandbox: run_python cannot run ({bwrap})", "apt-get install bubblewrap"
    )


def check_memory() -> Check:
    """The default thread database opens and answers (``QWENGRAPH_MEMORY`` or ``threads.db``)."""
    uri = os.environ.get("QWENGRAPH_MEMORY")
    where = uri or str(paths.home() / "threads.db")
    if uri and not uri.startswith("sqlite"):
        from graphs.memory.backends import open_checkpointer  # noqa: PLC0415 - loads LangGraph

        try:
            with open_checkpointer(uri) as saver:
                saver.get_tuple({"configurable": {"thread_id": "qwengraph-doctor"}})
        except (QwenGraphError, OSError) as err:
            return Check(
                "memory", "warn", f"{where}: {err}", "check QWENGRAPH_MEMORY (only --thread runs need it)"
            )
        return Check("memory", "ok", where)
    path = Path(where.removeprefix("sqlite:///")) if uri else Path(where)
    try:
        with sqlite3.connect(path) as db:
            db.execute("pragma quick_check").fetchall()
    except sqlite3.Error as err:
        return Check(
            "memory",
            "warn",
            f"{path}: {err}",
            f"move {path} away; a new one is created on the next --thread run",
        )
    return Check("memory", "ok", f"{path} (SQLite)")


def check_server(uri: ModelURI, base_url: str | None, *, required: bool) -> Check:
    """The configured server answers, and says which models it serves."""
    kind = uri.kind if uri.kind != "local" else "openai"
    try:
        url = resolve_base_url(kind, base_url)
    except QwenGraphError as err:
        return Check("server", "fail", str(err), "fix --base-url / QWENGRAPH_BASE_URL", required)
    listing = f"{url}/api/tags" if kind == "ollama" else f"{url}/models"
    try:
        response = httpx.get(listing, timeout=5.0)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as err:
        fix = "start the server (ollama serve / vllm serve …) or fix --base-url"
        return Check("server", "fail", f"{url} does not answer: {err}", fix, required)
    items = body.get("models") if kind == "ollama" else body.get("data")
    names = [str(m.get("name") or m.get("id")) for m in items or [] if isinstance(m, dict)]
    serves = uri.kind == "local" or uri.name in names or any(n.split(":")[0] == uri.name for n in names)
    detail = f"{url} answers; serves {', '.join(names[:8]) or 'no models'}"
    if not serves:
        fix = f"ollama pull {uri.name}" if kind == "ollama" else f"serve {uri.name} on {url}"
        return Check("server", "fail", detail, fix, required, {"models": names})
    return Check("server", "ok", detail, required=required, data={"models": names})


def _magic(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"GGUF"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
