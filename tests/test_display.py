"""The live run display, tested through IPython's own display machinery.

An ``InteractiveShell`` with a capturing display publisher stands in for the kernel: every
``display``/``update_display`` the display makes arrives there with its MIME bundle, its
``display_id`` and whether it is an update, exactly as a Jupyter frontend would receive them. The
runs are real recordings replayed offline (the local 1.5B model, real Qwen3 server responses).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from rich.console import Console

from agents.cli_common import Display
from agents.display import (
    NotebookDisplay,
    TerminalDisplay,
    adisplay_run,
    display_run,
    in_notebook,
    markdown_html,
)
from agents.display.view import RunView
from agents.runner import Event, run
from graphs.build import NamedGraph, build_graph
from graphs.errors import CassetteError
from graphs.models.cassette import replay
from graphs.models.chat import ChatQwen
from tools import calculator
from tools.code_runner.bwrap import bwrap_usable

ROOT = Path(__file__).resolve().parent
CALC = ROOT / "cassettes" / "local" / "calc_17x23_stream.json"
DEMO = ROOT / "cassettes" / "local" / "demo_worked_stream.json"
WIRE = ROOT.parent / "notebooks" / "cassettes"
MODEL = "local:qwen2.5-coder-1.5b"


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An IPython shell that records every display message; ``kernel`` makes it look like Jupyter."""
    ip = InteractiveShell.instance()
    publisher = CapturingDisplayPublisher()
    monkeypatch.setattr(ip, "display_pub", publisher)
    monkeypatch.setattr(ip, "kernel", object(), raising=False)
    return publisher


def _meta(path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(path.read_text())["meta"]
    return meta


def _html(publisher: Any) -> str:
    return str(publisher.outputs[-1]["data"]["text/html"])


def test_a_run_in_a_kernel_shows_itself_in_one_output_updated_in_place(
    shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert in_notebook()
    monkeypatch.setattr("agents.display.live.MIN_INTERVAL", 0.0)  # every event updates (no timing)
    meta = _meta(CALC)
    events: list[Event] = []
    with replay(CALC):
        run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"), on_event=events.append)
    with replay(CALC):
        result = run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"))
    outputs = shell.outputs
    assert len(outputs) == len(events) + 2, "shown at the start, updated per event, and at the end"
    display_id = outputs[0]["transient"]["display_id"]
    assert display_id and not outputs[0]["update"]
    assert all(o["update"] and o["transient"]["display_id"] == display_id for o in outputs[1:])
    html = _html(shell)
    assert (
        'class="qg-tool tex2jax_ignore mathjax_ignore"' in html
        and "<b>calculator</b>" in html
        and "17*23" in html
        and "391" in html
    )
    assert result.answer and "391" in html.split('class="qg-tool tex2jax_ignore mathjax_ignore"')[-1]
    assert "2 model calls" in html and "1 tool call" in html and "running" not in html
    plain = shell.outputs[-1]["data"]["text/plain"]
    assert '→ calculator({"expression": "17*23"}) = 391' in plain


def test_outside_a_kernel_run_shows_nothing_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    ip = InteractiveShell.instance()
    publisher = CapturingDisplayPublisher()
    monkeypatch.setattr(ip, "display_pub", publisher)
    assert not in_notebook(), "a terminal IPython is not a notebook"
    meta = _meta(CALC)
    with replay(CALC):
        run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"))
    assert publisher.outputs == [] and capsys.readouterr().out == ""


def test_display_false_turns_the_automatic_display_off(shell: Any) -> None:
    meta = _meta(CALC)
    with replay(CALC):
        run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"), display=False)
    assert shell.outputs == []


def test_a_worked_solution_shows_the_tool_values_inside_the_answer(shell: Any) -> None:
    meta = _meta(DEMO)
    with replay(DEMO):
        result = display_run(meta["prompt"], model=meta["model"])
    html = _html(shell)
    answer = html.split('class="qg-answer"')[1]
    assert "4.022714375" in answer, "the calculator's value is in the answer where it was written"
    assert '<span class="qg-value" style="color:#00838f;font-weight:600;">4.022714375</span>M' in answer
    assert f"{len(result.tool_calls)} tool result(s) written into the answer" in html
    assert html.count('class="qg-tool tex2jax_ignore mathjax_ignore"') == len(result.tool_calls) == 6


def test_terminal_fallback_prints_exactly_what_the_cli_prints() -> None:
    meta = _meta(CALC)
    events: list[Event] = []
    with replay(CALC):
        run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"), on_event=events.append)
    cli = io.StringIO()
    show = Display(Console(file=cli, highlight=False, width=200))
    for event in events:
        show(event)
    shown = io.StringIO()
    terminal = TerminalDisplay(Console(file=shown, highlight=False, width=200))
    with replay(CALC):
        run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"), on_event=terminal)
    assert shown.getvalue() == cli.getvalue() and "→ calculator" in cli.getvalue()


def test_display_run_in_a_terminal_uses_the_cli_display(capsys: Any) -> None:
    meta = _meta(CALC)
    with replay(CALC):
        result = display_run(meta["prompt"], model=meta["model"], spec=NamedGraph("react"), notebook=False)
    out = capsys.readouterr().out
    assert '→ calculator({"expression": "17*23"}) = 391' in out and result.answer in out


@pytest.mark.parametrize(
    "mode", ["messages", "updates", "values", ["messages", "values"], ["updates", "messages"]], ids=str
)
def test_langgraph_streaming_in_any_mode(shell: Any, mode: Any) -> None:
    meta = _meta(CALC)
    graph = build_graph(NamedGraph("react"), ChatQwen(model=MODEL), [calculator], force_tool=True)
    inputs = {"messages": [("user", meta["prompt"])], "steps": 0}
    with replay(CALC):
        summary = display_run(graph.stream(inputs, stream_mode=mode))
    assert summary is not None and summary.to_json() == meta["result"] | {"usage": summary.usage}
    assert [c.result for c in summary.tool_calls] == ["391"]
    html = _html(shell)
    assert html.count('class="qg-tool tex2jax_ignore mathjax_ignore"') == 1 and "391" in html
    assert summary.answer in shell.outputs[-1]["data"]["text/plain"]


def test_langgraph_streaming_with_subgraph_namespaces(shell: Any) -> None:
    meta = _meta(CALC)
    graph = build_graph(NamedGraph("react"), ChatQwen(model=MODEL), [calculator], force_tool=True)
    inputs = {"messages": [("user", meta["prompt"])], "steps": 0}
    with replay(CALC):
        summary = display_run(graph.stream(inputs, stream_mode=["messages", "updates"], subgraphs=True))
    assert summary is not None and [c.result for c in summary.tool_calls] == ["391"]
    assert _html(shell).count('class="qg-tool tex2jax_ignore mathjax_ignore"') == 1


async def test_async_langgraph_streaming(shell: Any) -> None:
    meta = _meta(CALC)
    graph = build_graph(NamedGraph("react"), ChatQwen(model=MODEL), [calculator], force_tool=True)
    inputs = {"messages": [("user", meta["prompt"])], "steps": 0}
    with replay(CALC):
        summary = await adisplay_run(graph.astream(inputs, stream_mode=["messages", "values"]))
    assert summary is not None and [c.result for c in summary.tool_calls] == ["391"]
    assert len(shell.outputs) >= 2 and all(o["update"] for o in shell.outputs[1:])


def test_real_qwen3_thinking_is_a_collapsible_block(shell: Any) -> None:
    model = ChatQwen(model="openai:qwen/qwen3-32b", base_url="http://127.0.0.1:9/v1", think=True)
    with replay(WIRE / "wire_groq_inline.json"):
        reply = model.invoke("What is 2+2? Reply with just the number.")
    show = NotebookDisplay(min_interval=0.0)
    with show:
        show.feed((reply, {"langgraph_node": "call_model"}))
        live = _html(shell)
    final = _html(shell)
    assert (
        '<details class="qg-thinking tex2jax_ignore mathjax_ignore" open' not in final
        and '<details class="qg-thinking tex2jax_ignore mathjax_ignore"' in final
    )
    assert "Okay, let&#x27;s see... The user is asking for the sum of 2 and 2." in final
    assert "<p>4</p>" in final.split('class="qg-answer"')[1]
    assert "running" in live


def test_thinking_stays_open_while_it_streams() -> None:
    view = RunView()
    view.add(Event(kind="thinking", text="Let me "))
    view.add(Event(kind="thinking", text="think."))
    from agents.display.html import render_html

    assert '<details class="qg-thinking tex2jax_ignore mathjax_ignore" open' in render_html(
        view
    ) and "Let me think." in render_html(view)
    view.add(Event(kind="text", text="Done."))
    assert '<details class="qg-thinking tex2jax_ignore mathjax_ignore" open' not in render_html(view)


def test_model_and_tool_text_is_escaped_and_markdown_rendered() -> None:
    html = markdown_html("**Total**: 5 <script>alert(1)</script>\n\n- a\n- b")
    assert "<strong>Total</strong>" in html and "<li>a</li>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    view = RunView()
    view.add(Event(kind="tool", text="<img src=x onerror=alert(1)>", name="run_python", args={"code": "<b>"}))
    from agents.display.html import render_html

    out = render_html(view)
    assert "<img" not in out and "&lt;img src=x" in out and "&lt;b&gt;" in out


def test_math_is_kept_as_written_for_mathjax() -> None:
    html = markdown_html(
        r"So \(\frac{5}{2}\) and $x^2 + 1$ and $$\int_0^1 x\,dx$$; prices $2M and $5M stay text."
    )
    assert r"\(\frac{5}{2}\)" in html and "$x^2 + 1$" in html and r"$$\int_0^1 x\,dx$$" in html
    assert "<span>$</span>2M and <span>$</span>5M" in html, "lone dollars cannot pair up for MathJax"


def test_updates_are_throttled_and_the_last_state_always_shown(shell: Any) -> None:
    now = [0.0]
    show = NotebookDisplay(min_interval=1.0, clock=lambda: now[0])
    with show:  # shown at once (empty, running)
        for word in ["one ", "two ", "three "]:
            show(Event(kind="text", text=word))  # within the interval: no update yet
        assert len(shell.outputs) == 1
        now[0] = 1.5
        show(Event(kind="text", text="four "))  # the interval has passed: one update with all so far
        assert len(shell.outputs) == 2 and "one two three four" in _html(shell)
        show(Event(kind="text", text="five"))
        now[0] = 1.6
        show.finish()  # the end is always shown
    assert len(shell.outputs) == 3 and "one two three four five" in _html(shell)


def test_an_error_is_shown_and_raised(shell: Any) -> None:
    with pytest.raises(CassetteError), replay(CALC):
        run("What is 18*23? Use the calculator.", model=MODEL, spec=NamedGraph("react"))
    html = _html(shell)
    assert (
        'class="qg-error tex2jax_ignore mathjax_ignore"' in html
        and "drifted from the recording" in html
        and "running" not in html
    )


@pytest.mark.skipif(bool(bwrap_usable()), reason="bubblewrap is not usable here")
def test_a_tool_call_approved_in_a_second_leg_is_shown_with_its_arguments(tmp_path: Path) -> None:
    """After an approval the run resumes in a new leg; its tool event still names the call's arguments."""
    from langgraph.checkpoint.memory import InMemorySaver

    from tools.code_runner import make_sandbox
    from tools.run_python import make_run_python

    cassette = WIRE / "coding_approved.json"
    sandbox = make_sandbox()
    events: list[Event] = []
    try:
        with replay(cassette):
            result = run(
                "Use Python to compute the sum of the squares of the numbers 1 to 10.",
                model=MODEL,
                tools=[make_run_python(sandbox, "approvals")],
                approve=["run_python"],
                approver=lambda request: {"action": "approve"},
                checkpointer=InMemorySaver(),
                on_event=events.append,
            )
    finally:
        sandbox.close()
    (tool,) = [e for e in events if e.kind == "tool"]
    assert tool.name == "run_python" and tool.args == result.tool_calls[0].args
    assert "range(1, 11)" in tool.args["code"] and "385" in tool.text
