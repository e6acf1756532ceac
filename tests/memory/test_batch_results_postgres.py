"""``qwengraph batch --results postgres://…``: the results store on a real PostgreSQL server (the
memory suite's, started on loopback), with the same rows, resume and retries as on SQLite."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import Turn, VLLMServer
from servers.base import message_text

from agents.batch import BatchConfig, open_results, run_batch_file
from agents.warm import AgentChoice


def _answer(body: dict[str, Any]) -> Turn:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    prompt = message_text(users[-1].get("content")) if users else ""
    return Turn(thinking=f"Thinking about {prompt}.", content=f"answer to {prompt}")


@pytest.fixture
def model_server() -> Iterator[VLLMServer]:
    with VLLMServer(_answer) as srv:
        yield srv


def test_batch_results_on_postgres_resume_and_retry(
    postgres_uri: str, model_server: VLLMServer, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"question {i}"}) + "\n" for i in range(6)))
    name = f"pg-{uuid.uuid4().hex[:8]}"  # the session's database is shared: a batch of our own

    def run(**options: Any) -> Any:
        config = BatchConfig(
            tasks=tasks,
            choice=AgentChoice(model="openai:Qwen/Qwen3-8B", base_url=model_server.base_url),
            results=postgres_uri,
            batch=name,
            concurrency=3,
            **options,
        )
        return run_batch_file(config)[0]

    model_server.fail_next(1, 400)  # one task meets a server error
    first = run()
    assert (first.ran, first.counts["ok"], first.counts["failed"]) == (6, 5, 1)

    store = open_results(postgres_uri)
    try:
        rows = {r["task_id"]: r for r in store.rows(name)}
        assert len(rows) == 6
        ok = [r for r in rows.values() if r["status"] == "ok"]
        assert all(r["answer"] == f"answer to {r['prompt']}" and r["output_tokens"] > 0 for r in ok)
        (failed,) = [r for r in rows.values() if r["status"] == "failed"]
        assert failed["error_type"] == "ServerError" and failed["attempts"] == 1
    finally:
        store.close()

    asked = len(model_server.chat_requests)
    again = run()
    assert (again.skipped, again.ran, len(model_server.chat_requests)) == (6, 0, asked)  # nothing redone
    retried = run(retry_failed=True)
    assert (retried.skipped, retried.ran, retried.counts["ok"]) == (5, 1, 1)
    assert retried.batch_counts == {"ok": 6}
