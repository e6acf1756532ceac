"""GraphCache: one compiled graph per (spec, model, tools, options), reused across runs."""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graphs.build import NamedGraph
from graphs.graph_cache import GraphCache
from graphs.models.chat import ChatQwen
from graphs.models.testing import ScriptedTransport, turn
from tools import make_calculator


def model(*turns):
    return ChatQwen(model="ollama:q", transport=ScriptedTransport(list(turns)))


def test_same_arguments_same_graph_and_the_graph_runs_twice() -> None:
    cache, llm, tools = GraphCache(), model(turn("one"), turn("two")), [make_calculator()]
    first = cache.build(NamedGraph("react"), llm, tools, max_steps=3, approve=())
    again = cache.build(NamedGraph("react"), llm, list(tools), max_steps=3, approve=[])
    assert again is first
    assert (cache.hits, cache.misses) == (1, 1)
    answers = [
        first.invoke({"messages": [HumanMessage("hi")], "steps": 0})["messages"][-1].text for _ in "ab"
    ]
    assert answers == ["one", "two"], "a cached graph holds no state from the run before"


def test_any_difference_builds_another_graph() -> None:
    cache, llm, calc = GraphCache(), model(), make_calculator()
    base = cache.build(NamedGraph("react"), llm, [calc], max_steps=3)
    others = [
        cache.build(NamedGraph("plan_execute"), llm, [calc], max_steps=3),
        cache.build(NamedGraph("react"), model(), [calc], max_steps=3),
        cache.build(NamedGraph("react"), llm, [make_calculator()], max_steps=3),
        cache.build(NamedGraph("react"), llm, [calc], max_steps=4),
        cache.build(NamedGraph("react"), llm, [calc], max_steps=3, checkpointer=InMemorySaver()),
        cache.build(NamedGraph("react"), llm, [calc], max_steps=3, system_prompt="Be brief."),
    ]
    assert len({id(g) for g in [base, *others]}) == 7
    assert cache.misses == 7 and cache.hits == 0


def test_least_recently_used_graphs_leave_first() -> None:
    cache, calc = GraphCache(size=2), make_calculator()
    a, b, c = model(), model(), model()
    first = cache.build(NamedGraph("react"), a, [calc])
    cache.build(NamedGraph("react"), b, [calc])
    assert cache.build(NamedGraph("react"), a, [calc]) is first  # a is now the most recent
    cache.build(NamedGraph("react"), c, [calc])  # evicts b
    assert len(cache) == 2
    assert cache.build(NamedGraph("react"), a, [calc]) is first
    misses = cache.misses
    cache.build(NamedGraph("react"), b, [calc])
    assert cache.misses == misses + 1
