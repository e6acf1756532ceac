"""What the sync and the async runner share: building a run, reading its stream as events, and
keeping threads clean when a run fails.

A run is built once (:func:`build_run`: model, tools, graph, config); :func:`agents.runner.run`
drives it with ``graph.stream`` and :func:`agents.arunner.astream` with ``graph.astream``. Both feed
the same :class:`EventReader`, so the events are the same whichever way a run is driven.

Failed turns (with a thread and a checkpointer): a run that fails before the model answered is
rolled back (:func:`rollback_target`), so the thread is exactly as it was before the run; a run that
fails later keeps what the model and the tools did, and the same request run again on the thread
continues it (:func:`continues_unfinished`) instead of adding the request a second time.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import StateSnapshot

from agents.safety import check_input
from agents.settings import resolve_model
from agents.spec import AUTO_GRAPH
from agents.tool_refs import as_tool
from graphs.build import INLINE_RESULTS, STREAMED_ANSWER, GraphSpec, NamedGraph, build_graph, progress
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.images import LOCAL_IMAGES, image_block
from graphs.models.messages import reasoning_text
from graphs.models.uri import in_process
from graphs.summary import RunSummary
from tools import calculator

ANSWER_ROOM = 1_192  # tokens kept free in a local engine's window for the answer (1,024) and framing
SERVER_CONTEXT_TOKENS = 28_000  # Qwen3 serves 32k natively; keep room for thinking and the answer
GRAPH_KEY, AGENT_KEY = "qwengraph_graph", "qwengraph_agent"
"""Checkpoint metadata: the graph and agent a thread's run was started with (for resume)."""

EventKind = Literal["thinking", "text", "tool_call", "tool", "value", "progress", "summary"]


@dataclass(frozen=True)
class Event:
    """Something to show while a run goes on.

    ``thinking`` and ``text``: a piece of the model's thinking or answer; ``tool_call``: the model
    asks for a tool (``name``, ``args``); ``tool``: a tool's result (``text``, with ``name`` and
    ``args``); ``value``: worked solution, what a tool wrote into the answer (a calculator's number,
    a code block's output); ``progress``: a line of plan_execute's progress (the plan, each step's
    result, a rejection); ``summary``: the run ended (``summary`` holds its
    :class:`~graphs.summary.RunSummary`, ``text`` its answer).
    """

    kind: EventKind
    text: str
    name: str = ""
    args: dict[str, Any] | None = None
    summary: RunSummary | None = field(default=None, compare=False)


def context_budget(llm: ChatQwen) -> int:
    """History tokens to send: a local engine's window (``--ctx``) less the answer's room, else 28k."""
    window = getattr(llm.get_transport(), "context_window", None) if in_process(llm.model) else None
    if not isinstance(window, int):
        return SERVER_CONTEXT_TOKENS
    return max(window - ANSWER_ROOM, window // 2)


def default_tools() -> list[BaseTool]:
    """The tools a plain ``qwengraph run`` gets."""
    return [calculator]


@dataclass
class BuiltRun:
    """One run, ready to drive: its graph, config and input (``None``: resume the thread)."""

    graph: Any
    config: RunnableConfig
    spec: GraphSpec
    model: str
    saver: BaseCheckpointSaver[Any] | None
    thread: str | None
    prompt: str | None
    inputs: Any = None

    @property
    def durable(self) -> bool:
        """Whether the run's state is saved in a thread."""
        return self.saver is not None


def build_run(
    prompt: str | None,
    *,
    model: str | None,
    base_url: str | None,
    stream: bool,
    max_steps: int | None,
    tools: Sequence[Any] | None,
    force_tool: bool | None,
    chat_model: ChatQwen | None,
    thread: str | None,
    checkpointer: BaseCheckpointSaver[Any] | None,
    approve: Sequence[str],
    system_prompt: str | None,
    max_input_chars: int,
    spec: GraphSpec | None,
    language: str | None,
    think: bool | None,
    images: Sequence[str | Path] = (),
    profile: str | None = None,
    warm: Callable[[ChatQwen], None] | None = None,
) -> BuiltRun:
    """Check the input and compile the graph for one run (see :func:`agents.runner.run`)."""
    if prompt is not None:
        check_input(prompt, max_input_chars)
    llm = chat_model or ChatQwen(model=resolve_model(model), base_url=base_url, qwen_profile=profile)
    if not stream:
        llm = llm.model_copy(update={"disable_streaming": True})
    if force_tool is None:
        force_tool = in_process(llm.model)
    saver = checkpointer if checkpointer is not None else (InMemorySaver() if approve else None)
    offered = [as_tool(t) for t in tools] if tools is not None else default_tools()
    check_approvals(approve, offered)
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
    inputs = None if prompt is None else {"messages": [request_message(prompt, images)], "steps": 0}
    if warm is not None:
        warm(llm)
    return BuiltRun(graph, config, spec, llm.model, saver, thread, prompt, inputs)


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


THINK_IGNORED_NOTE = (
    "note: this model thinks even with thinking off (a thinking-only model); its thinking is kept "
    "apart from the answer"
)


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


def current_turn(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The messages after the last user request (tool-call corrections are not requests)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("qwengraph"):
            return list(messages[index + 1 :])
    return list(messages)


def _last_request(messages: Sequence[AnyMessage]) -> HumanMessage | None:
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("qwengraph"):
            return message
    return None


def origin_of(metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """The graph and agent a checkpoint's run was started with (``None`` where unknown)."""
    graph, agent = (metadata or {}).get(GRAPH_KEY), (metadata or {}).get(AGENT_KEY)
    return (str(graph) if graph else None), (str(agent) if agent else None)


def check_same_graph(metadata: Mapping[str, Any] | None, thread: str, graph: str) -> None:
    """Resuming must rebuild the graph the run was started on: its next step is one of that graph's."""
    started, agent = origin_of(metadata)
    if started is not None and started != graph:
        how = f"--agent {agent}" if agent else "the --model and --tools it was started with"
        raise ConfigError(
            f"thread {thread!r} was started on the {started} graph, not {graph}: resume it with {how}"
        )


def continues_unfinished(state: StateSnapshot, prompt: str) -> bool:
    """Whether ``state`` is an unfinished run of this very request (then the rerun resumes it)."""
    if not state.next:
        return False
    request = _last_request(state.values.get("messages") or [])
    return request is not None and request.text == prompt


def rollback_target(before: StateSnapshot | None, after: StateSnapshot) -> str:
    """What to do with a thread after a failed run: ``"keep"``, ``"restore"`` or ``"delete"``.

    ``before`` is the thread's state when the run started (``None`` or empty: a new thread). The
    run is undone only when the model answered nothing in it: then nothing the user could want is
    lost, and a rerun must not find the request twice.
    """
    known = {m.id for m in (before.values.get("messages") or [])} if before is not None else set()
    added = [m for m in after.values.get("messages") or [] if m.id not in known]
    if any(isinstance(m, AIMessage | ToolMessage) for m in added):
        return "keep"
    if not added and (before is None or before.config == after.config):
        return "keep"  # the run failed before it saved anything
    return "restore" if before is not None and before.values else "delete"


class EventReader:
    """Turns a graph's ``["messages", "values"]`` stream into :class:`Event` objects.

    ``before`` is the state the run (or leg of a run) starts from: progress lines and tool-call
    events report only what is new. Events go to ``emit``; :attr:`final` is the last state seen.
    """

    def __init__(
        self, spec: GraphSpec, before: Mapping[str, Any], emit: Callable[[Event], None] | None
    ) -> None:
        self.spec = spec
        self.final: dict[str, Any] = dict(before)
        self.emit = emit
        self.calls: dict[str, tuple[str, dict[str, Any]]] = {  # a resumed leg runs calls made before
            call.get("id") or "": (call["name"], dict(call["args"]))
            for message in before.get("messages") or []
            if isinstance(message, AIMessage)
            for call in message.tool_calls
        }
        self.said: set[str] = set()
        self.seen = {m.id for m in before.get("messages") or []}
        self.answer_streams = spec.graph in STREAMED_ANSWER
        self.inline = spec.graph in INLINE_RESULTS

    def feed(self, mode: str, payload: Any) -> None:
        """Take one stream item."""
        if mode == "values":
            if self.emit is not None:
                for line in progress(self.spec, self.final, payload):
                    self.emit(Event(kind="progress", text=line))
                self._new_calls(payload.get("messages") or [])
            self.final = cast(dict[str, Any], payload)
            return
        message = payload[0]
        if self.emit is None:
            return
        if isinstance(message, AIMessage | AIMessageChunk):
            if message.response_metadata.get("think_ignored") and THINK_IGNORED_NOTE not in self.said:
                self.said.add(THINK_IGNORED_NOTE)  # once per run: every later call would say the same
                self.emit(Event(kind="progress", text=THINK_IGNORED_NOTE))
            for call in message.tool_calls:
                self.calls[call.get("id") or ""] = (call["name"], dict(call["args"]))
            self._content(message)
        elif isinstance(message, ToolMessage):
            name, args = self.calls.get(message.tool_call_id, (message.name or "", {}))
            if self.inline:  # what the graph writes into the answer, shown where it goes
                artifact = message.artifact
                written = artifact.get("written", "") if isinstance(artifact, dict) else ""
                self.emit(Event(kind="value", text=str(written), name=name, args=args))
            else:
                self.emit(Event(kind="tool", text=message.text, name=name, args=args))

    def _new_calls(self, messages: Sequence[AnyMessage]) -> None:
        assert self.emit is not None
        for message in messages:
            if message.id in self.seen:
                continue
            self.seen.add(message.id)
            if isinstance(message, AIMessage) and not self.inline:
                for call in message.tool_calls:
                    self.emit(Event(kind="tool_call", text="", name=call["name"], args=dict(call["args"])))

    def _content(self, message: AIMessage | AIMessageChunk) -> None:
        """A message's thinking and (unless the graph's model text is not the answer) text."""
        assert self.emit is not None
        thought = reasoning_text(message, strip=False)
        if thought:
            self.emit(Event(kind="thinking", text=thought))
        if self.answer_streams and message.text:
            self.emit(Event(kind="text", text=message.text))


def check_approvals(approve: Sequence[str], offered: Sequence[BaseTool]) -> None:
    """Approvals must name tools the run offers: one clear :class:`ConfigError` (MCP tools and
    references are known only once opened, so this is checked here, not when flags are read)."""
    not_offered = sorted(set(approve) - {t.name for t in offered})
    if not_offered:
        raise ConfigError(
            f"--approve: no tool named {', '.join(not_offered)} is offered "
            f"(offered: {', '.join(sorted(t.name for t in offered)) or 'none'})"
        )
