"""Qwen3-Coder and Qwen3.5+ tool calls written as XML, read into typed arguments.

The form (from the official chat templates, which also show it to the model)::

    <tool_call>
    <function=get_weather>
    <parameter=city>
    Paris
    </parameter>
    <parameter=days>
    3
    </parameter>
    </function>
    </tool_call>

Models also write it bare (without ``<tool_call>``), and small ones forget closing tags: a
parameter ends at ``</parameter>``, the next ``<parameter=`` or the end of the function; a function
at ``</function>``, the next ``<function=`` or the end of the text. One newline after the opening
tag and before the closing one belongs to the format and is removed.

Values are text. With the tool's JSON schema they are converted by the declared type, as vLLM's
``qwen3_coder`` parser does: strings stay as written (``"007"`` stays a string), integers and
numbers are parsed, booleans are ``true``/``false``, objects and arrays are JSON, and ``null`` is
``None``. A value that does not fit its type is kept as text (the tool's own validation then says
what is wrong). Without a schema, JSON-looking values are parsed and anything else stays text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

FUNCTION_OPEN = "<function="
_FUNCTION = re.compile(r"<function=([^>\n]*)>(.*?)(?:</function>|(?=<function=)|\Z)", re.S)
_PARAMETER = re.compile(r"<parameter=([^>\n]*)>(.*?)(?:</parameter>|(?=<parameter=)|\Z)", re.S)
_TRAILER = re.compile(r"\s*</tool_call>")
Schemas = Mapping[str, Any]
"""Tool name to its JSON-schema ``parameters`` object."""


def match_function(text: str, start: int) -> tuple[str, dict[str, str], int] | None:
    """Read one ``<function=…>`` block at ``start``: ``(name, raw values, end)``, or ``None``.

    ``end`` is past ``</function>`` and a stray ``</tool_call>`` right after it.
    """
    found = _FUNCTION.match(text, start)
    if found is None:
        return None
    raw = {p.group(1).strip(): _unwrap(p.group(2)) for p in _PARAMETER.finditer(found.group(2))}
    end = found.end()
    if trailer := _TRAILER.match(text, end):
        end = trailer.end()
    return found.group(1).strip(), raw, end


def typed_arguments(name: str, raw: Mapping[str, str], schemas: Schemas | None) -> dict[str, Any]:
    """The raw text values converted by the tool's schema (see the module docstring)."""
    tool = schemas.get(name) if schemas is not None else None
    properties = tool.get("properties") if isinstance(tool, Mapping) else None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        spec = properties.get(key) if isinstance(properties, Mapping) else None
        out[key] = _convert(value, spec) if isinstance(spec, Mapping) else _guess(value)
    return out


def _unwrap(value: str) -> str:
    return value.removeprefix("\n").removesuffix("\n")


def _types(spec: Mapping[str, Any]) -> list[str]:
    kind = spec.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    options = spec.get("anyOf") or spec.get("oneOf") or []
    return [str(o["type"]) for o in options if isinstance(o, Mapping) and isinstance(o.get("type"), str)]


def _convert(value: str, spec: Mapping[str, Any]) -> Any:
    if value.strip().lower() == "null":
        return None
    kinds = _types(spec)
    if not kinds or "string" in kinds:
        return value
    text = value.strip()
    for kind in kinds:
        if kind == "integer" and re.fullmatch(r"[-+]?\d+", text):
            return int(text)
        if kind == "number":
            try:
                number = float(text)
            except ValueError:
                continue
            return int(number) if number.is_integer() and re.fullmatch(r"[-+]?\d+", text) else number
        if kind == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind in ("object", "array"):
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict if kind == "object" else list):
                return parsed
    return value


def _guess(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
