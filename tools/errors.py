"""Errors of the standalone tool library.

::

    ToolError                  root; ``str(err)`` is a message a model can act on
    ├── ToolInputError         the arguments are malformed or not allowed (bad syntax, forbidden construct)
    ├── ToolLimitError         the input is well-formed but exceeds a resource bound (size, depth, exponent…)
    └── SandboxUnavailable     no code sandbox can run here (e.g. bubblewrap missing); the runner fails closed

``tools/`` imports nothing from ``graphs/`` or ``agents/``; the CLI maps this tree to one line on stderr.
"""

from __future__ import annotations


class ToolError(Exception):
    """Root of the tool library's errors. The message is written for the model that called the tool."""


class ToolInputError(ToolError):
    """The tool's input is malformed or uses something that is not allowed."""


class ToolLimitError(ToolError):
    """The tool's input exceeds a bound (length, depth, node count, exponent, factorial size...)."""


class SandboxUnavailable(ToolError):
    """No code sandbox is usable here; the message says how to install one. Never falls back to unsafe."""
