"""The dialect layer's "a call must fit the offered tools" rule never disagrees with BFCL's checker.

:func:`graphs.models.toolcalls.fit_to_tools` turns a text-form call into an unreadable one when it
names a tool that is not offered, misses a required argument or passes one the schema does not
list. BFCL is the judge of what a right call is, so the rule may only reject calls BFCL's own AST
checker (from the installed ``bfcl-eval``, see ``bfcl_reference.py``) rejects too, and must keep
every call BFCL accepts. Checked on every AST case BFCL ships: its correct answer (built from the
possible answers) must fit, and each way of breaking it that the rule catches must fail BFCL too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import bfcl_reference
import pytest

from agents.eval.bfcl_data import CATEGORIES, BfclCase, BfclData, openai_tools
from graphs.models.toolcalls import ToolCall, fit_to_tools
from graphs.models.transports.assemble import tool_schemas

AST_CATEGORIES = [name for name, kind in CATEGORIES.items() if kind == "ast"]


def right_calls(case: BfclCase) -> list[dict[str, dict[str, Any]]]:
    """One correct answer: each parameter's first possible value (``""`` first: left out, optional)."""
    assert case.answer is not None
    calls = []
    for entry in case.answer:
        ((name, params),) = entry.items()
        calls.append({name: {p: options[0] for p, options in params.items() if options and options[0] != ""}})
    return calls


def as_tool_calls(calls: list[dict[str, dict[str, Any]]]) -> list[ToolCall]:
    return [ToolCall(name, dict(args), f"call_{i}") for i, c in enumerate(calls) for name, args in c.items()]


def broken_variants(
    case: BfclCase, calls: list[dict[str, dict[str, Any]]]
) -> list[tuple[str, list[dict[str, dict[str, Any]]]]]:
    """The first call broken in each way the fit rule checks (where the case allows it)."""
    ((name, args),) = calls[0].items()
    doc = next(f for f in case.functions if f["name"] == name)
    required = [r for r in (doc.get("parameters") or {}).get("required") or [] if r in args]
    variants = [
        ("unknown tool", [{f"{name}_x": args}, *calls[1:]]),
        ("unknown argument", [{name: {**args, "zz_not_a_parameter": 1}}, *calls[1:]]),
    ]
    if required:
        missing = {k: v for k, v in args.items() if k != required[0]}
        variants.append(("missing required", [{name: missing}, *calls[1:]]))
    return variants


@pytest.mark.parametrize("category", AST_CATEGORIES)
def test_fit_keeps_every_call_bfcl_accepts_and_rejects_only_what_bfcl_rejects(
    bfcl: BfclData, category: str
) -> None:
    from bfcl_eval.constants.enums import Language

    checker = bfcl_reference.ast_checker()

    def bfcl_accepts(case: BfclCase, calls: list[dict[str, dict[str, Any]]]) -> bool:
        verdict = checker.ast_checker(case.functions, calls, case.answer, Language.PYTHON, category, "qwen")
        return bool(verdict["valid"])

    counts: Counter[str] = Counter()
    for case in bfcl.cases(category):
        calls = right_calls(case)
        schemas = tool_schemas(openai_tools(case.functions))
        if not bfcl_accepts(case, calls):
            counts["answer not accepted as built"] += 1  # e.g. a value BFCL lists but types differently
            continue
        good, bad = fit_to_tools(as_tool_calls(calls), schemas)
        assert not bad, (case.id, calls, [b.error for b in bad])
        assert len(good) == len(calls)
        counts["right answers kept"] += 1
        for kind, variant in broken_variants(case, calls):
            _, rejected = fit_to_tools(as_tool_calls(variant), schemas)
            if rejected:
                assert not bfcl_accepts(case, variant), (case.id, kind, variant)
                counts[f"rejected by both: {kind}"] += 1
    total = len(bfcl.cases(category))
    assert counts["right answers kept"] >= 0.9 * total, counts
    assert counts["rejected by both: unknown tool"] == counts["right answers kept"], counts
    assert counts["rejected by both: unknown argument"] == counts["right answers kept"], counts
