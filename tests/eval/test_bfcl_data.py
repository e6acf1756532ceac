"""BFCL's data: fetched like a model (SHA-256 checked, cached), read from the wheel or a folder."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from agents.eval import bfcl_data
from agents.eval.bfcl_data import (
    DEFAULT_CATEGORIES,
    BfclData,
    fetch_wheel,
    openai_tools,
    parse_categories,
    select,
)
from graphs.errors import ConfigError, EvalDataError


def make_wheel(path: Path, bfcl_dir: Path) -> Path:
    """A wheel-shaped zip holding two of BFCL's real files."""
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("BFCL_v4_simple_python.json", "possible_answer/BFCL_v4_simple_python.json"):
            zf.write(bfcl_dir / "data" / name, f"bfcl_eval/data/{name}")
    return path


@pytest.fixture
def fake_release(tmp_path, bfcl_dir, monkeypatch) -> tuple[Path, list[int]]:
    """A stand-in release: its wheel, its pinned hash, and a fetcher that counts downloads."""
    wheel = make_wheel(tmp_path / "source.whl", bfcl_dir)
    monkeypatch.setattr(bfcl_data, "BFCL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setenv("QWENGRAPH_HOME", str(tmp_path / "home"))
    return wheel, []


def fetcher(wheel: Path, count: list[int], payload: bytes | None = None):
    def fetch(version: str, target: Path) -> None:
        count.append(1)
        assert version == "2026.3.23"
        (target / bfcl_data.BFCL_WHEEL).write_bytes(payload if payload is not None else wheel.read_bytes())

    return fetch


def test_the_wheel_is_fetched_once_verified_and_cached_under_home(fake_release, tmp_path) -> None:
    wheel, count = fake_release
    path = fetch_wheel(fetch=fetcher(wheel, count))
    assert path == tmp_path / "home" / "benchmarks" / "bfcl_eval-2026.3.23-py3-none-any.whl"
    assert fetch_wheel(fetch=fetcher(wheel, count)) == path and count == [1]
    path.write_bytes(b"damaged")
    assert fetch_wheel(fetch=fetcher(wheel, count)) == path and count == [1, 1], (
        "a damaged cache is fetched again"
    )
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary files left"


def test_a_wheel_with_other_bytes_is_refused(fake_release) -> None:
    wheel, count = fake_release
    with pytest.raises(EvalDataError, match="SHA-256 mismatch"):
        fetch_wheel(fetch=fetcher(wheel, count, payload=b"not the release"))
    other = wheel.with_name("other.whl")
    other.write_bytes(b"x")
    with pytest.raises(EvalDataError, match="is not the pinned"):
        BfclData(other)


def test_a_failed_download_says_what_to_do(fake_release) -> None:
    def broken(version: str, target: Path) -> None:
        raise EvalDataError("could not download bfcl-eval==2026.3.23 from PyPI (no network? no pip?): x")

    with pytest.raises(EvalDataError, match="no network"):
        fetch_wheel(fetch=broken)


def test_cases_read_the_same_from_the_wheel_and_from_folders(fake_release, bfcl_dir) -> None:
    wheel, count = fake_release
    from_wheel = BfclData.pinned(fetch=fetcher(wheel, count)).cases("simple_python")
    for folder in (bfcl_dir, bfcl_dir.parent, bfcl_dir / "data"):
        assert BfclData(folder).cases("simple_python") == from_wheel
    case = from_wheel[0]
    assert len(from_wheel) == 400 and case.id == "simple_python_0" and case.kind == "ast"
    assert case.messages[0]["role"] == "user" and case.functions[0]["name"] == "calculate_triangle_area"
    assert case.answer == [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]
    assert case.prompt_functions()[0]["description"].endswith(
        "Note that the provided function is in Python 3 syntax."
    )
    assert not case.functions[0]["description"].endswith("syntax."), "the case itself is left as shipped"
    with pytest.raises(EvalDataError, match=r"has no BFCL_v4_multiple\.json"):
        BfclData(wheel).cases("multiple")


def test_relevance_categories_have_no_answers(bfcl) -> None:
    case = bfcl.cases("live_irrelevance")[0]
    assert case.kind == "irrelevance" and case.answer is None
    assert len(bfcl.cases("irrelevance")) == 240 and len(bfcl.cases("live_multiple")) == 1053


def test_categories_limit_and_sample(bfcl) -> None:
    assert parse_categories(None) == list(DEFAULT_CATEGORIES)
    assert parse_categories(" parallel , parallel ") == ["parallel"]
    assert "live_relevance" in parse_categories("all")
    with pytest.raises(ConfigError, match="unknown BFCL categories simple_java, exec_simple"):
        parse_categories("simple_java,exec_simple")
    cases = bfcl.cases("parallel")
    assert [c.id for c in select(cases, limit=2)] == ["parallel_0", "parallel_1"]
    sample = select(cases, sample=5, seed=3)
    assert sample == select(cases, sample=5, seed=3) != select(cases, sample=5, seed=4)
    assert [int(c.id.split("_")[1]) for c in sample] == sorted(int(c.id.split("_")[1]) for c in sample)
    assert len(select(cases, sample=10_000)) == len(cases)


def test_function_docs_become_json_schema_tools(bfcl) -> None:
    doc = next(c for c in bfcl.cases("live_multiple") if c.id == "live_multiple_0-0-0").functions[1]
    (tool,) = openai_tools([doc])
    assert tool["type"] == "function" and tool["function"]["name"] == doc["name"]
    params = tool["function"]["parameters"]
    assert params["type"] == "object"
    text = json.dumps(params)
    assert '"dict"' not in text and '"float"' not in text and '"tuple"' not in text
    assert doc["parameters"]["type"] == "dict", "the original is not changed"
