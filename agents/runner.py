"""Run an agent: the Python API behind ``qwengraph run``.

Example:
    >>> from agents.runner import run
    >>> result = run("What is 17*23? Use the calculator.", model="ollama:qwen3:8b")  # doctest: +SKIP
    >>> print(result.answer)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agents.safety import DEFAULT_MAX_INPUT_CHARS, check_input
from agents.settings import resolve_model
from agents.spec import AUTO_GRAPH
from graphs.build import INLINE_RESULTS, STREAMED_ANSWER, GraphSpec, NamedGraph, build_graph, progress
from graphs.errors import ConfigError
from graphs.memory.traces import recording_trace
from graphs.models.chat import ChatQwen
from graphs.models.images import LOCAL_IMAGES, image_block
from graphs.models.uri import in_process
from graphs.summary import RunSummary, summarize
from tools import calculator

ANSWER_ROOM = 1_192  # tokens kept free in a local engine's window for the answer (1,024) and framing
SERVER_CONTEXT_TOKENS = 28_000  # Qwen3 serves 32k natively; keep room for thinking and the answer


def context_budget(llm: ChatQwen) -> int:
    """History tokens to send: a local engine's window (``--ctx``) less the answer's room, else 28k."""
    window = getattr(llm.get_transport(), "context_window", None) if in_process(llm.model) else None
    if not isinstance(window, int):
        return SERVER_CONTEXT_TOKENS
    return max(window - ANSWER_ROOM, window // 2)


@dataclass(frozen=True)
class Event:
    """Something to show while a run goes on: a thinking or answer piece, a tool result, a
    ``value`` (worked solution: what a tool wrote into the answer, such as a calculator's number or
    a code block's output) or a ``progress`` line (plan_execute: the plan, each step's result, a
    rejection)."""

    kind: Literal["thinking", "text", "tool", "value", "progress"]
    text: str
    name: str = ""
    args: dict[str, Any] | None = None


def default_tools() -> list[BaseTool]:
    """The tools a plain ``qwengraph run`` gets."""
    return [calculator]


Approver = Callable[[dict[str, Any]], dict[str, Any]]
"""Decides an approval request (``{"name", "args", "id"}``).

Returns ``{"action": "approve"}``, ``{"action": "reject", "reason": ...}`` or
``{"action": "edit", "args": {...}}``.
"""


def run(
    prompt: str | None,
    *,
    model: str | None = None,
    base_url: str | None = None,
    think: bool | None = None,
    stream: bool = True,
    max_steps: int | None = None,
    tools: Sequence[BaseTool] | None = None,
    force_tool: bool | None = None,
    on_event: Callable[[Event], None] | None = None,
    chat_model: ChatQwen | None = None,
    thread: str | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    approve: Sequence[str] = (),
    approver: Approver | None = None,
    trace: bool = True,
    trace_content: bool = False,
    system_prompt: str | None = None,
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
    spec: GraphSpec | None = None,
    language: str | None = None,
    callbacks: Sequence[BaseCallbackHandler] = (),
    warm: Callable[[ChatQwen], None] | None = None,
    images: Sequence[str | Path] = (),
    profile: str | None = None,
    display: bool | None = None,
) -> RunSummary:
    """Run an agent's graph on ``prompt`` (``None``: resume ``thread``) and return its summary.

    The graph is the one ``spec`` names, or the one :func:`choose_graph` picks, compiled by
    :func:`graphs.build.build_graph`; every option below works for each graph unless it says
    otherwise. A plan_execute run streams thinking, tool results and progress lines (plan, step
    results), and its answer once the verifier has accepted it.

    Args:
        prompt: the user's request; ``None`` continues the thread from its last saved step
            (LangGraph's resume: no new input, an interrupted node reruns from its start, tool
            calls that had finished are not run again).
        model: model URI; defaults as in :func:`agents.settings.resolve_model`.
        base_url: server URL for ``ollama:``/``openai:`` models.
        think: thinking on/off for the model calls (``None``: on for planning).
        stream: stream from the server (thinking and answer arrive piece by piece).
        max_steps: model turns allowed before the run stops with a clear message (``None``: the
            graph's default, :data:`graphs.build.DEFAULT_STEPS`).
        tools: tools to offer; the calculator by default.
        force_tool: make the first model call a tool call; ``None``: yes for in-process models
            (small models otherwise compute in their head), no for servers. ReAct only.
        on_event: called with each :class:`Event` as it happens (the CLI's display).
        chat_model: a ready model, instead of building one from ``model``.
        thread: conversation id; with ``checkpointer`` the conversation persists.
        checkpointer: where threads are saved (see :func:`graphs.memory.open_checkpointer`).
        approve: tool names that need a human decision before each call.
        approver: makes those decisions; without one, a run that needs a decision raises
            :class:`ConfigError` (its state is saved: resume it after deciding).
        trace: record every model and tool call in ``$QWENGRAPH_HOME/traces.db``.
        trace_content: store prompts, arguments and answers in the trace as text (default: a
            SHA-256 digest and the length only).
        system_prompt: replaces the default ReAct prompt (e.g. with recalled facts added); for
            plan_execute, the agent's instructions to its executor and verifier.
        max_input_chars: longer prompts are refused with :class:`InputTooLong`.
        callbacks: LangChain callback handlers for every model and tool call (the CLI's live
            status line counts tokens with one).
        warm: called with the chat model once the graph is built and the input checked, before
            the first model call (the CLI probes and loads a local engine there, showing it).
        spec: names the graph: an :class:`~agents.spec.AgentSpec`, a
            :class:`~agents.agent_run.RunPlan`, or :class:`graphs.build.NamedGraph`; ``None`` or a
            graph named ``"auto"``: see :func:`choose_graph` (when that picks the worked graph,
            ``system_prompt`` gives way to the graph's own). Resume a thread with the graph that
            started it.
        language: answer in this language (added to the graph's default prompt).
        images: image files sent with the prompt (models whose profile can see images; servers only).
        profile: the model's Qwen profile name when ``chat_model`` is not given (``None``: detected).
        display: show the run live when no ``on_event`` is given: ``None`` (default) does so in a
            Jupyter kernel only (one output updated in place, see :mod:`agents.display`), ``True``
            also in a terminal (the CLI's display), ``False`` never.
    """
    if prompt is not None:
        check_input(prompt, max_input_chars)
    llm = chat_model or ChatQwen(model=resolve_model(model), base_url=base_url, qwen_profile=profile)
    if not stream:
        llm = llm.model_copy(update={"disable_streaming": True})
    if force_tool is None:
        force_tool = in_process(llm.model)
    saver = checkpointer if checkpointer is not None else (InMemorySaver() if approve else None)
    offered = list(tools) if tools is not None else default_tools()
    automatic = spec is None or spec.graph == AUTO_GRAPH
    spec = choose_graph(spec, llm.model, offered, approvals=bool(approve))
    if automatic and spec.graph == "worked":
        system_prompt = None  # an agent's prompt asks for tool calls; the worked graph has its own
    graph = build_graph(
        spec,
        llm,
        offered,
        max_steps=max_steps,
        language=language,
        think=think,
        force_tool=force_tool and prompt is not None,
        approve=approve,
        checkpointer=saver,
        system_prompt=system_prompt,
        context_tokens=context_budget(llm),
    )
    config: RunnableConfig = {
        "configurable": {"thread_id": thread or f"run-{uuid.uuid4().hex[:12]}"},
        "metadata": {GRAPH_KEY: spec.graph, AGENT_KEY: getattr(spec, "agent", None)},
    }
    inputs: dict[str, Any] | Command[Any] | None = None
    if prompt is None:
        _check_resumable(graph, config, saver, thread, spec)
    else:
        inputs = {"messages": [request_message(prompt, images)], "steps": 0}
    if warm is not None:
        warm(llm)
    meta = {"thread": thread, "resumed": prompt is None}
    tracer = recording_trace(store_content=trace_content, model=llm.model, prompt=prompt, meta=meta)
    final: dict[str, Any] = dict(graph.get_state(config).values) if saver is not None else {}
    with (
        tracer if trace else nullcontext() as recorder,
        _auto_display(display, on_event, prompt, result=lambda: summary) as show,  # summary: at the end
    ):
        handlers = [*callbacks, *([recorder] if recorder is not None else [])]
        if handlers:
            config["callbacks"] = handlers
        while True:
            final = _stream(graph, inputs, config, show, durable=saver is not None, spec=spec, before=final)
            if saver is None:
                break
            state = graph.get_state(config)
            final = cast(dict[str, Any], state.values)
            if not state.interrupts:
                break
            if approver is None:
                thread_id = config["configurable"]["thread_id"]
                raise ConfigError(f"thread {thread_id!r} is waiting for a tool approval")
            inputs = Command(resume={i.id: approver(cast(dict[str, Any], i.value)) for i in state.interrupts})
        summary = summarize(current_turn(final.get("messages", [])))
        if show is not None and spec.graph not in STREAMED_ANSWER and summary.answer:
            show(Event(kind="text", text=summary.answer))
        if recorder is not None:
            recorder.set_answer(summary.answer)
    return summary


def check_images(llm: ChatQwen, images: Sequence[str | Path]) -> None:
    """Refuse images now, before any work, when the model cannot take them (its profile cannot see
    images, or it runs in process). Raises :class:`ConfigError` with the same message a request would.
    """
    llm.build_request([request_message("", images)], None, stream=False)  # the profile refuses
    if in_process(llm.model):
        raise ConfigError(LOCAL_IMAGES)


def request_message(prompt: str, images: Sequence[str | Path] = ()) -> HumanMessage:
    """The user's request: its text, and the image files read into image blocks."""
    if not images:
        return HumanMessage(content=prompt)
    return HumanMessage(content=[{"type": "text", "text": prompt}, *(image_block(path) for path in images)])


def _auto_display(
    display: bool | None,
    on_event: Callable[[Event], None] | None,
    prompt: str | None,
    *,
    result: Callable[[], RunSummary],
) -> AbstractContextManager[Callable[[Event], None] | None]:
    """The live display ``run`` shows by itself (see its ``display`` argument), as a context whose
    value is the ``on_event`` to use; the display finishes with ``result()`` when the run ends."""
    if on_event is not None or display is False:
        return nullcontext(on_event)
    from agents.display.live import in_notebook, live_display  # noqa: PLC0415 - the display imports us

    if display is None and not in_notebook():
        return nullcontext(on_event)
    shown = live_display(title=prompt or "")
    shown.result = result
    return shown


def choose_graph(
    spec: GraphSpec | None, model_uri: str, tools: Sequence[BaseTool], *, approvals: bool = False
) -> GraphSpec:
    """The graph for a run: ``spec`` when it names one; for ``None`` or ``"auto"``, the rule below.

    An in-process model (``local:``, ``transformers:``) whose tools are all ones the worked-solution
    graph fills results in with (:data:`graphs.worked_checks.CHECKED_TOOLS`) gets that graph
    (:mod:`graphs.worked`): measured on Qwen2.5-Coder-1.5B, it answers multi-part word problems that
    ReAct leaves half done, and runs the tests it writes. Everything else gets ReAct, and so does a
    run with tool ``approvals`` (the worked graph calls tools mid-sentence, with no turn at which to
    ask).
    """
    if spec is not None and spec.graph != AUTO_GRAPH:
        return spec
    worked = False
    if not approvals and in_process(model_uri):
        from graphs.worked_checks import CHECKED_TOOLS  # noqa: PLC0415 - loads the sandbox's modules

        names = {t.name for t in tools}
        worked = bool(names) and names <= CHECKED_TOOLS
    name = "worked" if worked else "react"
    if spec is not None and dataclasses.is_dataclass(spec) and not isinstance(spec, type):
        return cast(GraphSpec, dataclasses.replace(spec, graph=name))
    return NamedGraph(name)


THINK_IGNORED_NOTE = (
    "note: this model thinks even with thinking off (a thinking-only model); its thinking is kept "
    "apart from the answer"
)

GRAPH_KEY, AGENT_KEY = "qwengraph_graph", "qwengraph_agent"
"""Checkpoint metadata: the graph and agent a thread's run was started with (for resume)."""


def thread_origin(saver: BaseCheckpointSaver[Any], thread: str) -> tuple[str | None, str | None]:
    """The graph and agent the last run on ``thread`` used, from its checkpoint (``None`` if unknown)."""
    saved = saver.get_tuple({"configurable": {"thread_id": thread}})
    metadata: Mapping[str, Any] = (saved.metadata if saved is not None else None) or {}
    graph, agent = metadata.get(GRAPH_KEY), metadata.get(AGENT_KEY)
    return (str(graph) if graph else None), (str(agent) if agent else None)


def _check_resumable(
    graph: Any,
    config: RunnableConfig,
    saver: BaseCheckpointSaver[Any] | None,
    thread: str | None,
    spec: GraphSpec,
) -> None:
    """Resuming needs a saved thread, started on this graph, with a run left unfinished."""
    if saver is None or thread is None:
        raise ConfigError("resuming needs a thread and a checkpointer")
    _check_same_graph(saver, thread, spec.graph)
    if not graph.get_state(config).next:
        raise ConfigError(f"thread {thread!r} has no unfinished run to resume")


def _check_same_graph(saver: BaseCheckpointSaver[Any], thread: str, graph: str) -> None:
    """Resuming must rebuild the graph the run was started on: its next step is one of that graph's."""
    started, agent = thread_origin(saver, thread)
    if started is not None and started != graph:
        how = f"--agent {agent}" if agent else "the --model and --tools it was started with"
        raise ConfigError(
            f"thread {thread!r} was started on the {started} graph, not {graph}: resume it with {how}"
        )


def current_turn(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The messages after the last user request (tool-call corrections are not requests)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("qwengraph"):
            return list(messages[index + 1 :])
    return list(messages)


def _stream(
    graph: Any,
    inputs: Any,
    config: RunnableConfig,
    on_event: Callable[[Event], None] | None,
    *,
    durable: bool,
    spec: GraphSpec,
    before: Mapping[str, Any],
) -> dict[str, Any]:
    """Stream one leg of a run (until the end or an interrupt), reporting events; return the state.

    ``before`` is the state the leg starts from, so progress lines report only what changed.
    """
    final: dict[str, Any] = dict(before)
    calls: dict[str, tuple[str, dict[str, Any]]] = {  # a resumed leg runs calls an earlier leg made
        call.get("id") or "": (call["name"], dict(call["args"]))
        for message in before.get("messages", [])
        if isinstance(message, AIMessage)
        for call in message.tool_calls
    }
    said: set[str] = set()
    options: dict[str, Any] = {"durability": "sync"} if durable else {}
    answer_streams = spec.graph in STREAMED_ANSWER
    inline = spec.graph in INLINE_RESULTS
    for mode, payload in graph.stream(inputs, config, stream_mode=["messages", "values"], **options):
        if mode == "values":
            if on_event is not None:
                for line in progress(spec, final, payload):
                    on_event(Event(kind="progress", text=line))
            final = cast(dict[str, Any], payload)
            continue
        message = payload[0]
        if on_event is None:
            continue
        if isinstance(message, AIMessage | AIMessageChunk):
            for call in message.tool_calls:
                calls[call.get("id") or ""] = (call["name"], dict(call["args"]))
            _emit_content(message, on_event, text=answer_streams)
            if message.response_metadata.get("think_ignored") and THINK_IGNORED_NOTE not in said:
                said.add(THINK_IGNORED_NOTE)  # once per run: every later call would say the same
                on_event(Event(kind="progress", text=THINK_IGNORED_NOTE))
        elif isinstance(message, ToolMessage):
            name, args = calls.get(message.tool_call_id, (message.name or "", {}))
            if inline:  # what the graph writes into the answer, shown where it goes
                written = message.artifact.get("written", "") if isinstance(message.artifact, dict) else ""
                on_event(Event(kind="value", text=str(written), name=name, args=args))
            else:
                on_event(Event(kind="tool", text=message.text, name=name, args=args))
    return final


def _emit_content(
    message: AIMessage | AIMessageChunk, on_event: Callable[[Event], None], *, text: bool = True
) -> None:
    """Report a message's thinking and (``text``: unless the graph's model text is not the answer) text."""
    if isinstance(message.content, str):
        if message.content and text:
            on_event(Event(kind="text", text=message.content))
        return
    for block in message.content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "reasoning" and block.get("reasoning"):
            on_event(Event(kind="thinking", text=str(block["reasoning"])))
        elif block.get("type") == "text" and block.get("text") and text:
            on_event(Event(kind="text", text=str(block["text"])))
