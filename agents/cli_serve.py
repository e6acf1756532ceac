"""``qwengraph serve``: agents over an OpenAI-compatible HTTP API (the ``serve`` extra).

Starts uvicorn on ``--host``/``--port`` (default ``127.0.0.1:8400``) with every built-in agent
(or the ``--agent`` ones), prints one line saying where once it accepts connections, and stops
cleanly on Ctrl-C or SIGTERM. Bad flags, an unreadable key file, a port in use or an agent that
cannot open end as one ``error:`` line (exit code 2; 7 for storage problems).
"""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agents.cli_common import ProfileOpt, clean_errors
from agents.cli_threads import MEMORY_HELP, memory_uri
from graphs.errors import ConfigError
from graphs.paths import home

if TYPE_CHECKING:
    from agents.serve.app import ServeConfig

SERVE_EXTRA_HINT = "qwengraph serve needs the serve extra: pip install 'qwengraph[serve]'"
DEFAULT_PORT = 8400
REQUEST_LOG = "serve-requests.jsonl"


def serve_command(
    agents: Annotated[
        list[str] | None,
        typer.Option(
            "--agent", help="An agent to offer (repeatable; default: every built-in agent and auto)."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model URI (else QWENGRAPH_MODEL).")
    ] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Model server URL.")] = None,
    think: Annotated[bool | None, typer.Option("--think/--no-think", help="Thinking on or off.")] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, max=100, help="Model turns allowed per request.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.01, help="Seconds to wait for the model per call.")] = 300.0,
    profile: ProfileOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = DEFAULT_PORT,
    api_keys: Annotated[
        Path | None, typer.Option("--api-keys", help="File of API keys: KEY [NAME] [RATE/min] per line.")
    ] = None,
    api_key: Annotated[
        list[str] | None, typer.Option("--api-key", help="An accepted API key (repeatable).")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without keys on a non-loopback host.")
    ] = False,
    rate: Annotated[float, typer.Option(min=0.001, help="Requests a minute per key.")] = 60.0,
    burst: Annotated[int, typer.Option(min=1, help="Requests at once per key.")] = 10,
    max_input_chars: Annotated[
        int, typer.Option(min=1, help="Characters of message text per request.")
    ] = 32_000,
    max_messages: Annotated[int, typer.Option(min=1, help="Messages per request.")] = 200,
    memory: Annotated[str | None, typer.Option("--memory", help=MEMORY_HELP)] = None,
    request_log: Annotated[
        str | None,
        typer.Option(
            "--request-log", help="Request log (JSON lines; '-' for stderr; default: serve-requests.jsonl)."
        ),
    ] = None,
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="Record each request's run in traces.db.")
    ] = True,
    trace_content: Annotated[
        bool, typer.Option("--trace-content", help="Store prompts and answers as text in traces.")
    ] = False,
    reasoning_field: Annotated[
        str,
        typer.Option("--reasoning-field", help="Where thinking goes: reasoning, reasoning_content or both."),
    ] = "reasoning",
    tool_activity: Annotated[
        str,
        typer.Option(
            "--tool-activity", help="Tool calls and results: field (qwengraph delta field), text, none."
        ),
    ] = "field",
) -> None:
    """Offer agents over an OpenAI-compatible API (/v1/models, /v1/chat/completions, /metrics)."""
    with clean_errors():
        try:
            import uvicorn  # noqa: F401, PLC0415

            from agents.serve.app import ServeConfig  # noqa: PLC0415
            from agents.serve.guard import Limits, check_exposure, load_keys  # noqa: PLC0415
        except ImportError:
            raise ConfigError(SERVE_EXTRA_HINT) from None
        from agents.spec import builtin_agents  # noqa: PLC0415
        from agents.warm import AgentChoice  # noqa: PLC0415

        keys = load_keys(api_keys, api_key or [])
        check_exposure(host, keys, allow_open=no_auth)
        names = tuple(dict.fromkeys(agents)) if agents else (*builtin_agents(has_index=None).names(), "auto")
        config = ServeConfig(
            agents=names,
            choice=AgentChoice(
                model=model,
                base_url=base_url,
                think=think,
                max_steps=max_steps,
                timeout=timeout,
                profile=profile,
            ),
            keys=keys,
            rate=rate,
            burst=burst,
            limits=Limits(max_input_chars=max_input_chars, max_messages=max_messages),
            memory=memory_uri(memory),
            request_log=_log_target(request_log),
            trace=trace,
            trace_content=trace_content,
            reasoning=reasoning_field,
            tool_activity=tool_activity,
            required=tuple(agents or ()),
        )
        sock = _bind(host, port)
        asyncio.run(_serve(config, sock))


def _log_target(flag: str | None) -> str | Path | None:
    if flag is None:
        return home() / REQUEST_LOG
    return None if flag.lower() == "none" else flag


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so a port in use is one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _serve(config: ServeConfig, sock: socket.socket) -> None:
    """Open the agents, then serve on ``sock`` until Ctrl-C or SIGTERM."""
    import uvicorn  # noqa: PLC0415

    from agents.serve.app import Server, create_app  # noqa: PLC0415

    server = Server(config)
    err = Console(stderr=True, highlight=False)
    try:
        await server.open()
        for name, reason in server.skipped.items():
            err.print(f"note: not offering {name}: {reason}", style="yellow", markup=False, soft_wrap=True)
        settings = uvicorn.Config(create_app(server), log_level="warning", access_log=False, lifespan="off")
        runner = uvicorn.Server(settings)
        # uvicorn catches Ctrl-C and SIGTERM while it serves, shuts down gracefully, puts back the
        # handlers it found and raises the signal again: let that land on a handler that does
        # nothing, so the agents, the memory and pending log lines are closed below instead of the
        # process dying first.
        previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            task = asyncio.create_task(runner.serve(sockets=[sock]))
            while not runner.started and not task.done():
                await asyncio.sleep(0.02)
            host, port = sock.getsockname()[:2]
            keys = (
                f"{len(config.keys)} API key(s), {config.rate:g} requests/min each"
                if config.keys
                else "no API keys"
            )
            err.print(
                f"serving {', '.join(server.agents)} on http://{host}:{port}/v1 ({keys}); Ctrl-C stops",
                markup=False,
                soft_wrap=True,
            )
            await task
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        await server.close()
        sock.close()
    err.print("stopped", markup=False)


def _ignore(signum: int, frame: object) -> None:
    """A signal already handled by uvicorn's graceful shutdown."""


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main app."""
    app.command("serve")(serve_command)
