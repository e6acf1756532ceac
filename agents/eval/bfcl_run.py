"""Run BFCL cases on any model: concurrently, two readings per case, each stored as it finishes.

Readings (see :mod:`agents.eval.bfcl_harness`):

- ``qwengraph``: ``ChatQwen.bind_tools`` with the case's functions as OpenAI tool schemas, read by
  qwengraph's dialect layer: the calls a qwengraph user gets (``message.tool_calls``).
- ``harness``: the leaderboard harness. On a server, the calls the server parsed in the same
  response; on the local engine, a second completion on BFCL's own Qwen prompt, read by BFCL's
  ``<tool_call>`` regex.

Both are scored by :mod:`agents.eval.bfcl_checker`. Sampling follows BFCL (temperature 0.001)
unless told otherwise; every request carries the run's seed, so a recorded run replays exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agents.eval.bfcl_checker import Call, Verdict, check_ast, check_relevance
from agents.eval.bfcl_data import DEFAULT_CATEGORIES, BfclCase, BfclData, openai_tools, select
from agents.eval.bfcl_harness import BFCL_TEMPERATURE, decode_tool_call_tags, decoded_calls, qwen_fc_prompt
from agents.eval.capture import CapturingTransport
from agents.eval.store import CaseResult, EvalStore
from graphs.errors import CassetteError, ConfigError, ModelError, ModelInstallError, ServerUnavailable
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text

READINGS = ("qwengraph", "harness")
FATAL = (ServerUnavailable, CassetteError, ConfigError, ModelInstallError)
"""Errors that end the run (resumable) instead of failing one case."""


@dataclass
class BfclOptions:
    """Everything that defines a BFCL run; stored with it, so ``eval resume`` needs nothing else."""

    model: str
    categories: list[str] = field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    base_url: str | None = None
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    think: bool | None = None
    profile: str | None = None
    concurrency: int = 1
    max_tokens: int = 512
    temperature: float = BFCL_TEMPERATURE
    harness: bool = True
    tool_guide: bool = False
    data: str | None = None
    timeout: float = 300.0

    def config(self) -> dict[str, Any]:
        """The JSON-able settings."""
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BfclOptions:
        """Settings back from :meth:`config` (unknown keys ignored)."""
        return cls(**{k: v for k, v in config.items() if k in cls.__dataclass_fields__})


def pick_cases(options: BfclOptions, data: BfclData) -> list[BfclCase]:
    """The cases of every chosen category, cut by ``limit`` or ``sample`` per category."""
    cases: list[BfclCase] = []
    for category in options.categories:
        cases += select(data.cases(category), limit=options.limit, sample=options.sample, seed=options.seed)
    return cases


def make_model(options: BfclOptions) -> ChatQwen:
    """The chat model for the qwengraph reading (``--profile``: ChatQwen's Qwen generation profile)."""
    extra: dict[str, Any] = {}
    if options.profile is not None:
        if "qwen_profile" not in ChatQwen.model_fields:
            raise ConfigError("--profile needs Qwen generation profiles, which this build does not have yet")
        extra["qwen_profile"] = options.profile
    return ChatQwen(
        model=options.model,
        base_url=options.base_url,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        seed=options.seed,
        timeout=options.timeout,
        **extra,
    )


def score(case: BfclCase, decoded: list[Call] | None, why: str = "") -> Verdict:
    """A case's verdict for decoded calls (``None``: the output could not be decoded)."""
    if case.kind != "ast":
        return check_relevance(decoded, case.category)
    if decoded is None:
        return Verdict(False, "ast_decoder:decoder_failed", why or "no function calls could be decoded")
    assert case.answer is not None
    return check_ast(case.functions, decoded, case.answer, case.category)


def chat_messages(case: BfclCase) -> list[BaseMessage]:
    """The case's first turn as LangChain messages."""
    kinds = {"system": SystemMessage, "assistant": AIMessage}
    return [
        kinds.get(m.get("role", "user"), HumanMessage)(content=str(m.get("content", "")))
        for m in case.messages
    ]


def _estimate_tokens(text: str) -> int | None:
    return (len(text) + 3) // 4 if text else None


class BfclRunner:
    """Evaluates cases on one model: one shared transport, one capture per case."""

    def __init__(self, options: BfclOptions, model: ChatQwen | None = None) -> None:
        self.options = options
        self.model = model or make_model(options)
        self.transport = self.model.get_transport()
        if options.tool_guide:
            from graphs.models.transports.local import LocalTransport  # noqa: PLC0415 - optional extra

            if isinstance(self.transport, LocalTransport):  # servers render their own prompt
                self.transport.tool_guide = True

    @property
    def local(self) -> bool:
        """Whether the model runs in process (the harness reading then needs its own completion)."""
        from graphs.models.transports.local import LocalTransport  # noqa: PLC0415 - optional extra

        return isinstance(self.transport, LocalTransport)

    async def evaluate(self, case: BfclCase, readings: Iterable[str]) -> list[CaseResult]:
        """The case's results in the wanted readings (on servers one call yields both)."""
        wanted = set(readings)
        results: list[CaseResult] = []
        if "qwengraph" in wanted or ("harness" in wanted and not self.local):
            ours, server = await self._chat(case)
            if "qwengraph" in wanted:
                results.append(ours)
            if "harness" in wanted and not self.local:
                results.append(server)
        if "harness" in wanted and self.local:
            results.append(await self._local_harness(case))
        return results

    async def _chat(self, case: BfclCase) -> tuple[CaseResult, CaseResult]:
        capture = CapturingTransport(self.transport)
        llm = self.model.model_copy(update={"transport": capture})
        bound: Any = llm.bind_tools(openai_tools(case.prompt_functions()))
        if self.options.think is not None:
            bound = bound.bind(think=self.options.think)
        started = time.perf_counter()
        try:
            message = await bound.ainvoke(chat_messages(case))
            error = None
        except FATAL:
            raise
        except ModelError as err:
            message, error = AIMessage(content=""), f"{type(err).__name__}: {err}"
        seconds = time.perf_counter() - started
        prompt, completion, thinking_tokens = capture.usage()
        thinking = reasoning_text(message) if isinstance(message, AIMessage) else ""
        common: dict[str, Any] = {
            "case_id": case.id,
            "category": case.category,
            "input": {"messages": case.messages, "functions": case.functions},
            "expected": case.answer,
            "raw_output": capture.raw_text or (error or ""),
            "thinking": thinking,
            "model_calls": len(capture.attempts),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "thinking_tokens": thinking_tokens if thinking_tokens is not None else _estimate_tokens(thinking),
            "seconds": seconds,
        }
        ours_calls = None if error else decoded_calls(message.tool_calls)
        server_calls = None if error else decoded_calls(capture.server_calls())
        return (
            _result(case, "qwengraph", ours_calls, error, common),
            _result(case, "harness", server_calls, error, common),
        )

    async def _local_harness(self, case: BfclCase) -> CaseResult:
        prompt = qwen_fc_prompt(case.messages, case.prompt_functions())
        sampling = {
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens,
            "seed": self.options.seed,
        }
        from graphs.models.transports.local import LocalTransport  # noqa: PLC0415 - optional extra

        assert isinstance(self.transport, LocalTransport)
        engine = self.transport.engine  # the open cassette's replay or recording, else llama.cpp

        def complete() -> list[Any]:
            return list(engine.complete(prompt, sampling))

        started = time.perf_counter()
        pieces = await asyncio.to_thread(complete)
        seconds = time.perf_counter() - started
        text = "".join(p.text for p in pieces)
        last = pieces[-1] if pieces else None
        decoded = decode_tool_call_tags(text)
        common: dict[str, Any] = {
            "case_id": case.id,
            "category": case.category,
            "input": {"prompt": prompt},
            "expected": case.answer,
            "raw_output": text,
            "model_calls": 1,
            "prompt_tokens": last.prompt_tokens if last else 0,
            "completion_tokens": (last.completion_tokens or len(pieces)) if last else 0,
            "seconds": seconds,
        }
        why = "no <tool_call> block could be decoded" if decoded is None else ""
        return _result(case, "harness", decoded, why or None, common, decode_error=decoded is None)


def _result(
    case: BfclCase,
    reading: str,
    decoded: list[Call] | None,
    error: str | None,
    common: dict[str, Any],
    *,
    decode_error: bool = False,
) -> CaseResult:
    if error and not decode_error:
        verdict = Verdict(False, "model_error", error)
    else:
        verdict = score(case, decoded, error or "")
    return CaseResult(
        reading=reading,
        valid=verdict.valid,
        error_type=verdict.error_type,
        error=verdict.error,
        decoded=decoded,
        **common,
    )


async def run_cases(
    runner: BfclRunner,
    cases: list[BfclCase],
    store: EvalStore,
    run_id: str,
    *,
    readings: Iterable[str] = READINGS,
    on_result: Callable[[CaseResult], None] | None = None,
) -> None:
    """Evaluate the cases not stored yet, ``concurrency`` at a time; each result is stored at once."""
    wanted = tuple(readings)
    done = store.done_keys(run_id)
    todo = [(c, [r for r in wanted if (c.id, r) not in done]) for c in cases]
    todo = [(c, r) for c, r in todo if r]
    gate = asyncio.Semaphore(max(1, runner.options.concurrency))

    async def one(case: BfclCase, missing: list[str]) -> None:
        async with gate:
            for result in await runner.evaluate(case, missing):
                store.add_case(run_id, result)
                if on_result is not None:
                    on_result(result)

    tasks = [asyncio.create_task(one(c, r)) for c, r in todo]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
