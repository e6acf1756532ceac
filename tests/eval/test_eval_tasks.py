"""Task sets: the file format and its errors, every check kind, runs stored like BFCL runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import Turn, VLLMServer
from typer.testing import CliRunner

from agents.cli import app
from agents.eval.store import EvalStore
from agents.eval.tasks import Task, load_tasks, numbers_in, run_checks
from graphs.errors import ConfigError
from graphs.summary import RunSummary, ToolCallRecord

EXAMPLE = Path(__file__).resolve().parents[2] / "agents" / "eval" / "examples" / "word_problems.jsonl"


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def write(tmp_path: Path, *rows: object) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_the_shipped_word_problems_parse() -> None:
    tasks = load_tasks(EXAMPLE)
    assert len(tasks) == 25 and tasks[0].id == "mul_17x23" and tasks[0].checks == [{"number": 391}]
    both = next(t for t in tasks if t.id == "revenue_question")
    assert [c["number"] for c in both.checks] == [4.0227, 20.11], "a two-part question needs both numbers"
    assert {t.category for t in tasks} == {"arithmetic", "percent", "growth", "units"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ({"checks": [{"number": 1}]}, 'a task is an object with a non-empty "prompt"'),
        ({"prompt": "p"}, '"checks" must be a non-empty list'),
        ({"prompt": "p", "checks": [{"number": "7"}]}, "number check needs a number"),
        ({"prompt": "p", "checks": [{"regex": "("}]}, "bad regex"),
        ({"prompt": "p", "checks": [{"regex": "a", "flags": "q"}]}, "regex flags are letters"),
        ({"prompt": "p", "checks": [{"number": 1, "contains": "x"}]}, "exactly one of"),
        ({"prompt": "p", "checks": [{"python": "nocolon"}]}, "python check needs 'module:function'"),
    ],
)
def test_a_broken_task_file_names_the_line(tmp_path, line, message) -> None:
    with pytest.raises(ConfigError, match=r"tasks\.jsonl line 1") as err:
        load_tasks(write(tmp_path, line))
    assert message in str(err.value)


def test_duplicate_ids_and_empty_files_are_refused(tmp_path) -> None:
    row = {"id": "a", "prompt": "p", "checks": [{"number": 1}]}
    with pytest.raises(ConfigError, match="duplicate task id 'a'"):
        load_tasks(write(tmp_path, row, row))
    with pytest.raises(ConfigError, match="holds no tasks"):
        load_tasks(write(tmp_path, ""))


def is_even_answer(answer: str, summary: RunSummary, task: dict) -> tuple[bool, str]:
    """A python check used below (referenced as a module:function string)."""
    numbers = numbers_in(answer)
    return bool(numbers) and numbers[-1] % 2 == 0, "the last number is odd"


def test_every_check_kind() -> None:
    summary = RunSummary(
        answer="The total is 4,022,714.38 dollars.",
        tool_calls=[ToolCallRecord("calculator", {"expression": "2e6*1.15^5"}, "4022714.375")],
    )

    def passes(*checks: dict) -> tuple[bool, str]:
        result = run_checks(Task("t", "p", list(checks)), summary)
        return result.passed, result.reason

    assert passes({"number": 4022714})[0]
    assert passes({"number": [1, 4.0227e6]})[0]
    assert passes({"number": 4022000, "abs_tol": 1000})[0]
    assert passes({"number": 4000000}) == (False, "no number near 4000000 in the answer")
    assert passes({"regex": r"total is \d"})[0] and not passes({"regex": "^total"})[0]
    assert passes({"regex": "^THE", "flags": "i"})[0]
    assert (
        passes({"contains": "DOLLARS"})[0] and not passes({"contains": "DOLLARS", "case_sensitive": True})[0]
    )
    assert passes({"tool_called": "calculator"})[0]
    assert passes({"tool_called": "search"}) == (False, "tool 'search' was not called")
    summary.answer = "It is 12."
    assert passes({"python": f"{__name__}:is_even_answer"}) == (True, "")
    summary.answer = "It is 7."
    assert passes({"python": f"{__name__}:is_even_answer"}) == (False, "the last number is odd")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        passes({"python": "no_such_module:f"})


def word_problem_server_script(body: dict) -> Turn:
    """Call the calculator, then answer with its result (or a wrong number for the shirt)."""
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    question = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if not results:
        expression = "17*23" if "17*23" in question else "45*0.8"
        return Turn(tool_calls=[("calculator", {"expression": expression})])
    return Turn(content=f"The answer is {results[-1] if '17' in question else 40}.")


def test_tasks_run_an_agent_and_store_each_verdict(tmp_path) -> None:
    path = write(
        tmp_path,
        {"id": "mul", "prompt": "What is 17*23?", "checks": [{"number": 391}, {"tool_called": "calculator"}]},
        {
            "id": "shirt",
            "prompt": "A $45 shirt is 20% off. Price?",
            "checks": [{"number": 36}],
            "category": "percent",
        },
    )
    db = tmp_path / "evals.db"
    with VLLMServer(word_problem_server_script) as server:
        result = cli(
            "eval", "tasks", str(path), "--model", "openai:Qwen/Qwen3-8B", "--base-url", server.base_url,
            "--graph", "react", "--json", "--db", str(db), "--concurrency", "2",
        )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert {c["category"]: c["accuracy"] for c in out["categories"]} == {
        "tasks": {"task": 100.0},
        "percent": {"task": 0.0},
    }
    store = EvalStore(db)
    cases = {c.case_id: c for c in store.cases(store.list_runs()[0].id)}
    assert cases["mul"].valid and cases["mul"].decoded[0]["result"] == "391" and cases["mul"].model_calls == 2
    assert cases["shirt"].error_type == "check:number" and "no number near 36" in cases["shirt"].error
    assert cases["shirt"].raw_output == "The answer is 40."
