"""The tool library: langchain-core tools usable with or without qwengraph's graphs.

Exports the ``calculator`` tool (exact arithmetic on model-written expressions), the ``symbolic``
tool (algebra and calculus with sympy, in killable worker processes) and the error tree
of :mod:`tools.errors`.
"""

from tools.calculator import calculator, make_calculator
from tools.errors import ToolError, ToolInputError, ToolLimitError
from tools.safe_math import Limits
from tools.symbolic import SymbolicSettings, make_symbolic, symbolic

__all__ = [
    "Limits",
    "SymbolicSettings",
    "ToolError",
    "ToolInputError",
    "ToolLimitError",
    "calculator",
    "make_calculator",
    "make_symbolic",
    "symbolic",
]
