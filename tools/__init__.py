"""The tool library: langchain-core tools usable with or without qwengraph's graphs.

Exports the ``calculator`` tool (exact arithmetic on model-written expressions) and the error tree
of :mod:`tools.errors`.
"""

from tools.calculator import calculator, make_calculator
from tools.errors import ToolError, ToolInputError, ToolLimitError
from tools.safe_math import Limits

__all__ = ["Limits", "ToolError", "ToolInputError", "ToolLimitError", "calculator", "make_calculator"]
