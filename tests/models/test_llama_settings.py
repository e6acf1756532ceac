"""Engine settings: explicit value, else environment, else default; AMX CPUs get safe buffers."""

import pytest

from graphs.errors import ConfigError
from graphs.models.transports.llama_settings import (
    DEFAULT_CTX,
    EngineSettings,
    cpu_flags,
    parse_extra_bufts,
    resolve_settings,
    settings_from,
)

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})
AMX = AVX2 | {"avx512f", "amx_tile", "amx_int8", "amx_bf16"}


def test_defaults_on_an_avx2_cpu() -> None:
    settings = resolve_settings(env={}, flags=AVX2)
    assert settings.n_ctx == DEFAULT_CTX == 8192
    assert settings.n_batch == 512
    assert settings.n_threads >= 1
    assert settings.extra_bufts is True and not settings.extra_bufts_explicit
    assert settings.notes == ()


def test_amx_cpu_turns_extra_buffer_types_off_and_says_why() -> None:
    settings = resolve_settings(env={}, flags=AMX)
    assert settings.extra_bufts is False
    assert not settings.extra_bufts_explicit
    assert "llama.cpp#20824" in settings.notes[0]
    assert "QWENGRAPH_EXTRA_BUFTS=on" in settings.notes[0]


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("1", True), ("off", False), ("false", False)])
def test_the_environment_overrides_the_cpu_rule(value: str, expected: bool) -> None:
    settings = resolve_settings(env={"QWENGRAPH_EXTRA_BUFTS": value}, flags=AMX)
    assert settings.extra_bufts is expected
    assert settings.extra_bufts_explicit


def test_explicit_values_beat_the_environment() -> None:
    env = {
        "QWENGRAPH_CTX": "4096",
        "QWENGRAPH_THREADS": "3",
        "QWENGRAPH_BATCH": "128",
        "QWENGRAPH_EXTRA_BUFTS": "on",
    }
    from_env = resolve_settings(env=env, flags=AVX2)
    assert (from_env.n_ctx, from_env.n_threads, from_env.n_batch, from_env.extra_bufts) == (
        4096,
        3,
        128,
        True,
    )
    explicit = resolve_settings(n_ctx=16384, n_threads=1, n_batch=64, extra_bufts=False, env=env, flags=AVX2)
    assert (explicit.n_ctx, explicit.n_threads, explicit.n_batch, explicit.extra_bufts) == (
        16384,
        1,
        64,
        False,
    )


def test_batch_never_exceeds_the_context_window_when_loading() -> None:
    assert EngineSettings(n_ctx=1024, n_threads=2, n_batch=4096).load_args() == {
        "n_ctx": 1024,
        "n_threads": 2,
        "n_batch": 1024,
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"QWENGRAPH_CTX": "big"}, "QWENGRAPH_CTX must be a positive integer, not 'big'"),
        ({"QWENGRAPH_CTX": "100"}, "QWENGRAPH_CTX must be between 512 and"),
        ({"QWENGRAPH_THREADS": "0"}, "QWENGRAPH_THREADS must be between 1 and 1,024, not 0"),
        ({"QWENGRAPH_BATCH": "-3"}, "QWENGRAPH_BATCH must be a positive integer"),
        ({"QWENGRAPH_EXTRA_BUFTS": "maybe"}, "QWENGRAPH_EXTRA_BUFTS must be on, off or auto, not 'maybe'"),
    ],
)
def test_bad_environment_values_are_config_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        resolve_settings(env=env, flags=AVX2)


def test_bad_explicit_values_name_the_flag() -> None:
    with pytest.raises(ConfigError, match="--ctx must be between 512"):
        resolve_settings(n_ctx=10, env={}, flags=AVX2)


def test_settings_from_a_mapping() -> None:
    settings = settings_from({"n_ctx": 2048, "extra_bufts": "off"})
    assert settings.n_ctx == 2048 and settings.extra_bufts is False and settings.extra_bufts_explicit
    with pytest.raises(ConfigError, match="unknown engine setting\\(s\\) ctx: use n_ctx"):
        settings_from({"ctx": 2048})
    with pytest.raises(ConfigError, match="n_ctx must be an integer"):
        settings_from({"n_ctx": "2048"})


def test_parse_extra_bufts() -> None:
    assert parse_extra_bufts("AUTO") == "auto"
    assert parse_extra_bufts("yes") is True
    with pytest.raises(ConfigError):
        parse_extra_bufts("sometimes")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx avx2 amx_tile\n\nprocessor\t: 1\nflags\t: fpu\n")
    assert cpu_flags(info) == frozenset({"fpu", "sse", "avx", "avx2", "amx_tile"})
    assert cpu_flags(tmp_path / "missing") == frozenset()
