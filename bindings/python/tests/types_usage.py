"""Checked by mypy --strict in test.sh (not run): the public API as a typed user sees it. A
wrong annotation in the package makes this file fail to type-check."""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

from fastapi import FastAPI

from authsec_sdk.runtime import (
    AuthSecMiddleware,
    AuthSecTokenVerifier,
    Config,
    InsufficientScopeError,
    ManifestTool,
    PolicyMode,
    Principal,
    Runtime,
    TokenInvalidError,
    ValidationMode,
    from_env,
    mount_mcp,
    principal_from_context,
)


async def usage() -> None:
    cfg: Config = Config(issuer="https://as", resource_uri="https://m/mcp", jwks_url="https://as/jwks",
                         policy_mode=PolicyMode.LOCAL_ONLY, validation_mode=ValidationMode.JWT_ONLY,
                         tool_scopes={"a": ["s"]}, scope_matrix_ttl=timedelta(seconds=5))
    cfg.validate()
    mode: PolicyMode = cfg.effective_policy_mode()
    vmode: ValidationMode = cfg.effective_validation_mode()
    env: Config = from_env("AUTHSEC_")
    app = FastAPI()
    rt: Runtime = mount_mcp(app, "/mcp", app, cfg)
    try:
        p: Principal = await rt.authorize_or_raise("token", "a")
        scopes: list[str] = p.scopes
        ok: bool = p.has_any_scope(["s"])
    except InsufficientScopeError as e:
        required: list[str] = e.required
        status: int = e.status
    except TokenInvalidError as e:
        reason: str = e.reason
    current: Optional[Principal] = principal_from_context()
    tool = ManifestTool(name="a", suggested_scopes=["s"])
    report: dict[str, object] = await rt.publish_manifest([tool])
    mw = AuthSecMiddleware(app, rt, path="/mcp")
    verifier = AuthSecTokenVerifier(rt)
    warnings: list[str] = await rt.startup()
    del mode, vmode, env, current, report, mw, verifier, warnings
