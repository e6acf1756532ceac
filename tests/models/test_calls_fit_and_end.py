"""Text-form calls must fit the offered tools; several calls per reply (blocks, arrays); the tool guide."""

from __future__ import annotations

from graphs.models.chatml import render_chatml
from graphs.models.qwen import ContentStream
from graphs.models.tool_guide import TOOL_GUIDE, with_tool_guide
from graphs.models.toolcalls import ToolCall, fit_to_tools, parse_text_tool_calls
from graphs.models.transports.assemble import DeltaAssembler, tool_schemas
from graphs.models.transports.base import ChatRequest
from graphs.models.transports.engine import Piece
from graphs.models.transports.local import CallsEnd, LocalTransport

AREA = {
    "type": "function",
    "function": {
        "name": "area",
        "parameters": {
            "type": "object",
            "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}},
            "required": ["base", "height"],
        },
    },
}


def call(name: str, **args: object) -> ToolCall:
    return ToolCall(name, dict(args), "call_1")


def test_calls_that_fit_pass_and_the_rest_say_what_is_wrong() -> None:
    good, bad = fit_to_tools(
        [
            call("area", base=1, height=2),
            call("bmi", weight=1),
            call("area", base=1),
            call("area", base=1, height=2, unit="m"),
        ],
        tool_schemas([AREA]),
    )
    assert good == [call("area", base=1, height=2)]
    assert [b.error for b in bad] == [
        "there is no tool named 'bmi'; the tools are: area",
        "tool 'area' needs the argument(s) height: take their values from the request",
        "tool 'area' takes no argument(s) unit; its arguments are: base, height",
    ]
    assert bad[0].name == "bmi" and '"weight": 1' in bad[0].raw


def test_unknown_names_may_pass_for_a_forced_call_and_without_schemas() -> None:
    assert fit_to_tools([call("bmi")], tool_schemas([AREA]), check_names=False)[0] == [call("bmi")]
    assert fit_to_tools([call("bmi")], [])[0] == [call("bmi")]
    assert fit_to_tools([call("bmi"), call("area")], ["area"])[0] == [call("area")], (
        "names alone: no schema checks"
    )
    loose = {
        "type": "function",
        "function": {
            "name": "f",
            "parameters": {"type": "object", "properties": {"a": {}}, "additionalProperties": True},
        },
    }
    assert fit_to_tools([call("f", b=1)], tool_schemas([loose]))[0] == [call("f", b=1)]


def test_a_tool_without_arguments_takes_none() -> None:
    """BFCL's checker calls any argument of a parameterless function unexpected; so does the fit."""
    bare = {
        "type": "function",
        "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
    }
    schemas = tool_schemas([bare])
    assert fit_to_tools([call("now")], schemas)[0] == [call("now")]
    good, bad = fit_to_tools([call("now", tz="UTC")], schemas)
    assert good == [] and bad[0].error == "tool 'now' takes no argument(s) tz; it takes no arguments"
    untyped = {"type": "function", "function": {"name": "any"}}  # no schema at all: nothing to check
    assert fit_to_tools([call("any", x=1)], tool_schemas([untyped]))[0] == [call("any", x=1)]


def test_the_assembler_turns_misfit_text_calls_into_unreadable_ones() -> None:
    assembler = DeltaAssembler(think=None, tool_names=tool_schemas([AREA]))
    assembler.feed(content='{"name": "area", "arguments": {"base": 10}}')
    closing = assembler.finish("stop")
    assert closing.tool_calls == [] and closing.calls_from_text
    assert "needs the argument(s) height" in closing.bad_tool_calls[0].error
    assert closing.raw_text == '{"name": "area", "arguments": {"base": 10}}'


def feed_all(ends: CallsEnd, pieces: list[str]) -> str:
    return "".join(ends.feed(p) for p in pieces)


def test_several_blocks_pass_and_what_follows_the_last_one_ends_the_reply() -> None:
    ends = CallsEnd()
    block = '<tool_call>\n{"name": "area", "arguments": {"base": 1, "height": 2}}\n</tool_call>'
    text = feed_all(
        ends, [block[:30], block[30:-5], block[-5:], "\n", "<tool", "_call>", "\n{}", "\n</tool_", "call>"]
    )
    assert text == block + "\n<tool_call>\n{}\n</tool_call>" and not ends.done
    assert ends.feed("\nThe area is 1.") == "" and ends.done
    assert ends.feed("more") == ""


def test_a_reply_without_blocks_passes_whole_and_trailing_blanks_are_dropped() -> None:
    ends = CallsEnd()
    assert feed_all(ends, ["The answer ", "is 4 </", "b>."]) + ends.flush() == "The answer is 4 </b>."
    ends = CallsEnd()
    assert feed_all(ends, ["<tool_call>{}</tool_call>", "\n\n"]) + ends.flush() == "<tool_call>{}</tool_call>"


class Scripted:
    """An engine that replays fixed pieces and records how many were taken."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.taken = pieces, 0

    def complete(self, prompt: str, sampling: dict[str, object]):
        for i, text in enumerate(self.pieces):
            self.taken += 1
            last = i == len(self.pieces) - 1
            yield Piece(
                text=text,
                finish_reason="stop" if last else None,
                prompt_tokens=5,
                completion_tokens=i + 1 if last else 0,
            )


def test_the_local_transport_reads_several_calls_and_stops_at_an_invented_result() -> None:
    engine = Scripted(
        [
            '<tool_call>\n{"name": "area", "arguments": {"base": 1, "height": 2}}\n</tool_call>\n',
            '<tool_call>\n{"name": "area", "arguments": {"base": 3, "height": 4}}\n</tool_call>\n',
            "<tool_response>\n2\n</tool_response>",
            "never read",
        ]
    )
    transport = LocalTransport("qwen2.5-coder-1.5b", engine=engine)
    request = ChatRequest(model="m", messages=[{"role": "user", "content": "areas"}], tools=[AREA])
    (delta,) = list(transport.chat(request))
    assert [c.args for c in delta.tool_calls] == [{"base": 1, "height": 2}, {"base": 3, "height": 4}]
    assert delta.finish_reason == "tool_calls" and engine.taken == 3
    assert delta.raw_text.count("</tool_call>") == 2 and "tool_response" not in delta.raw_text


def test_a_bare_or_fenced_array_of_calls_is_read_as_several_calls() -> None:
    names = tool_schemas([AREA])
    one, two = (f'{{"name": "area", "arguments": {{"base": {b}, "height": 2}}}}' for b in (1, 3))
    bare = f"[{one}, {two}]"
    assert [c.args["base"] for c in parse_text_tool_calls(bare, names).calls] == [1, 3]
    preamble = f"Both areas:\n```json\n{bare}\n```"
    found = parse_text_tool_calls(preamble, names)
    assert len(found.calls) == 2 and found.text == "Both areas:"
    prose = "[1, 2] are the sides; see [the docs](x)."
    assert (
        parse_text_tool_calls(prose, names).calls == [] and parse_text_tool_calls(prose, names).text == prose
    )


def test_a_streamed_array_is_held_until_it_can_be_read() -> None:
    stream = ContentStream()
    shown = stream.feed("Both:\n[") + stream.feed('{"name": "area", "arguments": {"base": 1, "height": 2}}]')
    pieces, found = stream.finish(tool_schemas([AREA]))
    assert [p.text for p in shown + pieces] == ["Both:"] and len(found.calls) == 1


def request(choice: str | None = None, family_tools: list | None = None) -> ChatRequest:
    return ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "areas"}],
        tools=family_tools or [AREA],
        tool_choice=choice,
    )


def test_the_local_prompt_asks_small_models_for_an_array_when_they_choose() -> None:
    transport = LocalTransport("qwen2.5-coder-1.5b", engine=Scripted([]), tool_guide=True)
    guided = transport.prompt(request())
    assert TOOL_GUIDE in guided and "For each function call" not in guided
    assert guided.endswith("<|im_start|>assistant\n") and guided.count("<|im_end|>") == 2
    forced = transport.prompt(request("required"))
    assert TOOL_GUIDE not in forced and "For each function call" in forced, "a forced call keeps its format"
    assert TOOL_GUIDE not in transport.prompt(request("none")), "no tools rendered, nothing to guide"
    official = LocalTransport("qwen2.5-coder-1.5b", engine=Scripted([])).prompt(request())
    assert official == render_chatml(request().messages, [AREA]), "by default: Qwen's own template"
    assert with_tool_guide("no tools here") == "no tools here"
