"""``with_structured_output`` for ``ChatQwen``: function calling, JSON schema and JSON mode.

``schema`` is a pydantic model (v2, or v1 from ``pydantic.v1``; the result is an instance), a
TypedDict or a JSON schema dict (the result is a dict); ``json_mode`` also takes ``None`` (any JSON
object). How each method reaches each server:

================  ==================================  ============================  ==========================
method            Ollama (native)                     vLLM / OpenAI-compatible      in process (llama.cpp)
================  ==================================  ============================  ==========================
json_schema       ``format``: the schema              ``response_format``           grammar from the schema
json_mode         ``format: "json"``                  ``response_format``           grammar: any JSON object
function_calling  ``format``: a schema of the call    ``tool_choice``: the tool     prefilled ``<tool_call>``
================  ==================================  ============================  ==========================

With thinking on, only the answer is constrained: vLLM (with a reasoning parser) and Ollama apply
the schema after the thinking ends, and the local transport lets the model think freely before it
applies the grammar (see :mod:`graphs.models.transports.constrain`). Servers that drop or garble
output under a JSON mode are handled on reading: the answer's JSON is found inside code fences or
prose and repaired where unambiguous (:func:`answer_json`), and an answer with no readable JSON is a
parsing error that says what was wrong (``include_raw=True`` returns it instead of raising).
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseCumulativeTransformOutputParser
from langchain_core.output_parsers.openai_tools import JsonOutputKeyToolsParser, PydanticToolsParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.json import parse_partial_json
from langchain_core.utils.pydantic import is_basemodel_subclass

from graphs.errors import ConfigError
from graphs.models.jsonrepair import JSONRepairError, parse_prefix, repair_json

if TYPE_CHECKING:
    from graphs.models.chat import ChatQwen

Method = Literal["function_calling", "json_schema", "json_mode"]
METHODS: tuple[Method, ...] = ("json_schema", "function_calling", "json_mode")
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def structured_runnable(
    model: ChatQwen,
    schema: dict[str, Any] | type | None,
    *,
    method: Method = "json_schema",
    include_raw: bool = False,
    strict: bool | None = None,
) -> Runnable[Any, Any]:
    """``model`` bound for ``method`` and piped into the parser for ``schema`` (see the module doc)."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if schema is None and method != "json_mode":
        raise ConfigError(f"with_structured_output(method={method!r}) needs a schema")
    pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    parser: Runnable[Any, Any]
    if method == "function_calling":
        tool = convert_to_openai_tool(schema, strict=strict)  # type: ignore[arg-type]  # not None here
        name = tool["function"]["name"]
        bound = model.bind_tools(
            [schema],  # type: ignore[list-item]
            tool_choice=name,
            strict=strict,
            ls_structured_output_format={"kwargs": {"method": method, "strict": strict}, "schema": schema},
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
            if pydantic
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    else:
        json_schema = convert_to_json_schema(schema) if schema is not None else None
        bound = model.bind(
            response_format=response_format(json_schema, method, strict),
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": schema if schema is not None else ANY_OBJECT,
            },
        )
        parser = JsonAnswerParser(pydantic_model=schema if pydantic else None)
    if not include_raw:
        return bound | parser
    parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    failed = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | parsed.with_fallbacks([failed], exception_key="parsing_error")


def response_format(schema: dict[str, Any] | None, method: Method, strict: bool | None) -> dict[str, Any]:
    """The OpenAI-shaped ``response_format`` a request carries (see ``ChatRequest``)."""
    if method == "json_mode" or schema is None:
        return {"type": "json_object"}
    inner: dict[str, Any] = {"name": str(schema.get("title") or "answer"), "schema": schema}
    if strict is not None:
        inner["strict"] = strict
    return {"type": "json_schema", "json_schema": inner}


def format_schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema a ``response_format`` asks for (``{"type": "object"}`` for JSON mode)."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        inner = response_format.get("json_schema") or {}
        schema = inner.get("schema") if isinstance(inner, dict) else None
        if not isinstance(schema, dict):
            raise ConfigError(
                'response_format {"type": "json_schema"} needs a JSON schema in json_schema.schema'
            )
        return schema
    if kind == "json_object":
        return dict(ANY_OBJECT)
    if kind == "text":
        return None
    raise ConfigError(f"response_format type must be json_schema, json_object or text, not {kind!r}")


def answer_json(text: str) -> Any:
    """The JSON value of an answer: the whole text, a fenced block, or the first object in prose.

    Unambiguous damage is repaired (:func:`graphs.models.jsonrepair.repair_json`).

    Raises:
        OutputParserException: no JSON could be read; the message says why and quotes the answer.
    """
    stripped = text.strip()
    if not stripped:
        raise OutputParserException("the answer is empty: expected JSON", llm_output=text)
    try:
        return repair_json(stripped)
    except JSONRepairError as err:
        first_error = err
    start = min((i for i in (stripped.find("{"), stripped.find("[")) if i >= 0), default=-1)
    if start >= 0:
        try:
            return parse_prefix(stripped, start)[0]
        except JSONRepairError:
            pass
    raise OutputParserException(
        f"the answer is not JSON ({first_error}): {stripped[:200]!r}", llm_output=text
    ) from None


class JsonAnswerParser(BaseCumulativeTransformOutputParser[Any]):
    """Parses the answer text (never the thinking) as JSON, validated by ``pydantic_model`` if given.

    Streaming yields each new partial value that parses (and, with a pydantic model, validates).
    """

    pydantic_model: Any = None

    @property
    def _type(self) -> str:
        return "qwen_json_answer"

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        """The value of the first generation's answer text."""
        generation = result[0]
        text = generation.message.text if isinstance(generation, ChatGeneration) else generation.text
        if partial:
            try:
                value = parse_partial_json(_unfence(text))
            except (ValueError, TypeError):
                return None
            if value is None or self.pydantic_model is None:
                return value
            try:
                return _validate(self.pydantic_model, value)
            except Exception:  # noqa: BLE001 - a partial object that does not validate yet is skipped
                return None
        value = answer_json(text)
        if self.pydantic_model is None:
            return value
        try:
            return _validate(self.pydantic_model, value)
        except Exception as err:  # noqa: BLE001 - pydantic v1 and v2 raise different errors
            raise OutputParserException(
                f"the answer does not match {self.pydantic_model.__name__}: {err}",
                llm_output=json.dumps(value, ensure_ascii=False),
            ) from None

    def parse(self, text: str) -> Any:
        """Parse a whole answer text."""
        return self.parse_result([Generation(text=text)])


def _validate(model: Any, value: Any) -> Any:
    if hasattr(model, "model_validate"):
        return model.model_validate(value)
    return model.parse_obj(value)  # pydantic.v1 models


def _unfence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0] if stripped.rstrip().endswith("```") else stripped
    start = min((i for i in (stripped.find("{"), stripped.find("[")) if i >= 0), default=0)
    return stripped[start:]
