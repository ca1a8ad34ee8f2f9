"""The seed's decorator API (reference §9): ``protected_by_AuthSec`` and ``mcp_tool``.

The core decides. ``protected_by_AuthSec`` records a tool's RBAC requirement on the function;
:func:`tool_rbac` collects those into the ``Config.tool_rbac`` map, so the runtime denies a
``tools/call`` the caller fails (in-band for MCP clients, 403 otherwise) and hides the tool from
``tools/list`` before any handler runs. The wrapper only hands the handler the core's
``user_info`` as ``arguments["_user_info"]`` (and a ``session`` when the handler declares one),
and refuses when there is no authenticated caller: it never runs the handler without one.

Usable with ``mount_mcp`` and an ``mcp`` ``MCPServer`` / FastMCP server: the wrapper takes
``(arguments: dict, ctx: Context)`` so the server injects its ``Context`` (the user_info is read
from that request's ``state``), or is called as ``await tool(arguments)`` by a dispatcher running
inside the request (the user_info is read from the request's context variable).
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterable, Optional, Union

from .runtime.principal import user_info_from_context

def _mcp_context_type() -> Any:
    """The ``mcp`` SDK's ``Context`` (optional dependency), or ``None`` without it."""
    try:
        from mcp.server.mcpserver import Context
    except Exception:  # pragma: no cover - mcp not installed
        return None
    return Context


_McpContext: Any = _mcp_context_type()

_CATEGORIES = ("roles", "groups", "resources", "scopes", "permissions")


@dataclass(frozen=True)
class Session:
    """What a handler with a ``session`` parameter receives (the seed's session object)."""

    session_id: Optional[str]
    access_token: Optional[str]
    tenant_id: Optional[str]
    user_id: str
    org_id: Optional[str]


def _strings(value: Optional[Iterable[str]], what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        raise TypeError(f"{what} must be a list of strings, not a string")
    out = list(value)
    if any(not isinstance(v, str) or not v.strip() for v in out):
        raise ValueError(f"{what} must be a list of non-empty strings")
    return out


def _request_of(ctx: Any) -> Any:
    try:
        return ctx.request_context.request
    except Exception:
        return None


def _as_mcp_content(result: Any) -> Any:
    """Under an ``mcp`` server, the seed's content dicts (``[{"type": "text", "text": ...}]``)
    become ``TextContent`` blocks, so the client sees the handler's text and not its JSON."""
    if not isinstance(result, list) or not all(isinstance(c, dict) and c.get("type") == "text" for c in result):
        return result
    try:
        from mcp.types import TextContent
    except Exception:  # pragma: no cover - mcp not installed
        return result
    return [TextContent(type="text", text=str(c.get("text", ""))) for c in result]


def _fastmcp_request() -> Any:
    """The HTTP request of the FastMCP tool call being served (FastMCP keeps it per message),
    ``None`` outside FastMCP or outside a request."""
    try:
        from fastmcp.server.dependencies import get_http_request
    except Exception:
        return None
    try:
        return get_http_request()
    except Exception:
        return None


def _denied(tool: str) -> list[dict[str, Any]]:
    text = json.dumps({"error": "Access denied",
                       "message": "no authenticated AuthSec caller: serve this tool behind mount_mcp with tool_rbac",
                       "tool": tool})
    return [{"type": "text", "text": text}]


def protected_by_AuthSec(  # noqa: N802 - the seed's name
    tool_name: str,
    roles: Optional[list[str]] = None,
    groups: Optional[list[str]] = None,
    resources: Optional[list[str]] = None,
    scopes: Optional[list[str]] = None,
    permissions: Optional[list[str]] = None,
    require_all: bool = False,
    description: Optional[str] = None,
    inputSchema: Optional[dict[str, Any]] = None,  # noqa: N803 - the seed's name
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Protect a tool with RBAC requirements (any-of within a category; across categories OR,
    or AND with ``require_all``; none: any authenticated caller). Add the tool to
    ``Config.tool_rbac`` with :func:`tool_rbac`."""
    if not isinstance(tool_name, str) or not tool_name.strip():
        raise ValueError("tool_name must be a non-empty string")
    if not isinstance(require_all, bool):
        raise TypeError("require_all must be a bool")
    requirement: dict[str, Any] = {
        "roles": _strings(roles, "roles"),
        "groups": _strings(groups, "groups"),
        "resources": _strings(resources, "resources"),
        "scopes": _strings(scopes, "scopes"),
        "permissions": _strings(permissions, "permissions"),
        "require_all": require_all,
    }
    name = tool_name.strip()

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        expects_session = "session" in inspect.signature(func).parameters

        @functools.wraps(func)
        async def wrapper(arguments: Optional[dict[str, Any]] = None, ctx: Any = None) -> Any:
            request = _request_of(ctx) if ctx is not None else _fastmcp_request()
            if request is not None:
                info = getattr(getattr(request, "state", None), "authsec_user_info", None)
            else:
                info = user_info_from_context()
            if not isinstance(info, dict):
                return _as_mcp_content(_denied(name)) if request is not None or ctx is not None else _denied(name)
            args = dict(arguments or {})
            args["_user_info"] = dict(info)
            if not expects_session:
                result = await func(args)
                return _as_mcp_content(result) if request is not None else result
            headers = getattr(request, "headers", None)
            auth = headers.get("authorization", "") if headers is not None else ""
            token = auth.split(None, 1)[1].strip() if auth.lower().startswith("bearer ") else None
            sid = headers.get("mcp-session-id") if headers is not None else None
            claims = getattr(getattr(getattr(request, "state", None), "authsec_principal", None), "claims", {}) or {}
            org = claims.get("org_id")
            session = Session(session_id=sid, access_token=token, tenant_id=info.get("tenant_id"),
                              user_id=str(info.get("sub", "")), org_id=org if isinstance(org, str) else None)
            result = await func(args, session=session)
            return _as_mcp_content(result) if request is not None else result

        context_type: Any = Optional[_McpContext] if _McpContext is not None else Any
        wrapper.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter("arguments", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                              annotation=Optional[dict[str, Any]]),
            inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=context_type),
        ])
        wrapper.__annotations__ = {"arguments": Optional[dict[str, Any]], "ctx": context_type, "return": Any}
        doc = (func.__doc__ or "").strip().splitlines()
        setattr(wrapper, "_authsec_tool_name", name)
        setattr(wrapper, "_rbac_requirements", requirement)
        setattr(wrapper, "_tool_description", description or (doc[0] if doc else f"Tool: {name}"))
        setattr(wrapper, "_tool_inputSchema", inputSchema or {"type": "object", "properties": {}})
        return wrapper

    return decorator


def mcp_tool(
    name: Optional[str] = None,
    description: Optional[str] = None,
    inputSchema: Optional[dict[str, Any]] = None,  # noqa: N803 - the seed's name
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A tool without RBAC requirements (the seed's ``mcp_tool``): metadata only. Behind
    ``mount_mcp`` it still needs a valid token, and the scope policy (if any) applies."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        doc = (func.__doc__ or "").strip().splitlines()
        tool = name or func.__name__
        setattr(func, "_mcp_tool_name", tool)
        setattr(func, "_mcp_tool_description", description or (doc[0] if doc else f"Tool: {tool}"))
        setattr(func, "_mcp_tool_inputSchema", inputSchema or {"type": "object", "properties": {}})
        return func

    return decorator


def tool_rbac(*sources: Union[ModuleType, Callable[..., Any]]) -> dict[str, dict[str, Any]]:
    """The ``Config.tool_rbac`` map of the tools made with :func:`protected_by_AuthSec`: pass the
    functions, or modules whose public attributes are searched (the seed's module discovery). A
    tool name given twice with different requirements raises ``ValueError``."""
    out: dict[str, dict[str, Any]] = {}
    for src in sources:
        items = [getattr(src, k) for k in dir(src) if not k.startswith("_")] if isinstance(src, ModuleType) else [src]
        for f in items:
            tool = getattr(f, "_authsec_tool_name", None)
            req = getattr(f, "_rbac_requirements", None)
            if not isinstance(tool, str) or not isinstance(req, dict):
                if not isinstance(src, ModuleType):
                    raise TypeError("tool_rbac takes functions decorated with protected_by_AuthSec, or modules")
                continue
            if tool in out and out[tool] != req:
                raise ValueError(f"tool {tool!r} is protected twice with different requirements")
            out[tool] = dict(req)
    return out


__all__ = ["Session", "mcp_tool", "protected_by_AuthSec", "tool_rbac"]
