"""``with_structured_output`` on the Ollama and vLLM dialects (loopback servers) and its parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import FakeEngine
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel, Field
from servers import OllamaServer, Turn, VLLMServer
from typing_extensions import TypedDict

from graphs.errors import ConfigError
from graphs.models.chat import ChatQwen
from graphs.models.messages import reasoning_text
from graphs.models.structured import answer_json
from graphs.models.transports.local import LocalTransport


class Person(BaseModel):
    """A person mentioned in the text."""

    name: str = Field(description="The person's name")
    age: int = Field(description="Age in years")


class PersonDict(TypedDict):
    name: str
    age: int


PERSON = {"name": "Ada", "age": 36}
THINKING = "The text says Ada is 36."


def model_for(server: OllamaServer | VLLMServer, **kwargs: Any) -> ChatQwen:
    if isinstance(server, OllamaServer):
        return ChatQwen(model="ollama:qwen3:8b", base_url=server.url, **kwargs)
    return ChatQwen(model="openai:Qwen/Qwen3-8B", base_url=f"{server.url}/v1", **kwargs)


@pytest.fixture(params=["ollama", "vllm"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def serve(kind: str, *turns: Turn) -> OllamaServer | VLLMServer:
    return OllamaServer(list(turns)) if kind == "ollama" else VLLMServer(list(turns))


@pytest.mark.parametrize(
    "schema", [Person, PersonDict, Person.model_json_schema()], ids=["pydantic", "typeddict", "json-schema"]
)
def test_json_schema_reaches_each_server_in_its_own_field(kind: str, schema: Any) -> None:
    with serve(kind, Turn(thinking=THINKING, content=json.dumps(PERSON))) as server:
        result = model_for(server, think=True).with_structured_output(schema).invoke("Ada is 36.")
        body = server.chat_requests[0]
    assert result == (Person(**PERSON) if schema is Person else PERSON)
    if kind == "ollama":
        assert body["format"]["properties"]["age"]["type"] == "integer"
        assert body["think"] is True  # only the answer is constrained
    else:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["name", "age"]
        assert body["chat_template_kwargs"] == {"enable_thinking": True}


def test_function_calling_forces_the_schema_tool(kind: str) -> None:
    if kind == "ollama":  # Ollama's model writes the forced call as JSON content under the format schema
        turn = Turn(content=json.dumps({"name": "Person", "arguments": PERSON}))
    else:
        turn = Turn(tool_calls=[("Person", PERSON)])
    with serve(kind, turn) as server:
        result = model_for(server).with_structured_output(Person, method="function_calling").invoke("Ada, 36")
        body = server.chat_requests[0]
    assert result == Person(**PERSON)
    if kind == "ollama":
        assert body["format"]["properties"]["name"] == {"type": "string", "enum": ["Person"]}
    else:
        assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}


def test_json_mode_asks_for_any_json(kind: str) -> None:
    with serve(kind, Turn(content=json.dumps(PERSON))) as server:
        result = model_for(server).with_structured_output(None, method="json_mode").invoke("JSON please")
        body = server.chat_requests[0]
    assert result == PERSON
    assert (
        body.get("format") == "json"
        if kind == "ollama"
        else body["response_format"] == {"type": "json_object"}
    )


def test_include_raw_keeps_the_message_and_its_thinking(kind: str) -> None:
    with serve(kind, Turn(thinking=THINKING, content=json.dumps(PERSON))) as server:
        out = (
            model_for(server, think=True)
            .with_structured_output(Person, include_raw=True)
            .invoke("Ada is 36.")
        )
    assert out["parsed"] == Person(**PERSON) and out["parsing_error"] is None
    assert reasoning_text(out["raw"]) == THINKING


def test_a_wrong_answer_is_a_parsing_error_not_a_crash(kind: str) -> None:
    """Servers that ignore the format (Ollama with think=False on some models) answer in prose."""
    with serve(kind, Turn(content="Ada is 36 years old."), Turn(content='{"name": "Ada"}')) as server:
        model = model_for(server)
        out = model.with_structured_output(Person, include_raw=True).invoke("Ada is 36.")
        assert out["parsed"] is None and isinstance(out["parsing_error"], OutputParserException)
        assert "not JSON" in str(out["parsing_error"])
        with pytest.raises(OutputParserException, match="does not match Person"):
            model.with_structured_output(Person).invoke("Ada is 36.")


def test_streaming_yields_validated_objects(kind: str) -> None:
    with serve(kind, Turn(content=json.dumps(PERSON))) as server:
        chunks = list(model_for(server).with_structured_output(Person).stream("Ada is 36."))
    assert chunks and all(isinstance(c, Person) for c in chunks) and chunks[-1] == Person(**PERSON)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Here it is: {"a": 1,} Hope that helps.', {"a": 1}),
        ("{'a': True}", {"a": True}),
    ],
)
def test_answer_json_reads_what_small_models_write(text: str, value: Any) -> None:
    assert answer_json(text) == value


def test_bad_arguments_are_config_errors() -> None:
    model = ChatQwen(model="ollama:qwen3:8b")
    with pytest.raises(ConfigError, match="method must be"):
        model.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a schema"):
        model.with_structured_output(None)
    with pytest.raises(ConfigError, match="unsupported arguments: tools"):
        model.with_structured_output(Person, tools=[])


def test_local_json_schema_is_a_grammar_and_a_thinking_model_thinks_first() -> None:
    engine = FakeEngine("Ada is 36 says the text.\n</think>", json.dumps(PERSON))
    model = ChatQwen(
        model="local:qwen3-1.7b", transport=LocalTransport("qwen3-1.7b", engine=engine, family="qwen3")
    )
    out = model.with_structured_output(Person, include_raw=True).invoke("Ada is 36.", think=True)
    assert out["parsed"] == Person(**PERSON)
    assert "json_schema" not in engine.sampling[0]  # the thinking is free
    assert engine.sampling[1]["json_schema"]["required"] == ["name", "age"]
    assert engine.prompts[1].endswith("Ada is 36 says the text.\n</think>\n\n")
    assert reasoning_text(out["raw"]) == "Ada is 36 says the text."


def test_local_without_thinking_constrains_from_the_first_token() -> None:
    engine = FakeEngine(json.dumps(PERSON))
    model = ChatQwen(model="local:x", transport=LocalTransport("qwen2.5-coder-1.5b", engine=engine))
    assert model.with_structured_output(PersonDict).invoke("Ada is 36.") == PERSON
    assert engine.prompts[0].endswith("<|im_start|>assistant\n")
    assert engine.sampling[0]["json_schema"]["properties"]["age"] == {"type": "integer"}
