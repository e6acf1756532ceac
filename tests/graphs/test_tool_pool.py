"""The shared tool pool: timeouts, thread reuse, the caller's context, bounded size."""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from graphs import tool_pool
from graphs.tool_pool import acall_with_timeout, call_with_timeout

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


def test_results_timeouts_and_one_set_of_threads() -> None:
    assert call_with_timeout(lambda: 6 * 7, 5) == 42
    with pytest.raises(TimeoutError, match=r"no result after 0\.05 s"):
        call_with_timeout(lambda: time.sleep(0.5), 0.05)
    names = {call_with_timeout(lambda: threading.current_thread().name, 5) for _ in range(50)}
    assert all(n.startswith("qwengraph-tool") for n in names)
    assert len(names) <= tool_pool.TOOL_WORKERS, "calls reuse the pool's threads"


def test_the_call_sees_the_callers_context() -> None:
    marker.set("from the graph task")
    assert call_with_timeout(marker.get, 5) == "from the graph task"


async def test_async_twin() -> None:
    marker.set("async caller")
    assert await acall_with_timeout(marker.get, 5) == "async caller"
    with pytest.raises(TimeoutError):
        await acall_with_timeout(lambda: time.sleep(0.5), 0.05)


def test_a_full_pool_times_calls_out_and_a_queued_call_never_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    small = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(tool_pool, "_pool", small)
    release, ran = threading.Event(), []
    with pytest.raises(TimeoutError):
        call_with_timeout(lambda: release.wait(5), 0.05)  # hangs past its timeout, holds the only thread
    with pytest.raises(TimeoutError):
        call_with_timeout(lambda: ran.append("queued"), 0.05)
    release.set()
    assert call_with_timeout(lambda: "free again", 5) == "free again"
    small.shutdown(wait=True)
    assert ran == [], "a call that timed out in the queue is not run later"
