"""BFCL's AST-checker rules for the Python categories, and its relevance rule.

BFCL's own checker module cannot be imported without every provider SDK (its model table imports
all of them), so the rules its documentation and code define are implemented here; the test suite
runs BFCL's module side by side on real model outputs and requires the same verdict and error type
for each (``tests/eval/test_bfcl_checker_agreement.py``).

A model's output is *decoded* as BFCL decodes it: a list of ``{function_name: {param: value}}``.
Possible answers give, per parameter, the list of accepted values (``""`` in it: may be omitted).
The rules, in the order BFCL applies them:

- category with ``parallel`` in its name: as many calls as answers, matched in any order;
  ``multiple``: exactly one call, checked against the one expected function; otherwise exactly one
  call against the only function;
- one call: the expected name; every required parameter present; no parameter outside the schema
  or the answer; each value of the schema's type (an ``int`` passes for ``float``; a value of the
  answer's type counts as a *variable* and skips the value rules), then its value: strings compared
  case-insensitively without spaces and ``,./-_*^``, lists element-wise so, dicts key by key, lists
  of dicts dict by dict, anything else by equality; finally every answer parameter without ``""``
  must be present.

Error types are BFCL's strings (``simple_function_checker:missing_required``, ``value_error:string``,
``irrelevance_error:decoder_success`` ...), so tables read the same as the leaderboard's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

Call = dict[str, dict[str, Any]]
"""One decoded call: ``{function_name: {param: value}}``."""

_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_STRIP = re.compile(r"[ ,./\-_*^]")


@dataclass(frozen=True)
class Verdict:
    """A case's score: ``valid``, and when not, BFCL's ``error_type`` and a short ``error``."""

    valid: bool
    error_type: str | None = None
    error: str = ""


OK = Verdict(valid=True)


def _fail(error_type: str, error: str) -> Verdict:
    return Verdict(valid=False, error_type=error_type, error=error)


def is_call_format(decoded: Any) -> bool:
    """True for a list of single-key dicts whose values are dicts (``[]`` included)."""
    return isinstance(decoded, list) and all(
        isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
        for item in decoded
    )


def has_calls(decoded: Any) -> bool:
    """Whether a decoded output holds a call, as BFCL's relevance rule sees it (``[{}]`` does not)."""
    return is_call_format(decoded) and len(decoded) > 0 and not (len(decoded) == 1 and not decoded[0])


def check_relevance(decoded: Any, category: str) -> Verdict:
    """Irrelevance categories pass without a call; relevance categories need one."""
    called = has_calls(decoded)
    if "irrelevance" in category:
        return _fail("irrelevance_error:decoder_success", "a call was made where none fits") if called else OK
    return OK if called else _fail("relevance_error:decoder_failed", "no call was made")


def check_ast(
    functions: Sequence[dict[str, Any]], decoded: Any, answer: Sequence[Call], category: str
) -> Verdict:
    """Score a decoded output against the possible answers by BFCL's AST rules."""
    if not is_call_format(decoded):
        return _fail("ast_decoder:decoder_wrong_output_format", "output is not a list of function calls")
    if "parallel" in category:
        return _parallel(functions, decoded, answer)
    if "multiple" in category:
        if len(decoded) != len(answer):
            return _fail("multiple_function_checker:wrong_count", "wrong number of functions")
        return check_call(_find(functions, next(iter(answer[0]))), decoded[0], answer[0])
    if len(decoded) != 1:
        return _fail("simple_function_checker:wrong_count", "wrong number of functions")
    return check_call(functions[0], decoded[0], answer[0])


def _find(functions: Sequence[dict[str, Any]], name: str) -> dict[str, Any]:
    return next((f for f in functions if f.get("name") == name), {"name": name, "parameters": {}})


def _parallel(functions: Sequence[dict[str, Any]], decoded: list[Call], answer: Sequence[Call]) -> Verdict:
    if len(decoded) != len(answer):
        return _fail("parallel_function_checker_no_order:wrong_count", "wrong number of functions")
    matched: set[int] = set()
    for index, expected in enumerate(answer):
        doc = _find(functions, next(iter(expected)))
        hit = next(
            (
                i
                for i, call in enumerate(decoded)
                if i not in matched and check_call(doc, call, expected).valid
            ),
            None,
        )
        if hit is None:
            return _fail(
                "parallel_function_checker_no_order:cannot_find_match",
                f"no call matches expected call {index} ({next(iter(expected))})",
            )
        matched.add(hit)
    return OK


def check_call(doc: dict[str, Any], call: Call, expected: Call) -> Verdict:
    """One decoded call against one function doc and its possible answer."""
    allowed: dict[str, list[Any]] = next(iter(expected.values()))
    name = str(doc.get("name"))
    if name not in call:
        return _fail("simple_function_checker:wrong_func_name", f"function {name!r} not called")
    args = call[name]
    schema = doc.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    for param in schema.get("required") or []:
        if param not in args:
            return _fail("simple_function_checker:missing_required", f"missing required parameter {param!r}")
    for param, raw in args.items():
        if param not in properties or param not in allowed:
            return _fail("simple_function_checker:unexpected_param", f"unexpected parameter {param!r}")
        verdict = _check_param(param, raw, properties[param], allowed[param])
        if not verdict.valid:
            return verdict
    for param, values in allowed.items():
        if param not in args and "" not in values:
            return _fail(
                "simple_function_checker:missing_optional", f"parameter {param!r} is expected but missing"
            )
    return OK


def _check_param(param: str, value: Any, prop: dict[str, Any], accepted: list[Any]) -> Verdict:
    type_name = str(prop.get("type"))
    expected = _PYTHON_TYPES.get(type_name, str)
    inner: type | None = None
    if type_name in ("array", "tuple"):
        inner = _PYTHON_TYPES.get(str((prop.get("items") or {}).get("type")), str)
    if type_name == "float" and type(value) is int:
        value = float(value)
    typed, variable, error_type = _type_ok(value, accepted, expected, inner)
    if not typed:
        return _fail(
            error_type, f"parameter {param!r} should be {type_name}, got {type(value).__name__} {value!r}"
        )
    if not variable:
        if expected is dict:
            return _dict_value(param, value, accepted)
        if expected is list and inner is dict:
            return _list_of_dicts(param, value, accepted)
        if expected is str:
            if _std(value) in [_std(a) for a in accepted if type(a) is str]:
                return OK
            return _fail("value_error:string", f"invalid value for {param!r}: {value!r}")
        if expected is list:
            options = [[_std_item(x) for x in a] for a in accepted if isinstance(a, list | str)]
            if [_std_item(v) for v in value] in options:
                return OK
            return _fail("value_error:list/tuple", f"invalid value for {param!r}: {value!r}")
    if value not in accepted:
        return _fail("value_error:others", f"invalid value for {param!r}: {value!r}")
    return OK


def _answer_type(accepted: Sequence[Any]) -> type | None:
    return next((type(a) for a in accepted if a != ""), None)


def _type_ok(
    value: Any, accepted: Sequence[Any], expected: type, inner: type | None
) -> tuple[bool, bool, str]:
    """``(acceptable, is a variable, error type)``: BFCL's type rule, one nesting level deep.

    A value of the answers' type, where that differs from the schema's, is a variable name standing
    for the value. A list needs items of the inner type for some answer that is a list; when none
    fits, a list whose answers are lists too fails as ``type_error:nested``.
    """
    answer_type = _answer_type(accepted)
    variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        items = cast(list[Any], value)
        if inner is None:
            return True, variable, ""
        for candidate in accepted:
            if not isinstance(candidate, list) or all(_type_ok(v, candidate, inner, None)[0] for v in items):
                return True, variable, ""
        if answer_type is not None and type(value) is answer_type:
            return False, True, "type_error:nested"
        return False, False, "type_error:simple"
    if answer_type is not None and type(value) is answer_type:
        return True, True, ""
    return False, False, "type_error:simple"


def _std(text: str) -> str:
    return _STRIP.sub("", text).lower().replace("'", '"')


def _std_item(item: Any) -> Any:
    return _std(item) if type(item) is str else item


def _dict_value(param: str, value: dict[str, Any], accepted: Sequence[Any]) -> Verdict:
    """A dict parameter: some accepted dict has every key given, each value accepted, none missing."""
    last = _fail("dict_checker:unclear", f"no accepted value for {param!r}")
    for candidate in accepted:
        if candidate == "":
            continue
        error_type, good = "", True
        for key, item in value.items():
            if key not in candidate:
                error_type, good = "value_error:dict_key", False
                break
            if _std_item(item) not in [_std_item(c) for c in candidate[key]]:
                error_type, good = "value_error:dict_value", False
                break
        for key, options in candidate.items():
            if key not in value and "" not in options:
                error_type, good = "value_error:dict_key", False
                break
        if good:
            return OK
        last = _fail(error_type, f"invalid value for {param!r}: {value!r}")
    return last


def _list_of_dicts(param: str, value: list[Any], accepted: Sequence[Any]) -> Verdict:
    """A list of dicts: same length as some accepted list, each dict accepted at its position."""
    last = _fail("list_dict_checker:unclear", f"no accepted value for {param!r}")
    for candidate in accepted:
        if len(value) != len(candidate):
            last = _fail("value_error:list_dict_count", f"wrong number of dicts in {param!r}")
            continue
        for item, option in zip(value, candidate, strict=True):
            last = _dict_value(param, item, [option])
            if not last.valid:
                break
        else:
            return OK
    return last
