"""MCP on the command line: ``--mcp CONFIG`` for ``run``/``chat``/``resume``, and ``qwengraph mcp serve``.

``--mcp`` reads an ``mcpServers`` JSON file (:mod:`tools.mcp_config`); every tool of every enabled
server joins the run, unless ``--tools`` (or the agent) picks some with ``mcp:SERVER`` or ``mcp:SERVER/TOOL``.
``mcp serve`` offers qwengraph's own tools to MCP clients (:mod:`tools.mcp_server`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agents.cli_options import DbOption, IndexOption

if TYPE_CHECKING:
    from tools.mcp_config import McpServerConfig

McpOpt = Annotated[
    Path | None,
    typer.Option(
        "--mcp",
        help="MCP servers to use: an mcpServers JSON file (stdio and streamable HTTP servers).",
        dir_okay=False,
    ),
]

mcp_app = typer.Typer(
    help="Model Context Protocol: offer qwengraph's tools to MCP clients.", no_args_is_help=True
)


def load_servers(path: Path | None) -> dict[str, McpServerConfig] | None:
    """The servers of ``--mcp FILE`` (``None`` without the flag); errors are ToolInputError."""
    if path is None:
        return None
    from tools.mcp_config import load_mcp_config  # noqa: PLC0415 - keeps --help light

    return load_mcp_config(path)


@mcp_app.command("serve")
def serve_command(
    transport: Annotated[
        str, typer.Option("--transport", help="stdio (for a client that starts us) or http.", metavar="KIND")
    ] = "stdio",
    host: Annotated[
        str, typer.Option("--host", help="HTTP: address to listen on.", metavar="HOST")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP: port.", metavar="PORT")] = 8000,
    path: Annotated[str, typer.Option("--path", help="HTTP: the endpoint path.", metavar="PATH")] = "/mcp",
    db: DbOption = None,
    index_name: IndexOption = None,
    tool_names: Annotated[
        str,
        typer.Option(
            "--tools", help="Comma-separated: calculator, symbolic, run_python, search.", metavar="TOOLS"
        ),
    ] = "calculator,symbolic,run_python,search",
    sandbox: Annotated[
        str, typer.Option("--sandbox", help="Code sandbox: auto, bwrap or gvisor.", metavar="NAME")
    ] = "auto",
) -> None:
    """Serve calculator, symbolic, run_python and search to MCP clients (stdio or streamable HTTP).

    Tools that cannot work here (no sandbox, no index) are left out with a note on stderr, unless
    named in --tools.
    """
    from agents.cli_common import clean_errors, fail  # noqa: PLC0415

    if transport not in ("stdio", "http"):
        raise fail(f"--transport must be stdio or http, not {transport!r}", 2)
    if sandbox not in ("auto", "bwrap", "gvisor"):
        raise fail(f"--sandbox must be auto, bwrap or gvisor, not {sandbox!r}", 2)
    names = [n.strip() for n in tool_names.split(",") if n.strip()]
    with clean_errors():
        from tools.mcp_client import _import_mcp  # noqa: PLC0415
        from tools.mcp_server import ServedTools, run_http, run_stdio  # noqa: PLC0415
        from tools.retrieval import resolve_index  # noqa: PLC0415

        _import_mcp()
        index = resolve_index(db, index_name) if db is not None or index_name is not None else None
        explicit = tool_names != "calculator,symbolic,run_python,search"
        served = ServedTools.open(names, index_path=index, sandbox=sandbox, require=explicit)  # type: ignore[arg-type]
        try:
            for note in served.notes:
                sys.stderr.write(f"note: {note}\n")
            if transport == "stdio":
                run_stdio(served)
            else:
                sys.stderr.write(f"serving {', '.join(served.tools)} at http://{host}:{port}{path}\n")
                run_http(served, host=host, port=port, path=path)
        finally:
            served.close()
