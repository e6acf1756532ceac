"""What a run shows as it goes: :class:`EventReader` turns a graph run into :class:`Event` objects.

Three sources, chosen so that no graph node has to run on LangGraph's thread pool (the
``"messages"`` stream mode puts every task there, measured at 16 thread submissions and 4x the CPU of
``invoke`` per ReAct run):

- model output, piece by piece as it streams, from a LangChain callback handler
  (:attr:`EventReader.handler`, added to the run's callbacks: it is what makes a chat model stream);
- tool results, tool calls and messages a node writes itself (a step-limit note), from the
  ``"updates"`` stream mode, one task at a time as tasks finish;
- plan_execute's progress lines and the final state, from the ``"values"`` stream mode.

Drive a graph with ``stream_mode=EventReader.STREAM_MODE`` and ``feed`` it every item.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult

from agents.run_core import THINK_IGNORED_NOTE, Event
from graphs.build import INLINE_RESULTS, STREAMED_ANSWER, GraphSpec, progress
from graphs.models.messages import reasoning_text

INTERRUPT = "__interrupt__"


class EventReader:
    """Turns one leg of a run (until its end or an interrupt) into :class:`Event` objects.

    ``before`` is the state the leg starts from (progress lines report only what changed). Events go
    to ``emit`` (``None``: none are made, the reader only follows the state). After the leg,
    :attr:`final` is the last state and :attr:`interrupted` says whether it stopped at an interrupt.
    """

    STREAM_MODE = ("updates", "values")

    def __init__(
        self, spec: GraphSpec, before: Mapping[str, Any], emit: Callable[[Event], None] | None
    ) -> None:
        self.spec = spec
        self.final: dict[str, Any] = dict(before)
        self.emit = emit
        self.interrupted = False
        self.handler = ModelOutput(self)
        self._calls: dict[str, tuple[str, dict[str, Any]]] = {}
        self._from_model: set[str] = set()
        self._said: set[str] = set()
        self._lock = threading.Lock()  # a model may be called from a tool's worker thread
        self._answer_streams = spec.graph in STREAMED_ANSWER
        self._inline = spec.graph in INLINE_RESULTS
        for message in before.get("messages") or []:  # a leg resumed after an approval: its calls
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    self._calls[call.get("id") or ""] = (call["name"], dict(call["args"]))

    def feed(self, mode: str, payload: Any) -> None:
        """Take one item of ``graph.stream(..., stream_mode=STREAM_MODE)``."""
        if mode == "values":
            if self.emit is not None:
                for line in progress(self.spec, self.final, payload):
                    self._show(Event(kind="progress", text=line))
            self.final = cast(dict[str, Any], payload)
            return
        for node, update in cast(Mapping[str, Any], payload).items():
            if node == INTERRUPT:
                self.interrupted = True
            elif isinstance(update, Mapping) and self.emit is not None:
                written = update.get("messages")
                for message in written if isinstance(written, Sequence) else [written]:
                    if isinstance(message, BaseMessage):
                        self._written(message)

    # --- what the model said (from the callback handler) -------------------------------------------

    def model_piece(self, message: AIMessage | AIMessageChunk) -> None:
        """A piece of a streamed reply."""
        if self.emit is not None:
            self._content(message)

    def model_reply(self, message: AIMessage, *, streamed: bool) -> None:
        """A whole reply; its pieces were shown already when ``streamed``."""
        if message.id:
            self._from_model.add(message.id)
        if self.emit is None:
            return
        if message.response_metadata.get("think_ignored") and THINK_IGNORED_NOTE not in self._said:
            self._said.add(THINK_IGNORED_NOTE)  # once per run: every later call would say the same
            self._show(Event(kind="progress", text=THINK_IGNORED_NOTE))
        if not streamed:
            self._content(message)

    # --- what a node wrote (from the updates stream) -----------------------------------------------

    def _written(self, message: BaseMessage) -> None:
        if isinstance(message, AIMessage):
            if message.id not in self._from_model:  # written by the node itself: a stop note, say
                self._content(message)
            for call in message.tool_calls:
                self._calls[call.get("id") or ""] = (call["name"], dict(call["args"]))
                if not self._inline:
                    self._show(Event(kind="tool_call", text="", name=call["name"], args=dict(call["args"])))
        elif isinstance(message, ToolMessage):
            name, args = self._calls.get(message.tool_call_id, (message.name or "", {}))
            if self._inline:  # what the graph writes into the answer, shown where it goes
                artifact = message.artifact
                written = artifact.get("written", "") if isinstance(artifact, dict) else ""
                self._show(Event(kind="value", text=str(written), name=name, args=args))
            else:
                self._show(Event(kind="tool", text=message.text, name=name, args=args))

    def _content(self, message: AIMessage | AIMessageChunk) -> None:
        """A message's thinking and (unless the graph's model text is not the answer) text."""
        thought = reasoning_text(message, strip=False)
        if thought:
            self._show(Event(kind="thinking", text=thought))
        if self._answer_streams and message.text:
            self._show(Event(kind="text", text=message.text))

    def _show(self, event: Event) -> None:
        assert self.emit is not None
        with self._lock:
            self.emit(event)


class ModelOutput(BaseCallbackHandler):
    """Hands the run's model output to its :class:`EventReader` as it arrives.

    A chat model streams when a handler like this one is attached (LangChain's streaming-handler
    protocol: ``tap_output_iter``); the runner gives non-streaming runs a model with streaming
    disabled. Runs inline (also under ``ainvoke``: no executor hop per token) and ignores every
    event but the model's.
    """

    run_inline = True

    def __init__(self, reader: EventReader) -> None:
        super().__init__()
        self.reader = reader
        self._streamed: set[UUID] = set()

    @property
    def ignore_chain(self) -> bool:
        return True

    @property
    def ignore_agent(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """A streamed piece."""
        if isinstance(chunk, ChatGenerationChunk) and isinstance(chunk.message, AIMessageChunk):
            self._streamed.add(run_id)
            self.reader.model_piece(chunk.message)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """The whole reply."""
        generation = response.generations[0][0] if response.generations and response.generations[0] else None
        if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
            self.reader.model_reply(generation.message, streamed=run_id in self._streamed)
        self._streamed.discard(run_id)

    def tap_output_iter(self, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
        """LangChain's streaming protocol: the output passes untouched."""
        return output

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Async twin of :meth:`tap_output_iter`."""
        return output
