"""A real MCP server for the MCP client tests, built with the ``mcp`` SDK's own ``MCPServer``
(FastMCP in SDK 1.x).

Run it as ``python tests/servers/mcp_demo.py stdio`` or ``... http PORT`` (streamable HTTP on
127.0.0.1:PORT/mcp). Its tools:

- ``order_status(order_id)``: a fixed lookup table, so a test can tell the tool really ran;
- ``count()``: a per-process counter, so a test can tell one connection is kept for a whole run;
- ``nap(seconds)``: sleeps, for timeout tests;
- ``refuse()``: always fails (the SDK sends ``isError``);
- ``add(a, b)``: a name that clashes with nothing, with typed arguments.
"""

from __future__ import annotations

import sys
import time

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

ORDERS = {
    "A-1001": "shipped on 2026-03-02 by DHL, tracking 00340434161234567890",
    "A-1002": "in the warehouse",
}

server = MCPServer("qwengraph-demo", log_level="WARNING")
_count = 0


@server.tool()
def order_status(order_id: str) -> str:
    """Look up an order by its id (like A-1001) and say where it is."""
    if order_id not in ORDERS:
        raise ToolError(f"no order {order_id}")
    return f"order {order_id}: {ORDERS[order_id]}"


@server.tool()
def count() -> int:
    """Count the calls made to this tool since the server started."""
    global _count  # noqa: PLW0603 - the state the test observes
    _count += 1
    return _count


@server.tool()
def nap(seconds: float) -> str:
    """Sleep for some seconds, then say so."""
    time.sleep(seconds)
    return f"slept {seconds} s"


@server.tool()
def refuse() -> str:
    """Always fails."""
    raise ToolError("this tool always fails")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
