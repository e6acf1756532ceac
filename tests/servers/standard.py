"""A script that answers like a capable Qwen3 model would, for whole suites run on loopback servers.

It reads the request the way a server's model sees it: the last user message, the tools, whether a
call is forced (vLLM/OpenAI ``tool_choice``; Ollama: a ``format`` schema that only admits a call)
and whether the answer must be JSON (``response_format``; Ollama's ``format``). It then thinks a
little, and calls a tool with arguments filled from the request (numbers and quoted names are taken
from the text), or writes JSON that fits the schema, or answers in plain text. After a tool result
it answers with that result. It is a dialect fixture: it exercises the wire formats end to end; the
model's own behaviour is proven on recordings of the real local model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from servers.base import Turn, message_text

GREETING = "Hello! I am Qwen. How can I help you today?"


def standard_script(body: dict[str, Any]) -> Turn:
    """The next turn for ``body`` (an Ollama ``/api/chat`` or OpenAI ``/v1/chat/completions`` body)."""
    messages = body.get("messages") or []
    user = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    last = messages[-1] if messages else {}
    tools = [t["function"] for t in body.get("tools") or []]
    forced, schema = _constraints(body, tools)
    if last.get("role") == "tool":
        return Turn(
            thinking="The tool answered; I can reply.", content=f"Done: {message_text(last.get('content'))}"
        )
    if schema is not None:
        return Turn(
            thinking="I must answer in JSON.", content=json.dumps(fill(schema, user), ensure_ascii=False)
        )
    wanted = forced or _mentioned(tools, user)
    if wanted is not None:
        call = (wanted["name"], fill(wanted.get("parameters") or {}, user))
        if "format" in body:  # Ollama under a call schema: the call is the JSON content
            return Turn(
                thinking="I will call the tool.", content=json.dumps({"name": call[0], "arguments": call[1]})
            )
        return Turn(thinking="I will call the tool.", tool_calls=[call])
    return Turn(thinking="A greeting; I answer politely.", content=GREETING)


def _constraints(body: dict[str, Any], tools: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, Any]:
    """The tool a call must use (if any) and the JSON schema the answer must fit (if any)."""
    by_name = {t["name"]: t for t in tools}
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        return by_name.get(choice.get("function", {}).get("name")), None
    if choice == "required" and tools:
        return tools[0], None
    fmt = body.get("format")
    if fmt is not None:
        variants = fmt.get("anyOf", [fmt]) if isinstance(fmt, dict) else []
        names = [v.get("properties", {}).get("name", {}).get("enum", [None])[0] for v in variants]
        if names and all(n in by_name for n in names):
            return by_name[names[0]], None
        return None, fmt if isinstance(fmt, dict) else _asked_keys(body)
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return None, rf["json_schema"]["schema"]
    if rf.get("type") == "json_object":
        return None, _asked_keys(body)
    return None, None


def _asked_keys(body: dict[str, Any]) -> dict[str, Any]:
    """JSON mode has no schema: the keys are the quoted words the user asked for."""
    user = next(
        (message_text(m.get("content")) for m in reversed(body["messages"]) if m["role"] == "user"), ""
    )
    keys = re.findall(r"'(\w+)'", user) or ["answer"]
    return {"type": "object", "properties": {k: {"type": "string"} for k in keys}}


def _mentioned(tools: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    lowered = text.lower()
    for tool in tools:
        words = tool["name"].lower().replace("_", " ").split()
        if tool["name"].lower() in lowered or any(w in lowered for w in words if len(w) > 4):
            return tool
    return tools[0] if tools and "tool" in lowered else None


def fill(schema: dict[str, Any], text: str, name: str = "") -> Any:
    """A value fitting ``schema``, taken from ``text`` where it can be (numbers, quoted names)."""
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return fill(options[0] if options else {"type": "string"}, text, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        props = schema.get("properties") or {}
        return {key: fill(sub, text, key) for key, sub in props.items()}
    if kind in ("integer", "number"):
        found = re.search(r"-?\d+", text)
        return int(found.group()) if found else 0
    if kind == "boolean":
        return True
    if kind == "array":
        return [fill(schema.get("items") or {}, text, name)]
    quoted = re.search(r"'([^']+)'", text)
    if quoted and "name" in name:
        return quoted.group(1)
    return f"{name.replace('_', ' ') or 'text'} for: {text[:60]}"
