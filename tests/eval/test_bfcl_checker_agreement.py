"""Our BFCL checker agrees with BFCL's own, verdict and error type, on real model outputs.

The outputs in ``tests/fixtures/bfcl/real_outputs.json`` are what real local Qwen models wrote on
BFCL cases (decoded through qwengraph's dialect layer and through the leaderboard harness; written
by ``tests/bench/bfcl_local.py``): right calls and wrong ones of many kinds. BFCL's checker is its
own module from the installed ``bfcl-eval`` (see ``bfcl_reference.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import bfcl_reference

from agents.eval.bfcl_checker import check_ast, check_relevance
from agents.eval.bfcl_data import BfclData

OUTPUTS = Path(__file__).resolve().parents[1] / "fixtures" / "bfcl" / "real_outputs.json"


def test_every_real_output_gets_bfcls_verdict_and_error_type(bfcl: BfclData) -> None:
    from bfcl_eval.constants.enums import Language

    reference = bfcl_reference.ast_checker()
    outputs = json.loads(OUTPUTS.read_text())
    cases = {c.id: c for name in {o["category"] for o in outputs} for c in bfcl.cases(name)}
    verdicts: Counter[str] = Counter()
    compared = 0
    for output in outputs:
        case, decoded = cases[output["id"]], output["decoded"]
        if case.kind != "ast":
            verdict = check_relevance(decoded, case.category)
            verdicts["ok" if verdict.valid else str(verdict.error_type)] += 1
            continue
        if decoded is None:
            continue  # undecodable: BFCL fails it before its checker runs
        ours = check_ast(case.functions, decoded, case.answer, case.category)
        theirs = reference.ast_checker(
            case.functions, decoded, case.answer, Language.PYTHON, case.category, "qwen"
        )
        assert (ours.valid, ours.error_type if not ours.valid else None) == (
            theirs["valid"],
            theirs.get("error_type") if not theirs["valid"] else None,
        ), (output, theirs)
        compared += 1
        verdicts["ok" if ours.valid else str(ours.error_type)] += 1
    assert compared >= 60, "a real sample, not a handful"
    assert verdicts["ok"] >= 20, verdicts
    wrong_kinds = [k for k in verdicts if k != "ok" and not k.startswith(("irrelevance", "relevance"))]
    assert len(wrong_kinds) >= 4, f"wrong outputs of several kinds: {verdicts}"
