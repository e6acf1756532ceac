"""The research graph: it searches with the question, the model quotes and answers, citations are checked.

The model is scripted here (error paths and the graph's wiring); the real local model's run is
replayed in ``tests/test_researcher_replay.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from graphs.build import NamedGraph, build_graph
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from graphs.research import QUOTE_PREFILL, build_research, says_not_found
from graphs.summary import summarize
from tools import calculator
from tools.retrieval import Index, make_search_tool

DOCS = Path(__file__).resolve().parent.parent / "fixtures" / "docs"
GOOD = (
    'Quote: "Customers get a full refund within 30 days of delivery." (docs/billing.py:19-28)\n'
    "Answer: 30 days."
)
BAD = 'Quote: "Customers get a full refund within 60 days." (docs/billing.py:19-28)\nAnswer: 60 days.'


@pytest.fixture
def search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(DOCS, tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    with Index(tmp_path / "i.db") as index:
        index.ingest([tmp_path / "docs"])
        yield make_search_tool(index)


def run(search, script, **options):
    fake = ScriptedTransport(script)
    graph = build_research(ChatQwen(model="ollama:f", transport=fake), [search], **options)
    state = graph.invoke({"messages": [HumanMessage(content="What is the refund policy?")], "steps": 0})
    return summarize(state["messages"]), fake, state


def test_the_graph_searches_first_and_a_good_answer_is_verified(search) -> None:
    summary, fake, _ = run(search, [turn(GOOD)])
    assert summary.steps == 1  # the graph's own search is not a model call
    (call,) = summary.tool_calls
    assert call.name == "search" and call.args == {"query": "What is the refund policy?"}
    assert call.result.startswith("[1] docs/billing.py:19-28 (class RefundPolicy)")
    assert summary.answer == GOOD
    assert summary.citations == {
        "verified": True,
        "checks": [{"citation": "docs/billing.py:19-28", "ok": True, "problem": "", "quote": ""}],
    }
    sent = fake.requests[0].messages
    assert sent[0]["role"] == "system" and "Quote:" in sent[0]["content"]
    assert sent[-1]["role"] == "user" and sent[-1]["content"].startswith(
        "Question: What is the refund policy?"
    )


def test_a_failed_check_is_shown_once_then_the_fixed_answer_passes(search) -> None:
    summary, fake, state = run(search, [turn(BAD), turn(GOOD)])
    assert summary.answer == GOOD and summary.citations["verified"] is True
    feedback = fake.requests[1].messages[-1]["content"]
    assert feedback.startswith("Citation check failed:") and "60 missing" in feedback
    assert state["failed_checks"] == 1


def test_a_second_failure_ends_with_the_answer_marked(search) -> None:
    summary, fake, state = run(search, [turn(BAD), turn(BAD)])
    assert len(fake.requests) == 2  # shown once, not a loop
    assert summary.answer == BAD and summary.stopped is None
    assert summary.citations["verified"] is False
    assert "60 missing" in summary.citations["checks"][0]["problem"]
    assert summary.to_json()["citations"]["verified"] is False


def test_an_answer_without_citation_is_asked_for_one(search) -> None:
    summary, fake, _ = run(search, [turn("The refund window is 30 days."), turn(GOOD)])
    assert "cites no passage" in fake.requests[1].messages[-1]["content"]
    assert summary.citations["verified"] is True


def test_saying_the_documents_lack_the_answer_needs_no_citation(search) -> None:
    summary, fake, _ = run(search, [turn("The documents do not contain the answer.")])
    assert len(fake.requests) == 1 and summary.citations is None
    assert says_not_found("The documents don't mention it.") and not says_not_found("A full refund.")


def test_the_model_may_search_again(search) -> None:
    summary, _, _ = run(search, [turn(tool=("search", {"query": "store credit"})), turn(GOOD)])
    assert [c.args["query"] for c in summary.tool_calls] == ["What is the refund policy?", "store credit"]
    assert summary.steps == 2 and summary.citations["verified"]


def test_a_prefilled_reply_starts_with_the_quote(search) -> None:
    summary, fake, _ = run(search, [turn(GOOD.removeprefix(QUOTE_PREFILL))], prefill=True)
    assert fake.requests[0].prefill == QUOTE_PREFILL
    assert fake.requests[0].tools in (None, [])  # a prefilled reply cannot call tools
    assert summary.answer == GOOD and summary.citations["verified"]


def test_the_step_limit_ends_the_run(search) -> None:
    summary, _, _ = run(
        search, [turn(tool=("search", {"query": "x"})), turn(tool=("search", {"query": "y"}))], max_steps=2
    )
    assert summary.stopped == "step_limit"


def test_build_graph_builds_it_and_refuses_what_it_cannot_do(search) -> None:
    model = ChatQwen(model="ollama:f", transport=ScriptedTransport([]))
    assert build_graph(NamedGraph("research"), model, [search]) is not None
    with pytest.raises(ConfigError, match="needs the search tool"):
        build_graph(NamedGraph("research"), model, [calculator])
    with pytest.raises(ConfigError, match="approval"):
        build_graph(NamedGraph("research"), model, [search], approve=["search"], checkpointer=None)
