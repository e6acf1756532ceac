"""The tool guide: how the local transport asks small Qwen models for tool calls.

Qwen's chat template ends its tools block with "For each function call, return a json object with
function name and arguments within <tool_call></tool_call> XML tags". Measured on BFCL with
Qwen2.5-Coder-1.5B on llama.cpp (``qwengraph eval bfcl``, see the README), small models read that
as "one call": they write a single call where a request needs several (BFCL's parallel cases),
and they call a function that merely sounds related to a question it cannot answer. The guide
replaces that sentence, for requests where the model chooses (``tool_choice`` auto):

- all calls as one JSON array (a coder model writes arrays naturally, with every item the request
  needs; the dialect layer reads a list of calls in a fenced or bare array);
- a call only when the function does what the user asks, with values the user gave; else words.

Forced calls (``tool_choice="required"``) keep the official text: their prefilled ``<tool_call>``
is that format. Families whose models write XML calls (Qwen3.5+, Qwen3-Coder) are left as they are.
"""

from __future__ import annotations

from graphs.models.chatml import IM_END, TOOLS_FOOTER

TOOL_GUIDE = (
    "\n</tools>\n\nTo call functions, reply with a JSON array holding one object per call, every call "
    'the request needs: [{"name": <function-name>, "arguments": <args-json-object>}, ...]. Call a '
    "function only if it does what the user asks, with values the user gave; otherwise answer in words."
)
GUIDED_FAMILIES = ("qwen2.5", "qwen3")


def with_tool_guide(prompt: str) -> str:
    """``prompt`` with the tools block's closing instruction replaced by :data:`TOOL_GUIDE`.

    Only the first system turn's official footer is replaced; a prompt without one is returned
    unchanged.
    """
    marker = TOOLS_FOOTER + IM_END
    index = prompt.find(marker)
    if index < 0:
        return prompt
    return prompt[:index] + TOOL_GUIDE + prompt[index + len(TOOLS_FOOTER) :]
