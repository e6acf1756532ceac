"""Reading arithmetic out of a worked solution as the model writes it (see :mod:`graphs.worked`).

When the model's text reaches ``=`` or ``≈`` outside code (:func:`in_code`: not in a fenced block
or an inline code span, where ``==`` and ``<=`` are operators), :func:`expression_before` looks at
what stands just before the sign on the current line and returns it as a calculator expression
when it is plain arithmetic: numbers, operators, parentheses and calculator functions, no
variables. LaTeX and typographic forms small models write are turned into calculator syntax first
(``\\times``, ``\\ln``, ``\\frac{a}{b}``, ``x^{1/5}``, ``\\sqrt{x}``, the multiplication and division signs,
``\\text{ million}``); a unit word right after a number (``2 million``, ``$2M``) is dropped, since
the text goes on in the same unit. When the part before the sign is not arithmetic but repeats the
left side of an equation a few lines up (``r = 2.5^(1/5) - 1`` then ``r ≈``), that equation's right
side is the expression.
:func:`value_text` turns the calculator's answer into the number written after the sign.

Example:
    >>> expression_before("Revenue in 2025 = 2 \\\\text{ million} \\\\times (1.15)^5 ")
    '2 * (1.15)^5'
    >>> expression_before("r = (2.5)^(1/5) - 1\\nr ")
    '(2.5)^(1/5) - 1'
    >>> expression_before("Let r be the growth rate, so r ") is None
    True
    >>> value_text("≈ 0.201124433981"), value_text("4.022714375 (exactly 6436343/1600000)")
    ('0.201124', '4.022714375')
"""

from __future__ import annotations

import re

from tools.errors import ToolError
from tools.safe_math import ARITHMETIC, parse

SIGNS = ("=", "≈", "\\approx")
"""Where the model's text is stopped and checked."""

_SPLIT = re.compile(r"\\approx|≈|=|:|\\\(|\\\[|\$\$")
_LATEX_FUNCTIONS = re.compile(r"\\(ln|log|exp|sin|cos|tan|pi)\b")  # \ln(2) -> ln(2)
_LATEX_WORDS = re.compile(r"\\(?:text|mathrm|textbf|textit|operatorname)\{[^{}]*\}")
_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_ROOT_N = re.compile(r"\\sqrt\[([^\]]*)\]\{([^{}]*)\}")
_ROOT = re.compile(r"\\sqrt\{([^{}]*)\}")
_POWER = re.compile(r"\^\{([^{}]*)\}")
_UNIT = re.compile(
    r"(\d)\s*(?:million|billion|thousand|dollars?|years?|months?|days?|hours?|people|units|items|"
    r"[MKkB](?![a-zA-Z]))\b"
)
_OPERATOR = re.compile(r"[-+*/^]|[a-z]\(")
_OPERAND_START = re.compile(r"[\d(.$]|[a-z]")  # a tail starting with an operator is a leftover
_OPERATOR_ENDS = frozenset("=<>!+-*/&|^~")
_NUMBER_ONLY = re.compile(r"[-+]?\$?[\d.,]+%?")
_REPLACEMENTS = (
    ("\\left", ""),
    ("\\right", ""),
    ("\\times", "*"),
    ("\\cdot", "*"),
    ("×", "*"),  # noqa: RUF001 - the multiplication sign small models write
    ("÷", "/"),
    ("\\div", "/"),
    ("\\%", "%"),
    ("\\$", "$"),
    ("\\,", ""),
    ("\\[", " "),
    ("\\]", " "),
    ("\\(", " "),
    ("\\)", " "),
    ("−", "-"),  # noqa: RUF001 - the minus sign
)


def to_calculator(text: str) -> str:
    """``text`` (LaTeX, typographic signs, units after numbers) in the calculator's syntax."""
    out = _LATEX_FUNCTIONS.sub(r"\1", _LATEX_WORDS.sub(" ", text))
    for old, new in _REPLACEMENTS:
        out = out.replace(old, new)
    for _ in range(4):  # nested \frac and ^{...}: innermost first
        out = _FRAC.sub(r"((\1)/(\2))", out)
        out = _ROOT_N.sub(r"((\2)^(1/(\1)))", out)
        out = _ROOT.sub(r"sqrt(\1)", out)
        out = _POWER.sub(r"^(\1)", out)
    out = out.replace("{", "(").replace("}", ")")
    out = _UNIT.sub(r"\1", out)
    out = re.sub(r"\s+", " ", out).strip().strip(":,;").strip()
    while out.count("(") > out.count(")") and out.startswith("("):
        out = out[1:].strip()
    while out.count(")") > out.count("(") and out.endswith(")"):
        out = out[:-1].strip()
    return out


def arithmetic(text: str) -> str | None:
    """The longest word-aligned tail of ``text`` that is arithmetic with at least one operation, in
    calculator syntax (``each pays 2,500 ÷ 8`` → ``2,500 / 8``); ``None`` when there is none."""
    words = to_calculator(text).split(" ")
    for start in range(len(words)):
        expression = " ".join(words[start:])
        if not _OPERATOR.search(expression):
            return None
        if _NUMBER_ONLY.fullmatch(expression) or not _OPERAND_START.match(expression):
            continue
        try:
            parse(expression, ARITHMETIC)
        except ToolError:
            continue
        return expression
    return None


def expression_before(text: str, look_back: int = 4) -> str | None:
    """The arithmetic the model is about to give a value for, at the end of ``text``; else ``None``.

    ``look_back`` is how many earlier lines may hold the equation whose left side is repeated.
    """
    lines = text.split("\n")
    segment = _SPLIT.split(lines[-1])[-1]
    found = arithmetic(segment)
    key = re.sub(r"\s", "", segment)
    if found is not None or not key:
        return found
    for line in reversed(lines[-1 - look_back : -1]):
        parts = _SPLIT.split(line)
        if len(parts) >= 2 and re.sub(r"\s", "", parts[-2]) == key:
            return arithmetic(parts[-1])
    return None


def in_code(text: str) -> bool:
    """Whether the end of ``text`` is inside code: an open ```fenced block, or an open `inline span`
    on the current line. A sign there belongs to the code (``==``, ``<=``, ``x = 2 + 3``), not to an
    equation whose value should be written in."""
    if text.count("```") % 2 == 1:
        return True
    line = text.rsplit("\n", 1)[-1]
    return line.count("`") % 2 == 1


def part_of_operator(text: str) -> bool:
    """Whether an ``=`` at the end of ``text`` continues a comparison or assignment operator
    (``==``, ``<=``, ``>=``, ``!=``, ``+=``...), judged by the character before it."""
    return text.rstrip(" ")[-1:] in _OPERATOR_ENDS


def value_text(result: str, digits: int = 6) -> str:
    """The number to write after the sign, from a calculator result.

    Exact results are written as the calculator gives them (``4.022714375``); approximate ones are
    rounded to ``digits`` decimals (``≈ 0.201124433981`` → ``0.201124``).
    """
    first = result.split(" (", 1)[0].strip()
    if not first.startswith("≈"):
        return first
    number = first.lstrip("≈ ").strip()
    try:
        value = float(number)
    except ValueError:
        return number
    if "e" in number.lower():
        return number
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")
