"""Reading langchain-core messages the way every layer needs: the thinking of an AI message.

One place for this, below graphs and storage alike, so both message shapes are read the same way
everywhere: thinking as ``reasoning`` content blocks (a list ``content``) and thinking in
``additional_kwargs["reasoning_content"]`` beside a plain-string ``content`` (where ChatOllama and
ChatDeepSeek put it).
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage

REASONING_KEY = "reasoning_content"


def reasoning_text(message: BaseMessage, *, strip: bool = True) -> str:
    """The thinking of one message: ``additional_kwargs["reasoning_content"]``, else its reasoning blocks.

    ``strip=False`` keeps the blanks at the edges: for streamed chunks, whose pieces are joined.
    """
    extra = message.additional_kwargs.get(REASONING_KEY)
    if isinstance(extra, str) and extra.strip():
        return extra.strip() if strip else extra
    if isinstance(message.content, str):
        return ""
    parts = [
        str(b.get("reasoning", ""))
        for b in message.content
        if isinstance(b, dict) and b.get("type") == "reasoning"
    ]
    text = "".join(parts)
    return text.strip() if strip else text
