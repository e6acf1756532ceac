"""BFCL's test cases and possible answers, read from the pinned ``bfcl-eval`` wheel.

The Berkeley Function Calling Leaderboard ships its data in the ``bfcl-eval`` package on PyPI
(Apache-2.0). Its own dependencies are very heavy (every provider SDK), so we never install it:
the wheel alone is fetched like a model (``pip download --no-deps``), checked against the pinned
SHA-256, cached under ``$QWENGRAPH_HOME/benchmarks/`` and read as a zip. A directory holding the
package (``.../site-packages/bfcl_eval``) or its ``data`` folder works too (``--data``), for
machines that got it another way.

Case files are JSON lines: ``{"id", "question": [[messages of turn 1], ...], "function": [docs]}``;
possible answers ``{"id", "ground_truth": [{"func": {"param": [allowed values]}}]}``. Function docs
use BFCL's own type names (``dict``, ``float``, ``tuple``, ``any``); :func:`openai_tools` maps them
to JSON Schema for servers and chat templates.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graphs import paths
from graphs.errors import ConfigError, EvalDataError

BFCL_VERSION = "2026.3.23"
BFCL_WHEEL = f"bfcl_eval-{BFCL_VERSION}-py3-none-any.whl"
BFCL_SHA256 = "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"
DATA_PREFIX = "bfcl_eval/data/"
VERSION_PREFIX = "BFCL_v4"
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."
"""Added to every function description at inference time, as BFCL's own harness does."""

Kind = Literal["ast", "irrelevance", "relevance"]
CATEGORIES: dict[str, Kind] = {
    "simple_python": "ast",
    "multiple": "ast",
    "parallel": "ast",
    "parallel_multiple": "ast",
    "irrelevance": "irrelevance",
    "live_simple": "ast",
    "live_multiple": "ast",
    "live_parallel": "ast",
    "live_parallel_multiple": "ast",
    "live_irrelevance": "irrelevance",
    "live_relevance": "relevance",
}
"""The single-turn Python categories we score, and how: AST check, or call / no call."""
DEFAULT_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_irrelevance",
)
NON_LIVE_AST = ("simple_python", "multiple", "parallel", "parallel_multiple")
"""BFCL's non-live AST summary is the unweighted mean of these (simple: Python only here)."""

_OPENAPI_TYPES = {
    "integer": "integer", "number": "number", "float": "number", "double": "number",
    "string": "string", "char": "string", "any": "string", "Any": "string", "String": "string",
    "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array", "tuple": "array",
    "ArrayList": "array", "Array": "array", "dict": "object", "object": "object", "HashMap": "object",
    "byte": "integer", "short": "integer", "long": "integer", "Bigint": "integer",
}  # fmt: skip

FetchWheel = Callable[[str, Path], None]
"""Puts the wheel of ``bfcl-eval==version`` into a directory (the default runs ``pip download``)."""


@dataclass(frozen=True)
class BfclCase:
    """One single-turn BFCL test case.

    ``messages`` are the first turn's chat messages (``role``/``content``), ``functions`` the
    function docs as BFCL ships them, ``answer`` the possible answers (``None`` for the relevance
    categories, which have none).
    """

    id: str
    category: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    answer: list[dict[str, Any]] | None = None

    @property
    def kind(self) -> Kind:
        """How the case is scored."""
        return CATEGORIES[self.category]

    def prompt_functions(self) -> list[dict[str, Any]]:
        """The function docs as BFCL's harness shows them to the model (language hint added)."""
        docs = copy.deepcopy(self.functions)
        for doc in docs:
            doc["description"] = str(doc.get("description", "")) + PYTHON_HINT
        return docs


def parse_categories(text: str | None) -> list[str]:
    """``"simple_python,multiple"`` (or ``all``, or ``None`` for the defaults) as category names."""
    if text is None or not text.strip():
        return list(DEFAULT_CATEGORIES)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(CATEGORIES)
    unknown = [n for n in names if n not in CATEGORIES]
    if unknown:
        raise ConfigError(
            f"unknown BFCL categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"choose from {', '.join(CATEGORIES)} (or all)"
        )
    return list(dict.fromkeys(names))


def pip_download_wheel(version: str, target: Path) -> None:
    """Download the ``bfcl-eval`` wheel alone (``--no-deps``) into ``target`` with pip.

    Raises:
        EvalDataError: pip failed; the message carries pip's last line of error output.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--disable-pip-version-check", "--no-input", "--quiet", "--dest", str(target),
        f"bfcl-eval=={version}",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise EvalDataError(f"pip download of bfcl-eval=={version} did not finish in 10 minutes") from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"pip exited with status {result.returncode}"
        raise EvalDataError(
            f"could not download bfcl-eval=={version} from PyPI (no network? no pip?): {last}; "
            f"or download {BFCL_WHEEL} yourself and pass it with --data"
        )


def data_dir() -> Path:
    """Where fetched benchmark data lives: ``$QWENGRAPH_HOME/benchmarks``."""
    return paths.home() / "benchmarks"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(*, fetch: FetchWheel | None = None, directory: Path | None = None) -> Path:
    """The verified pinned wheel, downloaded on first use.

    A cached wheel is re-hashed on every use (1.9 MB: milliseconds), so a damaged or replaced
    file is never read. Raises :class:`EvalDataError` when the download fails or its bytes differ.
    """
    folder = directory or data_dir()
    target = folder / BFCL_WHEEL
    if target.is_file():
        if sha256_of(target) == BFCL_SHA256:
            return target
        target.unlink()  # damaged or replaced: fetch it again
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".bfcl-", dir=folder))
    try:
        (fetch or pip_download_wheel)(BFCL_VERSION, work)
        got = work / BFCL_WHEEL
        if not got.is_file():
            raise EvalDataError(f"the download did not produce {BFCL_WHEEL}")
        digest = sha256_of(got)
        if digest != BFCL_SHA256:
            raise EvalDataError(f"{BFCL_WHEEL}: SHA-256 mismatch: expected {BFCL_SHA256}, got {digest}")
        got.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


class BfclData:
    """Reads case and answer files from a wheel zip or a directory holding BFCL's ``data`` folder.

    Args:
        source: the wheel file (checked against the pinned SHA-256 unless ``verify=False``), a
            ``bfcl_eval`` package directory, its parent (``site-packages``) or its ``data`` folder.
        verify: check a wheel's hash (an unpinned wheel is refused).
    """

    def __init__(self, source: Path, *, verify: bool = True) -> None:
        self.source = source
        if source.is_file():
            if verify and sha256_of(source) != BFCL_SHA256:
                raise EvalDataError(f"{source} is not the pinned {BFCL_WHEEL} (SHA-256 {BFCL_SHA256[:12]}…)")
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(source)
            self._root: Path | None = None
        elif source.is_dir():
            self._zip = None
            self._root = _data_root(source)
        else:
            raise ConfigError(f"--data: no BFCL wheel or folder at {source}")
        self._cache: dict[str, list[dict[str, Any]]] = {}

    @classmethod
    def pinned(cls, *, fetch: FetchWheel | None = None) -> BfclData:
        """The pinned release, fetched (and verified) on first use."""
        return cls(fetch_wheel(fetch=fetch))

    def _lines(self, relative: str) -> list[dict[str, Any]]:
        if relative in self._cache:
            return self._cache[relative]
        try:
            if self._zip is not None:
                text = self._zip.read(DATA_PREFIX + relative).decode("utf-8")
            else:
                assert self._root is not None
                text = (self._root / relative).read_text(encoding="utf-8")
        except (KeyError, FileNotFoundError):
            raise EvalDataError(f"{self.source} has no {relative}") from None
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as err:
            raise EvalDataError(f"{relative} in {self.source} is not JSON lines: {err}") from None
        self._cache[relative] = rows
        return rows

    def cases(self, category: str) -> list[BfclCase]:
        """Every case of ``category``, in the file's order, with its possible answer."""
        if category not in CATEGORIES:
            raise ConfigError(f"unknown BFCL category {category!r}")
        rows = self._lines(f"{VERSION_PREFIX}_{category}.json")
        answers: dict[str, list[dict[str, Any]]] = {}
        if CATEGORIES[category] == "ast":
            answers = {
                a["id"]: a["ground_truth"]
                for a in self._lines(f"possible_answer/{VERSION_PREFIX}_{category}.json")
            }
        cases = []
        for row in rows:
            turns = row.get("question") or [[]]
            cases.append(
                BfclCase(
                    id=str(row["id"]),
                    category=category,
                    messages=[dict(m) for m in turns[0]],
                    functions=list(row.get("function") or []),
                    answer=answers.get(str(row["id"])) if answers else None,
                )
            )
        return cases


def _data_root(folder: Path) -> Path:
    """The folder holding ``BFCL_v4_*.json`` under ``folder`` (a data, package or site folder)."""
    for candidate in (folder, folder / "data", folder / "bfcl_eval" / "data"):
        if (candidate / f"{VERSION_PREFIX}_simple_python.json").is_file():
            return candidate
    raise ConfigError(f"--data: {folder} holds no BFCL data (no {VERSION_PREFIX}_simple_python.json)")


def select(
    cases: Sequence[BfclCase], *, limit: int | None = None, sample: int | None = None, seed: int = 0
) -> list[BfclCase]:
    """The first ``limit`` cases, or ``sample`` picked at random with ``seed`` (kept in file order)."""
    if limit is not None and sample is not None:
        raise ConfigError("--limit and --sample cannot be used together")
    if sample is not None:
        if sample >= len(cases):
            return list(cases)
        picked = sorted(random.Random(seed).sample(range(len(cases)), sample))  # noqa: S311 - not crypto
        return [cases[i] for i in picked]
    return list(cases[:limit] if limit is not None else cases)


def openai_tools(functions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL function docs as OpenAI tool schemas (``{"type": "function", "function": {...}}``).

    BFCL's type names become JSON Schema types at every depth (``dict`` -> ``object``, ``float`` ->
    ``number``, ``tuple`` -> ``array``, unknown -> ``string``); names keep their dots.
    """
    tools = []
    for doc in functions:
        function = copy.deepcopy(doc)
        parameters = function.get("parameters") or {}
        function["parameters"] = _schema(parameters) | {"type": "object"}
        tools.append({"type": "function", "function": function})
    return tools


def _schema(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(out.get("type"), str):
        out["type"] = _OPENAPI_TYPES.get(out["type"], "string")
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _schema(v) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _schema(out["items"])
    return out
