//! The AuthSec services API client (the seed's `ServiceAccessSDK`): `POST
//! {services_url}/credentials` and `POST {services_url}/user-details`, each with
//! `{"session_id", "service_name"}` as JSON, answering the credentials of an external service the
//! signed-in user connected (an access token, an API key, ...).
//!
//! Credential values are secrets: [`ServiceCredentials`]'s `Debug` writes only their names, and
//! no error or log line carries a value, a session id or the upstream body (an upstream error
//! body is logged cut and with what we sent redacted).

use std::fmt;

use serde_json::{Map, Value};

use crate::audit::metrics::Endpoint;
use crate::backend::http::{log_upstream_error, HttpClient};
use crate::config::Secret;
use crate::error::{Error, ErrorCode, Result};

/// One service's credentials as the services API answers them (the reference's fields).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceCredentials {
    /// The service's id.
    pub service_id: String,
    /// The service's name.
    pub service_name: String,
    /// Its type (e.g. `github`).
    pub service_type: String,
    /// How it authenticates (e.g. `oauth2`, `api_key`).
    pub auth_type: String,
    /// Its base URL.
    pub url: String,
    /// The credential fields (e.g. `access_token`): secrets, never printed.
    pub credentials: Map<String, Value>,
    /// Free metadata (`{}` when absent).
    pub metadata: Map<String, Value>,
    /// When the services API retrieved them (its text).
    pub retrieved_at: String,
}

impl ServiceCredentials {
    /// `credentials.access_token`, when it is a non-empty string.
    pub fn access_token(&self) -> Option<Secret> {
        match self.credentials.get("access_token") {
            Some(Value::String(t)) if !t.is_empty() => Some(Secret::new(t.clone())),
            _ => None,
        }
    }

    /// The answer as the reference's JSON object (credential values included: for a binding
    /// handing them to the host, never for a log).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "service_id": self.service_id,
            "service_name": self.service_name,
            "service_type": self.service_type,
            "auth_type": self.auth_type,
            "url": self.url,
            "credentials": self.credentials,
            "metadata": self.metadata,
            "retrieved_at": self.retrieved_at,
        })
    }
}

impl fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.credentials.keys().map(String::as_str).collect();
        f.debug_struct("ServiceCredentials")
            .field("service_id", &self.service_id)
            .field("service_name", &self.service_name)
            .field("service_type", &self.service_type)
            .field("auth_type", &self.auth_type)
            .field("url", &self.url)
            .field(
                "credentials",
                &format_args!("<redacted: {}>", names.join(", ")),
            )
            .field("retrieved_at", &self.retrieved_at)
            .finish_non_exhaustive()
    }
}

/// The services API client of one runtime.
pub(crate) struct ServicesClient {
    base: String,
    client_id: String,
    http: HttpClient,
}

fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Services, message)
}

impl ServicesClient {
    /// A client for `base` (`services_url`, validated; empty: every call fails with
    /// `services_error`). `client_id` goes out as `X-Client-ID`, as the seed sends it.
    pub(crate) fn new(base: &str, client_id: &str, http: HttpClient) -> Self {
        ServicesClient {
            base: base.trim().trim_end_matches('/').to_string(),
            client_id: client_id.trim().to_string(),
            http,
        }
    }

    async fn post(
        &self,
        endpoint: &str,
        session_id: &str,
        service_name: &str,
    ) -> Result<Map<String, Value>> {
        if self.base.is_empty() {
            return Err(fail("services_url is not configured"));
        }
        if session_id.is_empty() || service_name.trim().is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "session_id and service_name are required",
            ));
        }
        let body = serde_json::to_vec(&serde_json::json!({
            "session_id": session_id,
            "service_name": service_name,
        }))
        .map_err(|_| fail("services API request could not be encoded"))?;
        let mut headers: Vec<(&'static str, &str)> = Vec::new();
        if !self.client_id.is_empty() {
            headers.push(("X-Client-ID", &self.client_id));
        }
        let url = format!("{}/{endpoint}", self.base);
        let (status, answer) = self
            .http
            .post_json(Endpoint::Services, &url, body, &headers)
            .await
            .map_err(|e| fail(format!("services API request failed: {e}")))?;
        if status != 200 {
            log_upstream_error("services", status, &answer, &[session_id]);
            return Err(fail(format!("services API returned HTTP {status}")));
        }
        let map = match serde_json::from_slice(&answer) {
            Ok(Value::Object(m)) => m,
            _ => return Err(fail("services API returned a non-JSON body")),
        };
        if map.contains_key("error") {
            // The seed raises the error text; it is the upstream's and may echo what it got, so
            // only the operator's log sees it (redacted), the caller gets a fixed message.
            log_upstream_error("services", status, &answer, &[session_id]);
            return Err(fail(format!(
                "services API refused the request for {service_name}"
            )));
        }
        Ok(map)
    }

    /// `POST /credentials`: the service's credentials for the session's user.
    pub(crate) async fn credentials(
        &self,
        session_id: &str,
        service_name: &str,
    ) -> Result<ServiceCredentials> {
        let mut m = self.post("credentials", session_id, service_name).await?;
        let mut text = |k: &str| match m.remove(k) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(fail(format!("services API answer lacks the string {k}"))),
        };
        let service_id = text("service_id")?;
        let service_name_answered = text("service_name")?;
        let service_type = text("service_type")?;
        let auth_type = text("auth_type")?;
        let url = text("url")?;
        let retrieved_at = text("retrieved_at")?;
        let credentials = match m.remove("credentials") {
            Some(Value::Object(c)) => c,
            _ => return Err(fail("services API answer lacks the object credentials")),
        };
        let metadata = match m.remove("metadata") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(c)) => c,
            Some(_) => {
                return Err(fail(
                    "services API answer has a metadata that is not an object",
                ))
            }
        };
        Ok(ServiceCredentials {
            service_id,
            service_name: service_name_answered,
            service_type,
            auth_type,
            url,
            credentials,
            metadata,
            retrieved_at,
        })
    }

    /// The service's access token (`credentials.access_token`).
    pub(crate) async fn token(&self, session_id: &str, service_name: &str) -> Result<Secret> {
        self.credentials(session_id, service_name)
            .await?
            .access_token()
            .ok_or_else(|| fail(format!("No access token available for {service_name}")))
    }

    /// `POST /user-details`: the user's details at the service (a JSON object, as answered).
    pub(crate) async fn user_details(
        &self,
        session_id: &str,
        service_name: &str,
    ) -> Result<Map<String, Value>> {
        self.post("user-details", session_id, service_name).await
    }
}
