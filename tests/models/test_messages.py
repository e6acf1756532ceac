"""``reasoning_text`` reads thinking from both message shapes LangChain users meet."""

from langchain_core.messages import AIMessage, HumanMessage

from graphs.models.messages import reasoning_text


def test_reasoning_blocks_are_read() -> None:
    message = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "first "},
            {"type": "text", "text": "answer"},
            {"type": "reasoning", "reasoning": "second"},
        ]
    )
    assert reasoning_text(message) == "first second"


def test_reasoning_content_kwarg_is_read_and_preferred() -> None:
    message = AIMessage(content="answer", additional_kwargs={"reasoning_content": "  why  "})
    assert reasoning_text(message) == "why"


def test_plain_text_has_no_thinking() -> None:
    assert reasoning_text(AIMessage(content="<b>just text</b>")) == ""
    assert reasoning_text(HumanMessage(content=[{"type": "text", "text": "hi"}])) == ""
