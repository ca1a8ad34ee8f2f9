"""``ManifestTool``: one tool of the manifest published to the AuthSec backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["ManifestTool"]


@dataclass
class ManifestTool:
    """One entry of the manifest (the reference's fields). ``suggested_scopes`` wins over
    ``Config.tool_scope_suggestions`` for this tool; the core builds the payload."""

    name: str
    title: str = ""
    description: str = ""
    input_schema: Optional[dict[str, Any]] = None
    annotations: Optional[dict[str, Any]] = None
    suggested_scopes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The tool as the JSON object the core reads (empty optional keys left out)."""
        out: dict[str, Any] = {"name": self.name}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        if self.input_schema is not None:
            out["input_schema"] = self.input_schema
        if self.annotations is not None:
            out["annotations"] = self.annotations
        if self.suggested_scopes:
            out["suggested_scopes"] = list(self.suggested_scopes)
        return out


def tool_to_json(tool: Any) -> dict[str, Any]:
    """A ``ManifestTool``, an MCP tool dict, or an MCP ``Tool`` model as a JSON object."""
    if isinstance(tool, ManifestTool):
        return tool.to_json()
    if isinstance(tool, dict):
        return tool
    dump = getattr(tool, "model_dump", None)
    if callable(dump):
        out = dump(by_alias=True, exclude_none=True, mode="json")
        if isinstance(out, dict):
            return out
    raise TypeError(f"a manifest tool must be a ManifestTool, a dict or an MCP Tool (got {type(tool).__name__})")
