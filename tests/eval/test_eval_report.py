"""Figures from stored cases: per category, BFCL's summary scores, changes between runs; the store."""

from __future__ import annotations

import pytest
from rich.console import Console

from agents.eval.report import build_report, changed_cases, report_table
from agents.eval.store import CaseResult, EvalStore
from graphs.errors import EvalRunNotFound


def case(cid: str, category: str, valid: bool, reading: str = "qwengraph", **more) -> CaseResult:
    return CaseResult(cid, category, reading, valid, None if valid else "value_error:string", **more)


def test_summary_scores_follow_bfcl() -> None:
    cases = [
        case("s1", "simple_python", True, completion_tokens=30, seconds=2.0, model_calls=1),
        case("s2", "simple_python", False, completion_tokens=10, seconds=2.0, model_calls=1),
        case("m1", "multiple", True),
        case("p1", "parallel", False),
        case("pm1", "parallel_multiple", True),
        case("i1", "irrelevance", True),
        case("li1", "live_irrelevance", False),
        case("ls1", "live_simple", True),
        case("lm1", "live_multiple", False),
        case("lm2", "live_multiple", False),
    ]
    report = build_report(cases)
    assert [c.category for c in report.categories][:3] == ["simple_python", "multiple", "parallel"]
    assert report.summary["non-live AST"] == {"qwengraph": 62.5}, "unweighted mean of 50, 100, 0, 100"
    assert report.summary["live AST"] == {"qwengraph": 33.33}, "1 of 3, weighted by cases"
    assert report.summary["irrelevance"] == {"qwengraph": 50.0}
    assert report.summary["all cases"] == {"qwengraph": 50.0}
    simple = report.categories[0]
    assert simple.tokens_per_second == 10.0 and simple.model_calls == 2
    assert simple.readings["qwengraph"].errors == {"value_error:string": 1}
    assert "non-live AST" not in build_report(cases[:3]).summary, "needs all four categories"
    console = Console(width=200, record=True)
    console.print(report_table(report, "t"))
    text = console.export_text()
    assert "1/2 50.0%" in text and "string 1" in text and "62.5%" in text


def test_changed_cases_are_matched_by_case_and_reading() -> None:
    before = [
        case("a", "parallel", True),
        case("b", "parallel", False),
        case("a", "parallel", False, "harness"),
    ]
    after = [
        case("a", "parallel", False),
        case("b", "parallel", True),
        case("a", "parallel", False, "harness"),
    ]
    changes = changed_cases(before, after)
    assert [(c.case_id, c.before, c.after) for c in changes] == [
        ("a", "ok", "value_error:string"),
        ("b", "value_error:string", "ok"),
    ]


def test_the_store_keeps_runs_and_cases_and_finds_runs_by_prefix(tmp_path, monkeypatch) -> None:
    ids = iter(["abc11111", "abc22222"])
    monkeypatch.setattr("agents.eval.store.secrets.token_hex", lambda n: next(ids))
    store = EvalStore(tmp_path / "evals.db")
    run = store.create_run("bfcl", "local:m", {"categories": ["parallel"]}, 2)
    store.add_case(run.id, case("a", "parallel", True, decoded=[{"f": {"x": 1}}], input={"q": "é"}))
    store.add_case(run.id, case("a", "parallel", False))  # the same case again replaces it
    (stored,) = store.cases(run.id)
    assert stored.valid is False and stored.decoded is None
    assert store.done_keys(run.id) == {("a", "qwengraph")}
    assert (
        store.get_run(run.id[:3]).config == {"categories": ["parallel"]}
        and store.get_run("latest").id == run.id
    )
    store.set_status(run.id, "done")
    assert store.list_runs()[0].status == "done"
    with pytest.raises(EvalRunNotFound, match="no eval run 'zzz'"):
        store.get_run("zzz")
    store.create_run("bfcl", "local:m", {}, 1)
    with pytest.raises(EvalRunNotFound, match="ambiguous"):
        store.get_run("abc")
    assert store.get_run("abc2").id == "abc22222"
