"""Hybrid search, vectors in step with chunks, passages within a budget, citation checks, named indexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.errors import ToolInputError
from tools.retrieval import Index, check_citations, index_path, make_search_tool, named_indexes, resolve_index
from tools.retrieval.citations import find_citations, find_quotes
from tools.retrieval.fusion import bm25_scores, rrf
from tools.retrieval.hits import Hit
from tools.retrieval.passages import best_window, passages

DOCS = Path(__file__).resolve().parent.parent / "fixtures" / "docs"
PARAPHRASE = "money back after three weeks"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    shutil.copytree(DOCS, root)
    return root


@pytest.fixture
def index(tmp_path: Path, docs: Path) -> Index:
    with Index(tmp_path / "retrieval.db") as idx:
        idx.ingest([docs])
        yield idx


# --- fusion ---


def test_rrf_adds_reciprocal_ranks_and_keeps_first_seen_order_on_ties() -> None:
    fused = rrf([["a", "b", "c"], ["c", "a"]], k=60)
    assert [item for item, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert rrf([["x"], ["y"]]) == [("x", 1 / 61), ("y", 1 / 61)]


def test_bm25_scores_need_a_shared_term() -> None:
    scores = bm25_scores("python language", ["Alice prefers Python.", "Bob likes tea.", "python python"])
    assert scores[1] == 0 and scores[2] > scores[0] > 0


# --- hybrid search ---


def test_hybrid_finds_a_paraphrase_that_bm25_misses(index: Index) -> None:
    assert index.has_vectors() and index.vectors.count() == index.counts()[1]
    by_words = index.search(PARAPHRASE, k=3, mode="bm25")
    assert not any(Path(h.path).name == "billing.py" and h.start == 19 for h in by_words)
    hybrid = index.search(PARAPHRASE, k=3)  # auto: hybrid, the index has vectors
    assert (Path(hybrid[0].path).name, hybrid[0].start, hybrid[0].end) == ("billing.py", 19, 28)
    assert hybrid[0].score > 1 / 61  # on both lists: found by words too, lower down


def test_hybrid_keeps_bm25_precision_on_word_questions(index: Index) -> None:
    hit = index.search("What is the default retry timeout?")[0]
    assert (Path(hit.path).name, hit.start, hit.end, hit.title) == ("install.md", 16, 20, "Configuration")
    assert hit.snippet and hit.chunk_id > 0


def test_unrelated_questions_find_nothing_even_by_vector(index: Index) -> None:
    assert index.search("quantum chromodynamics lattice") == []
    assert index.search("what is the weather tomorrow", mode="vector") == []
    assert index.search("   ") == []


def test_bm25_only_index(tmp_path: Path, docs: Path) -> None:
    with Index(tmp_path / "plain.db", embedder="none") as plain:
        stats = plain.ingest([docs])
        assert stats.vectors == 0 and plain.vectors.count() == 0 and not plain.has_vectors()
        assert plain.search("refund window days")[0].title == "class RefundPolicy"
        with pytest.raises(ToolInputError, match="no vectors"):
            plain.search("refund", mode="hybrid")
    with Index(tmp_path / "plain.db") as reopened:  # "none" is remembered
        assert reopened.embedder is None


def test_an_old_bm25_index_gets_vectors_without_rechunking(tmp_path: Path, docs: Path) -> None:
    with Index(tmp_path / "i.db", embedder="none") as plain:
        plain.ingest([docs])
    seen: list[tuple[int, int, str]] = []
    with Index(tmp_path / "i.db", embedder="wordllama") as index:
        stats = index.ingest([docs], progress=lambda done, total, path: seen.append((done, total, path)))
        chunks = index.counts()[1]
        assert (stats.unchanged, stats.chunks, stats.vectors) == (5, 0, chunks)
        assert seen[-1] == (chunks, chunks, "(vectors)")
        assert index.has_vectors() and index.describe()["embedder"] == "wordllama"


def test_vectors_follow_changed_and_deleted_files(index: Index, docs: Path) -> None:
    (docs / "notes.txt").write_text("Office notes\n\nThe espresso grinder is cleaned on Mondays.\n")
    (docs / "api.rst").unlink()
    stats = index.ingest([docs])
    assert (stats.updated, stats.removed) == (1, 1)
    ids = {row[0] for row in index._db.execute("SELECT id FROM chunks")}
    vector_ids = {row[0] for row in index._db.execute("SELECT chunk_id FROM chunk_vectors")}
    assert ids == vector_ids
    hit = index.search("Where is the coffee grinder cleaned?", k=1)[0]
    assert "espresso grinder" in hit.text


# --- passages ---


def test_the_tool_returns_whole_passages_with_their_lines(
    index: Index, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(docs)
    out = make_search_tool(index).invoke({"query": "What is the refund policy?", "k": 2})
    first = out.split("\n\n[2] ")[0]
    assert first.startswith("[1] billing.py:19-28 (class RefundPolicy)\n")
    assert "Customers get a full refund within 30 days of delivery." in first
    assert "return days_since_delivery <= self.days" in first  # the whole chunk, not a snippet


def test_a_small_budget_cuts_to_the_best_window_with_exact_lines(tmp_path: Path) -> None:
    lines = ["# Handbook", ""] + [
        f"Rule {n}: the committee meets on day {n} of the cycle." for n in range(1, 23)
    ]
    lines[17] = "Rule 16: refunds are paid within thirty days by bank transfer."
    (tmp_path / "rules.md").write_text("\n".join(lines) + "\n")
    with Index(tmp_path / "i.db", embedder="none") as idx:
        idx.ingest([tmp_path / "rules.md"])
        hits = idx.search("refunds paid bank transfer", k=5)
    assert len(hits) == 1 and len(hits[0].text) > 1000  # one long chunk
    shown, left = passages(hits, "refunds paid bank transfer", budget=150)
    assert left == 0 and len(shown) == 1
    window = shown[0]
    assert window.text == "\n".join(lines[window.start - 1 : window.end])  # the citation is exact
    assert "refunds are paid within thirty days" in window.text and window.end - window.start < 12
    assert len(window.text) <= 150 * 3.5


def test_best_window_of_a_long_chunk() -> None:
    text = "\n".join(f"line {n} filler words here" for n in range(1, 41)).replace(
        "line 30 filler", "line 30 the refund rule"
    )
    hit = Hit("/d/a.txt", 11, 50, "line", "t", 1.0, "", text)
    window = best_window(hit, "refund rule", 120)
    assert window.start <= 40 <= window.end and "refund rule" in window.text
    assert window.text.splitlines()[0].startswith(f"line {window.start - 10} ")
    page = Hit("/d/a.pdf", 3, 3, "page", "t", 1.0, "", text)
    cut = best_window(page, "refund rule", 120)
    assert (cut.start, cut.end) == (3, 3) and "refund rule" in cut.text and cut.text.startswith("…")


def test_left_out_passages_are_announced(index: Index) -> None:
    tool = make_search_tool(index, budget=120)
    out = tool.invoke({"query": "widget configuration timeout refund", "k": 5})
    assert "left out to fit the context" in out
    with pytest.raises(ValueError, match="at least 100"):
        make_search_tool(index, budget=50)


# --- citations ---


def test_finding_citations_and_quotes() -> None:
    text = (
        'Quote: "Customers get a full refund" (docs/billing.py:19-28)\n'
        "Answer: see report.pdf:p2 and api.rst:7"
    )
    assert find_citations(text) == [
        ("docs/billing.py:19-28", "docs/billing.py", 19, 28),
        ("report.pdf:p2", "report.pdf", 2, 2),
        ("api.rst:7", "api.rst", 7, 7),
    ]
    assert find_quotes(text.splitlines()[0]) == ["Customers get a full refund"]


def test_correct_citations_pass(index: Index, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(docs.parent)
    answer = (
        'Quote: "Customers get a full refund within 30 days of delivery." (docs/billing.py:19-28)\n'
        "Answer: a full refund within 30 days (docs/billing.py:19-28)."
    )
    checks = check_citations(answer, index)
    assert [(c.citation, c.ok) for c in checks] == [("docs/billing.py:19-28", True)]
    assert check_citations('"only store credit" (billing.py:22)', index)[0].ok  # a unique file name is enough


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('Quote: "full refund within 60 days" (billing.py:19-28)', "is not in billing.py:19-28 (60 missing)"),
        ('Quote: "full refund within 30 days" (billing.py:1-5)', "(full, refund, within, 30, days missing)"),
        ("See billing.py:19-99.", "has lines 1-28, not 19-99"),
        ("See invoices.py:3.", "not one of the indexed documents"),
    ],
)
def test_wrong_citations_say_why(index: Index, answer: str, problem: str) -> None:
    (check,) = check_citations(answer, index)
    assert not check.ok and problem in check.problem


def test_citing_a_narrower_range_checks_exactly_those_lines(index: Index) -> None:
    assert check_citations('"full refund within 30 days" (billing.py:20)', index)[0].ok
    assert not check_citations('"full refund within 30 days" (billing.py:22-23)', index)[0].ok


# --- named indexes ---


def test_named_indexes_live_under_the_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, docs: Path
) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path / "home"))
    assert named_indexes() == {}
    assert index_path("default") == tmp_path / "home" / "retrieval.db"
    assert index_path("work-notes") == tmp_path / "home" / "indexes" / "work-notes.db"
    with Index(index_path("work-notes")) as named:
        named.ingest([docs / "notes.txt"])
    with Index(index_path("default")) as default:
        default.ingest([docs / "api.rst"])
    assert list(named_indexes()) == ["default", "work-notes"]
    assert resolve_index(None, "work-notes") == index_path("work-notes")
    assert resolve_index(tmp_path / "x.db", None) == tmp_path / "x.db"
    assert resolve_index(None, None) == index_path("default")


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x.db", "a" * 65])
def test_bad_index_names(name: str) -> None:
    with pytest.raises(ToolInputError, match="invalid index name"):
        index_path(name)


def test_db_and_index_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ToolInputError, match="not both"):
        resolve_index(tmp_path / "x.db", "notes")
