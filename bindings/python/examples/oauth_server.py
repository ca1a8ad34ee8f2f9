"""The blog's quickstart ``server.py`` (sign-in through the ``oauth_*`` tools) on this project.

Unchanged but for configuration: the seed's hosted "SDK manager" is replaced by your own
authorization server, named in the environment (docs/sign-in.md):

    AUTHSEC_ISSUER=https://idp.example.com AUTHSEC_JWKS_URL=https://idp.example.com/jwks \\
    AUTHSEC_RESOURCE_URI=http://127.0.0.1:3005/ python server.py

Register the client (``client_id`` below) at the authorization server with the redirect URI
``http://127.0.0.1:3005/oauth/callback``. A client sees only the ``oauth_*`` tools until the
user has signed in; then the tools below, as RBAC allows, each handed ``_user_info``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from authsec_sdk import mcp_tool, protected_by_AuthSec, run_mcp_server_with_oauth


@protected_by_AuthSec("get_profile", description="Who am I (any signed-in user)")
async def get_profile(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    user = arguments["_user_info"]
    return [{"type": "text", "text": json.dumps({"email": user.get("email"), "roles": user.get("roles")})}]


@protected_by_AuthSec("admin_report", roles=["admin"], description="Admins only")
async def admin_report(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": json.dumps({"report": "ok", "by": arguments["_user_info"].get("email")})}]


@protected_by_AuthSec("billing", roles=["finance"], description="Finance only")
async def billing(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": json.dumps({"billing": "ok"})}]


@mcp_tool(description="Echo a message (any signed-in user)")
async def echo(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": str(arguments.get("message", ""))}]


if __name__ == "__main__":
    run_mcp_server_with_oauth(
        user_module=sys.modules[__name__],
        client_id=os.environ.get("AUTHSEC_SIGN_IN_CLIENT_ID", "your-client-id"),
        app_name="my-mcp-server",
        port=int(os.environ.get("PORT", "3005")),
    )
