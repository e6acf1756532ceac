"""A warm agent: an agent's plan, chat model and tools built once, then reused by many runs.

``qwengraph batch`` (one per worker, also inside each Ray actor) and ``qwengraph serve`` (one per
offered agent) run many requests through the same agent. :class:`WarmAgent` resolves the settings
once (:class:`AgentChoice`, the same choices as ``qwengraph run``: an agent, or plain ``--tools`` /
``--graph``), keeps the chat model (one HTTP client per server) and the tools open (the code
sandbox stays warm; each run gets its own sandbox session), and gives back a :class:`RunRecord`
per run: the summary, the conversation, the trace rows (for the caller to write where it wants:
a batch's driver collects them from every worker) and the error, if any.

Runs are driven on an async path (:meth:`WarmAgent.arun`, :meth:`WarmAgent.start`); many share
one event loop. A run can be cancelled (a client went away): the model stream stops at its next
piece and no further model or tool call starts.

Example:
    >>> choice = AgentChoice(agent="math-tutor", model="openai:Qwen/Qwen3-8B")
    >>> async with WarmAgent(choice) as agent:  # doctest: +SKIP
    ...     record = await agent.arun("Differentiate x^3")
    ...     print(record.summary.answer)
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Self

from langchain_core.messages import AnyMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from agents.agent_run import AUTO, RunPlan, make_model, plan_run, run_think
from agents.arunner import astream
from agents.conversation import aseed_thread, athread_conversation
from agents.run_core import Event
from agents.run_handle import RunHandle
from agents.toolbox import open_tools, search_budget
from graphs.errors import QwenGraphError, RunCancelled
from graphs.memory.traces import TraceRecorder
from graphs.models.chat import ChatQwen
from graphs.summary import RunSummary

PYTHON_TOOL = "run_python"


@dataclass(frozen=True)
class AgentChoice:
    """Which agent to run and how: the choices of ``qwengraph run`` (plain data, so it can travel
    to a Ray worker).

    Attributes:
        agent: an agent name, ``"auto"`` (the router picks one per request) or ``None`` (plain run).
        tools: tool names (plain runs: default calculator; for an agent: replaces its tools).
        graph: plain runs only: ``react``, ``worked`` or ``auto``.
        model: model URI (else ``QWENGRAPH_MODEL``, the agent's preferred model, the local default).
        base_url: server URL for ``ollama:``/``openai:`` models.
        think: thinking on/off (``None``: the agent's policy).
        max_steps: model turns allowed per run (``None``: the agent's).
        timeout: seconds to wait for the server per request.
        profile: the model's Qwen profile (``None``: detected).
        mode: the agent's mode (math-tutor: ``answer`` or ``hint``).
        language: answer in this language.
    """

    agent: str | None = None
    tools: tuple[str, ...] | None = None
    graph: str | None = None
    model: str | None = None
    base_url: str | None = None
    think: bool | None = None
    max_steps: int | None = None
    timeout: float = 300.0
    profile: str | None = None
    mode: str | None = None
    language: str | None = None

    def label(self) -> str:
        """``math-tutor``, ``plain (calculator)``: what the runs are, for listings and logs."""
        if self.agent:
            return self.agent
        return f"plain ({', '.join(self.tools or ('calculator',))})"


@dataclass
class RunRecord:
    """What one run left: its outcome, conversation and trace rows.

    ``status`` is ``ok`` (an answer), ``stopped`` (the graph stopped it: step limit, unusable plan;
    ``summary.answer`` says why) or ``failed`` (an error: ``error_type`` and ``error``).
    """

    trace_id: str
    status: str
    summary: RunSummary | None
    messages: list[AnyMessage] = field(default_factory=list)
    error_type: str | None = None
    error: str | None = None
    exit_code: int | None = None
    started: float = 0.0
    ended: float = 0.0
    trace_rows: tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]] | None = None

    @property
    def seconds(self) -> float:
        """Wall time of the run."""
        return self.ended - self.started


@dataclass(frozen=True)
class _Ready:
    """One resolved plan with its model and the tools opened for it."""

    plan: RunPlan
    llm: ChatQwen
    tools: tuple[BaseTool, ...]
    python: bool  # the plan has run_python: each run gets its own sandbox session


class WarmAgent:
    """An agent ready to run many requests: see the module docstring.

    Args:
        choice: the agent and its settings.
        checkpointer: where runs with a ``thread`` keep their conversation (threadless runs use a
            throwaway in-memory one); ``None``: in memory, gone when the agent closes.
        trace_content: keep prompts, arguments and answers as text in the trace rows.
        meta: extra facts every trace row carries (batch id, server name).
    """

    def __init__(
        self,
        choice: AgentChoice,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        trace_content: bool = False,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.choice = choice
        self.checkpointer: BaseCheckpointSaver[Any] = checkpointer or InMemorySaver()
        self.trace_content = trace_content
        self.meta = dict(meta or {})
        self._stack = ExitStack()
        self._ready: dict[str, _Ready] = {}
        self._sandbox: Any = None
        self._lock = threading.Lock()
        # Threadless runs share one in-memory saver (each under its own id, deleted when the run
        # has ended), so the saver passed to the graph is the same object on every run.
        self._scratch = InMemorySaver()

    # --- lifecycle --------------------------------------------------------------------------------

    def open(self) -> Self:
        """Resolve the agent and open its model and tools now, so bad settings fail before any run.

        With ``agent="auto"`` each routed agent is opened on its first request instead.
        """
        if self.choice.agent != AUTO:
            self._resolve("")
        return self

    def close(self) -> None:
        """Release the tools (sandbox workers, index connections)."""
        self._stack.close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.open)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def model(self) -> str:
        """The model URI the (first) plan runs on."""
        ready = next(iter(self._ready.values()), None)
        return ready.llm.model if ready is not None else (self.choice.model or "")

    # --- resolving ----------------------------------------------------------------------------------

    def _resolve(self, prompt: str) -> _Ready:
        choice = self.choice
        plan = plan_run(
            prompt or "-",
            agent=choice.agent,
            tools=choice.tools,
            think=choice.think,
            max_steps=choice.max_steps,
            mode=choice.mode,
            language=choice.language,
            graph=choice.graph,
        )
        key = plan.agent or ""
        with self._lock:
            ready = self._ready.get(key)
            if ready is not None:
                return ready
            llm = make_model(
                plan,
                model=choice.model,
                base_url=choice.base_url,
                timeout=choice.timeout,
                profile=choice.profile,
            )
            others = [name for name in plan.tools if name != PYTHON_TOOL]
            tools = self._stack.enter_context(
                open_tools(
                    others, session_id=f"warm-{key or 'plain'}", search_tokens=search_budget(llm.model)
                )
            )
            python = PYTHON_TOOL in plan.tools
            if python and self._sandbox is None:
                from tools.code_runner import make_sandbox  # noqa: PLC0415 - only agents that run code

                self._sandbox = make_sandbox()
                self._stack.callback(self._sandbox.close)
            ready = self._ready[key] = _Ready(plan, llm, tuple(tools), python)
            return ready

    def _tools(self, ready: _Ready, session: str) -> list[BaseTool]:
        if not ready.python:
            return list(ready.tools)
        from tools.run_python import make_run_python  # noqa: PLC0415

        by_name = {t.name: t for t in ready.tools}
        by_name[PYTHON_TOOL] = make_run_python(self._sandbox, session)
        return [by_name[name] for name in ready.plan.tools if name in by_name]

    # --- running --------------------------------------------------------------------------------

    async def _aresolve(self, prompt: str) -> _Ready:
        if self.choice.agent != AUTO and len(self._ready) == 1:
            return next(iter(self._ready.values()))
        return await asyncio.to_thread(self._resolve, prompt)  # opens tools: not on the event loop

    async def drive(
        self,
        prompt: str,
        *,
        thread: str | None = None,
        history: Sequence[AnyMessage] = (),
        on_event: Callable[[Event], Any] | None = None,
        on_cancel: Callable[[RunRecord], None] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Run one request to the end and return its record; a failed run is a record, not an error.

        Args:
            prompt: the request.
            thread: keep the conversation in this thread of the agent's checkpointer.
            history: earlier messages of the conversation, used when ``thread`` is new (or absent).
            on_event: called with each :class:`~agents.run_core.Event` as it happens.
            on_cancel: called with the (``failed``, ``RunCancelled``) record when the awaiting task
                is cancelled; the cancellation then goes on (``CancelledError`` is re-raised).
            meta: extra facts for this run's trace row.
        """
        trace_id = str(uuid.uuid4())
        started = time.time()
        recorder = TraceRecorder(
            store_content=self.trace_content,
            run_id=trace_id,
            prompt=prompt,
            meta={**self.meta, **(meta or {}), "thread": thread},
        )
        saver = self.checkpointer if thread else self._scratch
        thread_id = thread or f"run-{trace_id[:12]}"
        session = f"{thread_id}-{trace_id[:8]}"
        summary: RunSummary | None = None
        failure: BaseException | None = None
        ready: _Ready | None = None
        try:
            ready = await self._aresolve(prompt)
            recorder.model = ready.llm.model
            if history:
                await aseed_thread(saver, thread_id, history)
            plan = ready.plan
            async for event in astream(
                prompt,
                chat_model=ready.llm,
                tools=self._tools(ready, session),
                think=run_think(plan),
                max_steps=plan.max_steps,
                force_tool=plan.force_tool,
                system_prompt=plan.system_prompt,
                spec=plan,
                language=plan.language,
                thread=thread_id,
                checkpointer=saver,
                trace=False,
                callbacks=[recorder],
            ):
                if event.kind == "summary":
                    summary = event.summary
                elif on_event is not None:
                    on_event(event)
            if summary is not None:
                recorder.set_answer(summary.answer)
        except asyncio.CancelledError:
            cancelled = RunCancelled("the run was cancelled")
            recorder.finish(error=cancelled)
            if on_cancel is not None:
                kept = self._record(
                    trace_id, started, None, cancelled, saver=saver, thread_id=thread_id, recorder=recorder
                )
                on_cancel(await kept)
            raise
        except Exception as err:  # noqa: BLE001 - a failed run is a result, recorded with its error
            failure = err
        finally:
            if ready is not None and ready.python and self._sandbox is not None:
                await asyncio.to_thread(self._sandbox.close_session, session)
        recorder.finish(error=failure)
        return await self._record(
            trace_id, started, summary, failure, saver=saver, thread_id=thread_id, recorder=recorder
        )

    async def _record(
        self,
        trace_id: str,
        started: float,
        summary: RunSummary | None,
        failure: BaseException | None,
        *,
        saver: BaseCheckpointSaver[Any],
        thread_id: str,
        recorder: TraceRecorder,
    ) -> RunRecord:
        status = "failed" if failure is not None else ("stopped" if summary and summary.stopped else "ok")
        record = RunRecord(
            trace_id=trace_id,
            status=status,
            summary=summary,
            started=started,
            ended=time.time(),
            trace_rows=recorder.rows(),
        )
        if failure is not None:
            record.error_type = type(failure).__name__
            record.error = str(failure) or type(failure).__name__
            record.exit_code = failure.exit_code if isinstance(failure, QwenGraphError) else 1
        try:
            record.messages = await athread_conversation(saver, thread_id)
        except Exception:  # noqa: BLE001 - the conversation is a bonus; the record stands without it
            record.messages = []
        if saver is self._scratch:
            await saver.adelete_thread(thread_id)  # a threadless run leaves nothing behind
        return record

    def start(
        self,
        prompt: str,
        *,
        thread: str | None = None,
        history: Sequence[AnyMessage] = (),
        meta: Mapping[str, Any] | None = None,
    ) -> RunHandle:
        """Start one run as a task of the running event loop; its handle gives the events, the
        :class:`RunRecord` and a way to cancel it."""
        return RunHandle(
            lambda emit, keep: self.drive(
                prompt, thread=thread, history=history, on_event=emit, on_cancel=keep, meta=meta
            )
        )

    async def arun(
        self,
        prompt: str,
        *,
        thread: str | None = None,
        history: Sequence[AnyMessage] = (),
        on_event: Callable[[Event], Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Run one request (see :meth:`drive`); cancelling the awaiting task cancels the run."""
        return await self.drive(prompt, thread=thread, history=history, on_event=on_event, meta=meta)
