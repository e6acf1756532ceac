"""Building tools whose failures reach the model as text it can act on.

Every built-in tool raises :class:`~tools.errors.ToolError` for bad input or exceeded limits; the
model must see ``Error: <what to change>`` as the tool's result, never a crash, and arguments of
the wrong shape must get the tool's usage. One helper does that for all of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel

from tools.errors import ToolError


def model_facing_tool(
    func: Callable[..., str],
    *,
    name: str,
    description: str,
    args_schema: type[BaseModel],
    usage: str,
) -> BaseTool:
    """A ``StructuredTool`` running ``func``; ``ToolError`` and bad arguments become ``Error: ...`` text.

    Args:
        func: the tool's body; raises ``ToolError`` subclasses on bad input.
        name: the name the model calls.
        description: what the model reads about the tool.
        args_schema: the arguments' pydantic model.
        usage: one sentence on the arguments, sent back when the model got their shape wrong.
    """

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> str:
        try:
            return func(*args, **kwargs)
        except ToolError as error:
            raise ToolException(str(error)) from error

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=description,
        args_schema=args_schema,
        handle_tool_error=lambda error: f"Error: {error}",
        handle_validation_error=lambda _error: f"Error: {usage}",
    )
