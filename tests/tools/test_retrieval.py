"""Retrieval: chunking by structure, ingest + BM25 search with citations, incremental ingest, the tool."""

from __future__ import annotations

import itertools
import shutil
import threading
from pathlib import Path

import pytest

from tools.errors import ToolInputError
from tools.retrieval import Index, default_db_path, make_search_tool
from tools.retrieval.chunking import chunk_document
from tools.retrieval.query import fts_query

DOCS = Path(__file__).resolve().parent.parent / "fixtures" / "docs"


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (offsets computed, xref exact)."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A copy of the fixture documents plus a two-page PDF, a hidden dir and a binary file."""
    root = tmp_path / "docs"
    shutil.copytree(DOCS, root)
    (root / "report.pdf").write_bytes(make_pdf(["Quarterly summary", "Zebra migration finished in March"]))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.md").write_text("# Zebra secret\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0zebra")
    return root


@pytest.fixture
def index(tmp_path: Path) -> Index:
    with Index(tmp_path / "db" / "retrieval.db") as idx:
        yield idx


# --- chunking ---


def test_markdown_chunks_follow_headings_and_ignore_fenced_comments() -> None:
    chunks = chunk_document("install.md", (DOCS / "guide" / "install.md").read_bytes())
    assert [(c.title, c.start, c.end) for c in chunks] == [
        ("Acme Widget Guide", 1, 3),
        ("Installation", 5, 14),
        ("Configuration", 16, 20),
        ("Troubleshooting", 22, 24),
    ]


def test_rst_python_html_and_text_sections() -> None:
    rst = chunk_document("api.rst", (DOCS / "api.rst").read_bytes())
    assert [(c.title, c.start) for c in rst] == [
        ("Acme REST API", 1),
        ("Authentication", 7),
        ("Rate limits", 13),
    ]
    py = chunk_document("billing.py", (DOCS / "billing.py").read_bytes())
    assert [(c.title, c.start, c.end) for c in py] == [
        ("billing", 1, 5),
        ("def compute_invoice_total", 8, 11),
        ("def _unused", 14, 16),  # decorators belong to their function
        ("class RefundPolicy", 19, 28),
    ]
    html = chunk_document("faq.html", (DOCS / "faq.html").read_bytes())
    shipping = next(c for c in html if c.title == "Shipping")
    assert (shipping.start, shipping.end) == (6, 8)
    assert "mars" not in " ".join(c.text for c in html)  # script content is dropped
    txt = chunk_document("notes.txt", (DOCS / "notes.txt").read_bytes())
    assert [(c.start, c.end) for c in txt] == [(1, 6)]


def test_pdf_chunks_cite_pages() -> None:
    chunks = chunk_document("r.pdf", make_pdf(["first page", "Zebra migration"]))
    assert [(c.unit, c.start, c.end) for c in chunks] == [("page", 1, 1), ("page", 2, 2)]
    assert "Zebra" in chunks[1].text


def test_long_text_is_bounded_with_overlap_and_exact_line_ranges() -> None:
    lines = [f"line {n} " + "word " * 15 for n in range(1, 401)]
    chunks = chunk_document("big.txt", "\n".join(lines).encode(), max_chars=1200, overlap=150)
    assert len(chunks) > 5
    assert all(len(c.text) <= 1200 + 150 for c in chunks)
    for chunk in chunks:
        first, last = chunk.text.splitlines()[0], chunk.text.splitlines()[-1]
        assert first.startswith(f"line {chunk.start} ") and last.startswith(f"line {chunk.end} ")
    assert all(b.start <= a.end for a, b in itertools.pairwise(chunks))  # overlap
    assert chunks[-1].end == 400


def test_a_single_huge_line_is_split() -> None:
    chunks = chunk_document("min.js", ("x " * 5000).encode(), max_chars=500)
    assert len(chunks) >= 10
    assert all(len(c.text) <= 650 and c.start == c.end == 1 for c in chunks)


def test_broken_python_falls_back_to_text() -> None:
    chunks = chunk_document("bad.py", b"def broken(:\n    pass\n")
    assert [(c.start, c.end) for c in chunks] == [(1, 2)]


# --- ingest and search ---


def test_ingest_then_search_cites_file_and_lines(index: Index, docs: Path) -> None:
    stats = index.ingest([docs])
    assert (stats.added, stats.skipped) == (6, 1)  # the PNG; the hidden dir is not walked
    assert stats.chunks > 10 and stats.bytes > 0
    hit = index.search("What is the default retry timeout?")[0]
    assert hit.path == str(docs / "guide" / "install.md")
    assert (hit.start, hit.end, hit.title) == (16, 20, "Configuration")
    assert hit.citation(docs) == "guide/install.md:16-20"
    assert "45" in hit.text and hit.score > 0 and hit.snippet


@pytest.mark.parametrize(
    ("question", "name", "lines"),
    [
        ("How long do API tokens last before they expire?", "api.rst", (7, 11)),
        ("refund window days", "billing.py", (19, 28)),
        ("how many days does delivery to Norway take", "faq.html", (6, 8)),
        ("descaling the coffee machine", "notes.txt", (1, 6)),
        ("zebra migration", "report.pdf", (2, 2)),
    ],
)
def test_questions_find_the_right_document(
    index: Index, docs: Path, question: str, name: str, lines: tuple[int, int]
) -> None:
    index.ingest([docs])
    hit = index.search(question, k=3)[0]
    assert (Path(hit.path).name, (hit.start, hit.end)) == (name, lines)


def test_pdf_citation_uses_pages(index: Index, docs: Path) -> None:
    index.ingest([docs])
    assert index.search("zebra")[0].citation(docs) == "report.pdf:p2"


@pytest.mark.parametrize(
    "query",
    [
        'what\'s "x" AND (y',
        "NOT",
        "a OR b NEAR(c d)",
        '"unbalanced',
        "col:value *",
        "^start",
        "'; DROP TABLE chunks; --",
    ],
)
def test_fts_syntax_in_queries_never_raises(index: Index, docs: Path, query: str) -> None:
    index.ingest([docs])
    assert isinstance(index.search(query), list)


def test_query_sanitising() -> None:
    assert fts_query('what\'s "retry timeout" AND (y') == '"retry timeout" OR "retry" OR "timeout"'
    assert fts_query("the") == '"the"'  # only stop words: keep them
    assert fts_query("?!* ()") == ""
    assert fts_query(" ".join(f"w{n}" for n in range(100))).count(" OR ") == 31


def test_no_match_and_bad_k(index: Index, docs: Path) -> None:
    index.ingest([docs])
    assert index.search("quantum chromodynamics") == []
    assert index.search("") == []
    with pytest.raises(ToolInputError):
        index.search("widget", k=0)


# --- incremental ---


def test_incremental_unchanged_changed_deleted(index: Index, docs: Path) -> None:
    first = index.ingest([docs])
    chunks_before = index.counts()[1]
    again = index.ingest([docs])
    assert (again.added, again.updated, again.unchanged, again.removed, again.chunks) == (0, 0, 6, 0, 0)
    assert index.counts()[1] == chunks_before

    notes = docs / "notes.txt"
    notes.write_text("Office notes\n\nThe espresso grinder is cleaned on Mondays.\n")
    (docs / "api.rst").unlink()
    changed = index.ingest([docs])
    assert (changed.added, changed.updated, changed.unchanged, changed.removed) == (0, 1, 4, 1)
    assert index.search("descaling coffee", mode="bm25") == []  # the old chunks are gone
    assert all("descal" not in hit.text.lower() for hit in index.search("descaling coffee", k=20))
    assert index.vectors.count() == index.counts()[1]  # vectors went with their chunks
    assert Path(index.search("espresso grinder")[0].path) == notes
    assert not any(Path(h.path).name == "api.rst" for h in index.search("bearer token expire", k=20))
    assert len(index.documents()) == first.added - 1


def test_ingest_single_file_and_missing_path(index: Index, docs: Path, tmp_path: Path) -> None:
    stats = index.ingest([docs / "notes.txt"])
    assert stats.added == 1
    with pytest.raises(ToolInputError, match="no such file"):
        index.ingest([tmp_path / "nope"])
    (docs / "notes.txt").unlink()
    assert index.ingest([docs / "notes.txt"]).removed == 1  # a known path that vanished
    assert index.counts() == (0, 0)


def test_large_files_are_skipped_and_dropped(tmp_path: Path, docs: Path) -> None:
    with Index(tmp_path / "i.db", max_file_bytes=300) as idx:
        stats = idx.ingest([docs])
        assert stats.skipped > 1 and all(doc["size"] <= 300 for doc in idx.documents())


def test_db_inside_ingested_tree_is_not_indexed(docs: Path) -> None:
    with Index(docs / "retrieval.db") as idx:
        idx.ingest([docs])
        idx.ingest([docs])
        assert not any(d["path"].endswith((".db", "-wal", "-shm")) for d in idx.documents())


def test_default_db_path_and_missing_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "retrieval.db"
    with pytest.raises(ToolInputError, match="qwengraph ingest"):
        Index(create=False)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ToolInputError, match="cannot open"):
        Index(tmp_path / "junk.db")


def test_index_is_usable_from_other_threads(index: Index, docs: Path) -> None:
    index.ingest([docs])
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(len(index.search("widget")))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(results)


# --- the tool ---


def test_search_tool_output_cites_path_and_lines(
    index: Index, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.ingest([docs])
    monkeypatch.chdir(docs)
    tool = make_search_tool(index)
    assert tool.name == "search"
    out = tool.invoke({"query": "retry timeout default", "k": 2})
    assert out.startswith("[1] guide/install.md:16-20 (Configuration)\n")
    assert "[2] " in out
    none = tool.invoke({"query": "quantum chromodynamics"})
    assert "do not contain" in none


def test_search_tool_bad_arguments_are_tool_errors(index: Index) -> None:
    tool = make_search_tool(index)
    assert tool.invoke({"query": "x", "k": 0}).startswith("Error:")
    assert tool.invoke({"k": 2}).startswith("Error:")
