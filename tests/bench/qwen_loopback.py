"""A loopback OpenAI-compatible server with scripted Qwen3 replies, for ``overhead.py``.

Every request gets the reply for how far the conversation is: with ``k`` tool results in the
request, replies 0-2 think and call the calculator (``17*23``, ``391+9``, ``400/8``), reply 3 thinks
and answers. Thinking arrives in vLLM's ``reasoning`` field. ``"stream": true`` gets server-sent
events (role, thinking word by word, the tool call or the answer in pieces, finish, usage,
``[DONE]``), written as one chunk; otherwise one JSON body. The path's first segment sets the
latency before the reply: ``/lat50/v1/chat/completions`` waits 50 ms, ``/lat0/v1/...`` none.

Replies are serialised once at start, so the server spends almost nothing per request: the figures
``overhead.py`` prints are the client's. Run it as a process of its own (its CPU is not the
client's): ``python tests/bench/qwen_loopback.py`` prints ``PORT`` on its first line and serves
127.0.0.1 only until killed.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

MODEL = "Qwen/Qwen3-8B"
EXPRESSIONS = ("17*23", "391+9", "400/8")
ANSWER = "17 × 23 = 391; plus 9 is 400; divided by 8 that is 50. The answer is **50**."
THINKING = (
    "The user asks for 17 times 23, then plus 9, then divided by 8. I must not guess: each step "
    "goes to the calculator tool, one call at a time, and I use its exact result in the next step."
)
PROMPT = "What is 17*23, plus 9, divided by 8? Use the calculator for every step."
USAGE = {"prompt_tokens": 180, "completion_tokens": 60, "total_tokens": 240}


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def reply(k: int) -> dict[str, Any]:
    """The assistant message for a conversation with ``k`` tool results so far."""
    if k < len(EXPRESSIONS):
        arguments = json.dumps({"expression": EXPRESSIONS[k]})
        call = {
            "id": f"call_{k}",
            "type": "function",
            "function": {"name": "calculator", "arguments": arguments},
        }
        return {"role": "assistant", "content": None, "reasoning": THINKING, "tool_calls": [call]}
    return {"role": "assistant", "content": ANSWER, "reasoning": THINKING}


def json_body(k: int) -> bytes:
    """The whole (non-streamed) response."""
    message = reply(k)
    body = {
        "id": f"chatcmpl-{k}",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
            }
        ],
        "usage": USAGE,
    }
    return json.dumps(body).encode()


def sse_body(k: int) -> bytes:
    """The streamed response as vLLM sends it: one ``data:`` event per piece."""
    message = reply(k)

    def event(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
        chunk: dict[str, Any] = {"id": f"chatcmpl-{k}", "object": "chat.completion.chunk", "model": MODEL}
        chunk["choices"] = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        if usage:
            chunk["usage"] = usage
        return f"data: {json.dumps(chunk)}\n\n"

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"reasoning": word}) for word in _words(message["reasoning"])]
    if "tool_calls" in message:
        call = message["tool_calls"][0]
        head = {
            "index": 0,
            "id": call["id"],
            "type": "function",
            "function": {"name": "calculator", "arguments": ""},
        }
        events.append(event({"tool_calls": [head]}))
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            piece = {"index": 0, "function": {"arguments": arguments[start : start + 8]}}
            events.append(event({"tool_calls": [piece]}))
        events.append(event({}, "tool_calls"))
    else:
        events += [event({"content": word}) for word in _words(message["content"])]
        events.append(event({}, "stop"))
    events.append(event({}, usage=USAGE))
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


def _http(status: str, body: bytes, content_type: str) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


RESPONSES = {
    (stream, k): _http(
        "200 OK",
        sse_body(k) if stream else json_body(k),
        "text/event-stream" if stream else "application/json",
    )
    for stream in (False, True)
    for k in range(len(EXPRESSIONS) + 1)
}
TOOL_ROLE = re.compile(rb'"role":\s*"tool"')
STREAM_ON = re.compile(rb'"stream":\s*true')


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, headers = head.partition(b"\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            path = request_line.split(b" ")[1]
            latency = int(path.split(b"/")[1].removeprefix(b"lat") or 0) if path.startswith(b"/lat") else 0
            if latency:
                await asyncio.sleep(latency / 1000)
            k = min(len(TOOL_ROLE.findall(body)), len(EXPRESSIONS))
            writer.write(RESPONSES[(bool(STREAM_ON.search(body)), k)])
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    """Serve on a free loopback port; print it; run until killed."""
    server = await asyncio.start_server(_serve, "127.0.0.1", 0, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
