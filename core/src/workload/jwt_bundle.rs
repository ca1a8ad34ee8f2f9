//! The trust domain's JWT bundle from the Workload API (`FetchJWTBundles`, a server stream),
//! pushed into the validator's JWT-SVID key set on every update, so JWT-SVIDs signed by a new
//! JWT authority verify as soon as the agent knows it. While the agent is unreachable the last
//! bundle keeps serving; before the first one every JWT-SVID is refused with the reason.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use spiffe::{TrustDomain, WorkloadApiClient};
use tokio::sync::watch;

use crate::token::jwks::JwksCache;

const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Follow the JWT bundle of `trust_domain` at `endpoint` (URI form) into `keys` until the
/// returned sender is dropped or set. `first` is told the outcome of the first attempt
/// (`Ok(number of keys)` or the error), for the runtime's startup warning.
pub(crate) fn spawn(
    endpoint: String,
    trust_domain: String,
    keys: Arc<JwksCache>,
    first: tokio::sync::oneshot::Sender<std::result::Result<usize, String>>,
) -> watch::Sender<bool> {
    let (stop_tx, mut stop) = watch::channel(false);
    tokio::spawn(async move {
        let mut first = Some(first);
        let mut backoff = BACKOFF.0;
        let td = match TrustDomain::new(&trust_domain) {
            Ok(td) => td,
            Err(e) => {
                let m = format!("trust domain {trust_domain}: {e}");
                keys.push_failed(m.clone());
                if let Some(f) = first.take() {
                    let _ = f.send(Err(m));
                }
                return;
            }
        };
        loop {
            let run = async {
                let client = WorkloadApiClient::connect_to(&endpoint)
                    .await
                    .map_err(|e| format!("Workload API at {endpoint}: connect failed: {e}"))?;
                let mut stream = client.stream_jwt_bundles().await.map_err(|e| {
                    format!("Workload API at {endpoint}: JWT bundle stream refused: {e}")
                })?;
                while let Some(item) = stream.next().await {
                    let set = item.map_err(|e| {
                        format!("Workload API at {endpoint}: JWT bundle stream failed: {e}")
                    })?;
                    let Some(bundle) = set.get(&td) else {
                        let m = format!("the Workload API sent no JWT bundle for {trust_domain}");
                        keys.push_failed(m.clone());
                        if let Some(f) = first.take() {
                            let _ = f.send(Err(m));
                        }
                        continue;
                    };
                    let jwks: Vec<serde_json::Value> = bundle
                        .jwt_authorities()
                        .filter_map(|a| serde_json::from_slice(a.jwk_json()).ok())
                        .collect();
                    let n = keys.push(&jwks);
                    tracing::info!(trust_domain = %trust_domain, keys = n, "JWT bundle updated");
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(n));
                    }
                }
                Err::<(), String>(format!(
                    "Workload API at {endpoint}: JWT bundle stream ended"
                ))
            };
            let result = tokio::select! {
                r = run => r,
                _ = stop.wait_for(|s| *s) => return,
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "JWT bundle");
                keys.push_failed(e.clone());
                if let Some(f) = first.take() {
                    let _ = f.send(Err(e));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            backoff = (backoff * 2).min(BACKOFF.1);
        }
    });
    stop_tx
}
