"""Service credentials (issue 19): the seed's ``ServiceAccessSDK(session)`` over the core's
services API client, against the fixture backend's ``/services/*`` endpoints: the fields, the
token, the user details, and the errors a caller sees (never a credential)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from authsec_sdk import ServiceAccessSDK
from authsec_sdk.runtime import Config, Runtime
from authsec_sdk.services import ServiceAccessError, ServiceCredentials, set_services_runtime

from conftest import Backend

GITHUB: dict[str, Any] = {
    "service_id": "svc-1", "service_name": "github", "service_type": "github",
    "auth_type": "oauth2", "url": "https://api.github.com",
    "credentials": {"access_token": "gho-py-secret-1"}, "metadata": {"org": "acme"},
    "retrieved_at": "2026-12-01T10:00:00Z",
}


def runtime(backend: Backend) -> Runtime:
    backend.reset(services={"sess-py github": {"credentials": GITHUB, "user_details": {"login": "octo"}}})
    return Runtime(Config(issuer=backend.base, jwks_url=f"{backend.base}/jwks",
                          resource_uri="https://mcp.example.com/mcp",
                          services_url=f"{backend.base}/services"))


def test_the_seed_calls(backend: Backend) -> None:
    rt = runtime(backend)
    sdk = ServiceAccessSDK({"session_id": "sess-py"}, runtime=rt)
    creds = asyncio.run(sdk.get_service_credentials("github"))
    assert creds == ServiceCredentials(
        service_id="svc-1", service_name="github", service_type="github", auth_type="oauth2",
        url="https://api.github.com", credentials={"access_token": "gho-py-secret-1"},
        metadata={"org": "acme"}, retrieved_at="2026-12-01T10:00:00Z")
    assert "gho-py-secret-1" not in repr(creds)
    assert "<redacted: access_token>" in repr(creds)
    assert asyncio.run(sdk.get_service_token("github")) == "gho-py-secret-1"
    assert asyncio.run(sdk.get_service_user_details("github")) == {"login": "octo"}
    assert "gho-py-secret-1" not in repr(Config(redis_key="k", redis_url="redis://:pw@h:1"))
    rt.close()


def test_errors_a_caller_sees(backend: Backend) -> None:
    rt = runtime(backend)
    set_services_runtime(rt)
    try:
        class Session:
            session_id = "sess-py"

        sdk = ServiceAccessSDK(Session())  # the seed's call, unchanged
        with pytest.raises(ServiceAccessError) as e:
            asyncio.run(sdk.get_service_token("gitlab"))
        assert (e.value.code, e.value.message) == ("services_error", "services API returned HTTP 404")
        with pytest.raises(ServiceAccessError) as e:
            asyncio.run(ServiceAccessSDK({"session_id": ""}).get_service_credentials("github"))
        assert (e.value.code, e.value.message) == ("invalid_input", "session_id and service_name are required")
        with pytest.raises(ValueError, match="^Session must contain session_id$"):
            ServiceAccessSDK({"user": "x"})
    finally:
        set_services_runtime(None)
        rt.close()
    with pytest.raises(ServiceAccessError, match="no runtime"):
        asyncio.run(ServiceAccessSDK({"session_id": "s"}).get_service_token("github"))
