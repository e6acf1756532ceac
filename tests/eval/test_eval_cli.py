"""``qwengraph eval`` end to end on a loopback vLLM server: both readings, storage, list/show/compare,
resume after an interruption, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from servers import Turn, VLLMServer
from typer.testing import CliRunner

from agents.cli import app
from agents.eval.bfcl_run import BfclRunner
from agents.eval.store import EvalStore


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def user_text(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def bfcl_script(body: dict[str, Any]) -> Turn:
    """Structured calls for the triangle, a ```json block for the factorial (only our parser reads
    it), a text answer for one irrelevance case and a wrong call for the other."""
    text = user_text(body)
    if "triangle" in text and "base of 10" in text:
        return Turn(tool_calls=[("calculate_triangle_area", {"base": 10, "height": 5})])
    if "factorial of 5" in text:
        return Turn(content='```json\n{"name": "math.factorial", "arguments": {"number": 5}}\n```')
    if "quadratic" in text:
        return Turn(content="I cannot solve that with the tools I have.")
    return Turn(tool_calls=[("determine_body_mass_index", {"weight": 10.0, "height": 5.0})])


@pytest.fixture
def server() -> VLLMServer:
    with VLLMServer(bfcl_script) as srv:
        yield srv


def run_bfcl(server: VLLMServer, db: Path, bfcl_dir: Path, *more: str):
    return cli(
        "eval", "bfcl", "--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url,
        "--categories", "simple_python,irrelevance", "--limit", "2", "--data", str(bfcl_dir),
        "--db", str(db), *more,
    )  # fmt: skip


def test_bfcl_scores_both_readings_and_stores_every_case(server, tmp_path, bfcl_dir) -> None:
    db = tmp_path / "evals.db"
    result = run_bfcl(server, db, bfcl_dir, "--json", "--concurrency", "4")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    accuracy = {c["category"]: c["accuracy"] for c in out["categories"]}
    assert accuracy["simple_python"] == {"qwengraph": 100.0, "harness": 50.0}, "only we read the json block"
    assert accuracy["irrelevance"] == {"qwengraph": 50.0, "harness": 50.0}
    errors = {c["category"]: c["readings"]["harness"]["errors"] for c in out["categories"]}
    assert errors["simple_python"] == {"simple_function_checker:wrong_count": 1}
    assert errors["irrelevance"] == {"irrelevance_error:decoder_success": 1}
    assert out["summary"]["all cases"] == {"qwengraph": 75.0, "harness": 50.0}
    assert len(server.chat_requests) == 4, "on a server one call gives both readings"
    body = server.chat_requests[0]
    assert body["temperature"] == 0.001 and body["max_tokens"] == 512 and body["seed"] == 0
    assert body["tools"][0]["function"]["parameters"]["type"] == "object"
    assert body["tools"][0]["function"]["description"].endswith(
        "Note that the provided function is in Python 3 syntax."
    )
    store = EvalStore(db)
    run = store.list_runs()[0]
    assert (
        run.status == "done"
        and run.total == 8
        and run.config["categories"] == ["simple_python", "irrelevance"]
    )
    cases = {(c.case_id, c.reading): c for c in store.cases(run.id)}
    assert len(cases) == 8
    block = cases[("simple_python_1", "qwengraph")]
    assert block.raw_output.startswith("```json") and block.decoded == [{"math.factorial": {"number": 5}}]
    assert block.valid and block.model_calls == 1 and block.prompt_tokens > 0
    assert cases[("simple_python_1", "harness")].decoded == []


def test_the_table_shows_both_readings_and_the_run_can_be_listed_shown_and_compared(
    server, tmp_path, bfcl_dir
) -> None:
    db = tmp_path / "evals.db"
    first = run_bfcl(server, db, bfcl_dir)
    assert first.exit_code == 0, first.stderr
    assert "qwengraph" in first.stdout and "harness" in first.stdout and "2/2 100.0%" in first.stdout
    second = run_bfcl(server, db, bfcl_dir, "--no-harness")
    assert second.exit_code == 0
    listed = json.loads(cli("eval", "list", "--json", "--db", str(db)).stdout)
    assert [r["status"] for r in listed] == ["done", "done"]
    newest, oldest = listed[0]["id"], listed[1]["id"]
    shown = json.loads(cli("eval", "show", newest[:4], "--json", "--db", str(db)).stdout)
    assert shown["readings"] == ["qwengraph"] and len(shown["cases"]) == 4
    text = cli("eval", "show", "latest", "--failures", "--db", str(db)).stdout
    assert "1 failed:" in text and "irrelevance_error:decoder_success" in text
    compared = json.loads(cli("eval", "compare", oldest, newest, "--json", "--db", str(db)).stdout)
    assert compared["changed"] == []
    table = cli("eval", "compare", oldest, newest, "--db", str(db)).stdout
    assert "simple_python" in table and "+0.0" in table


def test_compare_lists_cases_whose_verdict_changed(tmp_path, bfcl_dir) -> None:
    db = tmp_path / "evals.db"
    runs = []
    for content in ("I would need a tool for triangles.", ""):

        def script(body: dict[str, Any], c: str = content) -> Turn:
            return Turn(content=c) if c else bfcl_script(body)

        with VLLMServer(script) as srv:
            result = run_bfcl(srv, db, bfcl_dir, "--json", "--categories", "irrelevance")
            runs.append(json.loads(result.stdout)["summary"]["all cases"]["qwengraph"])
    assert runs == [100.0, 50.0]
    ids = [r["id"] for r in json.loads(cli("eval", "list", "--json", "--db", str(db)).stdout)]
    compared = json.loads(cli("eval", "compare", ids[1], ids[0], "--json", "--db", str(db)).stdout)
    assert {(c["case_id"], c["reading"], c["before"], c["after"]) for c in compared["changed"]} == {
        ("irrelevance_0", "qwengraph", "ok", "irrelevance_error:decoder_success"),
        ("irrelevance_0", "harness", "ok", "irrelevance_error:decoder_success"),
    }


def test_an_interrupted_run_keeps_its_cases_and_resumes_the_rest(
    server, tmp_path, bfcl_dir, monkeypatch
) -> None:
    db = tmp_path / "evals.db"
    original = BfclRunner.evaluate
    calls = {"n": 0}

    async def flaky(self, case, readings):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return await original(self, case, readings)

    monkeypatch.setattr(BfclRunner, "evaluate", flaky)
    result = run_bfcl(server, db, bfcl_dir)
    assert result.exit_code == 130
    assert "interrupted: 4 of 8 results stored" in result.stderr and "qwengraph eval resume" in result.stderr
    run = EvalStore(db).list_runs()[0]
    assert run.status == "interrupted"
    monkeypatch.setattr(BfclRunner, "evaluate", original)
    before = len(server.chat_requests)
    resumed = cli("eval", "resume", run.id, "--json", "--data", str(bfcl_dir), "--db", str(db))
    assert resumed.exit_code == 0, resumed.stderr
    assert len(server.chat_requests) - before == 2, "only the missing cases ran"
    out = json.loads(resumed.stdout)
    assert out["status"] == "done" and out["summary"]["all cases"] == {"qwengraph": 75.0, "harness": 50.0}
    again = cli("eval", "resume", run.id, "--db", str(db))
    assert again.exit_code == 2 and "is complete" in again.stderr


def test_a_dead_server_fails_the_run_resumably(tmp_path, bfcl_dir) -> None:
    db = tmp_path / "evals.db"
    result = cli(
        "eval", "bfcl", "--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--limit", "1",
        "--categories", "simple_python", "--data", str(bfcl_dir), "--db", str(db), "--timeout", "2",
    )  # fmt: skip
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr and "can continue: `qwengraph eval resume" in result.stderr
    assert EvalStore(db).list_runs()[0].status == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--categories", "simple_java"], "unknown BFCL category simple_java"),
        (["--limit", "2", "--sample", "3"], "--limit and --sample cannot be used together"),
        (["--data", "/nonexistent"], "no BFCL wheel or folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message) -> None:
    result = cli("eval", "bfcl", "--model", "openai:m", "--db", str(tmp_path / "e.db"), *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_run_ids_are_one_line(tmp_path) -> None:
    result = cli("eval", "show", "nope", "--db", str(tmp_path / "e.db"))
    assert result.exit_code == 2 and "no eval run 'nope'" in result.stderr  # bad input, as for traces


def test_profile_is_passed_to_the_model_where_the_build_has_profiles(server, tmp_path, bfcl_dir) -> None:
    from graphs.models.chat import ChatQwen

    result = run_bfcl(server, tmp_path / "e.db", bfcl_dir, "--profile", "qwen3", "--json")
    if "qwen_profile" in ChatQwen.model_fields:
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["config"]["profile"] == "qwen3"
    else:
        assert result.exit_code == 2
        assert "--profile needs Qwen generation profiles" in result.stderr
        assert "resume" not in result.stderr and EvalStore(tmp_path / "e.db").list_runs() == []


def test_a_recorded_run_replays_offline_with_the_same_scores(tmp_path, bfcl_dir) -> None:
    folder, db = tmp_path / "cassettes", tmp_path / "evals.db"
    with VLLMServer(bfcl_script) as srv:
        live = run_bfcl(srv, db, bfcl_dir, "--json", "--record", str(folder), "-c", "3")
    assert live.exit_code == 0, live.stderr
    (cassette,) = folder.glob("*.json")
    meta = json.loads(cassette.read_text())["meta"]["qwengraph_eval"]
    assert meta["kind"] == "bfcl" and meta["config"]["limit"] == 2
    replayed = cli(
        "eval", "bfcl", "--replay", str(folder), "--data", str(bfcl_dir), "--db", str(db), "--json", "-c", "3"
    )
    assert replayed.exit_code == 0, replayed.stderr

    def scores(out: str) -> list[tuple]:
        return [(c["readings"], c["model_calls"], c["prompt_tokens"]) for c in json.loads(out)["categories"]]

    assert scores(replayed.stdout) == scores(live.stdout)
    clash = cli("eval", "bfcl", "--replay", str(folder), "--limit", "5", "--db", str(db))
    assert clash.exit_code == 2 and "--replay runs the recorded settings; drop --limit" in clash.stderr
    wrong = cli("eval", "tasks", "x.jsonl", "--replay", str(folder), "--db", str(db))
    assert wrong.exit_code == 2 and "holds a recorded bfcl eval" in wrong.stderr
