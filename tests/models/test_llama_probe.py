"""The engine probe: a real child process that really crashes, and what the user's process makes of it.

The fake engine is a tiny Python child that kills itself with a signal (as llama.cpp's AMX path does
with SIGSEGV) unless the settings it is given are safe. Nothing here needs llama.cpp.
"""

import json
import sys
from pathlib import Path

import pytest

from graphs.errors import EngineCrash
from graphs.models.transports import llama as llama_module
from graphs.models.transports.llama import LlamaEngine
from graphs.models.transports.llama_probe import EngineProbe, probe_enabled, run_child
from graphs.models.transports.llama_settings import EngineSettings

AMX = frozenset({"avx", "avx2", "avx512f", "amx_tile", "amx_int8"})

FAKE_ENGINE = r"""
import json, os, signal, sys
model, settings = sys.argv[1], json.loads(sys.argv[2])
mode = os.environ["FAKE_ENGINE_MODE"]
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps(settings["extra_bufts"]) + "\n")
if mode == "segv-with-bufts" and settings["extra_bufts"] or mode == "segv":
    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "sigill":
    os.kill(os.getpid(), signal.SIGILL)
if mode == "error":
    sys.stderr.write("Traceback...\nValueError: Failed to load model from file: bad magic\n")
    sys.exit(1)
if mode == "hang":
    import time; time.sleep(30)
print("llama.cpp chatter")
print(json.dumps({"ok": True, "text": "OK", "n_ctx_train": 32768, "system_info": "FAKE = 1"}))
"""


def fake_command(model: Path, settings: EngineSettings) -> list[str]:
    payload = json.dumps({**settings.load_args(), "extra_bufts": settings.extra_bufts})
    return [sys.executable, "-c", FAKE_ENGINE, str(model), payload]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A model file, the fake engine's mode setter and the list of settings it was started with."""
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF fake")
    log = tmp_path / "children.log"
    log.touch()
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(log))

    class Fake:
        path = model
        cache = tmp_path / "probes.json"

        def mode(self, mode: str) -> None:
            monkeypatch.setenv("FAKE_ENGINE_MODE", mode)

        def children(self) -> list[bool]:
            return [json.loads(line) for line in log.read_text().splitlines()]

        def probe(self, **kwargs) -> EngineProbe:
            options = {
                "cache": self.cache,
                "command": fake_command,
                "flags": AMX,
                "library": lambda: {"version": "9.9"},
            }
            return EngineProbe(**{**options, **kwargs})

    return Fake()


def auto(extra_bufts: bool = True) -> EngineSettings:
    return EngineSettings(n_ctx=2048, n_threads=2, n_batch=512, extra_bufts=extra_bufts)


def test_a_crash_with_extra_buffers_falls_back_to_safe_settings_and_is_remembered(fake) -> None:
    fake.mode("segv-with-bufts")
    settings = fake.probe().ensure(fake.path, auto())
    assert settings.extra_bufts is False
    assert "crashed with them on this CPU (SIGSEGV)" in settings.notes[-1]
    assert fake.children() == [True, False]
    # the verdict is cached: a second process start pays nothing, even if the engine would now crash
    fake.mode("segv")
    again = fake.probe().ensure(fake.path, auto())
    assert again.extra_bufts is False
    assert fake.children() == [True, False]


def test_a_crash_that_safe_settings_do_not_fix_is_one_clear_error(fake) -> None:
    fake.mode("segv")
    with pytest.raises(EngineCrash) as caught:
        fake.probe().ensure(fake.path, auto())
    message = str(caught.value)
    assert caught.value.signal == "SIGSEGV"
    assert "\n" not in message
    assert message.startswith("the local engine crashed (SIGSEGV) in a test decode of model.gguf")
    assert "llama-cpp-python 9.9" in message and "avx2, avx512f, amx_tile, amx_int8" in message
    assert "extra buffer types were off too" in message and "--force-reinstall" in message
    assert fake.children() == [True, False]
    # crashes are cached as well: the next run fails at once, without another child
    with pytest.raises(EngineCrash):
        fake.probe().ensure(fake.path, auto())
    assert len(fake.children()) == 2


def test_an_explicit_setting_is_never_silently_replaced(fake) -> None:
    fake.mode("segv-with-bufts")
    explicit = EngineSettings(n_ctx=2048, n_threads=2, extra_bufts=True, extra_bufts_explicit=True)
    with pytest.raises(EngineCrash, match="turn extra buffer types off: QWENGRAPH_EXTRA_BUFTS=off"):
        fake.probe().ensure(fake.path, explicit)
    assert fake.children() == [True]


def test_sigill_says_the_build_is_for_another_cpu(fake) -> None:
    fake.mode("sigill")
    with pytest.raises(EngineCrash, match=r"crashed \(SIGILL\).*CPU instructions this CPU lacks") as caught:
        fake.probe().ensure(fake.path, auto(extra_bufts=False))
    assert caught.value.signal == "SIGILL"


def test_a_failing_load_is_reported_with_llama_cpps_words_and_not_cached(fake) -> None:
    fake.mode("error")
    with pytest.raises(EngineCrash, match=r"failed in a test decode.*bad magic") as caught:
        fake.probe().ensure(fake.path, auto())
    assert caught.value.signal is None
    assert not fake.cache.exists()
    fake.mode("ok")
    assert fake.probe().ensure(fake.path, auto()).extra_bufts is True


def test_a_hanging_child_times_out_and_is_not_cached(fake) -> None:
    fake.mode("hang")
    with pytest.raises(EngineCrash, match="did not finish within 1 s"):
        fake.probe(timeout=1.0).ensure(fake.path, auto())
    assert not fake.cache.exists()


def test_a_new_build_cpu_or_model_file_is_probed_again(fake) -> None:
    fake.mode("ok")
    probe = fake.probe()
    key = probe.key(fake.path, auto())
    assert fake.probe(library=lambda: {"version": "10.0"}).key(fake.path, auto()) != key
    assert fake.probe(flags=frozenset({"avx"})).key(fake.path, auto()) != key
    assert probe.key(fake.path, auto(extra_bufts=False)) != key
    fake.path.write_bytes(b"GGUF another file")
    assert probe.key(fake.path, auto()) != key


def test_ok_verdict_keeps_what_the_child_reported(fake) -> None:
    fake.mode("ok")
    probe = fake.probe()
    probe.ensure(fake.path, auto())
    verdict = probe.cached(fake.path, auto())
    assert verdict is not None
    assert verdict["ok"] is True and verdict["system_info"] == "FAKE = 1" and verdict["n_ctx_train"] == 32768


def test_run_child_reads_signals_and_output(fake) -> None:
    fake.mode("segv")
    outcome = run_child(fake.path, auto(), command=fake_command)
    assert not outcome.ok and outcome.signal == "SIGSEGV"


def test_the_engine_never_loads_in_process_after_a_crash(fake, monkeypatch) -> None:
    fake.mode("segv")

    def must_not_load(*args, **kwargs):
        raise AssertionError("llama.cpp was loaded in the user's process after a crashing probe")

    monkeypatch.setattr(llama_module, "load_llama", must_not_load)
    engine = LlamaEngine(fake.path, settings=auto(), probe=fake.probe())
    with pytest.raises(EngineCrash):
        list(engine.complete("hi", {}))


def test_the_probe_can_be_switched_off() -> None:
    assert probe_enabled({})
    assert not probe_enabled({"QWENGRAPH_ENGINE_PROBE": "off"})
    assert not probe_enabled({"QWENGRAPH_ENGINE_PROBE": "0"})
