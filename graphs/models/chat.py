"""``ChatQwen``: one LangChain chat model for Qwen on any server.

Picks a transport from the model URI, applies the model's Qwen profile (thinking switch, card
sampling per mode, the current turn's thinking sent back: :mod:`graphs.models.profile_request`),
and turns the transport's neutral deltas into langchain-core messages in LangChain's conventions
(:mod:`graphs.models.responses`): the answer as string ``content``, thinking in
``additional_kwargs["reasoning_content"]`` (a ``reasoning`` block in ``content_blocks``), tool
calls as ``tool_calls``, unreadable ones as ``invalid_tool_calls``.

Thinking policy: ``think="auto"`` asks :func:`graphs.models.thinking.decide_think` (or your
``think_rule``); ``thinking_budget`` caps reasoning tokens (:mod:`graphs.models.budget`); a response
that only thought is retried once (``no_answer``) and marked ``response_metadata["recovered"]``.
``tool_choice`` takes every LangChain form (:mod:`graphs.models.choice`); ``with_structured_output``
supports function calling, JSON schema and JSON mode (:mod:`graphs.models.structured`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from graphs.errors import ConfigError
from graphs.models.budget import NoAnswerPolicy, lacks_answer, retry_settings
from graphs.models.choice import parse_tool_choice
from graphs.models.convert import to_neutral
from graphs.models.profile_detect import Detection
from graphs.models.profile_request import (
    check_request,
    detect_for,
    langchain_profile,
    plan_thinking,
    qwen_profile_argument,
    reasoning_scope,
)
from graphs.models.profiles import Profile, get_profile
from graphs.models.responses import PROVIDER, Chunker, is_final, result
from graphs.models.structured import Method, structured_runnable
from graphs.models.thinking import ThinkRule, decide_think
from graphs.models.transports.base import ChatRequest, Delta, Transport
from graphs.models.transports.factory import make_transport
from graphs.models.transports.openai import ReasoningField
from graphs.models.uri import ModelURI, parse_model_uri


class ChatQwen(BaseChatModel):
    """A Qwen chat model reached through Ollama, an OpenAI-compatible server, or in process.

    Example:
        >>> model = ChatQwen(model="ollama:qwen3:8b", think=True)  # doctest: +SKIP
        >>> model.bind_tools([calculator]).invoke("What is 17*23?")  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    model: str = Field(
        description="Model URI: ollama:<model>, openai:<model>, local:<name|path.gguf> or "
        "transformers:<hub-id|dir|path.gguf>."
    )
    base_url: str | None = Field(
        default=None, description="Server URL; else QWENGRAPH_BASE_URL; else the default."
    )
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(["QWENGRAPH_API_KEY", "OPENAI_API_KEY"], default=None),
        description="Bearer token for OpenAI-compatible servers (else QWENGRAPH_API_KEY, OPENAI_API_KEY).",
    )
    think: bool | Literal["auto"] | None = Field(
        default=None, description="Thinking on/off; 'auto' decides per request; None leaves it to the server."
    )
    think_rule: ThinkRule | None = Field(
        default=None, exclude=True, description="Replaces decide_think for think='auto'."
    )
    thinking_budget: int | None = Field(
        default=None, ge=0, description="Reasoning tokens allowed per call (see graphs.models.budget)."
    )
    no_answer: NoAnswerPolicy = Field(
        default="no_think",
        description="When a response only thought: retry without thinking, with double budget, or off.",
    )
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = Field(default=None, description="Stop sequences for every call.")
    streaming: bool = Field(default=False, description="invoke() streams from the server (LangChain's flag).")
    think_switch: Literal["template_kwargs", "soft_switch"] = Field(
        default="template_kwargs",
        description="How OpenAI-compatible servers are told to think: template kwargs or /think, /no_think.",
    )
    expect_thinking: bool = Field(
        default=False, description="The chat template pre-inserts <think>, so output starts inside thinking."
    )
    retries: int = Field(
        default=3, ge=1, description="Attempts for connection errors, timeouts and HTTP 5xx."
    )
    max_retries: int | None = Field(
        default=None, ge=0, description="LangChain's name: retries after the first attempt (sets retries)."
    )
    timeout: float = Field(default=300.0, gt=0, description="Read timeout in seconds.")
    transport: Any = Field(
        default=None, exclude=True, description="A ready Transport (tests, custom servers)."
    )
    engine: dict[str, Any] | None = Field(
        default=None,
        description="local: models: llama.cpp settings n_ctx, n_threads, n_batch, extra_bufts (else env).",
    )
    qwen_profile: str | Profile | None = Field(
        default=None, description="The Qwen profile (also as profile=...); None detects it."
    )
    preserve_thinking: bool = Field(
        default=False, description="Qwen3.6+: send back and render all past thinking, not this turn's only."
    )
    reasoning_field: ReasoningField = Field(
        default="reasoning", description="Where OpenAI-compatible servers get past thinking (see openai.py)."
    )

    _transports: dict[str, Transport] = PrivateAttr(default_factory=dict)
    _detection: Detection | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _profile_argument(cls, data: Any) -> Any:
        return qwen_profile_argument(data)

    def _resolve_model_profile(self) -> ModelProfile | None:
        return langchain_profile(self.model, self.qwen_profile)

    @property
    def _llm_type(self) -> str:
        return "qwen"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, "think": self.think}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop or self.stop, **kwargs)
        params["ls_provider"] = PROVIDER
        return params

    def get_transport(self, uri: ModelURI | None = None) -> Transport:
        """The transport for this model's URI (or ``uri``), built once and reused (one client per server)."""
        if self.transport is not None:
            return self.transport  # type: ignore[no-any-return]
        target = uri or parse_model_uri(self.model)
        key = str(target) if target.kind in ("local", "transformers") else target.kind
        if key not in self._transports:
            self._transports[key] = self._make_transport(str(target))
        return self._transports[key]

    def _make_transport(self, model: str) -> Transport:
        return make_transport(
            model,
            base_url=self.base_url,
            api_key=self.api_key.get_secret_value() if self.api_key is not None else None,
            retries=self.retries if self.max_retries is None else self.max_retries + 1,
            timeout=self.timeout,
            think_switch=self.think_switch,
            expect_thinking=self.expect_thinking,
            reasoning_field=self.reasoning_field,
            engine=self.engine,
            profile=get_profile(self.qwen_profile)
            if isinstance(self.qwen_profile, str)
            else self.qwen_profile,
        )

    def profile_detection(self) -> Detection:
        """This model's Qwen profile and why it was picked (see :mod:`graphs.models.profile_detect`)."""
        if self._detection is None:
            self._detection = detect_for(self.model, self.qwen_profile, self.get_transport())
        return self._detection

    @property
    def model_name(self) -> str:
        """The model's name as its server knows it (the URI without its kind)."""
        return parse_model_uri(self.model).name

    def _target(self, override: Any) -> ModelURI:
        """The model a call goes to: this one, or a per-call ``model=`` of the same kind (a name or URI)."""
        own = parse_model_uri(self.model)
        if not override:
            return own
        if not isinstance(override, str):
            raise ConfigError(f"model must be a model name or URI, not {type(override).__name__}")
        try:
            uri = parse_model_uri(override)
        except ConfigError:
            uri = ModelURI(kind=own.kind, name=override.strip())
        if uri.kind != own.kind:
            raise ConfigError(
                f"model {override!r} is not a {own.kind}: model; "
                "use another ChatQwen for another kind of server"
            )
        return uri

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool, function, pydantic model, TypedDict or OpenAI schema).

        ``tool_choice`` takes every LangChain form (see :mod:`graphs.models.choice`): ``"auto"``,
        ``"none"``, ``"any"``/``"required"``/``True`` (a call must be made), a tool's name or
        ``{"type": "function", "function": {"name": ...}}`` (that tool must be called). Raises
        :class:`ConfigError` for a form it cannot read or a name that is not bound.
        """
        strict = kwargs.pop("strict", None)
        schemas = [convert_to_openai_tool(t, strict=strict) for t in tools]
        parse_tool_choice(tool_choice, [s["function"]["name"] for s in schemas])  # fail now, not per call
        return self.bind(tools=schemas, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Method = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning ``schema``'s validated object (see :mod:`graphs.models.structured`).

        ``method``: ``"json_schema"`` (default: the server constrains the answer to the schema),
        ``"function_calling"`` (a forced call of a tool shaped like the schema) or ``"json_mode"``
        (any JSON object; the prompt must ask for the fields). ``schema``: a pydantic model (the
        result is an instance), a TypedDict or a JSON schema (the result is a dict).
        ``include_raw=True`` returns ``{"raw", "parsed", "parsing_error"}`` instead of raising.
        """
        if kwargs:
            raise ConfigError(f"with_structured_output got unsupported arguments: {', '.join(kwargs)}")
        return structured_runnable(self, schema, method=method, include_raw=include_raw, strict=strict)

    def build_request(
        self, messages: list[BaseMessage], stop: list[str] | None, *, stream: bool, **kwargs: Any
    ) -> ChatRequest:
        """The neutral request for ``messages`` with per-call overrides (``think``, ``tools``...)."""
        target = self._target(kwargs.get("model"))
        profile = self.profile_detection().profile
        think = kwargs.get("think", self.think)
        if think == "auto":
            think = (kwargs.get("think_rule") or self.think_rule or decide_think)(messages)
        plan = plan_thinking(profile, think)
        preserve = bool(kwargs.get("preserve_thinking", self.preserve_thinking))
        neutral = to_neutral(messages, scope=reasoning_scope(profile, preserve))
        check_request(
            profile, neutral, model=self.model, think_switch=self.think_switch, preserve_thinking=preserve
        )
        sampling: dict[str, Any] = dict(profile.sampling(plan.think))
        for key in ("temperature", "top_p", "top_k", "max_tokens", "seed"):
            value = kwargs.get(key, getattr(self, key))
            if value is not None:
                sampling[key] = value
        stop = stop or self.stop
        if stop:
            sampling["stop"] = list(stop)
            if kwargs.get("include_stop"):  # vLLM's name; the local transport honours it too
                sampling["include_stop_str_in_output"] = True
        budget = kwargs.get("thinking_budget", self.thinking_budget)
        tools = list(kwargs.get("tools") or [])
        choice = parse_tool_choice(kwargs.get("tool_choice"), [t["function"]["name"] for t in tools])
        return ChatRequest(
            model=target.name,
            messages=neutral,
            tools=tools,
            think=plan.think,
            sampling=sampling,
            stream=stream,
            tool_choice=choice.mode if choice is not None and tools else None,
            tool_name=choice.name if choice is not None and tools else None,
            response_format=kwargs.get("response_format"),
            thinking_budget=budget if plan.think else None,
            prefill=kwargs.get("prefill"),
            template_kwargs={"preserve_thinking": True} if preserve else {},
            opens_thinking=profile.opens_thinking and plan.think,
            thinking_forced=plan.forced,
        )

    def _recovery(self, request: ChatRequest, **kwargs: Any) -> tuple[dict[str, Any], str] | None:
        """Per-call overrides and label for the one retry after a response without an answer."""
        policy = kwargs.get("no_answer", self.no_answer)
        settings = retry_settings(policy, request.thinking_budget, request.sampling.get("max_tokens"))
        if settings is None or (request.think is False and settings[0].get("think") is False):
            return None
        return {**kwargs, **settings[0]}, settings[1]

    def _transport_for(self, kwargs: dict[str, Any]) -> Transport:
        return self.get_transport(self._target(kwargs.get("model")))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self.build_request(messages, stop, stream=False, **kwargs)
        transport = self._transport_for(kwargs)
        deltas = list(transport.chat(request))
        failed = lacks_answer(deltas, tools_offered=bool(request.tools))
        retry = self._recovery(request, **kwargs) if failed else None
        keep = request.prefill is not None
        if retry is None:
            return result(deltas, request.model, keep_space=keep)
        again = self.build_request(messages, stop, stream=False, **retry[0])
        deltas += list(transport.chat(again))
        return result(deltas, request.model, recovered=retry[1], keep_space=keep)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self.build_request(messages, stop, stream=False, **kwargs)
        transport = self._transport_for(kwargs)
        deltas = [d async for d in transport.achat(request)]
        failed = lacks_answer(deltas, tools_offered=bool(request.tools))
        retry = self._recovery(request, **kwargs) if failed else None
        keep = request.prefill is not None
        if retry is None:
            return result(deltas, request.model, keep_space=keep)
        again = self.build_request(messages, stop, stream=False, **retry[0])
        deltas += [d async for d in transport.achat(again)]
        return result(deltas, request.model, recovered=retry[1], keep_space=keep)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        first = self.build_request(messages, stop, stream=True, **kwargs)
        request: ChatRequest | None = first
        transport = self._transport_for(kwargs)
        chunker = Chunker(first.model)
        while request is not None:
            held: list[Delta] = []  # closing deltas wait: a retry must not merge two finish reasons
            for delta in transport.chat(request):
                chunker.seen.append(delta)
                if is_final(delta):
                    held.append(delta)
                    continue
                chunk = chunker.chunk(delta)
                if run_manager is not None:
                    run_manager.on_llm_new_token(delta.text, chunk=chunk)
                yield chunk
            request = self._next_attempt(chunker, request, messages, stop, kwargs)
            for chunk in _closing(chunker, held, last_attempt=request is None):
                if run_manager is not None:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    def _next_attempt(
        self,
        chunker: Chunker,
        request: ChatRequest,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> ChatRequest | None:
        """The retry request after a streamed response without an answer (once), else ``None``."""
        if chunker.extra.get("recovered") or not lacks_answer(
            chunker.seen, tools_offered=bool(request.tools)
        ):
            return None
        retry = self._recovery(request, **kwargs)
        if retry is None:
            return None
        chunker.extra["recovered"] = retry[1]
        chunker.seen.clear()
        return self.build_request(messages, stop, stream=True, **retry[0])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        first = self.build_request(messages, stop, stream=True, **kwargs)
        request: ChatRequest | None = first
        transport = self._transport_for(kwargs)
        chunker = Chunker(first.model)
        while request is not None:
            held: list[Delta] = []
            async for delta in transport.achat(request):
                chunker.seen.append(delta)
                if is_final(delta):
                    held.append(delta)
                    continue
                chunk = chunker.chunk(delta)
                if run_manager is not None:
                    await run_manager.on_llm_new_token(delta.text, chunk=chunk)
                yield chunk
            request = self._next_attempt(chunker, request, messages, stop, kwargs)
            for chunk in _closing(chunker, held, last_attempt=request is None):
                if run_manager is not None:
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk


def _closing(chunker: Chunker, held: list[Delta], *, last_attempt: bool) -> Iterator[ChatGenerationChunk]:
    """The chunks of an attempt's closing deltas; the stream's very last one is marked ``last``."""
    if last_attempt and not held:
        held = [Delta()]  # a stream must end on a chunk marked last, even if the server sent no close
    for position, delta in enumerate(held, 1):
        yield chunker.chunk(delta, final=last_attempt, last=last_attempt and position == len(held))
