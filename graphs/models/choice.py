"""``tool_choice`` in every form LangChain users write, reduced to what a transport needs.

LangChain's chat models accept many spellings for the same three intentions; this module reads
them all and returns a :class:`Choice` (``mode`` plus the one tool a call must use, if named):

========================================================  ==========================================
what users pass                                           meaning
========================================================  ==========================================
``None``, ``"auto"``                                      the model decides (``mode="auto"``)
``"none"``, ``False``                                     no tool call (``mode="none"``)
``"any"``, ``"required"``, ``{"type": "any"}``            some tool must be called (``"required"``)
``True``                                                  the only bound tool (several: ``"required"``)
``"get_weather"`` (a bound tool's name)                   that tool must be called
``{"type": "function", "function": {"name": ...}}``       that tool (OpenAI's form)
``{"type": "tool", "name": ...}``                         that tool (Anthropic's form)
========================================================  ==========================================

How each transport enforces it is described in the transport modules: OpenAI-compatible servers
get their own ``tool_choice`` field, Ollama (which has none) a ``format`` schema that only admits
a call, and the in-process engine a prefilled ``<tool_call>`` (with the tool's name when named).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graphs.errors import ConfigError

Mode = Literal["auto", "required", "none"]
_REQUIRED = ("any", "required")


@dataclass(frozen=True)
class Choice:
    """A normalised tool choice: ``mode`` and, for a forced call of one tool, its ``name``."""

    mode: Mode
    name: str | None = None


def parse_tool_choice(choice: Any, tool_names: Collection[str]) -> Choice | None:
    """Read any LangChain ``tool_choice`` against the names of the bound tools.

    Returns ``None`` when nothing was asked (``None``), so requests stay as they were.

    Raises:
        ConfigError: an unknown form, or a tool name that is not among ``tool_names``.
    """
    if choice is None:
        return None
    if choice is True:
        names = list(tool_names)
        return Choice("required", names[0] if len(names) == 1 else None)
    if choice is False:
        return Choice("none")
    if isinstance(choice, str):
        if choice in ("auto", "none"):
            return Choice(choice)  # type: ignore[arg-type]  # narrowed by the test above
        if choice in _REQUIRED:
            return Choice("required")
        return Choice("required", _known(choice, tool_names))
    if isinstance(choice, Mapping):
        return _from_mapping(choice, tool_names)
    raise ConfigError(f"tool_choice must be a string, a bool or a dict, not {type(choice).__name__}")


def _from_mapping(choice: Mapping[str, Any], tool_names: Collection[str]) -> Choice:
    kind = choice.get("type")
    if kind in (*_REQUIRED, "auto", "none"):
        return parse_tool_choice(kind, tool_names) or Choice("auto")
    name: Any = None
    if kind == "function" and isinstance(choice.get("function"), Mapping):
        name = choice["function"].get("name")
    elif kind == "tool":
        name = choice.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"tool_choice {dict(choice)!r} names no tool: use "
            '{"type": "function", "function": {"name": "<tool>"}}'
        )
    return Choice("required", _known(name, tool_names))


def _known(name: str, tool_names: Collection[str]) -> str:
    if name not in tool_names:
        offered = ", ".join(sorted(tool_names)) or "(no tools are bound)"
        raise ConfigError(
            f"tool_choice {name!r} is neither auto, none, any nor required, nor a bound tool: "
            f"bound tools are {offered}"
        )
    return name


def openai_tool_choice(mode: Mode, name: str | None) -> str | dict[str, Any]:
    """The OpenAI ``tool_choice`` field (vLLM, SGLang, llama.cpp server...): a mode or one function."""
    if name is not None:
        return {"type": "function", "function": {"name": name}}
    return mode


def call_schema(tools: list[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    """A JSON schema admitting only a call ``{"name": ..., "arguments": {...}}`` of ``name`` (or any tool).

    Used where a server has no ``tool_choice`` but constrains output with a schema (Ollama's
    ``format``): the reply is then a bare JSON call, which the dialect parser reads as a tool call.
    """
    allowed = [t["function"] for t in tools if name is None or t["function"]["name"] == name]
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [f["name"]]},
                "arguments": f.get("parameters") or {"type": "object", "properties": {}},
            },
            "required": ["name", "arguments"],
        }
        for f in allowed
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}
