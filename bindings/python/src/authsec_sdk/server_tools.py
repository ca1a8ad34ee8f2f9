"""The seed's tools on a real MCP server, with the decorator's own ``inputSchema``.

A tool made with :func:`~authsec_sdk.protected_by_AuthSec` or :func:`~authsec_sdk.mcp_tool` is a
seed handler: it takes one ``arguments`` object and declares its input with ``inputSchema``.
Registered with an SDK's ``server.tool()`` it would be described by the wrapper's Python
signature instead (an ``arguments`` parameter). These adapters build the SDKs' tool objects
from the decorator's metadata, so that ``tools/list`` declares exactly the decorator's name,
description and ``inputSchema``, and a ``tools/call`` hands the client's whole ``arguments``
object to the handler (with ``_user_info`` for a protected tool, as the seed does):

- ``mcp`` ``MCPServer``: ``MCPServer("blog", tools=mcpserver_tools(*tools))``;
- FastMCP 4.x: ``add_fastmcp_tools(server, *tools)``.

The schema is declared, not enforced (the seed does not validate either): the handler reads
what it needs from ``arguments``. RBAC stays the core's: behind ``mount_mcp`` with
``tool_rbac``, a call the caller fails is denied before any of this runs.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional

from .decorators import _as_mcp_content


def _metadata(tool: Callable[..., Any]) -> tuple[str, str, dict[str, Any], Callable[..., Any]]:
    """(name, description, inputSchema, call) of a decorated tool; ``call(arguments, ctx)``."""
    if hasattr(tool, "_authsec_tool_name"):
        name = getattr(tool, "_authsec_tool_name")
        description = getattr(tool, "_tool_description")
        schema = getattr(tool, "_tool_inputSchema")
        call = tool
    elif hasattr(tool, "_mcp_tool_name"):
        name = getattr(tool, "_mcp_tool_name")
        description = getattr(tool, "_mcp_tool_description")
        schema = getattr(tool, "_mcp_tool_inputSchema")

        async def call(arguments: Optional[dict[str, Any]] = None, ctx: Any = None) -> Any:
            return _as_mcp_content(await tool(dict(arguments or {})))
    else:
        raise TypeError(f"{tool!r} is not made with protected_by_AuthSec or mcp_tool")
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise ValueError(f"tool {name!r}: inputSchema must be a JSON Schema object of type 'object'")
    return name, description, copy.deepcopy(schema), call


def mcpserver_tools(*tools: Callable[..., Any]) -> list[Any]:
    """``mcp`` ``Tool`` objects for ``MCPServer(..., tools=...)``: each declares the decorator's
    ``inputSchema`` and receives the client's ``arguments`` object whole."""
    from mcp.server.mcpserver.tools.base import Tool
    from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
    from pydantic import ConfigDict

    class _WholeArguments(ArgModelBase):
        """Every argument the client sent, passed on as the one ``arguments`` object."""

        model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

        def model_dump_one_level(self) -> dict[str, Any]:
            return {"arguments": dict(self.model_extra or {})}

    out = []
    for t in tools:
        name, description, schema, call = _metadata(t)
        out.append(Tool(fn=call, name=name, title=None, description=description, parameters=schema,
                        fn_metadata=FuncMetadata(arg_model=_WholeArguments), is_async=True,
                        context_kwarg="ctx", annotations=None))
    return out


def add_fastmcp_tools(server: Any, *tools: Callable[..., Any]) -> list[Any]:
    """Add the tools to a FastMCP 4.x server, each declaring the decorator's ``inputSchema``
    and receiving the client's ``arguments`` object whole; returns the added tools."""
    from fastmcp.tools import Tool

    class _SeedTool(Tool):
        """A seed handler as a FastMCP tool (the request is FastMCP's, read by the wrapper)."""

        call: Any = None

        async def run(self, arguments: dict[str, Any]) -> Any:
            return self.convert_result(await self.call(dict(arguments or {})))

    added = []
    for t in tools:
        name, description, schema, call = _metadata(t)
        added.append(server.add_tool(_SeedTool(name=name, description=description, parameters=schema, call=call)))
    return added
