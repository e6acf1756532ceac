"""JSON-schema grammars for llama.cpp: what constrains a local model's structured answer.

``sampling["json_schema"]`` (set by :mod:`graphs.models.transports.constrain`) becomes a
``llama_cpp.LlamaGrammar`` built with llama.cpp's own JSON-schema converter, once per schema. A
schema the converter cannot read (a keyword it does not know) is reduced to its structure (types,
properties, required, items, enum, anyOf) and, failing that, to "any JSON object": the answer is
still JSON, and the parser validates it against the full schema afterwards.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

STRUCTURE = frozenset(
    {
        "type",
        "properties",
        "required",
        "items",
        "enum",
        "const",
        "anyOf",
        "additionalProperties",
        "$defs",
        "$ref",
    }
)
ANY_OBJECT = '{"type": "object"}'


def grammar_for(sampling: dict[str, Any]) -> Any:
    """The llama.cpp grammar for ``sampling["json_schema"]``, or ``None`` when there is none."""
    schema = sampling.get("json_schema")
    if schema is None:
        return None
    for text in (
        json.dumps(schema, sort_keys=True),
        json.dumps(structure(schema), sort_keys=True),
        ANY_OBJECT,
    ):
        grammar = _grammar(text)
        if grammar is not None:
            return grammar
    return None


def structure(schema: Any) -> Any:
    """``schema`` with only the keywords that shape the JSON (see :data:`STRUCTURE`)."""
    if isinstance(schema, list):
        return [structure(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            out[key] = {name: structure(sub) for name, sub in value.items()}
        elif key in STRUCTURE:
            out[key] = structure(value)
    return out


@lru_cache(maxsize=32)
def _grammar(schema: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar  # noqa: PLC0415 - optional extra (local models)

    try:
        return LlamaGrammar.from_json_schema(schema, verbose=False)
    except (ValueError, RuntimeError, KeyError, TypeError, RecursionError):
        return None
