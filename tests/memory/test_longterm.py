"""Long-term memory: remember/recall on every store backend, BM25 ranking, isolation, dedupe, tools."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from graphs.errors import MemoryError_
from graphs.memory import make_memory_tools, open_store, recall_context
from graphs.memory.longterm import (
    MAX_FACT_CHARS,
    Fact,
    arecall_context,
    arecall_facts,
    bm25_rank,
    namespace_for,
    recall_facts,
    remember_fact,
)

FACTS = [
    "The user's daughter Ada takes violin lessons on Saturdays.",
    "The user prefers Python over JavaScript for scripting.",
    "The user lives in Lisbon and works remotely.",
    "The user is allergic to peanuts.",
    "The user's favourite editor is Neovim.",
]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseStore]:
    uri = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/memory.db"}.get(request.param)
    with open_store(uri or str(request.getfixturevalue("postgres_uri"))) as opened:
        yield opened


@pytest.fixture
def user() -> str:
    """A user id unique to the test (the Postgres database is shared by the session)."""
    return f"user-{uuid.uuid4().hex[:12]}"


def _remember_all(store: BaseStore, user: str) -> None:
    for fact in FACTS:
        remember_fact(store, user, fact)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what language should I write this script in, Python?", FACTS[1]),
        ("how is Ada doing with the violin", FACTS[0]),
        ("can I bring a snack with peanuts", FACTS[3]),
        ("which editor do I use", FACTS[4]),
    ],
)
def test_recall_puts_the_relevant_fact_first(store: BaseStore, user: str, query: str, expected: str) -> None:
    _remember_all(store, user)
    found = recall_facts(store, user, query, k=3)
    assert found
    assert found[0].text == expected
    assert all(f.score > 0 for f in found)
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)


def test_recall_returns_nothing_unrelated(store: BaseStore, user: str) -> None:
    _remember_all(store, user)
    assert recall_facts(store, user, "quantum chromodynamics") == []
    assert recall_facts(store, f"{user}-empty", "Python") == []


def test_facts_are_isolated_per_user(store: BaseStore, user: str) -> None:
    other = f"{user}-other"
    remember_fact(store, user, "Likes green tea.")
    remember_fact(store, other, "Likes black coffee.")
    assert [f.text for f in recall_facts(store, user, "likes tea coffee")] == ["Likes green tea."]
    assert [f.text for f in recall_facts(store, other, "likes tea coffee")] == ["Likes black coffee."]
    assert store.search(namespace_for(user)) and len(store.search(namespace_for(user))) == 1


def test_identical_facts_are_stored_once(store: BaseStore, user: str) -> None:
    first, new = remember_fact(store, user, "Lives in Lisbon.")
    again, new_again = remember_fact(store, user, "  lives   in LISBON. ")
    assert (new, new_again) == (True, False)
    assert again == first
    items = store.search(namespace_for(user))
    assert len(items) == 1
    assert items[0].value["fact"] == "Lives in Lisbon."
    assert items[0].value["created_at"] == first.created_at
    assert items[0].namespace == ("memories", user)


def test_recall_context_formatting(store: BaseStore, user: str) -> None:
    assert recall_context(store, user, "anything at all") == ""
    _remember_all(store, user)
    text = recall_context(store, user, "Python scripting, or Neovim?", k=2)
    assert text == f"Things you remember about this user (most relevant first):\n- {FACTS[1]}\n- {FACTS[4]}"
    assert recall_context(store, user, "   ") == ""
    assert recall_context(store, user, "astrophysics") == ""


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, u: remember_fact(s, u, "   "), "empty fact"),
        (lambda s, u: remember_fact(s, u, "x" * (MAX_FACT_CHARS + 1)), "fact too long: 1001 characters"),
        (lambda s, u: remember_fact(s, "a.b", "fact"), "invalid user id"),
        (lambda s, u: remember_fact(s, "", "fact"), "invalid user id"),
        (lambda s, u: recall_facts(s, u, "q", k=0), "k must be an integer from 1 to 50"),
        (lambda s, u: recall_facts(s, u, "q", k=51), "k must be an integer from 1 to 50"),
        (lambda s, u: recall_facts(s, u, " "), "non-empty query"),
    ],
)
def test_bad_input_errors(call: Callable[[BaseStore, str], object], message: str, user: str) -> None:
    store = InMemoryStore()
    with pytest.raises(MemoryError_, match=message):
        call(store, user)
    assert store.search(("memories",)) == []


def test_tools_through_invoke(store: BaseStore, user: str) -> None:
    remember, recall = make_memory_tools(store, user)
    assert (remember.name, recall.name) == ("remember", "recall")
    assert set(remember.args) == {"fact"}
    assert set(recall.args) == {"query", "k"}
    assert remember.invoke({"fact": "The user's cat is called Miso."}) == (
        "Remembered: The user's cat is called Miso."
    )
    assert remember.invoke({"fact": "The user's cat is called Miso."}).startswith("Already remembered:")
    remember.invoke({"fact": "The user drives a blue bicycle."})
    answer = recall.invoke({"query": "what is the cat's name", "k": 1})
    assert answer.startswith("1. The user's cat is called Miso. (remembered 20")
    assert "\n" not in answer
    assert recall.invoke({"query": "opera tickets"}) == "No relevant memories."


def test_tool_errors_reach_the_model_as_text() -> None:
    remember, recall = make_memory_tools(InMemoryStore(), "u1")
    assert "fact too long" in remember.invoke({"fact": "y" * 5000})
    assert "k must be an integer" in recall.invoke({"query": "x", "k": 99})
    with pytest.raises(MemoryError_, match="invalid user id"):
        make_memory_tools(InMemoryStore(), "bad.user")


async def test_tools_async(user: str) -> None:
    store = InMemoryStore()
    remember, recall = make_memory_tools(store, user)
    assert await remember.ainvoke({"fact": "Prefers metric units."}) == "Remembered: Prefers metric units."
    assert (await recall.ainvoke({"query": "units"})).startswith("1. Prefers metric units.")
    assert (await arecall_context(store, user, "metric")).endswith("- Prefers metric units.")


def test_bm25_rare_terms_outweigh_common_ones() -> None:
    facts = [
        Fact("1", "python python python tips", "2026-01-01T00:00:00+00:00"),
        Fact("2", "python and rust", "2026-01-02T00:00:00+00:00"),
        Fact("3", "python notes", "2026-01-03T00:00:00+00:00"),
    ]
    assert [f.key for f in bm25_rank("rust python", facts, 3)][0] == "2"
    same = [Fact("old", "tea", "2026-01-01T00:00:00+00:00"), Fact("new", "tea", "2026-02-01T00:00:00+00:00")]
    assert [f.key for f in bm25_rank("tea", same, 2)] == ["new", "old"]  # ties: newer first
    assert bm25_rank("the and of", facts, 3) == []  # stop words only


def test_semantic_search_when_the_store_has_an_index(user: str) -> None:
    vocab = ["python", "violin", "lisbon", "peanut"]

    def embed(texts: list[str]) -> list[list[float]]:
        return [[1.0 if word in t.lower() else 0.01 for word in vocab] for t in texts]

    store = InMemoryStore(index={"dims": len(vocab), "embed": embed, "fields": ["fact"]})
    _remember_all(store, user)
    found = recall_facts(store, user, "snakes: python", k=2)
    assert found[0].text == FACTS[1]
    assert found[0].score > found[1].score


def test_recall_finds_a_fact_by_meaning(store: BaseStore, user: str) -> None:
    """The README's example: no word in common, found by the same hybrid search as documents."""
    remember_fact(store, user, "Alice prefers Python over JavaScript.")
    remember_fact(store, user, "Alice's cat is called Miso.")
    found = recall_facts(store, user, "which language for this script?", k=3)
    assert [f.text for f in found] == ["Alice prefers Python over JavaScript."]
    assert recall_facts(store, user, "which language for this script?", embedder=None) == []  # BM25 alone
    assert recall_facts(store, user, "astrophysics") == []


def test_recall_survives_a_dead_embedding_server(store: BaseStore, user: str) -> None:
    remember_fact(store, user, "Alice prefers Python over JavaScript.")
    found = recall_facts(store, user, "Python", embedder="ollama:m@http://127.0.0.1:9")
    assert [f.text for f in found] == ["Alice prefers Python over JavaScript."]  # BM25 still answers


async def test_async_recall_by_meaning() -> None:
    store = InMemoryStore()
    remember_fact(store, "alice", "Alice prefers Python over JavaScript.")
    found = await arecall_facts(store, "alice", "which language for this script?")
    assert [f.text for f in found] == ["Alice prefers Python over JavaScript."]
