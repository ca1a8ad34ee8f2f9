"""``AuthSecTokenVerifier``: the ``mcp`` package's ``TokenVerifier`` over the core, for servers
that keep ``MCPServer(auth=AuthSettings(...), token_verifier=...)`` instead of ``mount_mcp``.
It validates the token and its audience (tool policy stays with ``mount_mcp``)."""

from __future__ import annotations

from typing import Any, Union

from .config import Config
from .engine import Runtime
from .errors import AuthorizationError

__all__ = ["AuthSecTokenVerifier"]


class AuthSecTokenVerifier:
    """``await verify_token(token)`` gives an ``mcp`` ``AccessToken`` or ``None`` (refused)."""

    def __init__(self, config: Union[Config, Runtime]) -> None:
        self.runtime = config if isinstance(config, Runtime) else Runtime(config)

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        try:
            p = await self.runtime.validate_token(token)
        except AuthorizationError:
            return None
        resource_uri = self.runtime.cfg.resource_uri
        resource = resource_uri if resource_uri in p.audience else (p.audience[0] if p.audience else None)
        return AccessToken(
            token=token,
            client_id=p.client_id,
            scopes=list(p.scopes),
            expires_at=p.expires_at,
            resource=resource,
            subject=p.subject or None,
            claims=dict(p.claims),
        )
