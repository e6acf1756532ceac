"""Find out whether llama.cpp works here before it can crash the user's process.

The first load of a model in a new environment — a llama-cpp-python build, a CPU, a model file and
the crash-relevant settings — first runs a tiny real decode in a **child process**. A crash there
(``SIGSEGV`` in AMX repack buffers, ``SIGILL`` from a wheel compiled for another CPU, an abort)
kills only the child; it becomes an :class:`~graphs.errors.EngineCrash` naming the cause and the
workaround. Where a safe setting exists and the user did not choose the risky one, the probe tries
again with it (extra buffer types off) and the engine then loads with what worked. Verdicts are
cached in ``$QWENGRAPH_HOME/engine/probes.json`` keyed by all of the above, so later runs pay
nothing; a rebuilt wheel or a new CPU gets a new probe.

``QWENGRAPH_ENGINE_PROBE=off`` skips the probe (then a crash takes the process down, as in plain
llama-cpp-python). Run as ``python -m graphs.models.transports.llama_probe MODEL SETTINGS_JSON``
it is the child: it loads, decodes two tokens and prints one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from graphs import paths
from graphs.errors import EngineCrash
from graphs.models.transports.llama_settings import (
    EXTRA_BUFTS_ENV,
    RELEVANT_FLAGS,
    EngineSettings,
    cpu_flags,
)

PROBE_ENV = "QWENGRAPH_ENGINE_PROBE"
PROBE_PROMPT = "<|im_start|>user\nSay OK.<|im_end|>\n<|im_start|>assistant\n"
PROBE_TIMEOUT = 300.0
TESTED_VERSIONS = ("0.3.36",)
"""llama-cpp-python releases this project has run (the ``local`` extra pins them)."""

ChildCommand = Callable[[Path, EngineSettings], Sequence[str]]


@dataclass(frozen=True)
class Outcome:
    """How one child probe ended."""

    ok: bool
    signal: str | None = None
    detail: str = ""
    info: dict[str, Any] | None = None


def probe_enabled(env: dict[str, str] | None = None) -> bool:
    """False when ``QWENGRAPH_ENGINE_PROBE`` is ``off``/``0``/``false``."""
    value = (env if env is not None else os.environ).get(PROBE_ENV, "").strip().lower()
    return value not in ("off", "0", "false", "no")


def child_command(model: Path, settings: EngineSettings) -> list[str]:
    """The default child: this module, run by the same Python."""
    payload = json.dumps({**settings.load_args(), "extra_bufts": settings.extra_bufts})
    return [sys.executable, "-m", "graphs.models.transports.llama_probe", str(model), payload]


def run_child(
    model: Path,
    settings: EngineSettings,
    *,
    command: ChildCommand = child_command,
    timeout: float = PROBE_TIMEOUT,
) -> Outcome:
    """Run one probe child and read how it ended."""
    try:
        done = subprocess.run(  # noqa: S603 - our own module, run by our own interpreter
            list(command(model, settings)), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(ok=False, detail=f"the test decode did not finish within {timeout:.0f} s")
    except OSError as err:
        return Outcome(ok=False, detail=f"could not start the probe: {err.strerror or err}")
    if done.returncode < 0:
        name = _signal_name(-done.returncode)
        return Outcome(ok=False, signal=name, detail=_last_line(done.stderr))
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        try:
            info = json.loads(lines[-1])
        except ValueError:
            info = None
        if isinstance(info, dict) and info.get("ok"):
            return Outcome(ok=True, info=info)
    return Outcome(ok=False, detail=_last_line(done.stderr) or f"the probe exited with {done.returncode}")


class EngineProbe:
    """Probes once per environment, falls back to safe settings, caches the verdicts.

    Args:
        cache: the verdicts file (default ``$QWENGRAPH_HOME/engine/probes.json``, read per call).
        command: builds the child's argv (tests give a fake engine that crashes).
        flags: the CPU flags (default: read from ``/proc/cpuinfo``).
        library: identifies the llama-cpp-python build (default: its version and shared libraries).
    """

    def __init__(
        self,
        *,
        cache: Path | None = None,
        command: ChildCommand | None = None,
        flags: frozenset[str] | None = None,
        library: Callable[[], dict[str, Any]] | None = None,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self._cache = cache
        self.command = command or child_command
        self.flags = cpu_flags() if flags is None else flags
        self.library = library or library_identity
        self.timeout = timeout

    @property
    def cache(self) -> Path:
        """Where verdicts are kept."""
        return self._cache if self._cache is not None else paths.home() / "engine" / "probes.json"

    def key(self, model: Path, settings: EngineSettings) -> str:
        """The environment a verdict holds for: build, CPU, model file, crash-relevant settings."""
        try:
            stat = model.stat()
            model_id = [str(model.resolve()), stat.st_size, int(stat.st_mtime)]
        except OSError:
            model_id = [str(model), 0, 0]
        parts = {
            "library": self.library(),
            "cpu": sorted(self.flags),
            "model": model_id,
            "extra_bufts": settings.extra_bufts,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    def cached(self, model: Path, settings: EngineSettings) -> dict[str, Any] | None:
        """The stored verdict for this environment, if any."""
        entry = self._read().get(self.key(model, settings))
        return entry if isinstance(entry, dict) else None

    def ensure(self, model: Path, settings: EngineSettings) -> EngineSettings:
        """Settings known to work for ``model`` here (probing once), or raise :class:`EngineCrash`."""
        verdict = self.cached(model, settings)
        if verdict is None:
            verdict = self._probe(model, settings)
        if not verdict.get("ok"):
            raise EngineCrash(str(verdict["message"]), model=model.name, signal=verdict.get("signal"))
        if verdict.get("extra_bufts") is False and settings.extra_bufts:
            return settings.without_extra_bufts(str(verdict.get("note", "extra buffer types off")))
        return settings

    def forget(self) -> None:
        """Drop every cached verdict (``qwengraph doctor --reprobe``)."""
        self.cache.unlink(missing_ok=True)

    def _probe(self, model: Path, settings: EngineSettings) -> dict[str, Any]:
        started = time.monotonic()
        first = run_child(model, settings, command=self.command, timeout=self.timeout)
        if first.ok:
            verdict = self._ok(settings, first, started)
        elif first.signal and settings.extra_bufts and not settings.extra_bufts_explicit:
            safe = settings.without_extra_bufts("")
            second = run_child(model, safe, command=self.command, timeout=self.timeout)
            if second.ok:
                verdict = self._ok(safe, second, started)
                verdict["note"] = (
                    f"extra buffer types off: llama.cpp crashed with them on this CPU ({first.signal}); "
                    f"{EXTRA_BUFTS_ENV}=on forces them"
                )
            else:
                verdict = self._crash(model, settings, second, tried_safe=True)
        else:
            verdict = self._crash(model, settings, first, tried_safe=False)
        if verdict.get("ok") or verdict.get("signal"):  # timeouts and start failures are not cached
            self._write(self.key(model, settings), verdict)
        return verdict

    def _ok(self, settings: EngineSettings, outcome: Outcome, started: float) -> dict[str, Any]:
        info = outcome.info or {}
        return {
            "ok": True,
            "extra_bufts": settings.extra_bufts,
            "seconds": round(time.monotonic() - started, 2),
            "system_info": info.get("system_info", ""),
            "n_ctx_train": info.get("n_ctx_train"),
            "checked": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def _crash(
        self, model: Path, settings: EngineSettings, outcome: Outcome, *, tried_safe: bool
    ) -> dict[str, Any]:
        version = self.library().get("version", "?")
        shown = ", ".join(f for f in RELEVANT_FLAGS if f in self.flags) or "no AVX"
        what = f"crashed ({outcome.signal})" if outcome.signal else "failed"
        message = (
            f"the local engine {what} in a test decode of {model.name} with llama-cpp-python {version} "
            f"on this CPU ({shown}); {_workaround(outcome, settings, tried_safe=tried_safe)}"
        )
        if outcome.detail and not outcome.signal:
            message += f" (llama.cpp said: {outcome.detail})"
        return {"ok": False, "signal": outcome.signal, "message": message}

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, key: str, verdict: dict[str, Any]) -> None:
        data = {**self._read(), key: verdict}
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            temp = self.cache.with_suffix(f".{os.getpid()}.tmp")
            temp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(temp, self.cache)
        except OSError:
            pass  # an unwritable home costs a probe per run, never the run itself


def library_identity() -> dict[str, Any]:
    """llama-cpp-python's version and its shared libraries' sizes and times (a rebuild changes them)."""
    try:
        dist = metadata.distribution("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return {"version": None}
    libs = []
    for file in dist.files or []:
        if file.name.endswith((".so", ".dylib", ".dll")):
            path = Path(str(dist.locate_file(file)))
            try:
                stat = path.stat()
            except OSError:
                continue
            libs.append([file.name, stat.st_size, int(stat.st_mtime)])
    return {"version": dist.version, "libs": sorted(libs)}


def _workaround(outcome: Outcome, settings: EngineSettings, *, tried_safe: bool) -> str:
    rebuild = (
        "rebuild llama-cpp-python on this machine: "
        "pip install --force-reinstall --no-cache-dir --no-binary llama-cpp-python "
        f"'llama-cpp-python=={TESTED_VERSIONS[-1]}'"
    )
    if outcome.signal == "SIGILL":
        return f"the build uses CPU instructions this CPU lacks (compiled on another machine?): {rebuild}"
    if outcome.signal and settings.extra_bufts and settings.extra_bufts_explicit:
        return f"turn extra buffer types off: {EXTRA_BUFTS_ENV}=off or --extra-bufts off"
    if outcome.signal:
        tried = "extra buffer types were off too; " if tried_safe or not settings.extra_bufts else ""
        return f"{tried}{rebuild} (add CMAKE_ARGS='-DGGML_NATIVE=OFF' for a portable build)"
    return "check the model file (`qwengraph models list`) and `qwengraph doctor`"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _child(argv: list[str]) -> int:
    """The probe child: load ``argv[0]`` with the JSON settings ``argv[1]``, decode, print JSON."""
    from graphs.models.transports.llama import load_llama, trained_context  # noqa: PLC0415 - child only

    model, raw = Path(argv[0]), json.loads(argv[1])
    settings = EngineSettings(
        n_ctx=int(raw["n_ctx"]),
        n_threads=int(raw["n_threads"]),
        n_batch=int(raw["n_batch"]),
        extra_bufts=bool(raw["extra_bufts"]),
    )
    llama = load_llama(model, settings)
    out = llama.create_completion(PROBE_PROMPT, max_tokens=2, temperature=0.0)
    import llama_cpp  # noqa: PLC0415 - loaded by load_llama already

    info = {
        "ok": True,
        "text": out["choices"][0]["text"],
        "n_ctx_train": trained_context(llama),
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
    }
    sys.stdout.write(json.dumps(info) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    sys.exit(_child(sys.argv[1:]))
