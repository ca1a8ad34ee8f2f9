//! The workload's X.509-SVID, kept current from the SPIFFE Workload API.
//!
//! [`WorkloadIdentity::start`] connects to the agent, waits (bounded) for the first X.509
//! context, writes the files and returns; a background task then follows the Workload API's
//! update stream (`FetchX509SVID` is a server stream: the agent sends a new context on every
//! rotation and bundle change), so a rotated SVID is on disk and in memory as soon as the agent
//! has it, not at the next timer tick like the reference's 30-minute loop. When the stream
//! breaks (agent restarted or down) the task reconnects with a capped backoff and the last SVID
//! keeps serving until it expires; after that [`WorkloadIdentity::current`] answers
//! `svid_expired` instead of handing out a dead certificate.
//!
//! Every accepted update bumps a version counter ([`WorkloadIdentity::version`],
//! [`WorkloadIdentity::wait_update`], [`WorkloadIdentity::subscribe`]) so hosts reload their TLS
//! contexts. [`WorkloadIdentity::shutdown`] stops the task and removes the files.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use spiffe::{WorkloadApiClient, X509Context};
use tokio::sync::watch;

use crate::error::{Error, ErrorCode, Result};
use crate::workload::endpoint::resolve_endpoint;
use crate::workload::files::{pem, SvidFiles};

/// Default bound on the wait for the first SVID.
pub const DEFAULT_INITIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Reconnect backoff after a broken stream: doubles from the first to the last value.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// How to start a [`WorkloadIdentity`].
#[derive(Debug, Clone, Default)]
pub struct WorkloadOptions {
    /// The Workload API socket: `unix:///path`, an absolute path, `tcp://ip:port`; blank or
    /// `env` reads `SPIFFE_ENDPOINT_SOCKET`.
    pub endpoint: String,
    /// Where the PEM files go; `None`: a new private directory under the temporary directory.
    pub cert_dir: Option<PathBuf>,
    /// Bound on the wait for the first SVID; `None`: [`DEFAULT_INITIAL_TIMEOUT`].
    pub initial_timeout: Option<Duration>,
}

/// One X.509-SVID with its trust bundle, as PEM.
#[derive(Clone)]
#[non_exhaustive]
pub struct Svid {
    /// The workload's SPIFFE ID (`spiffe://trust-domain/path`).
    pub spiffe_id: String,
    /// The certificate chain, leaf first (`CERTIFICATE` blocks).
    pub certificate_pem: String,
    /// The private key (`PRIVATE KEY`, PKCS#8). Never printed by `Debug`.
    pub private_key_pem: String,
    /// The X.509 authorities of the SVID's trust domain (`CERTIFICATE` blocks).
    pub bundle_pem: String,
    /// The leaf's `notAfter`, Unix seconds.
    pub expires_at: u64,
    /// The update counter value this SVID was published with (1 for the first).
    pub version: u64,
}

impl std::fmt::Debug for Svid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Svid")
            .field("spiffe_id", &self.spiffe_id)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    current: Option<Arc<Svid>>,
    last_error: Option<String>,
    /// Connected to the agent's stream right now.
    connected: bool,
}

struct Inner {
    endpoint: String,
    files: SvidFiles,
    state: Mutex<State>,
    version: watch::Sender<u64>,
}

/// Owned by the handles only (not by the background task): when the last handle goes, the
/// task is told to stop.
struct Control {
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The workload's identity from the SPIFFE Workload API. Cheap to clone; `Send + Sync`. The
/// background updater runs until [`WorkloadIdentity::shutdown`] or until the last clone is
/// dropped (then the files stay).
#[derive(Clone)]
pub struct WorkloadIdentity {
    inner: Arc<Inner>,
    control: Arc<Control>,
}

impl std::fmt::Debug for WorkloadIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadIdentity")
            .field("endpoint", &self.inner.endpoint)
            .field("dir", &self.inner.files.dir)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unavailable(m: impl Into<String>) -> Error {
    Error::new(ErrorCode::WorkloadApiUnavailable, m)
}

impl WorkloadIdentity {
    /// Connect, wait for the first X.509-SVID (at most the initial timeout), write the files,
    /// and keep them current in the background. Must be called inside a tokio runtime.
    ///
    /// Errors: `workload_not_configured` (no socket given nor in `SPIFFE_ENDPOINT_SOCKET`),
    /// `config_invalid` (an unusable socket string), `workload_api_unavailable` (the agent did
    /// not answer, refused the workload, or sent no SVID in time; the message says which),
    /// `invalid_input` (the directory or files cannot be written).
    pub async fn start(options: WorkloadOptions) -> Result<WorkloadIdentity> {
        let endpoint = resolve_endpoint(&options.endpoint)?;
        spiffe::transport::Endpoint::parse(&endpoint)
            .map_err(|e| Error::config(format!("Workload API socket {endpoint}: {e}")))?;
        let files = SvidFiles::prepare(options.cert_dir.as_deref())?;
        let (version, _) = watch::channel(0u64);
        let (stop, stop_rx) = watch::channel(false);
        let id = WorkloadIdentity {
            inner: Arc::new(Inner {
                endpoint,
                files,
                state: Mutex::new(State::default()),
                version,
            }),
            control: Arc::new(Control {
                stop,
                task: Mutex::new(None),
            }),
        };
        let task = tokio::spawn(follow(id.inner.clone(), stop_rx));
        *id.control.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        let timeout = options.initial_timeout.unwrap_or(DEFAULT_INITIAL_TIMEOUT);
        let mut rx = id.inner.version.subscribe();
        // A bool at once: the `Ref` guard of `wait_for` must not live across an await.
        let arrived = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|v| *v > 0)).await,
            Ok(Ok(_))
        );
        if !arrived {
            let why = id
                .state()
                .last_error
                .clone()
                .unwrap_or_else(|| "no answer".into());
            id.shutdown().await;
            return Err(unavailable(format!(
                "no X.509-SVID from the Workload API at {} within {} ms: {why}",
                id.inner.endpoint,
                timeout.as_millis()
            )));
        }
        Ok(id)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current SVID; `svid_expired` once its certificate has expired without a
    /// replacement (the agent is down or no longer issues this identity).
    pub fn current(&self) -> Result<Arc<Svid>> {
        let st = self.state();
        let svid = st
            .current
            .clone()
            .ok_or_else(|| unavailable("no X.509-SVID received"))?;
        if unix_now() >= svid.expires_at {
            let why = st.last_error.clone().unwrap_or_default();
            return Err(Error::new(
                ErrorCode::SvidExpired,
                format!(
                    "the X.509-SVID of {} expired at {} and no new one arrived ({why})",
                    svid.spiffe_id, svid.expires_at
                ),
            ));
        }
        Ok(svid)
    }

    /// The update counter: 0 before the first SVID, then +1 for each new SVID or bundle.
    pub fn version(&self) -> u64 {
        *self.inner.version.borrow()
    }

    /// A receiver of the update counter (changes on each new SVID or bundle).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    /// Wait until the counter exceeds `after`, at most `timeout`; returns the counter.
    pub async fn wait_update(&self, after: u64, timeout: Duration) -> u64 {
        let mut rx = self.inner.version.subscribe();
        let _ = tokio::time::timeout(timeout, rx.wait_for(|v| *v > after)).await;
        self.version()
    }

    /// The files the SVID is written to.
    pub fn files(&self) -> &SvidFiles {
        &self.inner.files
    }

    /// The Workload API endpoint in use (URI form).
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// Whether the update stream is connected now (false while the agent is unreachable).
    pub fn connected(&self) -> bool {
        self.state().connected
    }

    /// Why the stream last failed, if it did (for logs; never contains key material).
    pub fn last_error(&self) -> Option<String> {
        self.state().last_error.clone()
    }

    /// A JWT-SVID of this workload for `audience` (e.g. an MCP server's resource URI), fetched
    /// from the Workload API now (the agent caches and renews them).
    pub async fn fetch_jwt_svid(&self, audience: &[String]) -> Result<String> {
        fetch_jwt_svid(&self.inner.endpoint, audience).await
    }

    /// Stop following updates and remove the files (and the directory, if the library created
    /// it). Idempotent; later calls to [`WorkloadIdentity::current`] still answer from memory.
    pub async fn shutdown(&self) {
        let _ = self.control.stop.send(true);
        let task = self
            .control
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        self.inner.files.remove();
        self.state().connected = false;
    }
}

/// A JWT-SVID for `audience` from the Workload API at `endpoint` (blank: the environment).
pub async fn fetch_jwt_svid(endpoint: &str, audience: &[String]) -> Result<String> {
    if audience.is_empty() || audience.iter().any(|a| a.trim().is_empty()) {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            "a JWT-SVID needs at least one non-empty audience",
        ));
    }
    let endpoint = resolve_endpoint(endpoint)?;
    let client = tokio::time::timeout(
        DEFAULT_INITIAL_TIMEOUT,
        WorkloadApiClient::connect_to(&endpoint),
    )
    .await
    .map_err(|_| unavailable(format!("Workload API at {endpoint}: connect timed out")))?
    .map_err(|e| unavailable(format!("Workload API at {endpoint}: {e}")))?;
    tokio::time::timeout(
        DEFAULT_INITIAL_TIMEOUT,
        client.fetch_jwt_token(audience, None),
    )
    .await
    .map_err(|_| {
        unavailable(format!(
            "Workload API at {endpoint}: JWT-SVID fetch timed out"
        ))
    })?
    .map_err(|e| {
        unavailable(format!(
            "Workload API at {endpoint}: JWT-SVID fetch failed: {e}"
        ))
    })
}

/// The background task: connect, follow the stream, reconnect with backoff until stopped.
async fn follow(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut backoff = BACKOFF.0;
    loop {
        let run = async {
            let client = WorkloadApiClient::connect_to(&inner.endpoint)
                .await
                .map_err(|e| format!("connect failed: {e}"))?;
            let mut stream = client
                .stream_x509_contexts()
                .await
                .map_err(|e| format!("X.509-SVID stream refused: {e}"))?;
            while let Some(item) = stream.next().await {
                let ctx = item.map_err(|e| format!("X.509-SVID stream failed: {e}"))?;
                apply(&inner, &ctx)?;
            }
            Err::<(), String>("X.509-SVID stream ended".into())
        };
        let result = tokio::select! {
            r = run => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        let had = {
            let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            let had = st.connected;
            st.connected = false;
            if let Err(e) = result {
                tracing::warn!(endpoint = %inner.endpoint, error = %e, "Workload API");
                st.last_error = Some(e);
            }
            had
        };
        if had {
            backoff = BACKOFF.0;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// Take one X.509 context: the default SVID and its trust domain's bundle, written to disk
/// first and then published (a host told of a new version finds the new files).
fn apply(inner: &Inner, ctx: &X509Context) -> std::result::Result<(), String> {
    let svid = ctx
        .default_svid()
        .ok_or_else(|| "the Workload API sent no X.509-SVID".to_string())?;
    let certificate_pem: String = svid
        .cert_chain()
        .iter()
        .map(|c| pem("CERTIFICATE", c.as_bytes()))
        .collect();
    let private_key_pem = pem("PRIVATE KEY", svid.private_key().as_bytes());
    let td = svid.spiffe_id().trust_domain();
    let bundle_pem: String = ctx
        .bundle_set()
        .get(td)
        .map(|b| {
            b.authorities()
                .iter()
                .map(|c| pem("CERTIFICATE", c.as_bytes()))
                .collect()
        })
        .unwrap_or_default();
    if bundle_pem.is_empty() {
        return Err(format!(
            "the Workload API sent no X.509 bundle for trust domain {td}"
        ));
    }
    let expires_at = x509_parser::parse_x509_certificate(svid.leaf().as_bytes())
        .map_err(|_| "the X.509-SVID leaf does not parse".to_string())?
        .1
        .validity()
        .not_after
        .timestamp();
    let expires_at = u64::try_from(expires_at).unwrap_or(0);
    let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
    st.connected = true;
    if let Some(cur) = &st.current {
        if cur.certificate_pem == certificate_pem
            && cur.private_key_pem == private_key_pem
            && cur.bundle_pem == bundle_pem
        {
            return Ok(());
        }
    }
    inner
        .files
        .write(&certificate_pem, &private_key_pem, &bundle_pem)
        .map_err(|e| e.message().to_string())?;
    let version = *inner.version.borrow() + 1;
    st.current = Some(Arc::new(Svid {
        spiffe_id: svid.spiffe_id().to_string(),
        certificate_pem,
        private_key_pem,
        bundle_pem,
        expires_at,
        version,
    }));
    st.last_error = None;
    drop(st);
    inner.version.send_replace(version);
    tracing::info!(endpoint = %inner.endpoint, version, "X.509-SVID updated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Hosts spawn these futures on multi-threaded runtimes (napi, the C ABI's hidden runtime).
    #[test]
    fn futures_are_send() {
        assert_send(&WorkloadIdentity::start(WorkloadOptions::default()));
        assert_send(&fetch_jwt_svid("", &[]));
    }

    #[tokio::test]
    async fn agent_down_at_start_is_workload_api_unavailable_and_leaves_no_directory() {
        let dir = std::env::temp_dir().join(format!("authsec-svid-down-{}", std::process::id()));
        let e = WorkloadIdentity::start(WorkloadOptions {
            endpoint: "unix:///nonexistent/authsec/agent.sock".into(),
            cert_dir: Some(dir.clone()),
            initial_timeout: Some(Duration::from_millis(300)),
        })
        .await
        .unwrap_err();
        assert_eq!(e.code(), ErrorCode::WorkloadApiUnavailable);
        assert!(
            e.message().starts_with(
                "no X.509-SVID from the Workload API at unix:///nonexistent/authsec/agent.sock within 300 ms: connect failed"
            ),
            "{}",
            e.message()
        );
        assert!(
            !dir.exists(),
            "the directory the library created is removed"
        );
    }
}
