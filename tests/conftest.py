"""Shared fixtures: loopback model servers and a guard that keeps the default suite off the network.

The guard (autouse) makes any socket connection to a non-loopback address, and any name lookup other
than ``localhost``, raise :class:`servers.NetworkBlockedError` at once; tests marked ``live`` are
exempt. The server fixtures start a fresh scripted server per test (default script: the calculator
demo) and stop it afterwards; set ``server.script`` to change what the model says. Hypothesis runs a
small deterministic profile by default (``HYPOTHESIS_PROFILE=fuzz`` for many random examples).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings
from servers import NetworkBlockedError, OllamaServer, VLLMServer, check_address


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything qwengraph writes (traces, threads, models) goes to a fresh folder per test."""
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path_factory.mktemp("qwengraph-home")))
    monkeypatch.delenv("QWENGRAPH_MEMORY", raising=False)


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Block connections to anything but loopback, and DNS lookups, unless the test is ``live``."""
    if request.node.get_closest_marker("live"):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        check_address(self.family, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check_address(self.family, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name != "localhost" and not _is_ip(str(name)):
            raise NetworkBlockedError(f"network access blocked in tests: name lookup of {name!r}")
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def ollama_server() -> Iterator[OllamaServer]:
    """A fake Ollama (native API) on 127.0.0.1; ``.url`` is its base URL."""
    with OllamaServer() as server:
        yield server


@pytest.fixture
def vllm_server() -> Iterator[VLLMServer]:
    """A fake vLLM (OpenAI-compatible API) on 127.0.0.1; ``.base_url`` ends in ``/v1``."""
    with VLLMServer() as server:
        yield server


settings.register_profile(
    "default", max_examples=60, deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile("fuzz", max_examples=3_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
