"""Failed turns: a run that fails before the model answered leaves its thread as it was; one that
fails later keeps its progress, and running the same request again continues it. Either way a
rerun never puts the user's message in the thread twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from servers import CALC_ANSWER, OllamaServer, Turn, calculator_script
from typer.testing import CliRunner

from agents.cli import app
from agents.runner import run
from graphs.errors import ServerError
from graphs.memory import open_checkpointer
from graphs.models.chat import ChatQwen

PROMPT = "What is 17*23? Use the calculator."


def llm(server: OllamaServer, **kwargs: Any) -> ChatQwen:
    return ChatQwen(model="ollama:qwen3:8b", base_url=server.url, retries=1, **kwargs)


def messages(saver: Any, thread: str) -> list[Any]:
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    return [] if saved is None else list(saved.checkpoint["channel_values"].get("messages", []))


def humans(saver: Any, thread: str) -> list[str]:
    return [m.text for m in messages(saver, thread) if m.type == "human"]


def test_a_new_thread_that_failed_before_any_answer_does_not_exist(tmp_path: Path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path}/t.db") as saver, OllamaServer() as server:
        server.fail_next(1)
        with pytest.raises(ServerError):
            run(PROMPT, chat_model=llm(server), thread="new", checkpointer=saver, trace=False)
        assert saver.get_tuple({"configurable": {"thread_id": "new"}}) is None
        result = run(PROMPT, chat_model=llm(server), thread="new", checkpointer=saver, trace=False)
        assert result.answer == CALC_ANSWER
        assert humans(saver, "new") == [PROMPT]


def test_a_thread_that_failed_before_any_answer_is_as_it_was(tmp_path: Path) -> None:
    with open_checkpointer(f"sqlite:///{tmp_path}/t.db") as saver, OllamaServer() as server:
        run(PROMPT, chat_model=llm(server), thread="t", checkpointer=saver, trace=False)
        before = [(m.type, m.text) for m in messages(saver, "t")]
        server.fail_next(1)
        with pytest.raises(ServerError):
            run("And 18*23?", chat_model=llm(server), thread="t", checkpointer=saver, trace=False)
        assert [(m.type, m.text) for m in messages(saver, "t")] == before
        run("And 18*23?", chat_model=llm(server), thread="t", checkpointer=saver, trace=False)
        assert humans(saver, "t") == [PROMPT, "And 18*23?"]


def test_a_run_that_failed_after_the_model_answered_continues_on_rerun(tmp_path: Path) -> None:
    """The tool call and its result are kept; the rerun resumes: no second request, no second call."""
    calls = {"n": 0}

    def flaky(body: dict[str, Any]) -> Turn:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the server fell over")
        return calculator_script(body)

    with open_checkpointer(f"sqlite:///{tmp_path}/t.db") as saver, OllamaServer(flaky) as server:
        with pytest.raises(ServerError, match="HTTP 500"):
            run(PROMPT, chat_model=llm(server), thread="t", checkpointer=saver, trace=False)
        kept = [m.type for m in messages(saver, "t")]
        assert kept == ["human", "ai", "tool"]
        result = run(PROMPT, chat_model=llm(server), thread="t", checkpointer=saver, trace=False)
        assert result.answer == CALC_ANSWER
        assert humans(saver, "t") == [PROMPT]
        assert [m.type for m in messages(saver, "t")] == ["human", "ai", "tool", "ai"]
        assert calls["n"] == 3  # the tool call was not asked for again


def test_the_cli_rerun_after_a_dead_server_sends_the_question_once(tmp_path: Path) -> None:
    memory = f"sqlite:///{tmp_path}/threads.db"
    runner = CliRunner()
    with OllamaServer() as server:
        args = ["run", PROMPT, "--model", "ollama:qwen3:8b", "--base-url", server.url, "--thread", "t1",
                "--memory", memory, "--json", "--timeout", "5"]  # fmt: skip
        server.fail_next(3)  # every retry of the first attempt
        failed = runner.invoke(app, args, catch_exceptions=False)
        assert failed.exit_code == 3, failed.stderr
        ok = runner.invoke(app, args, catch_exceptions=False)
        assert ok.exit_code == 0, ok.stderr
        second = server.chat_requests[-2]
    assert [m["content"] for m in second["messages"] if m["role"] == "user"] == [PROMPT]
    shown = runner.invoke(app, ["threads", "show", "t1", "--memory", memory], catch_exceptions=False)
    assert shown.stdout.count(PROMPT) == 1
