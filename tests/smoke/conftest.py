"""The smoke runs as the user would: with the real ``$QWENGRAPH_HOME`` (its installed model and
the engine probe's verdicts), not the fresh per-test home of the offline suite."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_home() -> None:
    """Overrides the suite's fresh-home fixture: keep the environment's home."""
