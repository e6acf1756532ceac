"""Print how long the calculator takes to refuse hostile input (figures only; nothing is asserted).

Run: ``python tests/bench/calculator_hostile.py``. Every case should be refused in about a millisecond.
"""

from __future__ import annotations

import contextlib
import time

from tools.calculator import calculate
from tools.errors import ToolError

CASES = {
    "tower of powers": "9**9**9**9",
    "10**10**10": "10**10**10",
    "huge factorial": "factorial(10**8)",
    "import": '__import__("os")',
    "lambda": "(lambda: 1)()",
    "subclasses": "().__class__.__subclasses__()",
    "string repeat": "'a'*10**9",
    "10,000 nested parentheses": "(" * 10_000 + "1" + ")" * 10_000,
    "600 nested parentheses": "(" * 600 + "1" + ")" * 600,
    "long operator chain": "1+" * 999 + "1",
    "many postfix percents": "(" + "1+" * 300 + "1)" + "%" * 390,
    "literal exponent": "1e999999999",
    "division by zero": "1/(1-1)",
    "float overflow": "exp(1000)",
}


def main() -> None:
    for label, expression in CASES.items():
        best = float("inf")
        for _ in range(20):
            start = time.perf_counter()
            with contextlib.suppress(ToolError):
                calculate(expression)
            best = min(best, time.perf_counter() - start)
        print(f"{label:28} {best * 1000:8.3f} ms")


if __name__ == "__main__":
    main()
