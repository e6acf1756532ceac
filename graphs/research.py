"""The research graph: search with the question, quote, answer, and check the citations.

::

    START -> search -> answer --(tool calls)--> run_tools -> answer
                             --(reply)-------> verify --(citations hold, or no answer in the documents)--> END
                                                      --(first failure: the problems are shown)--> answer
                                                      --(second failure: marked in the result)--> END

Built for small models: measured on Qwen2.5-Coder-1.5B, a ReAct researcher searched, got the right
passage and still answered that the documents did not contain it. Here the graph itself searches
with the user's question (a graph-made ``search`` call, shown like any other), the model is asked
to copy the sentence that answers before it answers (on a local model without thinking its reply
is *started* with ``Quote: "``), and the answer's ``path:lines`` citations are checked against the
index by the search tool (:meth:`tools.retrieval.SearchTool.check_citations`): the cited lines must
exist and contain the quoted words. A failed check goes back to the model once, with the reason;
if the second answer fails too, the run ends with it and the failed checks are in the result
(``RunSummary.citations``, each ``ok`` false, with the problem).

The verdicts travel in the final answer's ``response_metadata["qwengraph_citations"]``, so a
replayed or resumed run reports them the same way. Servers' models may search again (the tools are
bound); the prefilled local reply cannot call tools.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypedDict, runtime_checkable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

import prompts
from graphs.context import fit_messages
from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.tool_step import invoke_with_timeout, unknown_tool_message

__all__ = [
    "CITATIONS_KEY",
    "GRAPH_STEP",
    "QUOTE_PREFILL",
    "CitationSource",
    "build_research",
    "says_not_found",
]

QUOTE_PREFILL = 'Quote: "'
REMINDER = (
    "Question: {question}\n"
    "Find the passage above that answers this question. Copy its exact words, then answer, as:\n"
    'Quote: "<exact words>" (path:first-last)\nAnswer: <answer> (path:first-last)'
)
CITATIONS_KEY = "qwengraph_citations"
GRAPH_STEP = "qwengraph_graph_step"
"""``response_metadata`` flag of the search call the graph makes itself (not a model call)."""
STEP_LIMIT_MARK = "step_limit"
_NOT_FOUND = re.compile(
    r"(do(es)?n[o']t|do(es)? not) (contain|mention|say|cover)|no (passage|information)", re.I
)


@runtime_checkable
class CitationSource(Protocol):
    """A tool that can check an answer's citations (the ``search`` tool over its index)."""

    def check_citations(self, answer: str) -> Sequence[Any]:
        """One verdict per citation, each with ``ok``, ``citation``, ``problem`` and ``to_json()``."""
        ...


class ResearchState(TypedDict):
    """The conversation, model calls made in this run, and failed citation checks so far."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    failed_checks: int


def says_not_found(text: str) -> bool:
    """Whether an answer says the documents do not hold the answer."""
    return bool(_NOT_FOUND.search(text))


def _question(messages: Sequence[AnyMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage) and not message.additional_kwargs.get("qwengraph"):
            return message.text.strip()
    return ""


def _prefills(model: BaseChatModel) -> bool:
    """A local Qwen without thinking gets its reply started with the quote."""
    if not isinstance(model, ChatQwen) or not model.model.startswith("local:"):
        return False
    return not bool(getattr(model.get_transport(), "can_think", True))


@dataclass(frozen=True)
class _Nodes:
    """The graph's nodes over one model and tool set."""

    writer: Any
    by_name: dict[str, BaseTool]
    checker: CitationSource | None
    system: str
    started: bool
    max_steps: int
    tool_timeout: float
    context_tokens: int

    def search(self, state: ResearchState) -> dict[str, Any]:
        question = _question(state["messages"])
        call_id = "search-" + hashlib.sha256(question.encode()).hexdigest()[:12]
        call = {"name": "search", "args": {"query": question}, "id": call_id, "type": "tool_call"}
        made = AIMessage(content="", tool_calls=[call], response_metadata={GRAPH_STEP: True})
        text, status = invoke_with_timeout(
            self.by_name["search"], {"query": question}, self.tool_timeout, None
        )
        result = ToolMessage(content=text, tool_call_id=call_id, name="search", status=status)
        return {"messages": [made, result], "steps": state.get("steps", 0), "failed_checks": 0}

    def answer(self, state: ResearchState, config: RunnableConfig) -> dict[str, Any]:
        steps = state.get("steps", 0)
        if steps >= self.max_steps:
            note = f"Stopped after {self.max_steps} model calls without a checked answer (raise --max-steps)."
            return {"messages": [AIMessage(content=note, response_metadata={"qwengraph": STEP_LIMIT_MARK})]}
        history = fit_messages([SystemMessage(content=self.system), *state["messages"]], self.context_tokens)
        if isinstance(history[-1], ToolMessage):  # small models answer the last thing they read: ask again
            history.append(HumanMessage(content=REMINDER.format(question=_question(state["messages"]))))
        if not self.started:
            return {"messages": [self.writer.invoke(history, config)], "steps": steps + 1}
        reply = self.writer.invoke(history, config, prefill=QUOTE_PREFILL)
        whole = reply.model_copy(update={"content": QUOTE_PREFILL + reply.text})
        return {"messages": [whole], "steps": steps + 1}

    def run_tools(self, state: ResearchState, config: RunnableConfig) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        results: list[AnyMessage] = []
        for call in last.tool_calls:
            name, call_id = call["name"], call.get("id") or ""
            if name in self.by_name:
                args = dict(call["args"])
                text, status = invoke_with_timeout(self.by_name[name], args, self.tool_timeout, config)
            else:
                text, status = unknown_tool_message(name, self.by_name), "error"
            results.append(ToolMessage(content=text, tool_call_id=call_id, name=name, status=status))
        return {"messages": results}

    def verify(self, state: ResearchState) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        if self.checker is None:
            return {}
        verdicts = list(self.checker.check_citations(last.text))
        if not verdicts and says_not_found(last.text):
            return {}
        failed = [v for v in verdicts if not v.ok]
        verdict = {"verified": bool(verdicts) and not failed, "checks": [v.to_json() for v in verdicts]}
        metadata = {**last.response_metadata, CITATIONS_KEY: verdict}
        marked = last.model_copy(update={"response_metadata": metadata})
        tries = state.get("failed_checks", 0)
        if verdict["verified"] or tries >= 1:  # checked, or shown once already: end with it marked
            return {"messages": [marked], "failed_checks": tries + (not verdict["verified"])}
        problems = [f"- {v.citation}: {v.problem}" for v in failed] or [
            "- your answer cites no passage: quote the sentence that answers and give its path:lines"
        ]
        feedback = HumanMessage(
            content="Citation check failed:\n" + "\n".join(problems) + "\n"
            "Answer again: copy the exact words from one passage above and cite the path:lines shown "
            "before that passage, or say the documents do not contain the answer.",
            additional_kwargs={"qwengraph": "citation_check"},
        )
        return {"messages": [marked, feedback], "failed_checks": tries + 1}


def _after_answer(state: ResearchState) -> str:
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and (last.response_metadata or {}).get("qwengraph"):
        return END  # the step limit's note
    if isinstance(last, AIMessage) and last.tool_calls:
        return "run_tools"
    return "verify"


def _after_verify(state: ResearchState) -> str:
    return "answer" if isinstance(state["messages"][-1], HumanMessage) else END


def build_research(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    max_steps: int = 6,
    think: bool | None = True,
    tool_timeout: float = 30.0,
    context_tokens: int = 28_000,
    prefill: bool | None = None,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[ResearchState, None, ResearchState, ResearchState]:
    """Compile the research graph for ``model`` over ``tools`` (which must include ``search``).

    Args:
        model: any LangChain chat model; ``think`` is passed only to :class:`ChatQwen`.
        tools: the ``search`` tool (a :class:`CitationSource` gets its citations checked) and any others.
        system_prompt: replaces ``prompts/researcher.md``.
        max_steps: model calls allowed per request.
        think: thinking for the model calls (``None`` leaves it to the server).
        tool_timeout: seconds one tool call may take.
        context_tokens: the history sent to the model is trimmed to about this many tokens.
        prefill: start each answer with ``Quote: "`` (``None``: for a local model without thinking).
        checkpointer: a LangGraph checkpointer for threads and resume.

    Raises:
        ConfigError: no tool is named ``search``, or ``max_steps`` is below 1.
    """
    by_name = {t.name: t for t in tools}
    search = by_name.get("search")
    if search is None:
        raise ConfigError("the research graph needs the search tool (run `qwengraph ingest PATH...` first)")
    if max_steps < 1:
        raise ConfigError("max_steps must be at least 1")
    started = _prefills(model) if prefill is None else prefill
    writer: Any = model if started else model.bind_tools(list(tools))
    if isinstance(model, ChatQwen) and think is not None:
        writer = writer.bind(think=think)
    nodes = _Nodes(
        writer=writer,
        by_name=by_name,
        checker=search if isinstance(search, CitationSource) else None,
        system=system_prompt or prompts.render("researcher", tool_names=sorted(by_name), language=None),
        started=started,
        max_steps=max_steps,
        tool_timeout=tool_timeout,
        context_tokens=context_tokens,
    )
    graph = StateGraph(ResearchState)
    graph.add_node("search", nodes.search)
    graph.add_node("answer", nodes.answer)
    graph.add_node("run_tools", nodes.run_tools)
    graph.add_node("verify", nodes.verify)
    graph.add_edge(START, "search")
    graph.add_edge("search", "answer")
    graph.add_conditional_edges("answer", _after_answer, ["run_tools", "verify", END])
    graph.add_edge("run_tools", "answer")
    graph.add_conditional_edges("verify", _after_verify, ["answer", END])
    return graph.compile(checkpointer=checkpointer)
