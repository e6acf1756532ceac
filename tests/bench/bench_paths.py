"""The episodes ``overhead.py`` times: one callable per (path, reply format).

Every episode checks its answer (the scripted one, reached only after three real calculator
results), so a path that stopped early or skipped a tool cannot look fast.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import qwen_loopback as server
import raw_loops as raw
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver

import prompts
from agents.runner import run
from graphs.build import NamedGraph
from graphs.memory import aopen_checkpointer, open_checkpointer
from graphs.models.chat import ChatQwen
from graphs.react import build_react
from tools.calculator import calculator

Case = tuple[str, str, Callable[[], Any]]
ACase = tuple[str, str, Callable[[], Awaitable[Any]]]
FORMATS = (("json", False), ("sse", True))


def check(answer: str) -> str:
    if "**50**" not in answer:
        raise AssertionError(f"wrong answer from a benchmark path: {answer!r}")
    return answer


class StreamOn(BaseCallbackHandler):
    """Makes a LangChain chat model stream (the protocol LangChain checks), and does nothing else."""

    def tap_output_iter(self, run_id: Any, output: Iterator[Any]) -> Iterator[Any]:
        return output

    def tap_output_aiter(self, run_id: Any, output: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return output


def _arun() -> Callable[..., Awaitable[Any]] | None:
    for module in ("agents.runner", "agents.arunner"):
        try:
            found = getattr(importlib.import_module(module), "arun", None)
        except ImportError:
            continue
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


class Paths:
    """Builds each path's episode against the loopback server at ``url``."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home
        self.model = server.MODEL
        self.system = prompts.render("react", tool_names=["calculator"])
        self.tools = [convert_to_openai_tool(calculator)]
        self.start = [{"role": "system", "content": self.system}, {"role": "user", "content": server.PROMPT}]
        self.ids = itertools.count()
        self.stack = ExitStack()
        self.sqlite = self.stack.enter_context(open_checkpointer(f"sqlite:///{home}/threads.db"))
        self.memory = InMemorySaver()

    def base(self, latency: int) -> str:
        return f"{self.url}/lat{latency}/v1"

    def llm(self, latency: int) -> ChatQwen:
        return ChatQwen(model=f"openai:{self.model}", base_url=self.base(latency))

    def close(self) -> None:
        self.stack.close()

    # ------------------------------------------------------------------ sync

    def run_episode(self, llm: ChatQwen, stream: bool, **options: Any) -> str:
        events: list[Any] = []
        result = run(
            server.PROMPT,
            chat_model=llm,
            tools=[calculator],
            stream=stream,
            on_event=events.append,
            spec=NamedGraph("react"),
            **{"trace": False, **options},
        )
        return check(result.answer)

    def sync_cases(self) -> list[Case]:
        client = httpx.Client()
        self.stack.callback(client.close)
        url = f"{self.base(0)}/chat/completions"
        llm = self.llm(0)
        bound = llm.bind_tools([calculator]).bind(think=True)
        graph = build_react(llm, [calculator])

        def hand_loop(stream: bool) -> str:
            messages: list[Any] = [SystemMessage(self.system), HumanMessage(server.PROMPT)]
            config = {"callbacks": [StreamOn()]} if stream else None
            while True:
                reply = bound.invoke(messages, config)
                assert isinstance(reply, AIMessage)
                if not reply.tool_calls:
                    return check(reply.text)
                messages.append(reply)
                for call in reply.tool_calls:
                    messages.append(
                        ToolMessage(calculator.invoke(call["args"]), tool_call_id=call["id"] or "")
                    )

        def graph_episode(stream: bool) -> str:
            config = {"callbacks": [StreamOn()]} if stream else None
            state = graph.invoke({"messages": [HumanMessage(server.PROMPT)], "steps": 0}, config)
            return check(state["messages"][-1].text)

        def thread(saver: Any) -> dict[str, Any]:
            return {"thread": f"bench-{next(self.ids)}", "checkpointer": saver}

        cases: list[Case] = []
        for fmt, stream in FORMATS:
            cases += [
                (
                    "raw httpx loop",
                    fmt,
                    lambda s=stream: check(
                        raw.httpx_episode(client, url, self.model, self.start, self.tools, s)
                    ),
                ),
                ("chatqwen loop", fmt, lambda s=stream: hand_loop(s)),
                ("graph", fmt, lambda s=stream: graph_episode(s)),
                ("run", fmt, lambda s=stream: self.run_episode(llm, s)),
                ("run thread sqlite", fmt, lambda s=stream: self.run_episode(llm, s, **thread(self.sqlite))),
            ]
        cases += [
            ("run trace", "json", lambda: self.run_episode(llm, False, trace=True)),
            ("run thread memory", "json", lambda: self.run_episode(llm, False, **thread(self.memory))),
        ]
        return cases

    def thread_cases(self, latency: int) -> list[tuple[str, Callable[[], Any]]]:
        llm = self.llm(latency)
        return [("run", lambda: self.run_episode(llm, False))]

    # ------------------------------------------------------------------ async

    @asynccontextmanager
    async def async_session(self) -> AsyncIterator[Callable[..., list[ACase]]]:
        """Clients and models made inside the running event loop (async clients belong to one)."""
        async with AsyncExitStack() as stack:
            aclient = await stack.enter_async_context(
                httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
            )
            session = await stack.enter_async_context(
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
            )
            saver = await stack.enter_async_context(aopen_checkpointer(f"sqlite:///{self.home}/athreads.db"))
            arun = _arun()
            made: dict[int, list[ACase]] = {}

            def cases(latency: int) -> list[ACase]:
                if latency not in made:
                    made[latency] = self._async_cases(latency, aclient, session, saver, arun)
                return made[latency]

            yield cases

    def _async_cases(
        self,
        latency: int,
        aclient: httpx.AsyncClient,
        session: aiohttp.ClientSession,
        saver: Any,
        arun: Callable[..., Awaitable[Any]] | None,
    ) -> list[ACase]:
        url = f"{self.base(latency)}/chat/completions"
        llm = self.llm(latency)
        graph = build_react(llm, [calculator])

        async def graph_episode(stream: bool) -> str:
            config = {"callbacks": [StreamOn()]} if stream else None
            state = await graph.ainvoke({"messages": [HumanMessage(server.PROMPT)], "steps": 0}, config)
            return check(state["messages"][-1].text)

        async def arun_episode(stream: bool, **options: Any) -> str:
            assert arun is not None
            events: list[Any] = []
            result = await arun(
                server.PROMPT,
                chat_model=llm,
                tools=[calculator],
                stream=stream,
                on_event=events.append,
                spec=NamedGraph("react"),
                **{"trace": False, **options},
            )
            return check(result.answer)

        cases: list[ACase] = []
        for fmt, stream in FORMATS:
            cases += [
                (
                    "raw httpx async loop",
                    fmt,
                    lambda s=stream: raw.ahttpx_episode(aclient, url, self.model, self.start, self.tools, s),
                ),
                (
                    "raw aiohttp loop",
                    fmt,
                    lambda s=stream: raw.aiohttp_episode(session, url, self.model, self.start, self.tools, s),
                ),
                ("graph async", fmt, lambda s=stream: graph_episode(s)),
            ]
            if arun is not None:
                cases.append(("arun", fmt, lambda s=stream: arun_episode(s)))
        if arun is not None:
            cases.append(
                (
                    "arun thread sqlite",
                    "json",
                    lambda: arun_episode(False, thread=f"abench-{next(self.ids)}", checkpointer=saver),
                )
            )
        return cases
