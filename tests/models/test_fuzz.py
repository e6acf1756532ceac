"""Property-based fuzzing (hypothesis) of the parsers that read model and user text.

Each property says what holds for *any* input: the streamed splitter gives the same result however
the text is cut into chunks, the tool-call scanner and JSON repair raise nothing but their
documented errors and find what was written, the calculator parser refuses hostile text only with
``ToolError`` and computes generated arithmetic exactly. Inputs are small and example counts
modest (the default profile in ``tests/conftest.py`` is deterministic); every example runs under
:func:`bounded` (a few seconds, where a few milliseconds are normal), so a quadratic path or a
catastrophic regex fails instead of stalling. ``HYPOTHESIS_PROFILE=fuzz`` runs many more, random
examples.
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from graphs.models.jsonrepair import JSONRepairError, repair_json
from graphs.models.qwen import ContentStream, Piece
from graphs.models.toolcalls import BadToolCall, ToolCall, parse_text_tool_calls
from tools.calculator import calculate
from tools.errors import ToolError
from tools.safe_math import ARITHMETIC, parse

LIMIT_S = 10


@contextmanager
def bounded() -> Iterator[None]:
    """Fail an example that runs longer than :data:`LIMIT_S` (a hang guard, not a benchmark)."""

    def alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"one example did not finish within {LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


TOKENS = [
    "<think>", "</think>", "<tool_call>", "</tool_call>", "```json\n", "```", "\n", " ", "{", "}",
    '{"name": "calculator", "arguments": {"expression": "1+1"}}', '"name"', "'", "`", "<", "/",
    "<function=calculator>", "<parameter=expression>", "</parameter>", "</function>",
]  # fmt: skip
model_text = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=30).map("".join)


def split_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True) if text[a:b]]


def run_stream(chunks: list[str], expect_thinking: bool) -> tuple[str, str, list[object], list[object]]:
    stream = ContentStream(expect_thinking=expect_thinking)
    pieces: list[Piece] = []
    for chunk in chunks:
        pieces += stream.feed(chunk)
    last, calls = stream.finish(["calculator"])
    pieces += last
    thinking = "".join(p.text for p in pieces if p.kind == "thinking")
    text = "".join(p.text for p in pieces if p.kind == "text")
    return thinking, text, [(c.name, c.args) for c in calls.calls], [b.error for b in calls.bad]


@given(
    text=model_text, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12), expect=st.booleans()
)
def test_stream_splitter_gives_the_same_result_however_the_text_is_cut(
    text: str, cuts: list[int], expect: bool
) -> None:
    # by design, without expect_thinking text is shown at once: a </think> that does not close a
    # <think> opening the reply is plain text when streamed after shown text, while in the whole
    # reply it turns what precedes it into thinking
    assume(expect or "</think>" not in text or text.lstrip().startswith("<think>"))
    with bounded():
        whole = run_stream([text], expect)
        assert run_stream(split_at(text, cuts), expect) == whole
        assert run_stream(list(text), expect) == whole  # one character at a time


@given(text=model_text)
def test_tool_call_scanner_never_raises_and_returns_well_formed_calls(text: str) -> None:
    with bounded():
        found = parse_text_tool_calls(text, ["calculator", "search"])
    assert all(
        isinstance(c, ToolCall) and isinstance(c.name, str) and isinstance(c.args, dict) for c in found.calls
    )
    assert all(isinstance(b, BadToolCall) and b.error for b in found.bad)
    assert isinstance(found.text, str)
    if not any(mark in text for mark in ("<think>", "</think>", "`")):  # no region where tags are prose
        assert "<tool_call>" not in found.text, "every <tool_call> tag is read, as a call or a bad call"


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**12), max_value=10**12), st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
arguments = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), json_values, max_size=4)


@given(name=st.from_regex(r"[a-z_]{1,12}", fullmatch=True), args=arguments, before=st.text(max_size=40))
def test_a_written_call_is_found_with_its_exact_arguments(name: str, args: dict, before: str) -> None:
    body = json.dumps({"name": name, "arguments": args})
    assume("think>" not in body)  # a lone </think> marks what precedes it as thinking (documented)
    prose = before.replace("<", "(").replace("`", "'")  # prose that opens no tag or code span
    with bounded():
        found = parse_text_tool_calls(f"{prose}\n<tool_call>\n{body}\n</tool_call>", None)
    assert [(c.name, c.args) for c in found.calls] == [(name, args)]


@given(text=st.one_of(model_text, st.text(max_size=60)))
def test_json_repair_raises_only_its_own_error(text: str) -> None:
    problem = None
    with bounded():
        try:
            repair_json(text)
        except JSONRepairError as err:
            problem = err
    assert problem is None or (isinstance(problem.pos, int) and str(problem))


@given(value=json_values)
def test_json_repair_reads_valid_json_unchanged(value: object) -> None:
    with bounded():
        assert repair_json(json.dumps(value)) == value
        assert repair_json(f"```json\n{json.dumps(value, indent=2)}\n```") == value


@given(
    args=st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.text(max_size=10), min_size=1, max_size=4
    )
)
def test_json_repair_fixes_trailing_commas_and_single_quotes(args: dict[str, str]) -> None:
    single = "{" + ", ".join(f"'{k}': {json.dumps(v)}" for k, v in args.items()) + ",}"
    with bounded():
        assert repair_json(single) == args
        assert repair_json(json.dumps(args)[:-1]) == args  # an unclosed brace at the end


@given(text=st.one_of(st.text(max_size=60), st.text(alphabet="0123456789+-*/^()%.,!eE ", max_size=60)))
def test_calculator_parser_refuses_only_with_tool_errors(text: str) -> None:
    problem = None
    with bounded():
        try:
            parse(text, ARITHMETIC)
            calculate(text)
        except ToolError as err:
            problem = err
    assert problem is None or str(problem)


def expressions() -> st.SearchStrategy[tuple[str, Fraction]]:
    """Arithmetic over small integers, with its exact value (division only by non-zero values)."""
    leaf = st.integers(min_value=-50, max_value=50).map(lambda n: (f"({n})", Fraction(n)))

    def combine(inner: st.SearchStrategy[tuple[str, Fraction]]) -> st.SearchStrategy[tuple[str, Fraction]]:
        def apply(left: tuple[str, Fraction], op: str, right: tuple[str, Fraction]) -> tuple[str, Fraction]:
            if op == "/" and right[1] == 0:
                op = "*"
            value = {"+": left[1] + right[1], "-": left[1] - right[1], "*": left[1] * right[1]}.get(op)
            return f"({left[0]} {op} {right[0]})", value if value is not None else left[1] / right[1]

        return st.builds(apply, inner, st.sampled_from("+-*/"), inner)

    return st.recursive(leaf, combine, max_leaves=8)


@given(expression=expressions())
def test_calculator_computes_generated_arithmetic_exactly(expression: tuple[str, Fraction]) -> None:
    text, value = expression
    with bounded():
        shown = calculate(text)
    exact = shown.split(" (exactly ", 1)[1].rstrip(")") if "(exactly " in shown else shown
    assert Fraction(exact.replace(",", "")) == value, (text, shown)
    assert not math.isnan(float(value))
