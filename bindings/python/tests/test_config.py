"""Config: every validation message of reference §1.4 (and this project's rules) as
``Config.validate()`` raises it, UNSET inference, normalization, ``from_env`` (reference §1.5),
the JSON translation (every core field covered), and the secret kept out of repr and errors.
Expected messages are written from the reference, not copied from output."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from authsec_sdk import _native
from authsec_sdk.runtime import Config, ConfigError, PolicyMode, Runtime, ValidationMode, from_env

ISS = "https://as.example.com"
RES = "https://mcp.example.com/mcp"


def good(**kw: Any) -> Config:
    base: dict[str, Any] = dict(
        issuer=ISS,
        jwks_url=f"{ISS}/jwks",
        introspection_url=f"{ISS}/introspect",
        introspection_client_id="rs-1",
        introspection_client_secret="secret-1",
        resource_uri=RES,
        resource_server_id="rs-1",
    )
    base.update(kw)
    return Config(**base)


CRED = "introspection client credentials are required when introspection is enabled"

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("issuer blank", dict(issuer="  "), "issuer is required"),
    ("resource blank", dict(resource_uri=""), "resource_uri is required"),
    ("resource relative", dict(resource_uri="/mcp"), "resource_uri must be an absolute URI with scheme and host (got '/mcp')"),
    ("resource no host", dict(resource_uri="mcp:thing"), "resource_uri must be an absolute URI with scheme and host (got 'mcp:thing')"),
    ("no key source", dict(jwks_url="", introspection_url=""), "at least one of jwks_url or introspection_url is required"),
    ("no client id", dict(introspection_client_id=""), CRED),
    ("no secret", dict(introspection_client_secret=" "), CRED),
    ("remote without rs id", dict(resource_server_id="", policy_mode=PolicyMode.REMOTE_REQUIRED), "remote_required requires resource_server_id"),
    (
        "fallback without rs id",
        dict(resource_server_id="", policy_mode=PolicyMode.REMOTE_WITH_LOCAL_FALLBACK),
        "remote_with_local_fallback requires resource_server_id",
    ),
    (
        "remote without credentials (jwt only)",
        dict(introspection_url="", introspection_client_id="", introspection_client_secret=""),
        "remote_required requires introspection credentials (introspection_client_id + introspection_client_secret)",
    ),
    (
        "fallback without tool_scopes",
        dict(policy_mode=PolicyMode.REMOTE_WITH_LOCAL_FALLBACK),
        "PolicyMode.REMOTE_WITH_LOCAL_FALLBACK requires tool_scopes (non-None) as the local fallback",
    ),
    ("local_only without tool_scopes", dict(resource_server_id="", policy_mode=PolicyMode.LOCAL_ONLY), "local_only requires tool_scopes"),
    (
        "jwt_only without jwks",
        dict(resource_server_id="", jwks_url="", validation_mode=ValidationMode.JWT_ONLY),
        "jwt_only requires jwks_url",
    ),
    (
        "introspection_only without url",
        dict(resource_server_id="", introspection_url="", validation_mode=ValidationMode.INTROSPECTION_ONLY),
        "introspection_only requires introspection_url",
    ),
    (
        "jwt_and_introspect without jwks",
        dict(jwks_url="", validation_mode=ValidationMode.JWT_AND_INTROSPECT),
        "jwt_and_introspect requires jwks_url",
    ),
    (
        "jwt_or_introspect without introspection",
        dict(resource_server_id="", introspection_url="", introspection_client_id="", introspection_client_secret="",
             validation_mode=ValidationMode.JWT_OR_INTROSPECT),
        "jwt_or_introspect requires introspection_url",
    ),
    (
        "jwt_and_introspect without introspection",
        dict(resource_server_id="", introspection_url="", introspection_client_id="", introspection_client_secret="",
             validation_mode=ValidationMode.JWT_AND_INTROSPECT),
        "jwt_and_introspect requires introspection_url",
    ),
    ("timeout zero", dict(request_timeout_seconds=0), "request_timeout_seconds must be a positive number"),
    ("ttl negative", dict(scope_matrix_ttl=timedelta(seconds=-1)), "scope_matrix_ttl_seconds must be a non-negative number"),
    ("stale negative", dict(scope_matrix_stale_seconds=-1.0), "scope_matrix_stale_seconds must be a non-negative number"),
    ("backoff negative", dict(scope_matrix_backoff_seconds=-0.5), "scope_matrix_backoff_seconds must be a non-negative number"),
    ("body limit zero", dict(max_body_bytes=0), "max_body_bytes must be positive"),
    ("jwks not http", dict(jwks_url="file:///etc/jwks"), "jwks_url must be an http(s) URL (got 'file:///etc/jwks')"),
    ("introspection not http", dict(introspection_url="ftp://as/introspect"), "introspection_url must be an http(s) URL (got 'ftp://as/introspect')"),
]


@pytest.mark.parametrize("name,fields,message", CASES, ids=[c[0] for c in CASES])
def test_every_validation_message(name: str, fields: dict[str, Any], message: str) -> None:
    cfg = good(**fields)
    with pytest.raises(ValueError) as e:
        cfg.validate()
    assert str(e.value) == message
    # Runtime(cfg) refuses it with the same message
    with pytest.raises(ValueError) as e2:
        Runtime(cfg)
    assert str(e2.value) == message


def test_first_failure_wins_in_reference_order() -> None:
    cfg = Config(resource_uri="", jwks_url="")
    with pytest.raises(ValueError, match="^issuer is required$"):
        cfg.validate()
    cfg = Config(issuer=ISS, resource_uri="nope", jwks_url="")
    with pytest.raises(ValueError, match="^resource_uri must be an absolute URI"):
        cfg.validate()


def test_valid_configs() -> None:
    good().validate()
    Config(issuer=ISS, resource_uri=RES, jwks_url=f"{ISS}/jwks").validate()
    Config(issuer=ISS, resource_uri=RES, jwks_url=f"{ISS}/jwks", tool_scopes={}).validate()


def test_unset_inference_is_the_cores() -> None:
    assert good().effective_policy_mode() is PolicyMode.REMOTE_REQUIRED
    assert good(resource_server_id=" ").effective_policy_mode() is PolicyMode.OPEN
    assert good(resource_server_id="", tool_scopes={}).effective_policy_mode() is PolicyMode.LOCAL_ONLY
    assert good(policy_mode=PolicyMode.OPEN).effective_policy_mode() is PolicyMode.OPEN
    assert good().effective_validation_mode() is ValidationMode.JWT_AND_INTROSPECT
    assert good(introspection_url="").effective_validation_mode() is ValidationMode.JWT_ONLY
    assert good(jwks_url="").effective_validation_mode() is ValidationMode.INTROSPECTION_ONLY
    assert good(jwks_url="", introspection_url="").effective_validation_mode() is ValidationMode.INTROSPECTION_ONLY
    assert good(validation_mode=ValidationMode.JWT_OR_INTROSPECT).effective_validation_mode() is ValidationMode.JWT_OR_INTROSPECT
    # UNSET stays UNSET on the Config itself
    assert good().policy_mode is PolicyMode.UNSET


def test_normalized() -> None:
    n = good(bearer_methods_supported=[]).normalized()
    assert n.authorization_server == ISS
    assert n.resource_name == "AuthSec Protected MCP Resource"
    assert n.bearer_methods_supported == ["header"]
    assert good(authorization_server="https://other", resource_name="X").normalized().resource_name == "X"


def test_every_core_field_is_a_config_field_with_the_cores_default() -> None:
    """The core's full field list and defaults (resolve of ``{}``) equal what Config() sends."""
    out = ctypes_resolve("{}")
    core_defaults = out["normalized"]
    ours = Config().to_core_dict()
    assert set(ours) == set(core_defaults)
    for k, v in ours.items():
        if k == "resource_name":  # normalization fills it
            continue
        assert core_defaults[k] == v, k


def ctypes_resolve(text: str) -> Any:
    raw = text.encode()
    out = _native.ctypes.c_void_p()
    _native.call(_native.lib.authsec_config_resolve, raw, len(raw), _native.ctypes.byref(out))
    return _native.take_json(out)


def test_json_translation_round_trip() -> None:
    cfg = good(tool_scopes={"a": ["x"]}, scope_matrix_ttl=timedelta(seconds=5), policy_mode=PolicyMode.LOCAL_ONLY,
               tool_scope_suggestions={"a": ["y"]}, publish_manifest=True, clock_skew_seconds=3)
    d = json.loads(cfg.to_core_json())
    assert d["scope_matrix_ttl_seconds"] == 5.0 and d["policy_mode"] == "local_only"
    assert "tool_inventory_provider" not in d and "scope_matrix_ttl" not in d
    back = Config.from_core_dict(d)
    assert back == cfg
    with pytest.raises(ValueError, match="unknown configuration field 'jwks_uri'"):
        Config.from_core_dict({"jwks_uri": "x"})


def test_wrong_types_are_refused_by_the_core_without_echoing_the_secret() -> None:
    with pytest.raises(ValueError) as e:
        good(introspection_client_secret=987654321).validate()  # type: ignore[arg-type]
    assert "introspection_client_secret must be a string" in str(e.value)
    assert "987654321" not in str(e.value)
    with pytest.raises(ValueError, match="invalid config JSON"):
        good(issuer=None).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid config: TypeError while encoding it as JSON"):
        good(supported_scopes=[object()]).validate()  # type: ignore[list-item]


def test_secret_never_in_repr() -> None:
    cfg = good(introspection_client_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(cfg)
    assert "s3cr3t-value" not in repr(cfg.normalized())
    assert not any(f.repr for f in dataclasses.fields(Config) if f.name == "introspection_client_secret")


def test_from_env_reads_variables_aliases_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(__import__("os").environ):
        if k.startswith("AUTHSEC_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AUTHSEC_ISSUER", ISS)
    monkeypatch.setenv("AUTHSEC_AUTHORIZATION_SERVER", "https://authz.example.com")
    monkeypatch.setenv("AUTHSEC_JWKS_URI", f"{ISS}/jwks")  # legacy alias
    monkeypatch.setenv("AUTHSEC_INTROSPECTION_ENDPOINT", f"{ISS}/introspect")  # legacy alias
    monkeypatch.setenv("AUTHSEC_INTROSPECTION_ID", "rs-1")  # legacy alias
    monkeypatch.setenv("AUTHSEC_INTROSPECTION_CLIENT_SECRET", "secret-1")
    monkeypatch.setenv("AUTHSEC_INTROSPECTION_SECRET", "ignored: the canonical name wins")
    monkeypatch.setenv("AUTHSEC_RESOURCE", RES)  # legacy alias
    monkeypatch.setenv("AUTHSEC_RESOURCE_NAME", "Issues")
    monkeypatch.setenv("AUTHSEC_RESOURCE_SERVER_ID", "rs-1")
    monkeypatch.setenv("AUTHSEC_SUPPORTED_SCOPES", "issues:read, issues:write")
    monkeypatch.setenv("AUTHSEC_TOOL_SCOPES_JSON", '{"list_issues": ["issues:read"], "create": "issues:write admin"}')
    monkeypatch.setenv("AUTHSEC_TOOL_SCOPE_SUGGESTIONS_JSON", '{"list_issues": "issues:read"}')
    monkeypatch.setenv("AUTHSEC_POLICY_MODE", " Enforce ")
    monkeypatch.setenv("AUTHSEC_VALIDATION_MODE", "auto")
    monkeypatch.setenv("AUTHSEC_PUBLISH_MANIFEST", "YES")
    cfg = from_env()
    assert cfg.issuer == ISS and cfg.authorization_server == "https://authz.example.com"
    assert cfg.jwks_url == f"{ISS}/jwks" and cfg.introspection_url == f"{ISS}/introspect"
    assert cfg.introspection_client_id == "rs-1" and cfg.introspection_client_secret == "secret-1"
    assert cfg.resource_uri == RES and cfg.resource_name == "Issues" and cfg.resource_server_id == "rs-1"
    assert cfg.supported_scopes == ["issues:read", "issues:write"]
    assert cfg.tool_scopes == {"list_issues": ["issues:read"], "create": ["issues:write", "admin"]}
    assert cfg.tool_scope_suggestions == {"list_issues": ["issues:read"]}
    assert cfg.policy_mode is PolicyMode.REMOTE_REQUIRED
    assert cfg.validation_mode is ValidationMode.UNSET
    assert cfg.publish_manifest is True
    cfg.validate()
    # not read from the environment: defaults stay
    assert cfg.request_timeout_seconds == 10.0 and cfg.bearer_methods_supported == ["header"]


def test_from_env_prefix_empty_map_unknown_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYAPP_ISSUER", ISS)
    monkeypatch.setenv("MYAPP_TOOL_SCOPES_JSON", "{}")
    monkeypatch.setenv("MYAPP_POLICY_MODE", "observe")
    monkeypatch.setenv("MYAPP_VALIDATION_MODE", "bogus")
    monkeypatch.setenv("MYAPP_PUBLISH_MANIFEST", "on")
    monkeypatch.setenv("MYAPP_SUPPORTED_SCOPES", '["a", "", 3]')
    cfg = from_env("MYAPP_")
    assert cfg.issuer == ISS
    # an empty object is an empty map, which denies every tool (the core's fail-safe reading)
    assert cfg.tool_scopes == {}
    assert cfg.policy_mode is PolicyMode.OPEN
    assert cfg.validation_mode is ValidationMode.UNSET
    assert cfg.publish_manifest is False
    assert cfg.supported_scopes == ["a", "3"]
    with pytest.raises(ValueError, match="^resource_uri is required$"):
        cfg.validate()
    monkeypatch.delenv("MYAPP_POLICY_MODE")
    assert from_env("MYAPP_").effective_policy_mode() is PolicyMode.LOCAL_ONLY
    # a JSON variable that cannot be read is refused, naming the variable, never the value
    monkeypatch.setenv("MYAPP_TOOL_SCOPES_JSON", "{oops s3cret")
    with pytest.raises(ConfigError) as e:
        from_env("MYAPP_")
    assert e.value.code == "config_invalid" and isinstance(e.value, ValueError)
    assert str(e.value).startswith("MYAPP_TOOL_SCOPES_JSON is not valid JSON") and "s3cret" not in str(e.value)
    monkeypatch.setenv("MYAPP_TOOL_SCOPES_JSON", '["a"]')
    with pytest.raises(ValueError, match="^MYAPP_TOOL_SCOPES_JSON must be a JSON object of tool name -> scopes$"):
        from_env("MYAPP_")


def test_runtime_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHSEC_ISSUER", ISS)
    monkeypatch.setenv("AUTHSEC_JWKS_URL", f"{ISS}/jwks")
    monkeypatch.setenv("AUTHSEC_RESOURCE_URI", RES)
    for k in ("AUTHSEC_INTROSPECTION_URL", "AUTHSEC_INTROSPECTION_ENDPOINT", "AUTHSEC_RESOURCE_SERVER_ID", "AUTHSEC_POLICY_MODE"):
        monkeypatch.delenv(k, raising=False)
    rt = Runtime.from_env()
    assert rt.metadata_path == "/.well-known/oauth-protected-resource/mcp"
    monkeypatch.setenv("AUTHSEC_INTROSPECTION_URL", f"{ISS}/introspect")
    with pytest.raises(ValueError, match=f"^{CRED}$"):
        Runtime.from_env()
