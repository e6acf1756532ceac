"""In-process Qwen on a GGUF file through llama.cpp (``llama-cpp-python``, extra ``local``).

No server: we render Qwen's ChatML prompt ourselves (tools in ``<tools>``, calls in
``<tool_call>``, results in ``<tool_response>``) and use raw completion, which lets us prefill the
answer. ``tool_choice`` (forced calls by prefill, named or not; ``"none"`` renders no tools) and
structured output (a llama.cpp grammar from the JSON schema), with thinking models thinking first,
are in :mod:`graphs.models.transports.constrain`. Generation stops as soon as a forced call's JSON
object closes, since small models go on to compute the answer themselves. Unforced, a reply may
hold several ``<tool_call>`` blocks (one per call: BFCL's parallel cases); after a ``</tool_call>``
only blanks and another block may follow, anything else (an answer guessed before the results, an
invented ``<tool_response>``) ends the reply (:class:`CallsEnd`). Output goes through the same
dialect functions as every server.

The ``Engine`` protocol (:mod:`graphs.models.transports.engine`) is the seam: ``LlamaEngine``
(:mod:`graphs.models.transports.llama`) runs the model; cassettes record and replay at this seam
(prompt and sampling in, completion text out), so replay needs neither llama.cpp nor the weights.
Engines load once per process and stay warm.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict
from typing import Any

from graphs.errors import ConfigError
from graphs.models.budget import THINK_CLOSE, ThinkingMeter, continuation_prompt
from graphs.models.cassette import Recorder, Replayer, active
from graphs.models.catalog import ChatFamily
from graphs.models.chatml import FAMILIES, Family, render_chatml
from graphs.models.images import LOCAL_IMAGES
from graphs.models.install import resolve_local
from graphs.models.profile_detect import Detection, detect_local
from graphs.models.profiles import QWEN3, QWEN25, Profile
from graphs.models.tool_guide import GUIDED_FAMILIES, with_tool_guide
from graphs.models.transports.assemble import DeltaAssembler, tool_schemas
from graphs.models.transports.base import ChatRequest, Delta, Usage
from graphs.models.transports.constrain import (
    CALL_OPEN,
    FORCED_CALL_PREFILL,  # noqa: F401 - re-exported: the forced call's prefill is part of this API
    JSONEnd,
    ThinkPhase,
    constraint_for,
    visible_tools,
)
from graphs.models.transports.engine import Engine, Piece
from graphs.models.transports.llama import LlamaEngine
from graphs.models.transports.llama_settings import EngineSettings, resolve_settings
from graphs.models.transports.stops import StopScanner

_CLIENT_SIDE = {"stop", "include_stop_str_in_output"}  # applied by the transport, not the engine


class LocalTransport:
    """Chat on an in-process engine; the engine is resolved from a catalogue name or a path.

    The chat template comes from the model's profile: named (``profile``, or ``family`` for the
    two original families), else detected from the GGUF file's own metadata
    (:func:`graphs.models.profile_detect.detect_local`). Only templates reproduced byte for byte
    (:data:`graphs.models.chatml.FAMILIES`) are rendered; others are refused with a clear error.

    With ``tool_guide=True``, when the model chooses whether to call (``tool_choice`` auto), the
    tools block ends with the small-model tool guide instead of the template's last sentence
    (:mod:`graphs.models.tool_guide`); by default the prompt is Qwen's own template, byte for byte.
    """

    def __init__(
        self,
        spec: str,
        *,
        engine: Engine | None = None,
        family: ChatFamily | None = None,
        settings: EngineSettings | None = None,
        profile: Profile | None = None,
        tool_guide: bool = False,
    ) -> None:
        self.spec = spec
        self.tool_guide = tool_guide
        self._engine = engine
        self.settings = settings
        if profile is None and family is not None:
            profile = QWEN3 if family == "qwen3" else QWEN25
        if profile is not None:
            self.detection = Detection(profile, "explicit", "named for the local transport")
        else:
            self.detection = detect_local(spec)
        self.profile = self.detection.profile

    @property
    def family(self) -> Family:
        """The chat template rendered for this model.

        Raises:
            ConfigError: the model's template is not one qwengraph reproduces.
        """
        template = self.profile.template
        if template not in FAMILIES:
            raise ConfigError(
                f"local:{self.spec} is a {self.profile.title} model, whose chat template the local "
                f"transport does not reproduce (it renders {', '.join(FAMILIES)}); serve it with "
                "llama.cpp's server or Ollama and use an openai: or ollama: URI"
            )
        return template

    @property
    def engine(self) -> Engine:
        """The engine for the next call: the open cassette's replay, a recording wrapper, or llama.cpp."""
        cassette = active()
        if isinstance(cassette, Replayer):
            return ReplayEngine(cassette, self.spec)
        if isinstance(cassette, Recorder):
            return RecordingEngine(self._real_engine(), cassette, self.spec)
        return self._real_engine()

    def _real_engine(self) -> Engine:
        if self._engine is None:
            self._engine = LlamaEngine(resolve_local(self.spec), settings=self.settings)
        return self._engine

    def warm(self, on_stage: Callable[[str], None] | None = None) -> None:
        """Probe and load the engine now (not at the first call), telling ``on_stage`` what it does.

        Nothing happens when a cassette replays or the engine has nothing to load.
        """
        if isinstance(active(), Replayer):
            return
        load = getattr(self._real_engine(), "load", None)
        if callable(load):
            load(on_stage)

    @property
    def context_window(self) -> int:
        """The engine's context window in tokens (``--ctx`` / ``QWENGRAPH_CTX``, default 8,192)."""
        return (self.settings or resolve_settings()).n_ctx

    @property
    def can_think(self) -> bool:
        """Whether the model has a thinking mode (Qwen3 does; Qwen2.5 does not)."""
        return self.profile.can_think

    def prompt(self, request: ChatRequest) -> str:
        """The rendered ChatML prompt, then the request's prefill or, when a tool is required, the
        forced-call prefill (a thinking model thinks first: see :mod:`.constrain`).

        Raises:
            ConfigError: the request holds images (llama.cpp runs the text model only).
        """
        if any(m.get("images") for m in request.messages):
            raise ConfigError(LOCAL_IMAGES)
        text = render_chatml(
            request.messages,
            visible_tools(request),
            think=request.think,
            family=self.family,
            preserve_thinking=bool(request.template_kwargs.get("preserve_thinking")),
        )
        if request.prefill is not None:
            return text + request.prefill
        constraint = constraint_for(request, can_think=self.can_think)
        if request.tool_choice != "required" and self.tool_guide and self.family in GUIDED_FAMILIES:
            text = with_tool_guide(text)  # a prompt without rendered tools is left unchanged
        return text if constraint.think_first else text + constraint.prefill

    def chat(self, request: ChatRequest) -> Iterator[Delta]:
        """Complete the rendered prompt and yield deltas (one when not streaming).

        Stop strings in ``request.sampling["stop"]`` are applied here, not by llama.cpp, so the
        closing delta can name the one that matched (``stop_sequence``).
        """
        deltas = self._deltas(request)
        if request.stream:
            yield from deltas
        else:
            yield _merge(list(deltas))

    def _deltas(self, request: ChatRequest) -> Iterator[Delta]:
        constraint = constraint_for(request, can_think=self.can_think)
        prompt = self.prompt(request)
        sampling = {k: v for k, v in request.sampling.items() if k not in _CLIENT_SIDE}
        scanner = StopScanner(
            request.sampling.get("stop") or [],
            include=bool(request.sampling.get("include_stop_str_in_output")),
        )
        assembler = self._assembler(request)
        spent = Usage()
        thought_cut = False  # a thinking budget cut the thinking phase
        if constraint.think_first:
            phase = ThinkPhase(self.engine, prompt, sampling, request.thinking_budget)
            for text in phase:
                if (delta := assembler.feed(content=text)) is not None:
                    yield delta
            spent = Usage(phase.prompt_tokens, phase.completion_tokens, phase.completion_tokens)
            if not phase.closed:  # it never finished thinking: nothing to constrain
                yield assembler.finish(phase.finish_reason, spent)
                return
            prompt = phase.answer_prompt + constraint.prefill
            thought_cut = phase.budget_hit
        if constraint.schema is not None:  # a new dict: the thinking phase keeps its own settings
            sampling = {**sampling, "json_schema": constraint.schema}
        prefill = constraint.prefill
        if prefill and (first := assembler.feed(content=prefill)) is not None:
            yield first
        # where generation ends: a forced call's JSON closing, or the text after the last call block
        call_end, ends = (JSONEnd(prefill[len(CALL_OPEN) :]) if prefill else None), CallsEnd()
        finish: str | None = None
        usage = Usage()
        prompt_tokens = thought = 0  # thought: pieces that were thinking (a piece is a token)
        budget = None if constraint.think_first else self._meter(request, prefill)
        pieces = self._pieces(prompt, sampling, budget)
        for produced, piece in enumerate(pieces, 1):
            prompt_tokens = max(prompt_tokens, piece.prompt_tokens)
            text, cut = _cut(piece, call_end, ends, scanner)
            if text and (delta := assembler.feed(content=text)) is not None:
                thought += bool(delta.thinking) and not delta.text
                yield delta
            if piece.finish_reason:
                finish = piece.finish_reason
                usage = Usage(prompt_tokens=piece.prompt_tokens, completion_tokens=piece.completion_tokens)
            finish = cut or finish
            if finish == "tool_calls" or scanner.hit is not None:
                usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=produced)
                _close(pieces)
                break
        if call_end is not None and finish == "stop" and call_end.depth == 1:
            # a named call's argument grammar completed: only the call's own closing brace is missing
            if (delta := assembler.feed(content="}\n</tool_call>")) is not None:
                yield delta
            finish = "tool_calls"
        if self.can_think and not constraint.think_first:
            usage.thinking_tokens = thought
        closing_delta = assembler.finish(finish, _add(spent, usage))
        closing_delta.thinking_budget_hit = (budget is not None and budget.hit) or thought_cut
        closing_delta.stop_sequence = scanner.hit
        yield closing_delta

    def _assembler(self, request: ChatRequest) -> DeltaAssembler:
        return DeltaAssembler(
            think=request.think,
            tool_names=tool_schemas(request.tools),
            expect_thinking=self.can_think and request.think is not False and request.prefill is None,
            keep_edges=request.prefill is not None,
            thinking_forced=request.thinking_forced,
            check_names=request.tool_choice != "required",
        )

    def _meter(self, request: ChatRequest, prefill: str) -> ThinkingMeter | None:
        """A thinking meter when a budget applies (a thinking model, thinking on, no forced call)."""
        if request.thinking_budget is None or prefill or not self.can_think or request.think is False:
            return None
        return ThinkingMeter(max(0, request.thinking_budget))

    def _pieces(self, prompt: str, sampling: dict[str, Any], meter: ThinkingMeter | None) -> Iterator[Piece]:
        """The engine's pieces; past the thinking budget, a second completion after the early stop.

        The closing ``</think>`` is handed on as a piece of its own so the parser leaves thinking; the
        early-stop sentence is only in the prompt. Token counts of both completions are summed.
        """
        first = self.engine.complete(prompt, sampling)
        produced = prompt_tokens = 0
        for piece in first:
            produced += 1
            prompt_tokens = max(prompt_tokens, piece.prompt_tokens)
            if meter is not None and not piece.finish_reason and meter.feed(piece.text):
                _close(first)
                break
            yield piece
        if meter is None or not meter.hit:
            return
        yield Piece(text=f"{piece.text}\n{THINK_CLOSE}\n\n")
        for more in self.engine.complete(continuation_prompt(prompt, meter.thinking), sampling):
            if more.finish_reason:
                more = Piece(  # noqa: PLW2901 - the closing piece gets both completions' counts
                    text=more.text,
                    finish_reason=more.finish_reason,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=produced + more.completion_tokens,
                )
            yield more

    async def achat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Run :meth:`chat` in a worker thread and hand its deltas to the event loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Delta | BaseException | None] = asyncio.Queue()

        def produce() -> None:
            try:
                for delta in self.chat(request):
                    loop.call_soon_threadsafe(queue.put_nowait, delta)
            except BaseException as err:  # noqa: BLE001 - handed to the consumer, which re-raises it
                loop.call_soon_threadsafe(queue.put_nowait, err)
            loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Nothing to release: engines stay warm for the process."""


def _cut(
    piece: Piece, closing: JSONEnd | None, ends: CallsEnd, scanner: StopScanner
) -> tuple[str, str | None]:
    """The text of ``piece`` to pass on, and ``"tool_calls"``/``"stop"`` when generation must end
    here: the forced call's JSON closed, the tool calls are over, or a stop string was reached."""
    text = piece.text
    if closing is not None and text:
        end = closing.feed(text)
        if end is not None:  # the forced call is complete: keep it, stop generating
            return text[:end] + "\n</tool_call>", "tool_calls"
    text = ends.feed(text)
    over = "tool_calls" if ends.done else None
    if piece.finish_reason or over:
        text += ends.flush()
    if not scanner.stops:
        return text, over
    text = scanner.feed(text)
    if scanner.hit is not None:
        return text, "stop"
    return (text + scanner.flush() if piece.finish_reason or over else text), over


BLOCK_OPEN, BLOCK_CLOSE = "<tool_call>", "</tool_call>"


class CallsEnd:
    """Ends a reply after its tool calls: once a ``</tool_call>`` closed a block, only blanks and
    another ``<tool_call>`` block may follow; anything else ends the reply there (``done``).

    Text is passed on as it comes, except a possible start of ``</tool_call>`` and the text after a
    closed block, which are held until it is clear what they are.
    """

    def __init__(self) -> None:
        self.buffer = ""
        self.after_call = False
        self.done = False

    def feed(self, text: str) -> str:
        """Take the next piece; return the text that may be passed on."""
        if self.done:
            return ""
        self.buffer += text
        out: list[str] = []
        while True:
            if not self.after_call:
                index = self.buffer.find(BLOCK_CLOSE)
                if index < 0:
                    keep = max(
                        (n for n in range(1, len(BLOCK_CLOSE)) if self.buffer.endswith(BLOCK_CLOSE[:n])),
                        default=0,
                    )
                    cut = len(self.buffer) - keep
                    out.append(self.buffer[:cut])
                    self.buffer = self.buffer[cut:]
                    break
                end = index + len(BLOCK_CLOSE)
                out.append(self.buffer[:end])
                self.buffer, self.after_call = self.buffer[end:], True
                continue
            rest = self.buffer.lstrip()
            if rest.startswith(BLOCK_OPEN):
                self.after_call = False  # another call: pass it on, look for its end
                continue
            if not rest or BLOCK_OPEN.startswith(rest):
                break  # blanks, or the start of another block: wait for more
            self.buffer, self.done = "", True
            break
        return "".join(out)

    def flush(self) -> str:
        """The held text at the end of the reply (blanks after the last call are dropped)."""
        held, self.buffer = self.buffer, ""
        return "" if self.after_call or self.done else held


def _close(pieces: Iterator[Piece]) -> None:
    """Close an engine stream that was cut short, so the engine stops generating."""
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def _add(first: Usage, second: Usage) -> Usage:
    """Token counts of a thinking phase and the answer after it (the answer's prompt holds the
    thinking, so the prompt is counted once, from the first phase)."""
    if not first.completion_tokens:
        return second
    return Usage(
        prompt_tokens=first.prompt_tokens or second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        thinking_tokens=first.thinking_tokens,
    )


def _merge(deltas: list[Delta]) -> Delta:
    out = Delta()
    for d in deltas:
        out.thinking += d.thinking
        out.text += d.text
        out.tool_calls.extend(d.tool_calls)
        out.bad_tool_calls.extend(d.bad_tool_calls)
        out.finish_reason = d.finish_reason or out.finish_reason
        out.usage = d.usage or out.usage
        out.thinking_budget_hit = out.thinking_budget_hit or d.thinking_budget_hit
        out.stop_sequence = d.stop_sequence or out.stop_sequence
        out.raw_text += d.raw_text
        out.calls_from_text = out.calls_from_text or d.calls_from_text
    return out


LOCAL_PATH = "/local/completion"


class RecordingEngine:
    """Runs a real engine and records each completion into the open cassette."""

    def __init__(self, inner: Engine, recorder: Recorder, spec: str) -> None:
        self.inner, self.recorder, self.spec = inner, recorder, spec

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        """Stream from the real engine, then store prompt, sampling and pieces."""
        pieces: list[Piece] = []
        try:
            for piece in self.inner.complete(prompt, sampling):
                pieces.append(piece)
                yield piece
        finally:
            self.recorder.add(
                {
                    "request": {
                        "method": "POST",
                        "path": LOCAL_PATH,
                        "json": _local_request(self.spec, prompt, sampling),
                    },
                    "response": {"status": 200, "ndjson": [asdict(p) for p in pieces]},
                }
            )


class ReplayEngine:
    """Serves completions from the open cassette: no llama.cpp, no weights."""

    def __init__(self, replayer: Replayer, spec: str) -> None:
        self.replayer, self.spec = replayer, spec

    def complete(self, prompt: str, sampling: dict[str, Any]) -> Iterator[Piece]:
        """The recorded pieces for this exact prompt and sampling (drift raises ``CassetteError``)."""
        request = {"method": "POST", "path": LOCAL_PATH, "json": _local_request(self.spec, prompt, sampling)}
        response = self.replayer.take(request)
        for item in response.get("ndjson") or []:
            yield Piece(**item)


def _local_request(spec: str, prompt: str, sampling: dict[str, Any]) -> dict[str, Any]:
    return {"model": spec, "prompt": prompt, "sampling": json.loads(json.dumps(sampling))}
