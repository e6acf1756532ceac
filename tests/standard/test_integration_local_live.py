"""LangChain's standard integration suite live on the local engine (``pytest -m live tests/standard``).

Needs ``make setup-local`` and the installed Qwen2.5-Coder models; the default run replays the same
suite from recordings (``test_integration_local.py``).
"""

from __future__ import annotations

import pytest
from local_suite import LocalSuite

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def _default_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QWENGRAPH_HOME")  # the installed models live in the default home


class TestLocalModelLive(LocalSuite):
    pass
