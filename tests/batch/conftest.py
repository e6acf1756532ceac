"""Batch tests: a loopback vLLM-style server whose answers name the prompt they answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from batch_support import answer_script
from servers import VLLMServer


@pytest.fixture
def server() -> Iterator[VLLMServer]:
    with VLLMServer(answer_script) as srv:
        yield srv
