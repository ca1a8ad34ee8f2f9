"""The official ``mcp`` SDK's stdio server, as in its quickstart: an ``MCPServer`` with a few
tools, run over stdio. ``authsec proxy --stdio`` serves it as Streamable HTTP in
test_proxy_e2e.py."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("Demo")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return f"echo: {text}"


@server.tool()
def admin_reset() -> str:
    """A tool only admins may call."""
    return "reset"


if __name__ == "__main__":
    server.run("stdio")
