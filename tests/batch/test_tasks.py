"""The tasks file: ids that survive edits, every bad line named with its number, thread chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.batch.tasks import chains, content_id, load_tasks, parse_tasks
from graphs.errors import ConfigError


def lines(*objects: object) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in objects]


def test_explicit_ids_fields_and_skipped_lines() -> None:
    tasks = parse_tasks(
        lines(
            {"id": "a", "prompt": "one"},
            "",
            "# a comment",
            {"id": 7, "prompt": "two", "thread": "t1", "variables": {"mode": "hint"}},
        )
    )
    assert [(t.id, t.prompt, t.line, t.thread, t.variables) for t in tasks] == [
        ("a", "one", 1, None, {}),
        ("7", "two", 4, "t1", {"mode": "hint"}),
    ]


def test_derived_ids_follow_content_not_position() -> None:
    first = parse_tasks(lines({"prompt": "x"}, {"prompt": "y"}, {"prompt": "x"}))
    moved = parse_tasks(lines({"prompt": "new"}, {"prompt": "y"}, {"prompt": "x"}, {"prompt": "x"}))
    assert first[0].id == content_id({"prompt": "x"}) and first[0].id.startswith("t-")
    assert first[2].id == first[0].id + "~2"  # a repeat gets its own id
    ids_then = {t.prompt + t.id for t in first}
    assert ids_then <= {t.prompt + t.id for t in moved}  # adding a line changes no existing id


def test_every_problem_with_its_line_number() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tasks(
            lines(
                {"prompt": "ok", "id": "a"},
                "{not json",
                {"id": "a", "prompt": "again"},
                {"prompt": ""},
                {"prompt": "p", "colour": "red"},
                [1, 2],
                {"prompt": "p", "variables": {"n": 3}},
                {"prompt": "p", "thread": 5},
            ),
            source="tasks.jsonl",
        )
    message = str(caught.value)
    for expected in (
        "tasks.jsonl:2: not valid JSON",
        "tasks.jsonl:3: duplicate id 'a' (first on line 1)",
        'tasks.jsonl:4: "prompt" must be a non-empty string',
        "tasks.jsonl:5: unknown field 'colour'",
        "tasks.jsonl:6: expected a JSON object, got list",
        "tasks.jsonl:7: variables 'n' are not agent settings",
        'tasks.jsonl:8: "thread" must be a non-empty string',
    ):
        assert expected in message


def test_workflow_tasks_need_no_prompt_and_take_any_variables() -> None:
    tasks = parse_tasks(lines({"variables": {"n": 3}}), workflow=True)
    assert tasks[0].variables == {"n": 3} and tasks[0].prompt == ""
    with pytest.raises(ConfigError, match='missing "prompt"'):
        parse_tasks(lines({"variables": {"n": 3}}))


def test_files_empty_missing_binary(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n# nothing\n")
    with pytest.raises(ConfigError, match="no tasks"):
        load_tasks(empty)
    with pytest.raises(ConfigError, match="no tasks file at"):
        load_tasks(tmp_path / "missing.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b'{"prompt": "\xff"}\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_tasks(binary)
    with pytest.raises(ConfigError, match="is a directory"):
        load_tasks(tmp_path)


def test_chains_keep_thread_order_and_first_position() -> None:
    tasks = parse_tasks(
        lines(
            {"id": 1, "prompt": "a", "thread": "t"},
            {"id": 2, "prompt": "b"},
            {"id": 3, "prompt": "c", "thread": "t"},
            {"id": 4, "prompt": "d", "thread": "u"},
        )
    )
    assert [[t.id for t in chain] for chain in chains(tasks)] == [["1", "3"], ["2"], ["4"]]
