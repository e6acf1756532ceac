"""What the loopback servers answer for the README's Python examples (see tests/test_docs.py).

A README block marked ``<!-- test: ollama NAME -->`` (or ``vllm``) runs against a loopback server
playing the script ``NAME`` from :data:`SCRIPTS`; without a name it plays the calculator demo.
"""

from __future__ import annotations

import json

from servers import Script, Turn, calculator_script
from servers.standard import standard_script

PLAN = {
    "steps": [
        {"id": 1, "goal": "multiply 17 by 23", "tool_hint": "calculator"},
        {"id": 2, "goal": "add 9 to the product", "tool_hint": "calculator"},
    ]
}
PLAN_TURNS = [
    Turn(thinking="Two steps: multiply, then add.", content=json.dumps(PLAN)),
    Turn(tool_calls=[("calculator", {"expression": "17*23"})]),
    Turn(content="17*23 = 391."),
    Turn(tool_calls=[("calculator", {"expression": "391+9"})]),
    Turn(content="391 + 9 = 400."),
    Turn(
        thinking="Both results check out.", content=json.dumps({"accept": True, "answer": "17*23 + 9 = 400."})
    ),
]
HINT = Turn(
    thinking="The learner wants a hint, not the answer.",
    content="Hint: differentiate term by term with the power rule, d/dx x^n = n x^(n-1).",
)

SCRIPTS: dict[str, Script] = {
    "calculator": calculator_script,
    "standard": standard_script,
    "plan": PLAN_TURNS,
    "agents": [HINT, *PLAN_TURNS],
}
