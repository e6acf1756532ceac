"""Lenient JSON for model output: repair only damage with one obvious meaning, else say what is wrong.

Small models write almost-JSON: trailing commas, Python-style quotes and literals (``'a'``,
``True``, ``None``), raw newlines inside strings, containers left open when the output stops, code
fences around the whole. Each of these has exactly one reading, so it is repaired. Anything else
raises ``ValueError`` naming the problem and its line and column, because that message goes back to
the model for its next try. The parser is iterative, linear in the input and depth-bounded, so
hostile input (a megabyte of brackets) fails fast instead of recursing or hanging.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 512


class JSONRepairError(ValueError):
    """Unrepairable JSON. ``pos`` is the index in the text where reading stopped."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


_BLANK = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORDS: dict[str, Any] = {
    "true": True, "false": False, "null": None,
    "True": True, "False": False, "None": None,
    "NaN": float("nan"), "Infinity": float("inf"),
}  # fmt: skip
_STRING = {'"': re.compile(r'"((?:[^"\\]|\\.)*)"', re.S), "'": re.compile(r"'((?:[^'\\]|\\.)*)'", re.S)}
_ESCAPE_OR_QUOTE = re.compile(r'\\(u[0-9a-fA-F]{4}|.)|"', re.S)
_VALID_ESCAPES = frozenset('"\\/bfnrt')
_FENCE_LANG = re.compile(r"[\w+.-]*")


def repair_json(raw: str) -> Any:
    """Parse ``raw`` as JSON, repairing only unambiguous damage.

    Repaired: surrounding whitespace and a code fence, trailing commas, single-quoted strings and
    keys, Python ``True``/``False``/``None``, ``\\'`` escapes, raw control characters inside strings,
    containers still open at the end of the text, and typographic quotes used as delimiters.

    Raises:
        JSONRepairError: a ``ValueError`` with what is wrong and where, e.g.
            ``expected ',' or '}' after value at line 1 column 27``.
    """
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        pass
    start, end = _unfence(raw)
    if start >= end:
        raise JSONRepairError("expected a JSON value, got empty text", 0)
    value, i = parse_prefix(raw, start, end, origin=0)
    i = _skip(raw, i, end)
    if i < end:
        raise _located(
            _Unreadable("unexpected text after the JSON value", i, f": {raw[i : i + 20]!r}"), raw, 0, end
        )
    return value


def parse_prefix(
    text: str, start: int, end: int | None = None, *, origin: int | None = None
) -> tuple[Any, int]:
    """Leniently parse one JSON value starting at ``text[start]``; return it and the index after it.

    Text after the value is left alone, so this finds a JSON object embedded in prose. Containers
    still open when ``end`` is reached are closed.

    Raises:
        JSONRepairError: as :func:`repair_json`, lines and columns counted from ``origin`` (default
            ``start``); its ``pos`` is the index in ``text`` where reading stopped.
    """
    stop = len(text) if end is None else end
    try:
        return _parse(text, start, stop)
    except _Unreadable as exc:
        first = exc
    # Small models sometimes write typographic quotes as JSON delimiters (“name”: “calculator”).
    # Only when the text cannot be read as it is are they taken as plain quotes; the swap keeps
    # every index, so positions and the returned end stay right. Only the part read before the
    # failure is looked at: without a typographic quote there, the retry would fail the same way
    # (and looking further would make hostile input quadratic).
    if _CURLY_QUOTES.intersection(text[start : min(stop, first.pos + 1)]):
        try:
            return _parse(text.translate(_STRAIGHTEN), start, stop)
        except _Unreadable:
            pass
    raise _located(first, text, start if origin is None else origin, stop) from None


_CURLY_QUOTES = frozenset("\u201c\u201d")
_STRAIGHTEN = str.maketrans({"\u201c": '"', "\u201d": '"'})


def _parse(text: str, start: int, stop: int) -> tuple[Any, int]:
    frames: list[list[Any]] = []  # [container, pending dict key] for every open container
    root: Any = None
    i = start
    while True:
        i = _skip(text, i, stop)
        if i >= stop:
            raise _Unreadable("expected a value", i)
        value: Any
        if text[i] in "{[":
            if len(frames) >= MAX_DEPTH:
                raise _Unreadable(f"nesting deeper than {MAX_DEPTH} levels", i)
            value = {} if text[i] == "{" else []
            i += 1
        elif text[i] in "\"'":
            value, i = _string(text, i, stop)
        else:
            value, i = _scalar(text, i, stop)
        if not frames:
            root = value
        elif isinstance(frames[-1][0], dict):
            frames[-1][0][frames[-1][1]] = value
        else:
            frames[-1][0].append(value)
        opened = isinstance(value, dict | list)  # only a bracket makes a container here
        if opened:
            frames.append([value, None])
        i, done = _next(text, i, stop, frames, opened=opened)
        if done:
            return root, i


def _next(text: str, i: int, stop: int, frames: list[list[Any]], *, opened: bool) -> tuple[int, bool]:
    """Read separators and closers after a value (or after an opening bracket when ``opened``).

    Returns the index where the next value starts (after its key inside an object), or the end
    index and ``True`` when the outermost value is complete or the text ends with containers open.
    """
    while frames:
        i = _skip(text, i, stop)
        if i >= stop:
            return i, True
        container = frames[-1][0]
        closer = "}" if isinstance(container, dict) else "]"
        if text[i] == closer:
            i, opened = i + 1, False
            frames.pop()
            continue
        if not opened:
            if text[i] != ",":
                raise _Unreadable(f"expected ',' or '{closer}' after value", i)
            i = _skip(text, i + 1, stop)
            if i >= stop:
                return i, True
            if text[i] == closer:  # trailing comma
                i += 1
                frames.pop()
                continue
        if isinstance(container, dict):
            frames[-1][1], i = _key(text, i, stop)
        return i, False
    return i, True


def _unfence(raw: str) -> tuple[int, int]:
    """The span of ``raw`` without surrounding blanks and an enclosing Markdown code fence."""
    start, end = _trim(raw, 0, len(raw))
    if raw.startswith("```", start):
        newline = raw.find("\n", start, end)
        header = raw[start + 3 : end if newline < 0 else newline].strip()
        start = newline + 1 if newline >= 0 and _FENCE_LANG.fullmatch(header) else start + 3
        if end - start >= 3 and raw.endswith("```", start, end):
            end -= 3
        start, end = _trim(raw, start, end)
    return start, end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _BLANK:
        start += 1
    while end > start and text[end - 1] in _BLANK:
        end -= 1
    return start, end


def _skip(text: str, i: int, end: int) -> int:
    while i < end and text[i] in _BLANK:
        i += 1
    return i


class _Unreadable(Exception):
    """Internal: unreadable at ``pos``; :func:`parse_prefix` turns it into a located JSONRepairError."""

    def __init__(self, message: str, pos: int, found: str = "") -> None:
        super().__init__(message)
        self.message, self.pos, self.found = message, pos, found


def _located(exc: _Unreadable, text: str, origin: int, end: int) -> JSONRepairError:
    """``message at line L column C`` (1-based, counted from ``origin``) or ``at end of input``."""
    if exc.pos >= end:
        where = "at end of input"
    else:
        line_start = max(text.rfind("\n", origin, exc.pos) + 1, origin)
        where = f"at line {text.count(chr(10), origin, exc.pos) + 1} column {exc.pos - line_start + 1}"
    return JSONRepairError(f"{exc.message} {where}{exc.found}", exc.pos)


def _key(text: str, i: int, end: int) -> tuple[str, int]:
    """Read a quoted object key and its ``:``; return the key and the index after the colon."""
    if text[i] not in "\"'":
        raise _Unreadable("expected a quoted key", i)
    key, i = _string(text, i, end)
    i = _skip(text, i, end)
    if i >= end or text[i] != ":":
        raise _Unreadable("expected ':' after key", i)
    return key, i + 1


def _string(text: str, i: int, end: int) -> tuple[str, int]:
    """Read a single- or double-quoted string starting at ``text[i]``."""
    match = _STRING[text[i]].match(text, i, end)
    if match is None:
        raise _Unreadable("unterminated string starting", i)
    body_start = i + 1

    def escape(m: re.Match[str]) -> str:
        code = m.group(1)
        if code is None:  # a bare '"' inside a single-quoted string
            return '\\"'
        if code == "'":
            return "'"
        if code[0] not in _VALID_ESCAPES and code[0] != "u":
            raise _Unreadable(f"invalid escape {m.group(0)!r} in string", body_start + m.start())
        if code[0] == "u" and len(code) == 1:
            raise _Unreadable("invalid \\u escape in string", body_start + m.start())
        return m.group(0)

    body = _ESCAPE_OR_QUOTE.sub(escape, match.group(1))
    return json.loads(f'"{body}"', strict=False), match.end()


def _scalar(text: str, i: int, end: int) -> tuple[Any, int]:
    """Read a number or a literal word (JSON or Python spelling)."""
    number = _NUMBER.match(text, i, end)
    if number is not None:
        digits = number.group()
        if number.group(1) or number.group(2):
            return float(digits), number.end()
        try:
            return int(digits), number.end()
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise _Unreadable("number too long", i) from None
    word = _WORD.match(text, i, end)
    if word is not None and word.group() in _WORDS:
        return _WORDS[word.group()], word.end()
    found = repr(word.group()[:20]) if word else repr(text[i])
    raise _Unreadable("expected a value", i, f", found {found}")
