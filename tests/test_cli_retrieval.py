"""``qwengraph ingest`` / ``qwengraph search`` through typer's CliRunner, with QWENGRAPH_HOME=tmp_path."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agents.cli_retrieval import register

DOCS = Path(__file__).resolve().parent / "fixtures" / "docs"


@pytest.fixture
def app() -> typer.Typer:
    main = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(main)
    return main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    shutil.copytree(DOCS, root)
    return root


def test_ingest_then_search_cites_the_file(app: typer.Typer, home: Path, docs: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0, result.output
    assert (home / "retrieval.db").is_file()
    assert "added" in result.stdout and "5" in result.stdout

    result = runner.invoke(app, ["search", "What is the default retry timeout?", "--k", "2"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("[1] ") and first.endswith("install.md:16-20 (Configuration)")


def test_second_ingest_reports_unchanged(app: typer.Typer, home: Path, docs: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["ingest", str(docs)])
    result = runner.invoke(app, ["ingest", str(docs)])
    assert result.exit_code == 0
    assert re.search(r"unchanged\W+5\b", result.stdout)
    assert re.search(r"chunks written\W+0\b", result.stdout)


def test_search_json_and_explicit_db(app: typer.Typer, tmp_path: Path, docs: Path) -> None:
    db = tmp_path / "custom.db"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(docs), "--db", str(db)]).exit_code == 0
    result = runner.invoke(app, ["search", "bearer token", "--db", str(db), "--json", "-k", "1"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 1
    assert hits[0]["path"] == str(docs / "api.rst")
    assert hits[0]["citation"].endswith("api.rst:7-11")
    assert {"start", "end", "title", "score", "snippet", "text"} <= set(hits[0])


def test_no_hits_is_a_sentence(app: typer.Typer, home: Path, docs: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["ingest", str(docs)])
    result = runner.invoke(app, ["search", "quantum chromodynamics"])
    assert result.exit_code == 0
    assert "do not contain" in result.stdout


def test_errors_are_one_line_without_traceback(app: typer.Typer, home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["search", "anything"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: no retrieval index") and "Traceback" not in result.output

    result = runner.invoke(app, ["ingest", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no such file or directory")
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_k_is_a_usage_error(app: typer.Typer, home: Path) -> None:
    result = CliRunner().invoke(app, ["search", "x", "--k", "0"])
    assert result.exit_code == 2


def test_named_indexes_ingest_search_and_list(app: typer.Typer, home: Path, docs: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["indexes"]).stdout.startswith("no index yet")
    result = runner.invoke(app, ["ingest", str(docs / "notes.txt"), "--index", "office"])
    assert result.exit_code == 0, result.output
    assert (home / "indexes" / "office.db").is_file() and not (home / "retrieval.db").exists()
    assert "vectors: wordllama" in result.stdout
    runner.invoke(app, ["ingest", str(docs / "api.rst"), "--embedder", "none"])
    found = runner.invoke(app, ["search", "descaling", "--index", "office"])
    assert found.exit_code == 0 and "notes.txt:" in found.stdout
    listed = json.loads(runner.invoke(app, ["indexes", "--json"]).stdout)
    assert [(r["name"], r["files"], r["embedder"]) for r in listed] == [
        ("default", 1, "none"),
        ("office", 1, "wordllama"),
    ]
    assert listed[1]["vectors"] == listed[1]["chunks"] > 0
    table = runner.invoke(app, ["indexes"]).stdout
    assert "office" in table and "wordllama" in table


def test_search_modes(app: typer.Typer, home: Path, docs: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["ingest", str(docs)])
    query = "money back after three weeks"
    hybrid = runner.invoke(app, ["search", query, "--k", "1"])
    assert "billing.py:19-28" in hybrid.stdout
    words = runner.invoke(app, ["search", query, "--k", "1", "--mode", "bm25"])
    assert "billing.py" not in words.stdout
    bad = runner.invoke(app, ["search", query, "--mode", "fuzzy"])
    assert bad.exit_code == 2 and "--mode must be one of auto, hybrid, bm25, vector" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--index", "../up"], "invalid index name"),
        (["search", "x", "--index", "nothere"], "no retrieval index"),
        (["search", "x", "--index", "a", "--db", "b.db"], "not both"),
        (["ingest", "x", "--embedder", "word2vec"], "unknown embedder"),
        (["ingest", ".", "--embedder", "ollama:m@http://127.0.0.1:9"], "unreachable"),
    ],
)
def test_index_choice_errors_are_one_line(
    app: typer.Typer,
    home: Path,
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a.md").write_text("# A\n\ntext\n")
    monkeypatch.chdir(tmp_path / "w")
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (2, 6), result.output
    assert message in result.stderr and "Traceback" not in result.stderr
