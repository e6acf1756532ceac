"""The live status line: counts real callbacks, draws only when idle at a line start, never garbles output."""

import io
import time

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from rich.console import Console

from agents.cli_common import Display
from agents.cli_progress import ERASE, Activity, StatusLine, warm_engine
from agents.runner import Event


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_activity_counts_calls_and_streamed_tokens_from_langchain_callbacks() -> None:
    activity = Activity()
    model = GenericFakeChatModel(messages=iter([AIMessage("one two three"), AIMessage("four")]))
    chunks = list(model.stream("hi", config={"callbacks": [activity]}))
    assert len(chunks) >= 3
    assert activity.calls == 1 and activity.tokens == activity.call_tokens == len(chunks)
    model.invoke("again", config={"callbacks": [activity]})
    assert activity.calls == 2
    assert activity.line().startswith("working · 2 model calls")


def test_a_running_call_shows_tokens_and_rate() -> None:
    activity = Activity()
    activity.on_chat_model_start({}, [[]])
    activity.call_started = time.monotonic() - 2.0
    for _ in range(80):
        activity.on_llm_new_token("x", run_id=None)  # type: ignore[arg-type]
    line = activity.line()
    assert line.startswith("model call 1 · 80 tokens · ")
    rate = float(line.split(" · ")[2].removesuffix(" tok/s"))
    assert 30 < rate < 41
    activity.stage = "loading model.gguf…"
    assert activity.line() == "loading model.gguf…"


def test_status_line_draws_only_when_idle_at_line_start_and_is_erased_before_output() -> None:
    activity = Activity()
    err = Terminal()
    status = StatusLine(activity, err, idle=0.0)
    out = io.StringIO()
    display = Display(Console(file=out, force_terminal=False, width=200), status)
    display(Event(kind="text", text="The answer is"))  # mid-line: drawing would overwrite it
    status.draw_now()
    assert err.getvalue() == ""
    display(Event(kind="tool", text="391", name="calculator", args={"expression": "17*23"}))
    status.draw_now()
    assert err.getvalue().endswith("\x1b[2mstarting\x1b[0m")
    display(Event(kind="text", text="391."))
    assert err.getvalue().endswith(ERASE)  # erased before the next output
    assert "→ calculator" in out.getvalue() and out.getvalue().endswith("391.")


def test_status_line_is_silent_off_a_terminal() -> None:
    activity = Activity()
    pipe = io.StringIO()
    with StatusLine(activity, pipe, idle=0.0, interval=0.01) as status:
        assert not status.enabled
        time.sleep(0.05)
    assert pipe.getvalue() == ""


def test_status_line_loop_draws_on_a_terminal_while_idle() -> None:
    activity = Activity()
    activity.stage = "loading qwen.gguf…"
    term = Terminal()
    with StatusLine(activity, term, idle=0.0, interval=0.01):
        deadline = time.monotonic() + 5
        while "loading qwen.gguf…" not in term.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "loading qwen.gguf…" in term.getvalue()
    assert term.getvalue().endswith(ERASE)  # cleared on exit


def test_warm_engine_reports_stages_and_clears_them() -> None:
    seen: list[str] = []
    activity = Activity()

    class Transport:
        def warm(self, on_stage):
            on_stage("loading x.gguf")
            seen.append(activity.line())

    class Model:
        def get_transport(self):
            return Transport()

    warm_engine(Model(), activity)
    assert seen == ["loading x.gguf…"]
    assert activity.stage is None


def test_an_unchanged_status_is_not_redrawn() -> None:
    activity = Activity()
    term = Terminal()
    status = StatusLine(activity, term, idle=0.0)
    status.draw_now()
    status.draw_now()
    assert term.getvalue().count("starting") == 1
    activity.stage = "loading…"
    status.draw_now()
    assert term.getvalue().endswith("\x1b[2mloading…\x1b[0m")
